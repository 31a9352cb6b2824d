"""``system.from_thread``: tell, blocking ask and publish from real threads; refused on
the loop's own thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import msgspec
import pytest

from actors import Actor, ActorCrashed, ActorSystem, AskTimeout

from .support import Get, Ping, Recorder


class Event(msgspec.Struct):
    n: int


class Adder(Actor):
    def __init__(self) -> None:
        self.total = 0
        self.loop_thread = threading.get_ident()

    async def receive(self, message: Any) -> Any:
        assert threading.get_ident() == self.loop_thread  # always handled on the loop
        match message:
            case Ping(n) if n < 0:
                raise ValueError("negative")
            case Ping(n):
                self.total += n
                return self.total
            case Get():
                return self.total
        return None


async def test_tells_from_many_threads_all_arrive() -> None:
    async with ActorSystem("t") as system:
        adder = await system.spawn(Adder)
        bridge = system.from_thread

        def send_many() -> None:
            for _ in range(250):
                bridge.tell(adder, Ping(1))

        threads = [threading.Thread(target=send_many) for _ in range(4)]
        for thread in threads:
            thread.start()
        await asyncio.gather(*(asyncio.to_thread(thread.join) for thread in threads))
        # Every call_soon_threadsafe was queued before join returned: they run first.
        await asyncio.sleep(0)
        assert await adder.ask(Get()) == 1000


async def test_a_blocking_ask_from_a_thread_gets_the_answer_or_the_error() -> None:
    async with ActorSystem("t") as system:
        adder = await system.spawn(Adder)
        bridge = system.from_thread
        assert await asyncio.to_thread(bridge.ask, adder, Ping(5)) == 5
        with pytest.raises(ActorCrashed):
            await asyncio.to_thread(bridge.ask, adder, Ping(-1))

        class Silent(Actor):
            async def receive(self, message: Any) -> Any:
                return await asyncio.get_running_loop().create_future()

        silent = await system.spawn(Silent)
        with pytest.raises(AskTimeout):
            await asyncio.to_thread(lambda: bridge.ask(silent, Ping(), timeout=0.01))
        await system.stop(silent, timeout=0)


async def test_publish_from_a_thread_reaches_subscribers() -> None:
    async with ActorSystem("t") as system:
        listener = await system.spawn(Recorder)
        await system.subscribe(listener, Event)
        bridge = system.from_thread
        await asyncio.to_thread(bridge.publish, Event(1))
        await asyncio.sleep(0)  # the publish queued on the loop has run
        await system.subscriptions()  # answered after the bus delivered the event
        assert await asyncio.to_thread(bridge.ask, listener, Get()) == [Event(1)]


async def test_strict_events_refuse_an_unencodable_event_in_the_calling_thread() -> None:
    async with ActorSystem("t", strict_events=True) as system:
        bridge = system.from_thread
        with pytest.raises(TypeError, match="cannot be encoded"):
            await asyncio.to_thread(bridge.publish, object())


async def test_the_loops_own_thread_is_refused_with_a_clear_error() -> None:
    async with ActorSystem("t") as system:
        adder = await system.spawn(Adder)
        bridge = system.from_thread
        with pytest.raises(RuntimeError, match="from_thread is for other threads"):
            bridge.tell(adder, Ping(1))
        with pytest.raises(RuntimeError, match="from_thread is for other threads"):
            bridge.ask(adder, Ping(1))
        with pytest.raises(RuntimeError, match="from_thread is for other threads"):
            bridge.publish(Ping(1))


async def test_a_closed_system_is_refused() -> None:
    async with ActorSystem("t") as system:
        adder = await system.spawn(Adder)
        bridge = system.from_thread
    with pytest.raises(RuntimeError, match="is not running"):
        await asyncio.to_thread(bridge.tell, adder, Ping(1))
