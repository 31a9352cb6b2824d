"""Property tests for ``actors._mailbox``.

1. Random interleavings of puts, selective gets (with and without timeouts), batches,
   cancellations and scheduler steps: no message is lost or duplicated, whatever is left
   is in priority-then-arrival order, and no waiter sleeps while a message it accepts is
   queued.
2. A rule-based state machine comparing the synchronous surface (``put_nowait`` under every
   overflow policy, non-blocking takes, ``remove``, ``clear``, ``peek``, ``close``,
   ``stats``) with a plain list of ``(priority, seq, message)``.

Messages are ints (their put order); predicates are pure functions of the int. Timeouts
are ``0`` (expires at the next loop iteration) or far away, so examples replay exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import uvloop
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from actors import Mailbox, MailboxClosed, MailboxFull, Overflow, Priority

PREDICATES: dict[str, Callable[[int], bool] | None] = {
    "any": None,
    "even": lambda m: m % 2 == 0,
    "odd": lambda m: m % 2 == 1,
    "threes": lambda m: m % 3 == 0,
    "none": lambda m: False,
}


def accepts(name: str, message: int) -> bool:
    predicate = PREDICATES[name]
    return predicate is None or predicate(message)


predicate_names = st.sampled_from(sorted(PREDICATES))
# Priority is an IntEnum: plain ints are accepted too, and must behave the same.
priorities = st.sampled_from([*Priority, *map(int, Priority)])
timeouts = st.sampled_from([None, 0.0, 60.0])

operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), priorities),
        st.tuples(st.just("get"), predicate_names, timeouts),
        st.tuples(
            st.just("batch"),
            predicate_names,
            st.integers(1, 4),  # max_messages
            st.integers(0, 4),  # min_messages, clamped to max_messages
            timeouts,
        ),
        st.tuples(st.just("cancel"), st.integers(0, 15)),
        st.tuples(st.just("step"), st.integers(1, 3)),
    ),
    max_size=40,
)

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Interleavings that must always be tried, whatever the random search finds.
CANCEL_THEN_PUT = [("get", "any", None), ("step", 1), ("cancel", 0), ("put", Priority.NORMAL)]
PUT_THEN_CANCEL = [
    ("get", "even", None),
    ("get", "any", None),
    ("step", 1),
    ("put", Priority.NORMAL),
    ("cancel", 0),
    ("put", Priority.LOW),
]
BATCH_THEN_GET = [
    ("batch", "any", 4, 2, None),
    ("step", 1),
    ("get", "any", None),
    ("step", 1),
    ("put", Priority.NORMAL),
]
TIMEOUTS_AND_BATCHES = [
    ("put", Priority.LOW),
    ("get", "odd", 0.0),
    ("batch", "any", 2, 2, 0.0),
    ("put", Priority.HIGH),
    ("step", 3),
    ("put", Priority.SYSTEM),
    ("get", "threes", 60.0),
]


def with_examples(test: Any) -> Any:
    for operations in (CANCEL_THEN_PUT, PUT_THEN_CANCEL, BATCH_THEN_GET, TIMEOUTS_AND_BATCHES):
        test = example(operations=operations)(test)
    return test


class Waiter:
    """A get or get_batch task started by the driver, with what it asked for."""

    def __init__(self, task: asyncio.Task[Any], kind: str, predicate: str, **bounds: int):
        self.task = task
        self.kind = kind
        self.predicate = predicate
        self.bounds = bounds


async def drive(
    operations: list[tuple[Any, ...]], waiters: list[Waiter]
) -> tuple[Mailbox, dict[int, int]]:
    """Apply ``operations`` to a fresh mailbox; return it and each message's priority.

    Every task started is appended to ``waiters`` at once (some may still be pending at
    the end, or if a call raises: the caller settles and cancels them)."""
    mailbox = Mailbox()
    priority_of: dict[int, int] = {}
    for operation in operations:
        match operation:
            case ("put", priority):
                message = len(priority_of)
                priority_of[message] = priority
                mailbox.put_nowait(message, priority)
            case ("get", predicate, timeout):
                task = asyncio.create_task(mailbox.get(PREDICATES[predicate], timeout=timeout))
                waiters.append(Waiter(task, "get", predicate))
            case ("batch", predicate, max_messages, min_messages, timeout):
                min_messages = min(min_messages, max_messages)
                coro = mailbox.get_batch(
                    PREDICATES[predicate],
                    max_messages=max_messages,
                    min_messages=min_messages,
                    timeout=timeout,
                )
                waiters.append(
                    Waiter(
                        asyncio.create_task(coro),
                        "batch",
                        predicate,
                        max_messages=max_messages,
                        min_messages=min_messages,
                    )
                )
            case ("cancel", index):
                # No step after the cancel: puts may follow while it is still pending.
                pending = [w.task for w in waiters if not w.task.done()]
                if pending:
                    pending[index % len(pending)].cancel()
            case ("step", steps):
                for _ in range(steps):
                    await asyncio.sleep(0)
    return mailbox, priority_of


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def cancel_all(waiters: list[Waiter]) -> None:
    for waiter in waiters:
        waiter.task.cancel()
    await asyncio.gather(*(w.task for w in waiters), return_exceptions=True)


@PROPERTY_SETTINGS
@with_examples
@given(operations=operations)
async def test_mailbox_any_interleaving_loses_duplicates_and_reorders_nothing(
    operations: list[tuple[Any, ...]],
) -> None:
    waiters: list[Waiter] = []
    try:
        mailbox, priority_of = await drive(operations, waiters)
        await settle()
    finally:
        # Whatever happened, end every task of this example (a cancelled get or batch
        # takes nothing, so the accounting below still holds).
        await cancel_all(waiters)

    def order(message: int) -> tuple[int, int]:
        return (priority_of[message], message)

    taken: list[int] = []
    for waiter in waiters:
        task = waiter.task
        if task.cancelled():
            continue
        error = task.exception()
        if error is not None:
            assert isinstance(error, TimeoutError), f"{waiter.kind} raised {error!r}"
            assert waiter.kind == "get", "get_batch raised on timeout"
            continue
        result = task.result()
        got = [result] if waiter.kind == "get" else result
        if waiter.kind == "batch":
            assert len(got) <= waiter.bounds["max_messages"]
            assert got == sorted(got, key=order), "a batch is not in priority order"
        assert all(accepts(waiter.predicate, m) for m in got), "took a rejected message"
        taken.extend(got)

    remaining = mailbox.clear()
    assert len(taken) == len(set(taken)), f"a message was handed out twice: {taken}"
    assert set(taken).isdisjoint(remaining), "a taken message is still queued"
    assert sorted(taken + remaining) == list(priority_of), "a message was lost"
    assert remaining == sorted(remaining, key=order), "the mailbox was reordered"
    stats = mailbox.stats()
    assert (stats.put, stats.got, stats.size) == (len(priority_of), len(taken), 0)
    assert (stats.waiting_getters, stats.waiting_putters) == (0, 0)


@PROPERTY_SETTINGS
@with_examples
@given(operations=operations)
async def test_mailbox_any_interleaving_leaves_no_waiter_asleep_beside_a_match(
    operations: list[tuple[Any, ...]],
) -> None:
    waiters: list[Waiter] = []
    try:
        mailbox, priority_of = await drive(operations, waiters)
        await settle()
        # What is still queued, worked out without touching the mailbox (a put or a take
        # here could itself wake a sleeper): everything put minus everything handed out.
        taken: set[int] = set()
        for waiter in waiters:
            task = waiter.task
            if task.done() and not task.cancelled() and task.exception() is None:
                taken.update([task.result()] if waiter.kind == "get" else task.result())
        queued = [m for m in priority_of if m not in taken]
        assert len(mailbox) == len(queued)
        for waiter in waiters:
            if waiter.task.done():
                continue
            matches = [m for m in queued if accepts(waiter.predicate, m)]
            assert (mailbox.peek(PREDICATES[waiter.predicate]) is None) == (not matches)
            needed = waiter.bounds.get("min_messages", 1)
            assert len(matches) < needed, (
                f"a pending {waiter.kind}({waiter.predicate!r}, {waiter.bounds}) "
                f"sleeps while {matches} are queued"
            )
    finally:
        await cancel_all(waiters)


# ---------------------------------------------------------------------- state machine


class MailboxModel(RuleBasedStateMachine):
    """``Mailbox`` against a list of ``(priority, seq, message)``, kept sorted."""

    new_loop: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop

    def __init__(self) -> None:
        super().__init__()
        self.loop = self.new_loop()
        self.mailbox = Mailbox()
        self.model: list[tuple[int, int, int]] = []
        self.seq = 0
        self.closed = False
        self.counts = {"put": 0, "got": 0, "dropped": 0, "rejected": 0, "high_water": 0}

    def teardown(self) -> None:
        self.loop.close()

    @initialize(
        maxsize=st.none() | st.integers(1, 4),
        overflow=st.sampled_from(list(Overflow)),
    )
    def make_mailbox(self, maxsize: int | None, overflow: Overflow) -> None:
        self.mailbox = Mailbox(maxsize=maxsize, overflow=overflow)

    # -- model helpers

    def expected_matches(self, predicate: str) -> list[tuple[int, int, int]]:
        return [entry for entry in self.model if accepts(predicate, entry[2])]

    def model_take(self, entries: list[tuple[int, int, int]]) -> list[int]:
        for entry in entries:
            self.model.remove(entry)
        return [message for _, _, message in entries]

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    # -- rules

    @rule()
    def put_signal(self) -> None:
        """A SYSTEM put of its own, so full-of-signals states are reached often."""
        self.put_nowait(Priority.SYSTEM)

    @rule(priority=priorities)
    def put_nowait(self, priority: Priority) -> None:
        message = self.seq
        self.seq += 1
        maxsize = self.mailbox.maxsize
        full = maxsize is not None and priority != Priority.SYSTEM and len(self.model) >= maxsize
        if self.closed:
            with pytest.raises(MailboxClosed):
                self.mailbox.put_nowait(message, priority)
            return
        policy = self.mailbox.overflow
        if full and policy in (Overflow.WAIT, Overflow.FAIL):
            with pytest.raises(MailboxFull):
                self.mailbox.put_nowait(message, priority)
            self.counts["rejected"] += 1
            return
        self.mailbox.put_nowait(message, priority)
        if full and policy is Overflow.DROP_NEWEST:
            self.counts["dropped"] += 1
            return
        if full and policy is Overflow.DROP_OLDEST:
            # The oldest entry of the lowest level goes; SYSTEM signals are never dropped,
            # so with only signals queued the newcomer itself is dropped.
            droppable = [entry for entry in self.model if entry[0] != Priority.SYSTEM]
            self.counts["dropped"] += 1
            if not droppable:
                return
            lowest = max(entry[0] for entry in droppable)
            self.model.remove(min(entry for entry in droppable if entry[0] == lowest))
        self.model.append((int(priority), message, message))
        self.model.sort()
        self.counts["put"] += 1
        self.counts["high_water"] = max(self.counts["high_water"], len(self.model))

    @rule(predicate=predicate_names)
    def get_without_waiting(self, predicate: str) -> None:
        matches = self.expected_matches(predicate)
        if matches:
            got = self.run(self.mailbox.get(PREDICATES[predicate], timeout=0))
            assert got == self.model_take(matches[:1])[0]
            self.counts["got"] += 1
        elif self.closed:
            with pytest.raises(MailboxClosed):
                self.run(self.mailbox.get(PREDICATES[predicate], timeout=0))
        else:
            with pytest.raises(TimeoutError):
                self.run(self.mailbox.get(PREDICATES[predicate], timeout=0))

    @rule(predicate=predicate_names, max_messages=st.integers(1, 5))
    def get_batch_without_waiting(self, predicate: str, max_messages: int) -> None:
        matches = self.expected_matches(predicate)[:max_messages]
        batch = self.mailbox.get_batch(
            PREDICATES[predicate], max_messages=max_messages, min_messages=0
        )
        if not matches and self.closed:
            with pytest.raises(MailboxClosed):
                self.run(batch)
            return
        assert self.run(batch) == self.model_take(matches)
        self.counts["got"] += len(matches)

    @rule(predicate=predicate_names)
    def remove(self, predicate: str) -> None:
        expected = self.model_take(self.expected_matches(predicate))
        assert self.mailbox.remove(lambda m: accepts(predicate, m)) == expected

    @rule()
    def clear(self) -> None:
        assert self.mailbox.clear() == self.model_take(list(self.model))

    @rule()
    def close(self) -> None:
        self.mailbox.close()
        self.closed = True

    # -- invariants

    @invariant()
    def peek_matches_model(self) -> None:
        for name, predicate in PREDICATES.items():
            matches = self.expected_matches(name)
            assert self.mailbox.peek(predicate) == (matches[0][2] if matches else None)

    @invariant()
    def size_closed_and_counters_match_model(self) -> None:
        assert len(self.mailbox) == len(self.model)
        assert self.mailbox.closed == self.closed
        stats = self.mailbox.stats()
        assert stats.size == len(self.model)
        assert stats.put == self.counts["put"]
        assert stats.got == self.counts["got"]
        assert stats.dropped == self.counts["dropped"]
        assert stats.rejected == self.counts["rejected"]
        assert stats.high_water == self.counts["high_water"]
        assert (stats.waiting_getters, stats.waiting_putters) == (0, 0)


@pytest.mark.parametrize(
    "new_loop",
    [asyncio.new_event_loop, uvloop.new_event_loop],
    ids=["asyncio", "uvloop"],
)
def test_mailbox_state_machine_matches_list_model(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    machine = type("MailboxModelOnLoop", (MailboxModel,), {"new_loop": staticmethod(new_loop)})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=200,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        ),
    )
