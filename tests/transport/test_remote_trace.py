"""Trace context across nodes: a ``traceparent`` header on every message sent in a
trace (tells, asks, refs' replies, events), read back on the receiving node."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from actors.transport._frame import parse
from nats.aio.msg import Msg

from actors import Actor, ActorRef, TraceContext, current_trace, trace
from tests.transport.nats_support import (
    WAIT,
    Hello,
    Inbox,
    LogEvents,
    Note,
    Ping,
    Pong,
    actor_subject,
    frame_of,
    raw_client,
    server_caught_up,
    two_nodes,
)


class Traced(Actor):
    """Puts ``(message, current_trace())`` in ``inbox``; answers ``Ping``; on
    ``Hello(who, n)`` tells ``who`` a ``Pong(n)``, or asks it a ``Ping(n)`` if n < 0."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def receive(self, message: Any) -> Any:
        self.inbox.put((message, current_trace()))
        match message:
            case Ping(n):
                return Pong(n + 1)
            case Hello(who, n) if n < 0:
                return await who.ask(Ping(n), timeout=WAIT)
            case Hello(who, n):
                who.tell(Pong(n))
        return None


async def test_a_remote_tell_and_ask_carry_the_trace_to_the_other_node(url: str) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        await a.spawn(Traced, inbox, name="traced")
        ref = await b.lookup("traced")
        assert ref is not None
        with trace() as context:
            ref.tell(Note("told"))
            assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)
        ref.tell(Note("untraced"))
        items = await inbox.count(3)
        assert items == [(Note("told"), context), (Ping(1), context), (Note("untraced"), None)]


async def test_the_trace_follows_a_conversation_back_and_forth_between_nodes(url: str) -> None:
    async with two_nodes(url) as (a, b):
        on_a, on_b = Inbox(), Inbox()
        await a.spawn(Traced, on_a, name="left")
        await b.spawn(Traced, on_b, name="right")
        left = await b.lookup("left")
        right: ActorRef | None = await a.lookup("right")
        assert left is not None and right is not None
        with trace() as context:
            left.tell(Hello(right, 5))  # left (on a) tells right (on b) a Pong
            left.tell(Hello(right, -1))  # left asks right a Ping from its handler
        await on_b.count(2)
        assert on_b.items == [(Pong(5), context), (Ping(-1), context)]
        assert [seen for _, seen in await on_a.count(2)] == [context, context]


async def test_the_trace_on_the_wire_is_the_w3c_traceparent(url: str) -> None:
    async with two_nodes(url) as (a, b), raw_client(url) as nc:
        await a.spawn(Traced, Inbox(), name="traced")
        ref = await b.lookup("traced")
        assert ref is not None
        seen: asyncio.Queue[Msg] = asyncio.Queue()

        async def record(msg: Msg) -> None:
            seen.put_nowait(msg)

        await nc.subscribe(actor_subject(a.name, "n1", ref.path), cb=record)
        await server_caught_up(nc)
        header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        with trace(header):
            ref.tell(Note("x"))
        msg = await asyncio.wait_for(seen.get(), WAIT)
        extras = parse(msg.data)[2]
        assert extras is not None and extras.trace == header


async def test_an_event_published_in_a_trace_reaches_other_nodes_in_it(url: str) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        subscriber = await a.spawn(Traced, inbox)
        await a.subscribe(subscriber, Note)
        with trace() as context:
            b.publish(Note("event"))
        assert await inbox.first() == (Note("event"), context)


async def test_a_malformed_traceparent_is_logged_and_the_message_still_delivered(
    url: str, logs: LogEvents
) -> None:
    async with two_nodes(url) as (a, _), raw_client(url) as nc:
        inbox = Inbox()
        ref = await a.spawn(Traced, inbox, name="traced")
        subject = actor_subject(a.name, "n1", ref.path)
        a.transport.node.export(ref)  # reachable by path, as if its ref had been sent out
        await nc.publish(subject, frame_of(Note("hi"), trace="junk"))
        assert await inbox.first() == (Note("hi"), None)
        line = await logs.wait_for("ignoring a malformed traceparent")
        assert "junk" in line["error"]


def test_trace_context_is_a_plain_struct_that_can_travel_in_messages() -> None:
    context = TraceContext.new()
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(context), type=TraceContext) == context
