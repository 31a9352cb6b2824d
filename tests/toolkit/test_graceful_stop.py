"""``system.stop(ref, drain=True)``: what is queued is handled first, then the usual
stop (children, ``stopped()``)."""

from __future__ import annotations

import asyncio
from typing import Any

from actors.supervision import ChildSpec, Restart, SupervisorSpec

from actors import Actor, ActorSystem, DeadLetter, Priority

from .support import Crash, Get, Ping, Recorder


class Worker(Actor):
    def __init__(self, done: list[Any]) -> None:
        self.done = done

    async def receive(self, message: Any) -> Any:
        match message:
            case Ping(n):
                await asyncio.sleep(0)
                self.done.append(n)
            case Crash():
                raise RuntimeError("boom")
        return None

    async def stopped(self) -> None:
        self.done.append("stopped")


async def test_drain_handles_every_queued_message_before_stopping() -> None:
    done: list[Any] = []
    async with ActorSystem("t") as system:
        worker = await system.spawn(Worker, done)
        for n in range(100):
            worker.tell(Ping(n))
        await system.stop(worker, drain=True)
        assert done == [*range(100), "stopped"]
        assert not worker.is_alive()


async def test_without_drain_queued_messages_become_dead_letters() -> None:
    done: list[Any] = []
    async with ActorSystem("t") as system:
        listener = await system.spawn(Recorder)
        await system.subscribe(listener, DeadLetter)
        worker = await system.spawn(Worker, done)
        for n in range(5):
            worker.tell(Ping(n))
        await system.stop(worker)
        assert done == ["stopped"]
        await system.subscriptions()  # the bus has delivered what it got
        assert len(await listener.ask(Get())) == 5


async def test_drain_of_an_idle_actor_stops_it_at_once() -> None:
    done: list[Any] = []
    async with ActorSystem("t") as system:
        worker = await system.spawn(Worker, done)
        await system.stop(worker, drain=True)
        assert done == ["stopped"]


async def test_low_priority_messages_sent_after_the_drain_are_dead_letters() -> None:
    done: list[Any] = []
    async with ActorSystem("t") as system:
        listener = await system.spawn(Recorder)
        await system.subscribe(listener, DeadLetter)
        worker = await system.spawn(Worker, done)
        worker.tell(Ping(1))
        stopping = asyncio.create_task(system.stop(worker, drain=True))
        await asyncio.sleep(0)
        worker.tell(Ping(2), Priority.LOW)  # behind the marker
        await stopping
        assert done == [1, "stopped"]
        await system.subscriptions()  # the bus has delivered what it got
        letters = await listener.ask(Get())
        assert [letter.message for letter in letters] == [Ping(2)]


async def test_a_restart_while_draining_keeps_draining() -> None:
    done: list[Any] = []
    spec = SupervisorSpec(
        children=[
            ChildSpec(id="w", actor=Worker, args=[done], name="w", restart=Restart.TRANSIENT)
        ],
        max_restarts=5,
    )
    async with ActorSystem("t") as system:
        await system.spawn_tree(spec)
        worker = system.whereis("w")
        assert worker is not None
        worker.tell(Ping(1))
        worker.tell(Crash())
        worker.tell(Ping(2))
        await system.stop(worker, drain=True)
        assert done == [1, "stopped", 2, "stopped"]


async def test_a_drain_that_outlasts_its_timeout_stops_the_actor_as_it_is() -> None:
    done: list[Any] = []
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()

    class Stuck(Actor):
        async def receive(self, message: Any) -> Any:
            await gate

        async def stopped(self) -> None:
            done.append("stopped")

    async with ActorSystem("t") as system:
        stuck = await system.spawn(Stuck)
        stuck.tell(Ping())
        await system.stop(stuck, drain=True, timeout=0.01)
        assert not stuck.is_alive()
        assert done == []  # cancelled, as stop(timeout=...) does: no stopped()
