"""Envelopes are not tracked by the cyclic GC (``Envelope``'s docstring argues why no
reference cycle can pass through one). These tests walk the paths where one could: a
crash while handling an ask, a ``MailboxFull`` raised through ``tell`` and kept as the
crashed actor's exit reason, a selective receive whose predicate raises, a stop with
envelopes still queued. Each drops every reference it made, collects, and checks that
the message the envelope carried is gone: an envelope left in a garbage cycle would
keep it alive for ever.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest

from actors import (
    Actor,
    ActorCrashed,
    ActorRef,
    ActorSystem,
    Mailbox,
    MailboxFull,
    Overflow,
    Priority,
)
from actors.lowlevel import Envelope


class Payload:
    """A message that can be watched with a weak reference."""


class Boom(Exception):
    pass


class Crasher(Actor):
    async def receive(self, message: Any) -> Any:
        raise Boom("handled badly")


class Holder(Actor):
    """Handling a future, waits for it: what is queued behind it stays queued."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, asyncio.Future):
            await message
        return None


class Relay(Actor):
    """Tells what it receives to ``target`` (so the envelope carries this actor's ref)."""

    def __init__(self, target: ActorRef) -> None:
        self.target = target

    async def receive(self, message: Any) -> Any:
        self.target.tell(message)


class Picky(Holder):
    """Selective receive with a predicate that raises on the first queued message."""

    async def receive(self, message: Any) -> Any:
        if message == "pick":

            def predicate(candidate: Any) -> bool:
                raise Boom("predicate failed")

            return await self.mailbox.get(predicate)
        return await super().receive(message)


def _gone(reference: weakref.ref[Any]) -> bool:
    """Whether the watched message was freed. Each scenario runs in a helper coroutine,
    so every local of it (the system, whose ask deadlines keep answered asks' messages
    until their deadline, the refs, the caught errors) is dropped on return."""
    gc.collect()
    return reference() is None


def test_envelopes_are_not_tracked_by_the_gc() -> None:
    assert not gc.is_tracked(Envelope(Payload(), None, None))


async def _a_crash_while_handling_an_ask() -> weakref.ref[Payload]:
    async with ActorSystem("gc") as system:
        ref = await system.spawn(Crasher)
        payload = Payload()
        watched = weakref.ref(payload)
        with pytest.raises(ActorCrashed) as caught:
            await ref.ask(payload)
        # The crash's cause holds the drain loop's frame through its traceback.
        assert isinstance(caught.value.__cause__, Boom)
    return watched


async def test_a_crash_while_handling_an_ask_leaves_no_envelope_behind() -> None:
    assert _gone(await _a_crash_while_handling_an_ask())


async def _mailbox_full_raised_through_tell() -> weakref.ref[Payload]:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    async with ActorSystem("gc") as system:
        full = await system.spawn(Holder, mailbox=Mailbox(maxsize=1, overflow=Overflow.FAIL))
        relay = await system.spawn(Relay, full)
        full.tell(gate)
        await asyncio.sleep(0)  # its drain task took the gate and waits on it
        full.tell("filler")  # the mailbox is full
        # The relay's tell raises MailboxFull: the relay crashes, keeping the error (and
        # its traceback through ``tell``) as its exit reason.
        payload = Payload()
        watched = weakref.ref(payload)
        with pytest.raises(ActorCrashed) as caught:
            await relay.ask(payload)
        assert isinstance(caught.value.__cause__, MailboxFull)
        gate.set_result(None)
    return watched


async def test_mailbox_full_raised_through_tell_leaves_no_envelope_behind() -> None:
    assert _gone(await _mailbox_full_raised_through_tell())


async def _a_raising_selective_receive_predicate() -> weakref.ref[Payload]:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    async with ActorSystem("gc") as system:
        picky = await system.spawn(Picky)
        relay = await system.spawn(Relay, picky)
        picky.tell(gate)
        payload = Payload()
        watched = weakref.ref(payload)
        relay.tell(payload)
        await relay.ask("sync")  # the relay has told picky: an envelope is queued
        # "pick" goes first (HIGH): its predicate raises on the queued envelope.
        asking = asyncio.ensure_future(picky.ask("pick", priority=Priority.HIGH))
        gate.set_result(None)  # after the ask's first step: "pick" is queued by then
        with pytest.raises(ActorCrashed) as caught:
            await asking
        assert isinstance(caught.value.__cause__, Boom)
    return watched


async def test_a_raising_selective_receive_predicate_leaves_no_envelope_behind() -> None:
    assert _gone(await _a_raising_selective_receive_predicate())


async def _envelopes_queued_when_an_actor_stops() -> weakref.ref[Payload]:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    async with ActorSystem("gc") as system:
        holder = await system.spawn(Holder)
        relay = await system.spawn(Relay, holder)
        holder.tell(gate)
        payload = Payload()
        watched = weakref.ref(payload)
        relay.tell(payload)
        await relay.ask("sync")  # the relay has told the holder: an envelope is queued
        stopping = asyncio.ensure_future(system.stop(holder))
        gate.set_result(None)
        await stopping  # the queued envelope became a dead letter
    return watched


async def test_envelopes_queued_when_an_actor_stops_are_freed() -> None:
    assert _gone(await _envelopes_queued_when_an_actor_stops())
