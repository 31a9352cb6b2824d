"""Trace context: carried with every message, through actors, asks, the bus and logs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

import actors
from actors import Actor, ActorSystem, TraceContext, current_trace, trace


class Probe(msgspec.Struct):
    pass


class Forward(msgspec.Struct):
    to: Any


class Event(msgspec.Struct):
    n: int


class Recorder(Actor):
    """Records the trace of every message; ``Forward`` is passed on to ``to``."""

    def __init__(self, seen: asyncio.Queue[TraceContext | None]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        self.seen.put_nowait(current_trace())
        match message:
            case Forward(to):
                to.tell(Probe())
            case Probe():
                return current_trace()
        return None


async def recorder(system: ActorSystem) -> tuple[actors.ActorRef, asyncio.Queue[Any]]:
    seen: asyncio.Queue[Any] = asyncio.Queue()
    return await system.spawn(Recorder, seen), seen


# ---------------------------------------------------------------------- the header


def test_traceparent_round_trip() -> None:
    context = TraceContext.new()
    assert TraceContext.from_traceparent(context.traceparent) == context
    assert context.traceparent.startswith("00-") and context.traceparent.endswith("-01")


@given(
    trace_id=st.text("0123456789abcdef", min_size=32, max_size=32),
    span_id=st.text("0123456789abcdef", min_size=16, max_size=16),
    sampled=st.booleans(),
)
def test_any_valid_context_round_trips(trace_id: str, span_id: str, sampled: bool) -> None:
    if set(trace_id) == {"0"} or set(span_id) == {"0"}:
        return  # all-zero ids are invalid, tested below
    context = TraceContext(trace_id, span_id, sampled)
    assert TraceContext.from_traceparent(context.traceparent) == context


def test_a_header_of_a_later_version_is_read_as_version_00() -> None:
    header = "cc-" + "a" * 32 + "-" + "b" * 16 + "-00-whatever-comes-next"
    assert TraceContext.from_traceparent(header) == TraceContext("a" * 32, "b" * 16, False)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "00-" + "a" * 31 + "-" + "b" * 16 + "-01",  # trace id too short
        "00-" + "A" * 32 + "-" + "b" * 16 + "-01",  # upper case
        "00-" + "0" * 32 + "-" + "b" * 16 + "-01",  # all-zero trace id
        "00-" + "a" * 32 + "-" + "0" * 16 + "-01",  # all-zero span id
        "ff-" + "a" * 32 + "-" + "b" * 16 + "-01",  # forbidden version
        "00-" + "a" * 32 + "-" + "b" * 16 + "-01-extra",  # version 00 has no more fields
    ],
)
def test_a_malformed_header_is_refused_with_the_header_in_the_error(header: str) -> None:
    with pytest.raises(ValueError, match="traceparent"):
        TraceContext.from_traceparent(header)


def test_trace_refuses_a_malformed_parent() -> None:
    with pytest.raises(ValueError, match="not a traceparent header"), trace("nonsense"):
        pass


# ---------------------------------------------------------------------- propagation


async def test_no_trace_unless_one_is_started() -> None:
    async with ActorSystem("t") as system:
        ref, seen = await recorder(system)
        ref.tell(Probe())
        assert await seen.get() is None
        assert current_trace() is None


async def test_a_tell_inside_trace_carries_it_and_later_tells_do_not() -> None:
    async with ActorSystem("t") as system:
        ref, seen = await recorder(system)
        with trace() as context:
            assert current_trace() is context
            ref.tell(Probe())
        ref.tell(Probe())
        assert await seen.get() == context
        assert await seen.get() is None


async def test_trace_continues_a_given_header() -> None:
    header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with ActorSystem("t") as system:
        ref, seen = await recorder(system)
        with trace(header):
            ref.tell(Probe())
        got = await seen.get()
        assert got is not None and got.traceparent == header


async def test_the_trace_follows_messages_an_actor_sends_on() -> None:
    async with ActorSystem("t") as system:
        first, seen_first = await recorder(system)
        second, seen_second = await recorder(system)
        with trace() as context:
            first.tell(Forward(second))
        first.tell(Forward(second))  # untraced: so is what it causes
        assert [await seen_first.get(), await seen_first.get()] == [context, None]
        assert [await seen_second.get(), await seen_second.get()] == [context, None]


async def test_ask_and_send_carry_the_trace() -> None:
    async with ActorSystem("t") as system:
        ref, seen = await recorder(system)
        with trace() as context:
            assert await ref.ask(Probe()) == context
            await ref.send(Event(1))
        assert await seen.get() == context
        assert await seen.get() == context


async def test_a_trace_started_inside_a_handler_is_scoped_to_its_block() -> None:
    class Starter(Actor):
        def __init__(self, to: actors.ActorRef) -> None:
            self.to = to

        async def receive(self, message: Any) -> Any:
            outer = current_trace()
            with trace() as inner:
                self.to.tell(Probe())
            assert current_trace() is outer
            return inner

    async with ActorSystem("t") as system:
        target, seen = await recorder(system)
        starter = await system.spawn(Starter, target)
        with trace() as outer:
            inner = await starter.ask(Probe())
        assert inner != outer and inner.trace_id != outer.trace_id
        assert await seen.get() == inner


async def test_selective_receive_hands_over_the_trace_of_the_message_it_takes() -> None:
    class Picky(Actor):
        async def receive(self, message: Any) -> Any:
            wanted = await self.mailbox.get(lambda m: isinstance(m, Event), timeout=5)
            return wanted, current_trace()

    async with ActorSystem("t") as system:
        picky = await system.spawn(Picky)
        answer = asyncio.ensure_future(picky.ask(Probe()))
        await asyncio.sleep(0)
        with trace() as context:
            picky.tell(Event(7))
        assert await answer == (Event(7), context)


async def test_subscribers_handle_an_event_in_the_trace_it_was_published_in() -> None:
    async with ActorSystem("t") as system:
        ref, seen = await recorder(system)
        await system.subscribe(ref, Event)
        with trace() as context:
            system.publish(Event(1))
        system.publish(Event(2))
        assert await seen.get() == context
        assert await seen.get() is None


async def test_a_restarted_actor_does_not_keep_the_trace_of_the_message_it_crashed_on() -> None:
    from actors.supervision import ChildSpec, SupervisorSpec

    seen: asyncio.Queue[Any] = asyncio.Queue()

    class Fragile(Recorder):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, Event):
                raise RuntimeError("boom")
            return await super().receive(message)

    async with ActorSystem("t") as system:
        tree = SupervisorSpec(
            children=[ChildSpec(id="f", actor=Fragile, args=(seen,))], max_restarts=5
        )
        sup = await system.spawn_tree(tree)
        (child,) = [info.ref for info in await sup.which_children()]
        with trace():
            child.tell(Event(1))
        assert await child.ask(Probe()) is None


# ---------------------------------------------------------------------- logs


@pytest.fixture
def log_lines() -> Iterator[list[dict[str, Any]]]:
    """Every structlog event of the test, after ``add_actor_context`` ran on it."""
    lines: list[dict[str, Any]] = []

    def keep(logger: Any, method: str, event: Any) -> Any:
        lines.append(dict(event))
        raise structlog.DropEvent

    saved = structlog.get_config()
    structlog.configure(
        processors=[actors.add_actor_context, keep], cache_logger_on_first_use=False
    )
    try:
        yield lines
    finally:
        structlog.configure(**saved)


async def test_log_lines_of_a_handler_name_the_system_the_actor_and_the_trace(
    log_lines: list[dict[str, Any]],
) -> None:
    class Chatty(Actor):
        async def receive(self, message: Any) -> Any:
            structlog.get_logger("app").info("handling")
            raise RuntimeError("and failing")

    async with ActorSystem("shop") as system:
        ref = await system.spawn(Chatty, name="chatty")
        with trace() as context, pytest.raises(actors.ActorCrashed):
            await ref.ask(Probe())
    by_event = {line["event"]: line for line in log_lines}
    for event in ("handling", "actor failed"):
        assert by_event[event]["system"] == "shop"
        assert by_event[event]["actor"] == "shop/chatty"
        assert by_event[event]["message_type"] == "Probe"
        assert by_event[event]["trace_id"] == context.trace_id


async def test_log_lines_outside_a_message_name_the_actor_but_no_message(
    log_lines: list[dict[str, Any]],
) -> None:
    class Quiet(Actor):
        async def started(self) -> None:
            structlog.get_logger("app").info("starting")

        async def receive(self, message: Any) -> Any:
            return None

        async def stopped(self) -> None:
            structlog.get_logger("app").info("stopping")

    async with ActorSystem("shop") as system:
        ref = await system.spawn(Quiet, name="quiet")
        await ref.ask(Probe())
        await system.stop(ref)
    by_event = {line["event"]: line for line in log_lines}
    for event in ("starting", "stopping"):
        assert by_event[event]["actor"] == "shop/quiet"
        assert "message_type" not in by_event[event]
        assert "trace_id" not in by_event[event]


def test_outside_actors_the_processor_adds_the_trace_of_the_block_only() -> None:
    assert actors.add_actor_context(None, "info", {"event": "x"}) == {"event": "x"}
    with trace() as context:
        line = actors.add_actor_context(None, "info", {"event": "x"})
    assert line == {"event": "x", "trace_id": context.trace_id}
