"""``self.receive_timeout``: ``ReceiveTimeout()`` after that long without a message,
again after each further quiet period; ``None`` turns it off."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from actors import Actor, ActorSystem, ReceiveTimeout

from .support import Get, Ping, later


class Off(msgspec.Struct):
    pass


class Idler(Actor):
    def __init__(self, timeouts: asyncio.Queue[Any], seconds: float | None) -> None:
        self.timeouts = timeouts
        self.receive_timeout = seconds
        self.seen: list[Any] = []

    async def receive(self, message: Any) -> Any:
        match message:
            case ReceiveTimeout():
                self.timeouts.put_nowait(message)
            case Off():
                self.receive_timeout = None
            case Get():
                return self.receive_timeout
            case Ping(0):
                await later(0.02)  # busy well past the timeout: no ReceiveTimeout for that
                self.seen.append(message)
            case _:
                self.seen.append(message)
        return None


async def test_receive_timeout_fires_when_idle_and_repeats() -> None:
    timeouts: asyncio.Queue[Any] = asyncio.Queue()
    async with ActorSystem("t") as system:
        idler = await system.spawn(Idler, timeouts, 0.001)
        assert await idler.ask(Get()) == 0.001
        assert await timeouts.get() == ReceiveTimeout()
        assert await timeouts.get() == ReceiveTimeout()


async def test_turned_off_no_more_timeouts_and_no_timer_left() -> None:
    timeouts: asyncio.Queue[Any] = asyncio.Queue()
    async with ActorSystem("t") as system:
        idler = await system.spawn(Idler, timeouts, 0.001)
        await timeouts.get()
        await idler.ask(Off())
        while not timeouts.empty():
            timeouts.get_nowait()
        await later(0.02)
        assert timeouts.empty()
        toolkit = idler._cell.toolkit
        assert toolkit is not None and toolkit._timeout_timer is None


async def test_a_busy_actor_gets_no_receive_timeout() -> None:
    timeouts: asyncio.Queue[Any] = asyncio.Queue()
    async with ActorSystem("t") as system:
        idler = await system.spawn(Idler, timeouts, 0.005)
        await idler.ask(Off())
        idler._cell.actor.receive_timeout = 0.005  # type: ignore[attr-defined]
        idler.tell(Ping(0))  # busy for 0.02 s: counting restarts when it is idle again
        await idler.ask(Get())
        assert timeouts.empty()


async def test_none_means_no_receive_timeout() -> None:
    async with ActorSystem("t") as system:
        idler = await system.spawn(Idler, asyncio.Queue(), None)
        assert await idler.ask(Get()) is None
