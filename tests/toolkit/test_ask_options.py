"""``ask(..., priority=...)``, ``ask(..., wait_for_room=True)`` and ``ask(...,
timeout=None)``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors import (
    NO_REPLY,
    Actor,
    ActorNotFound,
    ActorSystem,
    AskTimeout,
    Mailbox,
    MailboxFull,
    Priority,
)

from .support import Get, Ping


class Gated(Actor):
    """Handles Ping(0) by waiting on a gate; records the order of the rest."""

    def __init__(self, gate: asyncio.Future[None]) -> None:
        self.gate = gate
        self.seen: list[int] = []

    async def receive(self, message: Any) -> Any:
        match message:
            case Ping(0):
                await self.gate
            case Ping(n):
                self.seen.append(n)
                return n
            case Get():
                return list(self.seen)
        return None


async def test_an_ask_with_high_priority_overtakes_queued_messages() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()
    async with ActorSystem("t") as system:
        gated = await system.spawn(Gated, gate)
        gated.tell(Ping(0))
        gated.tell(Ping(1))
        gated.tell(Ping(2))
        urgent = asyncio.create_task(gated.ask(Ping(3), priority=Priority.HIGH))
        await asyncio.sleep(0)
        gate.set_result(None)
        assert await urgent == 3
        assert await gated.ask(Get()) == [3, 1, 2]


async def test_an_ask_to_a_full_mailbox_fails_or_waits_for_room() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()
    async with ActorSystem("t") as system:
        gated = await system.spawn(Gated, gate, mailbox=Mailbox(maxsize=1))
        gated.tell(Ping(0))  # being handled: the mailbox is empty again
        await asyncio.sleep(0)
        gated.tell(Ping(1))  # now full
        with pytest.raises(MailboxFull):
            await gated.ask(Ping(2))
        waiting = asyncio.create_task(gated.ask(Ping(2), wait_for_room=True))
        await asyncio.sleep(0)
        assert not waiting.done()
        gate.set_result(None)
        assert await waiting == 2
        assert await gated.ask(Get()) == [1, 2]


async def test_waiting_for_room_counts_against_the_timeout() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()
    async with ActorSystem("t") as system:
        gated = await system.spawn(Gated, gate, mailbox=Mailbox(maxsize=1), name="g")
        gated.tell(Ping(0))
        await asyncio.sleep(0)
        gated.tell(Ping(1))
        with pytest.raises(AskTimeout) as caught:
            await gated.ask(Ping(2), timeout=0.01, wait_for_room=True)
        assert caught.value.actor == "t/g"
        assert gated._cell.mailbox.stats().waiting_putters == 0
        gate.set_result(None)
        assert await gated.ask(Get(), wait_for_room=True) == [1]


async def test_waiting_for_room_of_an_actor_that_stops_fails_with_actor_not_found() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()
    async with ActorSystem("t") as system:
        gated = await system.spawn(Gated, gate, mailbox=Mailbox(maxsize=1))
        gated.tell(Ping(0))
        await asyncio.sleep(0)
        gated.tell(Ping(1))
        waiting = asyncio.create_task(gated.ask(Ping(2), wait_for_room=True))
        await asyncio.sleep(0)
        await system.stop(gated, timeout=0)
        with pytest.raises(ActorNotFound):
            await waiting


async def test_an_ask_without_timeout_is_governed_by_the_callers_scope() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()
    async with ActorSystem("t") as system:
        gated = await system.spawn(Gated, gate)
        gated.tell(Ping(0))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await gated.ask(Ping(1), timeout=None)
        gate.set_result(None)
        assert await gated.ask(Ping(2), timeout=None) == 2


async def test_forward_keeps_the_asker_so_the_receiver_answers_it() -> None:
    class Doubler(Actor):
        async def receive(self, message: Any) -> Any:
            return message.n * 2

    class Front(Actor):
        def __init__(self, back: Any) -> None:
            self.back = back

        async def receive(self, message: Any) -> Any:
            self.back.forward(message)
            return NO_REPLY

    async with ActorSystem("t") as system:
        back = await system.spawn(Doubler)
        front = await system.spawn(Front, back)
        assert await front.ask(Ping(21)) == 42
        back.forward(Ping(1))  # outside an actor: a tell
        assert await back.ask(Ping(2)) == 4
