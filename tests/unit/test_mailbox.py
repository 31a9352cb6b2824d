"""Unit tests for ``actors._mailbox``: ordering, selective receive, waiting, cancellation
safety, batching, bounds and overflow policies, closing, inspection and counters.

Every test runs on the stock loop and on uvloop (``tests/conftest.py``). Waiting is
observed without timed polling: ``settle()`` only lets already scheduled callbacks run,
and ``stats().waiting_getters`` / ``waiting_putters`` show who is asleep in the table.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from actors import Mailbox, MailboxClosed, MailboxFull, Overflow, Priority

Start = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


async def settle(steps: int = 5) -> None:
    """Let every callback that is already scheduled run (woken tasks included)."""
    for _ in range(steps):
        await asyncio.sleep(0)


async def finished(task: asyncio.Task[Any]) -> Any:
    """The task's outcome once the callbacks already scheduled have run: its result, or
    its exception raised here. A task still waiting fails the test instead of hanging it."""
    await settle()
    assert task.done(), f"still waiting: {task!r}"
    return task.result()


@asynccontextmanager
async def running() -> AsyncIterator[Start]:
    """Start tasks that are cancelled and awaited on exit, even when an assertion fails,
    so a failing test reports its own failure and leaves no task behind."""
    tasks: list[asyncio.Task[Any]] = []

    def start(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        tasks.append(task)
        return task

    try:
        yield start
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def is_tag(tag: str) -> Callable[[Any], bool]:
    return lambda message: message[0] == tag


# ------------------------------------------------------------------ construction


def test_mailbox_no_arguments_is_unbounded_wait_and_open() -> None:
    mailbox = Mailbox()
    assert mailbox.maxsize is None
    assert mailbox.overflow is Overflow.WAIT
    assert not mailbox.closed
    assert len(mailbox) == 0
    assert mailbox.stats().maxsize is None


@pytest.mark.parametrize("maxsize", [0, -1, 1.5, "3"])
def test_mailbox_invalid_maxsize_raises_value_error_naming_maxsize(maxsize: Any) -> None:
    with pytest.raises(ValueError, match=r"^`maxsize` must be a positive int or None, got "):
        Mailbox(maxsize=maxsize)


def test_mailbox_invalid_overflow_raises_type_error_naming_overflow() -> None:
    with pytest.raises(TypeError, match=r"^`overflow` must be an Overflow, got 'wait'$"):
        Mailbox(overflow="wait")  # type: ignore[arg-type]


# ------------------------------------------------------------------ ordering


async def test_get_same_priority_returns_messages_in_arrival_order() -> None:
    mailbox = Mailbox()
    for n in range(5):
        mailbox.put_nowait(n)
    assert [await mailbox.get() for _ in range(5)] == [0, 1, 2, 3, 4]


async def test_get_mixed_priorities_returns_lower_priority_value_first_fifo_within() -> None:
    mailbox = Mailbox()
    puts = [
        ("l1", Priority.LOW),
        ("n1", Priority.NORMAL),
        ("h1", Priority.HIGH),
        ("s1", Priority.SYSTEM),
        ("l2", Priority.LOW),
        ("n2", Priority.NORMAL),
        ("h2", Priority.HIGH),
        ("s2", Priority.SYSTEM),
    ]
    for message, priority in puts:
        mailbox.put_nowait(message, priority)
    got = [await mailbox.get() for _ in range(len(puts))]
    assert got == ["s1", "s2", "h1", "h2", "n1", "n2", "l1", "l2"]


async def test_put_default_priority_is_normal() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait("low", Priority.LOW)
    mailbox.put_nowait("default")
    await mailbox.put("awaited default")
    mailbox.put_nowait("high", Priority.HIGH)
    assert mailbox.clear() == ["high", "default", "awaited default", "low"]


@pytest.mark.parametrize("level", list(Priority), ids=lambda p: p.name)
async def test_put_plain_int_priority_behaves_like_the_enum_member(level: Priority) -> None:
    mailbox = Mailbox()
    for other in Priority:
        mailbox.put_nowait(f"enum {other.name}", other)
    mailbox.put_nowait("int", int(level))
    assert len(mailbox) == 5
    expected = [f"enum {p.name}" for p in Priority]
    expected.insert(int(level) + 1, "int")
    assert mailbox.peek(lambda m: m == "int") == "int"
    assert [await mailbox.get() for _ in range(5)] == expected
    assert len(mailbox) == 0


# ------------------------------------------------------------------ selective receive


async def test_get_predicate_returns_first_match_in_priority_then_arrival_order() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(("a", 1))
    mailbox.put_nowait(("b", 2), Priority.LOW)
    mailbox.put_nowait(("b", 3))
    mailbox.put_nowait(("a", 4), Priority.HIGH)
    mailbox.put_nowait(("b", 5), Priority.HIGH)
    mailbox.put_nowait(("b", 6))
    got = [await mailbox.get(is_tag("b")) for _ in range(4)]
    assert got == [("b", 5), ("b", 3), ("b", 6), ("b", 2)]


async def test_get_predicate_leaves_non_matching_messages_in_place_and_order() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(("x", 1), Priority.LOW)
    mailbox.put_nowait(("x", 2))
    mailbox.put_nowait(("want", 3))
    mailbox.put_nowait(("x", 4))
    mailbox.put_nowait(("x", 5), Priority.HIGH)
    assert await mailbox.get(is_tag("want")) == ("want", 3)
    assert mailbox.peek() == ("x", 5)
    assert mailbox.clear() == [("x", 5), ("x", 2), ("x", 4), ("x", 1)]


async def test_get_empty_mailbox_waits_until_a_put_then_returns_it() -> None:
    mailbox = Mailbox()
    async with running() as start:
        getter = start(mailbox.get())
        await settle()
        assert not getter.done()
        assert mailbox.stats().waiting_getters == 1
        mailbox.put_nowait("hello")
        assert await finished(getter) == "hello"
    assert len(mailbox) == 0
    assert mailbox.stats().waiting_getters == 0


async def test_get_predicate_waits_until_matching_put_then_returns_it() -> None:
    mailbox = Mailbox()
    async with running() as start:
        getter = start(mailbox.get(is_tag("reply")))
        await settle()
        await mailbox.put(("reply", 7))
        assert await finished(getter) == ("reply", 7)


async def test_get_predicate_non_matching_put_does_not_wake_getter() -> None:
    mailbox = Mailbox()
    calls: list[Any] = []

    def wants_reply(message: Any) -> bool:
        calls.append(message)
        return message[0] == "reply"

    async with running() as start:
        getter = start(mailbox.get(wants_reply))
        await settle()
        assert mailbox.stats().waiting_getters == 1
        mailbox.put_nowait(("noise", 1))
        # Not woken: still registered right after the put, and still asleep later.
        assert mailbox.stats().waiting_getters == 1
        await settle()
        assert not getter.done()
        assert mailbox.stats().waiting_getters == 1
        # The predicate saw the noise once (at the put), not again on a re-check.
        assert calls == [("noise", 1)]
        mailbox.put_nowait(("reply", 2))
        assert await finished(getter) == ("reply", 2)
    assert mailbox.clear() == [("noise", 1)]


async def test_get_two_predicates_each_getter_receives_only_its_message() -> None:
    mailbox = Mailbox()
    async with running() as start:
        get_a = start(mailbox.get(is_tag("a")))
        get_b = start(mailbox.get(is_tag("b")))
        await settle()
        assert mailbox.stats().waiting_getters == 2
        mailbox.put_nowait(("a", 1))
        # Only the getter that wants it was woken; the other one never left the table.
        assert mailbox.stats().waiting_getters == 1
        assert await finished(get_a) == ("a", 1)
        await settle()
        assert not get_b.done()
        assert mailbox.stats().waiting_getters == 1
        mailbox.put_nowait(("b", 2))
        assert mailbox.stats().waiting_getters == 0
        assert await finished(get_b) == ("b", 2)
    assert len(mailbox) == 0


async def test_get_several_waiters_served_in_registration_order() -> None:
    mailbox = Mailbox()
    async with running() as start:
        first = start(mailbox.get())
        await settle()
        second = start(mailbox.get())
        await settle()
        mailbox.put_nowait("one")
        assert mailbox.stats().waiting_getters == 1
        mailbox.put_nowait("two")
        assert await finished(first) == "one"
        assert await finished(second) == "two"


async def test_get_timeout_without_match_raises_timeout_error_and_takes_nothing() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(("x", 1))
    mailbox.put_nowait(("x", 2), Priority.HIGH)
    with pytest.raises(TimeoutError):
        await mailbox.get(is_tag("want"), timeout=0.05)
    assert mailbox.stats().waiting_getters == 0
    assert mailbox.stats().got == 0
    assert mailbox.clear() == [("x", 2), ("x", 1)]


async def test_get_timeout_zero_with_match_queued_returns_it() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait("ready")
    assert await mailbox.get(timeout=0) == "ready"


async def test_get_timeout_is_one_total_deadline_across_wakeups() -> None:
    # Decided by the order of timers, not by how fast the machine is: after the steal
    # at t1 (>= t0 + 0.15), one total deadline fires at t0 + 0.2 <= t1 + 0.05, before
    # our check at t1 + 0.1; a deadline restarted on the wake-up would fire at t1 + 0.2.
    mailbox = Mailbox()
    async with running() as start:
        getter = start(mailbox.get(timeout=0.2))
        await asyncio.sleep(0.15)
        # Wake the getter, then take its message before it runs: it must sleep again
        # for the rest of the same deadline, not for a fresh 0.2 s.
        mailbox.put_nowait("stolen")
        assert mailbox.remove(lambda m: m == "stolen") == ["stolen"]
        await asyncio.sleep(0)
        assert not getter.done()
        assert mailbox.stats().waiting_getters == 1
        await asyncio.sleep(0.1)
        await asyncio.sleep(0)
        assert getter.done(), "the deadline was restarted by the wake-up"
        with pytest.raises(TimeoutError):
            await getter
    assert mailbox.stats().waiting_getters == 0


# ------------------------------------------------------------------ cancellation safety


async def test_get_cancelled_while_waiting_unregisters_and_takes_nothing() -> None:
    mailbox = Mailbox()
    async with running() as start:
        getter = start(mailbox.get(is_tag("a")))
        await settle()
        getter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await finished(getter)
    assert mailbox.stats().waiting_getters == 0
    mailbox.put_nowait(("a", 1))
    assert mailbox.peek() == ("a", 1)
    assert mailbox.stats().got == 0


async def test_get_cancelled_after_wakeup_before_running_leaves_message_in_position() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(("x", 1))
    mailbox.put_nowait(("x", 2), Priority.HIGH)
    async with running() as start:
        getter = start(mailbox.get(is_tag("want")))
        await settle()
        mailbox.put_nowait(("want", 3))  # wakes the getter ...
        getter.cancel()  # ... which is cancelled before it runs
        mailbox.put_nowait(("x", 4))
        with pytest.raises(asyncio.CancelledError):
            await finished(getter)
    assert mailbox.stats().got == 0
    assert mailbox.stats().waiting_getters == 0
    assert mailbox.clear() == [("x", 2), ("x", 1), ("want", 3), ("x", 4)]


async def test_get_cancelled_after_wakeup_passes_message_to_other_matching_getter() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(("x", 0))
    async with running() as start:
        cancelled = start(mailbox.get(is_tag("want")))
        await settle()
        other = start(mailbox.get(lambda m: m[0] in ("want", "other")))
        await settle()
        assert mailbox.stats().waiting_getters == 2
        mailbox.put_nowait(("want", 1))  # wakes `cancelled` only
        assert mailbox.stats().waiting_getters == 1
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await finished(cancelled)
        assert await finished(other) == ("want", 1)
    assert mailbox.clear() == [("x", 0)]


async def test_get_cancelled_then_matching_put_same_step_wakes_other_getter() -> None:
    # The cancelled getter is still in the table when the put runs; the put must skip
    # it (never hand a message to a getter being cancelled) and wake the live one.
    mailbox = Mailbox()
    async with running() as start:
        cancelled = start(mailbox.get())
        other = start(mailbox.get())
        await settle()
        cancelled.cancel()
        mailbox.put_nowait("m")  # must neither raise nor be lost for `other`
        with pytest.raises(asyncio.CancelledError):
            await finished(cancelled)
        await settle()
        assert other.done()
        assert other.result() == "m"
    assert len(mailbox) == 0


async def test_close_with_a_getter_being_cancelled_wakes_other_getters() -> None:
    mailbox = Mailbox()
    async with running() as start:
        cancelled = start(mailbox.get())
        other = start(mailbox.get())
        await settle()
        cancelled.cancel()
        mailbox.close()  # must not raise, and must still wake `other`
        with pytest.raises(asyncio.CancelledError):
            await finished(cancelled)
        await settle()
        assert other.done()
        with pytest.raises(MailboxClosed):
            other.result()


async def test_get_predicate_raising_on_queued_message_propagates_to_getter() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait("bad")

    def explode(message: Any) -> bool:
        raise ValueError(f"cannot judge {message!r}")

    with pytest.raises(ValueError, match="cannot judge 'bad'"):
        await mailbox.get(explode)
    assert mailbox.clear() == ["bad"]


async def test_get_predicate_raising_at_put_propagates_to_getter_not_putter() -> None:
    mailbox = Mailbox()

    def explode_on_bad(message: Any) -> bool:
        if message == "bad":
            raise ValueError("predicate failed")
        return False

    async with running() as start:
        getter = start(mailbox.get(explode_on_bad))
        other = start(mailbox.get())
        await settle()
        mailbox.put_nowait("bad")  # the putter sees no error
        with pytest.raises(ValueError, match="predicate failed"):
            await finished(getter)
        # The message went to the next getter that accepts it.
        assert await finished(other) == "bad"
    assert mailbox.stats().waiting_getters == 0


# ------------------------------------------------------------------ get_batch


async def test_get_batch_min_messages_reached_returns_early() -> None:
    mailbox = Mailbox()
    async with running() as start:
        batch = start(mailbox.get_batch(max_messages=10, min_messages=3, timeout=30))
        await settle()
        mailbox.put_nowait(1)
        mailbox.put_nowait(2)
        await settle()
        assert not batch.done()
        mailbox.put_nowait(3)
        await settle()
        assert batch.done()
        assert batch.result() == [1, 2, 3]
    assert len(mailbox) == 0


async def test_get_batch_returns_at_most_max_messages_in_priority_order() -> None:
    mailbox = Mailbox()
    for n in range(3):
        mailbox.put_nowait(f"n{n}")
    mailbox.put_nowait("l0", Priority.LOW)
    mailbox.put_nowait("h0", Priority.HIGH)
    assert await mailbox.get_batch(max_messages=3) == ["h0", "n0", "n1"]
    assert mailbox.clear() == ["n2", "l0"]
    assert mailbox.stats().got == 3


async def test_get_batch_predicate_takes_only_matches_leaving_others_in_order() -> None:
    mailbox = Mailbox()
    for n in range(6):
        mailbox.put_nowait(("a" if n % 2 else "b", n))
    assert await mailbox.get_batch(is_tag("a")) == [("a", 1), ("a", 3), ("a", 5)]
    assert mailbox.clear() == [("b", 0), ("b", 2), ("b", 4)]


async def test_get_batch_timeout_returns_partial_batch_without_raising() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait("only")
    assert await mailbox.get_batch(min_messages=3, timeout=0.05) == ["only"]
    assert len(mailbox) == 0
    assert mailbox.stats().waiting_getters == 0


async def test_get_batch_timeout_with_no_match_returns_empty_list() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(("x", 1))
    assert await mailbox.get_batch(is_tag("want"), timeout=0.05) == []
    assert mailbox.clear() == [("x", 1)]
    assert mailbox.stats().waiting_getters == 0


async def test_get_batch_min_messages_zero_returns_immediately() -> None:
    mailbox = Mailbox()
    assert await mailbox.get_batch(min_messages=0) == []
    mailbox.put_nowait("a")
    assert await mailbox.get_batch(min_messages=0) == ["a"]


async def test_get_batch_cancelled_while_waiting_takes_nothing() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(1)
    async with running() as start:
        batch = start(mailbox.get_batch(min_messages=3))
        await settle()
        mailbox.put_nowait(2)
        await settle()
        assert not batch.done()
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await finished(batch)
    assert mailbox.stats().got == 0
    assert mailbox.stats().waiting_getters == 0
    assert mailbox.clear() == [1, 2]


async def test_get_batch_cancelled_after_last_needed_put_takes_nothing() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(1)
    async with running() as start:
        batch = start(mailbox.get_batch(min_messages=2))
        await settle()
        mailbox.put_nowait(2)  # enough now: wakes the batch ...
        batch.cancel()  # ... which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await finished(batch)
    assert mailbox.clear() == [1, 2]


@pytest.mark.parametrize(
    ("max_messages", "min_messages"),
    [(0, 0), (2, -1), (2, 3)],
)
async def test_get_batch_invalid_bounds_raise_value_error_naming_them(
    max_messages: int, min_messages: int
) -> None:
    mailbox = Mailbox()
    mailbox.put_nowait("kept")
    with pytest.raises(
        ValueError,
        match=rf"^need 0 <= min_messages <= max_messages and max_messages >= 1, "
        rf"got min_messages={min_messages}, max_messages={max_messages}$",
    ):
        await mailbox.get_batch(max_messages=max_messages, min_messages=min_messages)
    assert mailbox.clear() == ["kept"]


async def test_get_batch_waiting_does_not_swallow_wakeup_meant_for_a_getter() -> None:
    # A batch that needs 2 messages is woken by the first put, cannot take anything yet
    # and sleeps again; the plain getter registered behind it must still get "a".
    mailbox = Mailbox()
    async with running() as start:
        batch = start(mailbox.get_batch(min_messages=2))
        await settle()
        getter = start(mailbox.get())
        await settle()
        mailbox.put_nowait("a")
        await settle()
        assert getter.done(), "getter sleeps while a message it accepts is queued"
        assert getter.result() == "a"
        assert not batch.done()


async def test_get_batch_closed_while_waiting_returns_partial_match() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait("a")
    async with running() as start:
        batch = start(mailbox.get_batch(min_messages=2))
        await settle()
        mailbox.close()
        assert await finished(batch) == ["a"]


async def test_get_batch_closed_with_partial_match_returns_it() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait("a")
    mailbox.close()
    assert await mailbox.get_batch(min_messages=2) == ["a"]


async def test_get_batch_closed_without_match_raises_mailbox_closed() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(("x", 1))
    mailbox.close()
    with pytest.raises(MailboxClosed, match="get_batch from a closed mailbox"):
        await mailbox.get_batch(is_tag("want"))
    assert mailbox.clear() == [("x", 1)]


# ------------------------------------------------------------------ bounds: WAIT


async def test_put_wait_policy_full_mailbox_waits_until_room() -> None:
    mailbox = Mailbox(maxsize=2)
    mailbox.put_nowait(1)
    await mailbox.put(2)
    async with running() as start:
        putter = start(mailbox.put(3))
        await settle()
        assert not putter.done()
        assert mailbox.stats().waiting_putters == 1
        assert len(mailbox) == 2
        assert await mailbox.get() == 1
        await finished(putter)
    assert mailbox.stats().waiting_putters == 0
    assert mailbox.clear() == [2, 3]


async def test_put_nowait_wait_policy_full_raises_mailbox_full() -> None:
    mailbox = Mailbox(maxsize=2)
    mailbox.put_nowait("a")
    mailbox.put_nowait("b")
    with pytest.raises(
        MailboxFull,
        match=r"^the mailbox is full \(2 messages\); `str` refused \(`await put` waits\)",
    ) as caught:
        mailbox.put_nowait("c")
    assert caught.value.message_type == "str"
    stats = mailbox.stats()
    assert (stats.rejected, stats.put, stats.size) == (1, 2, 2)
    assert mailbox.clear() == ["a", "b"]


async def test_put_wait_policy_waiting_putters_served_in_arrival_order() -> None:
    mailbox = Mailbox(maxsize=1)
    mailbox.put_nowait(0)
    async with running() as start:
        putters = []
        for n in (1, 2, 3):
            putters.append(start(mailbox.put(n)))
            await settle()
        assert mailbox.stats().waiting_putters == 3
        got = []
        for _ in range(4):
            got.append(await mailbox.get())
            await settle()
        assert got == [0, 1, 2, 3]
        assert all(putter.done() for putter in putters)


async def test_put_wait_cancelled_waiting_putter_leaves_mailbox_unchanged() -> None:
    mailbox = Mailbox(maxsize=1)
    mailbox.put_nowait("a")
    async with running() as start:
        putter = start(mailbox.put("b"))
        await settle()
        putter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await finished(putter)
    assert mailbox.stats().waiting_putters == 0
    assert await mailbox.get() == "a"
    await settle()
    assert len(mailbox) == 0
    assert mailbox.stats().put == 1


async def test_put_wait_putter_cancelled_after_wakeup_passes_room_to_next() -> None:
    mailbox = Mailbox(maxsize=1)
    mailbox.put_nowait("a")
    async with running() as start:
        first = start(mailbox.put("b"))
        await settle()
        second = start(mailbox.put("c"))
        await settle()
        assert await mailbox.get() == "a"  # room: wakes `first` ...
        first.cancel()  # ... which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await finished(first)
        await settle()
        assert second.done()
        await finished(second)
    assert mailbox.clear() == ["c"]


async def test_put_wait_room_made_by_clear_and_remove_wakes_putters() -> None:
    mailbox = Mailbox(maxsize=2)
    mailbox.put_nowait(("x", 1))
    mailbox.put_nowait(("y", 2))
    async with running() as start:
        putters = [start(mailbox.put(("p", n))) for n in (3, 4, 5)]
        await settle()
        assert mailbox.stats().waiting_putters == 3
        assert mailbox.remove(is_tag("x")) == [("x", 1)]
        await settle()
        assert [p.done() for p in putters] == [True, False, False]
        assert mailbox.clear() == [("y", 2), ("p", 3)]
        await settle()
        assert all(p.done() for p in putters)
    assert mailbox.clear() == [("p", 4), ("p", 5)]


async def test_put_wait_woken_putter_keeps_its_turn_when_room_is_refilled() -> None:
    # Room freed for the first waiting putter is refilled by a SYSTEM message (which
    # bypasses the bound) before that putter runs. It must stay first in line.
    mailbox = Mailbox(maxsize=1)
    mailbox.put_nowait("x")
    async with running() as start:
        first = start(mailbox.put("first"))
        await settle()
        second = start(mailbox.put("second"))
        await settle()
        assert await mailbox.get() == "x"  # wakes `first`
        mailbox.put_nowait("signal", Priority.SYSTEM)
        await settle()
        got = []
        for _ in range(3):
            got.append(await mailbox.get())
            await settle()
        assert got == ["signal", "first", "second"]
        assert first.done() and second.done()


async def test_put_wait_newcomer_does_not_overtake_woken_putter() -> None:
    mailbox = Mailbox(maxsize=1)
    mailbox.put_nowait("x")
    async with running() as start:
        waiting = start(mailbox.put("waited"))
        await settle()
        newcomer = start(mailbox.put("newcomer"))  # its put runs on its first step ...
        assert await mailbox.get() == "x"  # ... after this hands the room to `waiting`
        await settle()
        assert mailbox.peek() == "waited", "a later put took the room of a waiting putter"
        assert waiting.done()
        assert not newcomer.done()
        assert await mailbox.get() == "waited"
        await finished(newcomer)
        assert await mailbox.get() == "newcomer"


# ------------------------------------------------------------------ bounds: other policies


async def test_put_drop_newest_full_drops_incoming_and_counts_it() -> None:
    mailbox = Mailbox(maxsize=2, overflow=Overflow.DROP_NEWEST)
    mailbox.put_nowait("a")
    mailbox.put_nowait("b")
    mailbox.put_nowait("c")
    await mailbox.put("d")  # does not wait either
    stats = mailbox.stats()
    assert (stats.dropped, stats.rejected, stats.put, stats.size) == (2, 0, 2, 2)
    assert mailbox.clear() == ["a", "b"]


async def test_put_drop_oldest_full_drops_oldest_of_lowest_non_empty_level() -> None:
    mailbox = Mailbox(maxsize=4, overflow=Overflow.DROP_OLDEST)
    mailbox.put_nowait("h1", Priority.HIGH)
    mailbox.put_nowait("n1")
    mailbox.put_nowait("n2")
    mailbox.put_nowait("h2", Priority.HIGH)
    mailbox.put_nowait("n3")  # full: the oldest NORMAL (the lowest level present) goes
    assert mailbox.clear() == ["h1", "h2", "n2", "n3"]
    stats = mailbox.stats()
    assert (stats.dropped, stats.rejected, stats.put) == (1, 0, 5)


async def test_put_drop_oldest_low_level_present_is_dropped_first() -> None:
    mailbox = Mailbox(maxsize=3, overflow=Overflow.DROP_OLDEST)
    mailbox.put_nowait("l1", Priority.LOW)
    mailbox.put_nowait("n1")
    mailbox.put_nowait("l2", Priority.LOW)
    await mailbox.put("h1", Priority.HIGH)
    assert mailbox.clear() == ["h1", "n1", "l2"]
    assert mailbox.stats().dropped == 1


async def test_put_drop_oldest_only_higher_levels_present_drops_from_them() -> None:
    mailbox = Mailbox(maxsize=2, overflow=Overflow.DROP_OLDEST)
    mailbox.put_nowait("h1", Priority.HIGH)
    mailbox.put_nowait("h2", Priority.HIGH)
    mailbox.put_nowait("l1", Priority.LOW)
    assert mailbox.clear() == ["h2", "l1"]
    assert mailbox.stats().dropped == 1


async def test_put_fail_full_raises_mailbox_full_and_counts_rejected() -> None:
    mailbox = Mailbox(maxsize=1, overflow=Overflow.FAIL)
    mailbox.put_nowait("a")
    with pytest.raises(MailboxFull, match=r"^the mailbox is full \(1 messages\); `int` refused$"):
        mailbox.put_nowait(2)
    with pytest.raises(MailboxFull, match=r"`bytes` refused$"):
        await mailbox.put(b"3")
    stats = mailbox.stats()
    assert (stats.rejected, stats.dropped, stats.put, stats.waiting_putters) == (2, 0, 1, 0)
    assert mailbox.clear() == ["a"]


@pytest.mark.parametrize("overflow", list(Overflow))
async def test_put_system_priority_bypasses_the_bound(overflow: Overflow) -> None:
    mailbox = Mailbox(maxsize=1, overflow=overflow)
    mailbox.put_nowait("user")
    mailbox.put_nowait("signal", Priority.SYSTEM)
    await mailbox.put("signal 2", Priority.SYSTEM)  # never waits
    stats = mailbox.stats()
    assert (stats.size, stats.dropped, stats.rejected, stats.high_water) == (3, 0, 0, 3)
    assert mailbox.clear() == ["signal", "signal 2", "user"]


# ------------------------------------------------------------------ closing


async def test_close_twice_is_idempotent() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait("kept")
    mailbox.close()
    mailbox.close()
    assert mailbox.closed
    assert await mailbox.get() == "kept"


async def test_close_wakes_waiting_getters_with_mailbox_closed() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(("x", 1))
    async with running() as start:
        plain = start(mailbox.get())
        await settle()  # takes ("x", 1)
        selective = start(mailbox.get(is_tag("want")))
        batch = start(mailbox.get_batch(is_tag("want"), min_messages=1))
        waiting = start(mailbox.get(timeout=30))
        await settle()
        assert await finished(plain) == ("x", 1)
        mailbox.put_nowait(("x", 2))
        assert mailbox.stats().waiting_getters == 2  # `waiting` took ("x", 2)
        mailbox.close()
        assert mailbox.stats().waiting_getters == 0
        with pytest.raises(MailboxClosed, match=r"^the mailbox was closed while waiting$"):
            await finished(selective)
        with pytest.raises(MailboxClosed):
            await finished(batch)
        assert await finished(waiting) == ("x", 2)


async def test_close_queued_messages_can_still_be_taken() -> None:
    mailbox = Mailbox()
    for n in range(5):
        mailbox.put_nowait(("m", n))
    mailbox.close()
    assert await mailbox.get() == ("m", 0)
    assert await mailbox.get(lambda m: m[1] == 3) == ("m", 3)
    assert await mailbox.get_batch(max_messages=2) == [("m", 1), ("m", 2)]
    assert await mailbox.get(timeout=1) == ("m", 4)
    with pytest.raises(MailboxClosed):
        await mailbox.get()


async def test_get_closed_empty_mailbox_raises_mailbox_closed() -> None:
    mailbox = Mailbox()
    mailbox.close()
    with pytest.raises(
        MailboxClosed, match=r"^get from a closed mailbox with no matching message$"
    ):
        await mailbox.get(timeout=1)


async def test_get_closed_mailbox_without_match_raises_and_keeps_the_rest() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(("x", 1))
    mailbox.close()
    with pytest.raises(MailboxClosed):
        await mailbox.get(is_tag("want"))
    assert mailbox.clear() == [("x", 1)]


async def test_put_after_close_raises_mailbox_closed() -> None:
    mailbox = Mailbox(maxsize=1)
    mailbox.close()
    with pytest.raises(MailboxClosed, match=r"^put of `str` to a closed mailbox$") as caught:
        mailbox.put_nowait("late")
    assert caught.value.message_type == "str"
    with pytest.raises(MailboxClosed, match="put of `int`"):
        await mailbox.put(1)
    with pytest.raises(MailboxClosed):
        mailbox.put_nowait("signal", Priority.SYSTEM)
    assert mailbox.stats().put == 0
    assert len(mailbox) == 0


async def test_close_wakes_waiting_putters_with_mailbox_closed() -> None:
    mailbox = Mailbox(maxsize=1)
    mailbox.put_nowait("a")
    async with running() as start:
        putters = [start(mailbox.put(n)) for n in range(2)]
        await settle()
        assert mailbox.stats().waiting_putters == 2
        mailbox.close()
        for putter in putters:
            with pytest.raises(MailboxClosed):
                await finished(putter)
    assert mailbox.stats().waiting_putters == 0
    assert mailbox.clear() == ["a"]


# ------------------------------------------------------------------ inspection and stats


async def test_peek_returns_first_match_without_removing_it() -> None:
    mailbox = Mailbox()
    assert mailbox.peek() is None
    mailbox.put_nowait(("a", 1))
    mailbox.put_nowait(("b", 2))
    mailbox.put_nowait(("b", 3), Priority.HIGH)
    assert mailbox.peek() == ("b", 3)
    assert mailbox.peek(is_tag("a")) == ("a", 1)
    assert mailbox.peek(is_tag("c")) is None
    assert len(mailbox) == 3
    assert mailbox.stats().got == 0


async def test_remove_returns_matches_in_order_and_keeps_the_rest_in_order() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait(("a", 1), Priority.LOW)
    mailbox.put_nowait(("b", 2))
    mailbox.put_nowait(("a", 3))
    mailbox.put_nowait(("a", 4), Priority.HIGH)
    mailbox.put_nowait(("b", 5), Priority.SYSTEM)
    assert mailbox.remove(is_tag("a")) == [("a", 4), ("a", 3), ("a", 1)]
    assert mailbox.remove(is_tag("c")) == []
    assert len(mailbox) == 2
    assert mailbox.clear() == [("b", 5), ("b", 2)]
    assert mailbox.stats().got == 0


async def test_remove_predicate_raising_loses_no_message() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait("drop me", Priority.HIGH)
    mailbox.put_nowait("boom")

    def judge(message: Any) -> bool:
        if message == "boom":
            raise ValueError("cannot judge")
        return message == "drop me"

    with pytest.raises(ValueError, match="cannot judge"):
        mailbox.remove(judge)
    # The error interrupted the removal: nothing may have vanished silently.
    assert len(mailbox) == 2
    assert mailbox.clear() == ["drop me", "boom"]


async def test_clear_returns_everything_in_priority_order_and_empties() -> None:
    mailbox = Mailbox()
    mailbox.put_nowait("n1")
    mailbox.put_nowait("l1", Priority.LOW)
    mailbox.put_nowait("s1", Priority.SYSTEM)
    mailbox.put_nowait("n2")
    mailbox.put_nowait("h1", Priority.HIGH)
    assert mailbox.clear() == ["s1", "h1", "n1", "n2", "l1"]
    assert len(mailbox) == 0
    assert mailbox.clear() == []
    assert mailbox.peek() is None
    mailbox.put_nowait("after")
    assert await mailbox.get() == "after"


async def test_stats_counts_size_high_water_put_and_got() -> None:
    mailbox = Mailbox(maxsize=10)
    for n in range(4):
        mailbox.put_nowait(n)
    await mailbox.get()
    await mailbox.get_batch(max_messages=2)
    mailbox.put_nowait(4)
    mailbox.remove(lambda m: m == 3)
    stats = mailbox.stats()
    assert stats.size == len(mailbox) == 1
    assert stats.maxsize == 10
    assert stats.high_water == 4
    assert stats.put == 5
    assert stats.got == 3
    assert (stats.dropped, stats.rejected) == (0, 0)
    assert (stats.waiting_getters, stats.waiting_putters) == (0, 0)
    mailbox.clear()
    assert mailbox.stats().size == 0
    assert mailbox.stats().high_water == 4


async def test_put_drop_oldest_never_drops_system_signals() -> None:
    mailbox = Mailbox(maxsize=2, overflow=Overflow.DROP_OLDEST)
    mailbox.put_nowait("signal-1", Priority.SYSTEM)
    mailbox.put_nowait("signal-2", Priority.SYSTEM)
    mailbox.put_nowait("user")  # nothing droppable is older: the newcomer goes
    assert mailbox.clear() == ["signal-1", "signal-2"]
    assert mailbox.stats().dropped == 1
