"""``system.spawn_pool``: five routings, ``Broadcast``, supervised routees."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import msgspec
import pytest

from actors import (
    Actor,
    ActorCrashed,
    ActorRestarted,
    ActorSystem,
    Broadcast,
    ConsistentHash,
    DeadLetter,
)

from .support import Crash, Get, Ping, Recorder


class Who(msgspec.Struct):
    key: str = ""


class Worker(Actor):
    """Answers ``Who`` with its own path; counts pings; crashes on request."""

    def __init__(self, tag: str = "", *, factor: int = 1) -> None:
        self.tag = tag
        self.factor = factor
        self.pings = 0

    async def receive(self, message: Any) -> Any:
        match message:
            case Who():
                return self.ref.path
            case Ping(n):
                self.pings += 1
                return (self.tag, n * self.factor, self.sender is not None)
            case Get():
                return self.pings
            case Crash():
                raise RuntimeError("boom")
        return None


async def test_round_robin_spreads_evenly_and_routees_answer_the_ask() -> None:
    async with ActorSystem("t") as system:
        pool = await system.spawn_pool(Worker, "w", size=3, factor=2, name="pool")
        paths = [await pool.ask(Who()) for _ in range(6)]
        assert Counter(paths) == {
            "t/pool/routee-0": 2,
            "t/pool/routee-1": 2,
            "t/pool/routee-2": 2,
        }
        assert await pool.ask(Ping(4)) == ("w", 8, True)  # args, kwargs, the asker


async def test_random_reaches_only_routees() -> None:
    async with ActorSystem("t") as system:
        pool = await system.spawn_pool(Worker, size=4, routing="random", name="pool")
        paths = {await pool.ask(Who()) for _ in range(40)}
        assert paths <= {f"t/pool/routee-{i}" for i in range(4)}
        assert len(paths) > 1


async def test_smallest_mailbox_prefers_the_idle_routee() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()

    class Slow(Actor):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, Ping):
                await gate
            return self.ref.path

    async with ActorSystem("t") as system:
        pool = await system.spawn_pool(Slow, size=2, routing="smallest_mailbox", name="pool")
        busy = asyncio.create_task(pool.ask(Ping()))
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the routee holding Ping is now busy
        answers = {await pool.ask(Who()) for _ in range(3)}
        assert len(answers) == 1  # all went to the other, idle one
        gate.set_result(None)
        assert await busy not in answers


async def test_consistent_hash_sends_equal_keys_to_the_same_routee() -> None:
    async with ActorSystem("t") as system:
        pool = await system.spawn_pool(
            Worker, size=4, routing=ConsistentHash(key=lambda m: m.key), name="pool"
        )
        first = {key: await pool.ask(Who(key)) for key in "abcdefgh"}
        again = {key: await pool.ask(Who(key)) for key in "abcdefgh"}
        assert first == again
        assert len(set(first.values())) > 1


async def test_broadcast_routing_and_broadcast_message_reach_every_routee() -> None:
    async with ActorSystem("t") as system:
        everyone = await system.spawn_pool(Worker, size=3, routing="broadcast")
        everyone.tell(Ping(1))
        pool = await system.spawn_pool(Worker, size=3)
        pool.tell(Broadcast(Ping(1)))
        pool.tell(Broadcast(Ping(2)))
        for ref in (everyone, pool):
            routees = ref._cell.actor._slots  # type: ignore[attr-defined]
            counts = [await routee.ref.ask(Get()) for routee in routees]
            assert counts == ([1, 1, 1] if ref is everyone else [2, 2, 2])


async def test_a_crashed_routee_is_restarted_in_place_and_the_pool_keeps_working() -> None:
    async with ActorSystem("t") as system:
        listener = await system.spawn(Recorder)
        await system.subscribe(listener, ActorRestarted)
        pool = await system.spawn_pool(Worker, size=2, name="pool")
        routee = pool._cell.actor._slots[0].ref  # type: ignore[attr-defined]
        routee.tell(Ping(1))
        routee.tell(Crash())
        routee.tell(Ping(2))  # queued behind the crash: kept for the new incarnation
        assert await routee.ask(Get()) == 1  # a fresh instance handled Ping(2)
        assert routee.is_alive()
        paths = {await pool.ask(Who()) for _ in range(4)}
        assert paths == {"t/pool/routee-0", "t/pool/routee-1"}
        await system.subscriptions()  # the bus has delivered what it got
        restarted = await listener.ask(Get())
        assert [event.actor for event in restarted] == ["t/pool/routee-0"]
        assert system.metrics().restarts == 1


async def test_stopping_the_pool_stops_its_routees_and_then_dead_letters() -> None:
    async with ActorSystem("t") as system:
        listener = await system.spawn(Recorder)
        await system.subscribe(listener, DeadLetter)
        pool = await system.spawn_pool(Worker, size=3, name="pool")
        routees = [cell.ref for cell in pool._cell.actor._slots]  # type: ignore[attr-defined]
        await system.stop(pool)
        assert not any(routee.is_alive() for routee in routees)
        pool.tell(Ping())
        await system.subscriptions()  # the bus has delivered what it got
        assert [letter.actor for letter in await listener.ask(Get())] == ["t/pool"]


async def test_a_routee_that_fails_to_start_fails_the_pool_and_stops_the_others() -> None:
    started: list[str] = []

    class Flaky(Actor):
        count = 0

        async def started(self) -> None:
            Flaky.count += 1
            if Flaky.count == 3:
                raise RuntimeError("no")
            started.append(self.ref.path)

        async def receive(self, message: Any) -> Any:
            return None

    async with ActorSystem("t") as system:
        with pytest.raises(ActorCrashed):
            await system.spawn_pool(Flaky, size=4, name="pool")
        assert system.metrics().actors == 1  # the event bus only
        assert system.whereis("pool") is None


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"size": 0}, "`size` must be an int >= 1"),
        ({"routing": "fastest"}, "`routing` must be one of 'round_robin'"),
    ],
)
async def test_bad_pool_arguments_are_refused(kwargs: dict[str, Any], text: str) -> None:
    async with ActorSystem("t") as system:
        with pytest.raises(ValueError, match=text):
            await system.spawn_pool(Worker, **kwargs)
        with pytest.raises(TypeError, match="expected an Actor subclass"):
            await system.spawn_pool(object)  # type: ignore[arg-type]


@pytest.mark.parametrize("busy", [True, False], ids=["busy_routees", "idle_routees"])
async def test_a_killed_pool_restarts_no_routee(busy: bool) -> None:
    class Stubborn(Actor):
        async def receive(self, message: Any) -> Any:
            await asyncio.get_running_loop().create_future()  # never returns

    async with ActorSystem("t") as system:
        pool = await system.spawn_pool(Stubborn, size=2, name="pool")
        routees = [cell.ref for cell in pool._cell.actor._slots]  # type: ignore[attr-defined]
        if busy:
            pool.tell(Broadcast(Ping()))
            await asyncio.sleep(0)  # the pool forwards
            await asyncio.sleep(0)  # the routees are stuck in receive
        await system.stop(pool, timeout=0)
        assert not pool.is_alive()
    # The routees' cancelled tasks have ended with the system: none was restarted.
    assert not any(routee.is_alive() for routee in routees)
    assert system.metrics().restarts == 0
