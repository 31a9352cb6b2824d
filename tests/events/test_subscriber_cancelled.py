"""An actor whose handler raises ``CancelledError`` on its own crashed (issue 18).

The runtime cancels an actor's task only to kill it (a stop past its shutdown time, a
brutal kill). A ``CancelledError`` that escapes ``receive`` (or ``started``) while
nobody cancelled the task was raised by the actor's code, typically by awaiting a future
or a task that something else cancelled: that is a crash like any other exception. It
is logged and published as ``ActorFailed``, ``stopped()`` runs, an asker gets
``ActorCrashed`` naming it, a supervisor restarts the actor, and a watcher reads the
error as the reason, never a silent ``"killed"``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from actors.supervision import ChildSpec, SupervisorSpec

from actors import (
    Actor,
    ActorCrashed,
    ActorFailed,
    ActorRestarted,
    ActorSystem,
)
from actors.testkit import TestProbe

GUARD = 10.0  # seconds before a hang is called a hang


class Tick(msgspec.Struct, frozen=True):
    n: int


class Boom(msgspec.Struct, frozen=True):
    """Makes a ``Fragile`` await a future someone else cancelled."""


class Seen(msgspec.Struct, frozen=True):
    """Answered with the ticks this incarnation received."""


class Journal:
    def __init__(self) -> None:
        self.stopped = 0


async def await_cancelled_future() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.cancel()
    await future


class Fragile(Actor):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.ticks: list[int] = []

    async def receive(self, message: Any) -> Any:
        match message:
            case Boom():
                await await_cancelled_future()
            case Tick(n):
                self.ticks.append(n)
            case Seen():
                return self.ticks
        return None

    async def stopped(self) -> None:
        self.journal.stopped += 1


class Blocked(Actor):
    def __init__(self, entered: asyncio.Event) -> None:
        self.entered = entered

    async def receive(self, message: Any) -> Any:
        self.entered.set()
        await asyncio.Event().wait()


class CancelledAtStart(Actor):
    async def started(self) -> None:
        await await_cancelled_future()

    async def receive(self, message: Any) -> Any:
        return message


async def test_subscriber_receive_raising_cancelled_error_crashes_not_killed() -> None:
    journal = Journal()
    async with ActorSystem("s") as system:
        fragile = await system.spawn(Fragile, journal, name="fragile")
        await system.subscribe(fragile, Boom)
        watcher = await TestProbe.spawn(system)
        watcher.watch(fragile)
        failures = await TestProbe.spawn(system)
        await system.subscribe(failures.ref, ActorFailed)
        system.publish(Boom())
        async with asyncio.timeout(GUARD):
            reason = await watcher.expect_terminated(fragile)
            failed = await failures.expect(ActorFailed)
        assert reason.startswith("CancelledError")
        assert (failed.actor, failed.error_type, failed.message_type) == (
            "s/fragile",
            "CancelledError",
            "Boom",
        )
        assert journal.stopped == 1  # stopped() ran: an orderly end, not a kill
        assert system.metrics().failures == 1
        assert fragile not in [s.subscriber for s in await system.subscriptions()]


async def test_supervised_subscriber_cancelled_error_restarted_keeps_subscription() -> None:
    journal = Journal()
    spec = SupervisorSpec(
        max_restarts=3,
        children=[ChildSpec(id="fragile", actor=Fragile, args=[journal], name="fragile")],
    )
    async with ActorSystem("s") as system:
        await system.spawn_tree(spec)
        fragile = system.whereis("fragile")
        assert fragile is not None
        await system.subscribe(fragile, Boom)
        await system.subscribe(fragile, Tick)
        restarts = await TestProbe.spawn(system)
        await system.subscribe(restarts.ref, ActorRestarted)
        system.publish(Tick(1))
        system.publish(Boom())
        system.publish(Tick(2))
        async with asyncio.timeout(GUARD):
            restarted = await restarts.expect(ActorRestarted)
            await system.subscriptions()  # the bus has delivered Tick(2)
            assert await fragile.ask(Seen()) == [2]  # the fresh incarnation got it
        assert (restarted.actor, restarted.restarts) == (fragile.path, 1)
        assert journal.stopped == 1
        assert {s.to for s in await system.subscriptions() if s.subscriber == fragile} == {
            Boom,
            Tick,
        }


async def test_ask_receive_raising_cancelled_error_fails_with_actor_crashed_naming_it() -> None:
    async with ActorSystem("s") as system:
        fragile = await system.spawn(Fragile, Journal(), name="fragile")
        async with asyncio.timeout(GUARD):
            with pytest.raises(ActorCrashed) as caught:
                await fragile.ask(Boom())
        error = caught.value
        assert str(error).startswith("`s/fragile` crashed handling `Boom`: CancelledError")
        assert (error.actor, error.message_type) == ("s/fragile", "Boom")
        assert isinstance(error.__cause__, asyncio.CancelledError)


async def test_started_raising_cancelled_error_spawn_raises_actor_crashed() -> None:
    async with ActorSystem("s") as system:
        async with asyncio.timeout(GUARD):
            with pytest.raises(ActorCrashed, match=r"`s/late` failed to start: CancelledError"):
                await system.spawn(CancelledAtStart, name="late")
        assert system.whereis("late") is None


async def test_handler_cancelled_by_a_kill_is_still_killed_not_a_crash() -> None:
    """The other side of the line: a cancellation the runtime sent stays a kill."""
    async with ActorSystem("s") as system:
        entered = asyncio.Event()
        blocked = await system.spawn(Blocked, entered, name="blocked")
        watcher = await TestProbe.spawn(system)
        watcher.watch(blocked)
        asking = asyncio.create_task(blocked.ask("hello", timeout=GUARD))
        async with asyncio.timeout(GUARD):
            await entered.wait()
            await system.stop(blocked, timeout=0)
            with pytest.raises(ActorCrashed, match=r"`s/blocked` was cancelled handling `str`"):
                await asking
            assert await watcher.expect_terminated(blocked) == "killed"
        assert system.metrics().failures == 0
