"""``self.timers``: keyed single and periodic timers owned by the incarnation.

No timed assertions: a timer's effect is awaited through the messages it causes, and
"after the timer fired" is established with a later loop timer as witness."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from actors.supervision import ChildSpec, SupervisorSpec

from actors import Actor, ActorCrashed, ActorSystem

from .support import Crash, Get, Ping, later


class Tick(msgspec.Struct):
    n: int = 0


class Arm(msgspec.Struct):
    key: str
    message: Any
    delay: float
    periodic: bool = False


class Cancel(msgspec.Struct):
    key: str


class Active(msgspec.Struct):
    key: str


class Waiter(Actor):
    """Arms timers on request; reports each Tick to a future the test waits on."""

    def __init__(self, ticks: asyncio.Queue[Any]) -> None:
        self.ticks = ticks

    async def receive(self, message: Any) -> Any:
        match message:
            case Arm(key, msg, delay, False):
                self.timers.start_single(key, msg, delay)
            case Arm(key, msg, delay, True):
                self.timers.start_periodic(key, msg, delay)
            case Cancel(key):
                self.timers.cancel(key)
            case Active(key):
                return self.timers.is_active(key)
            case Tick():
                assert self.sender is None
                self.ticks.put_nowait(message)
            case Crash():
                raise RuntimeError("boom")
        return None


async def test_a_single_timer_delivers_once_and_is_then_inactive() -> None:
    ticks: asyncio.Queue[Any] = asyncio.Queue()
    async with ActorSystem("t") as system:
        waiter = await system.spawn(Waiter, ticks)
        await waiter.ask(Arm("k", Tick(1), 0.001))
        assert await waiter.ask(Active("k")) is True
        assert await ticks.get() == Tick(1)
        assert await waiter.ask(Active("k")) is False
        toolkit = waiter._cell.toolkit
        assert toolkit is not None and toolkit.timers._timers == {}  # nothing scheduled
        await later(0.01)
        assert ticks.empty()


async def test_a_periodic_timer_repeats_until_cancelled() -> None:
    ticks: asyncio.Queue[Any] = asyncio.Queue()
    async with ActorSystem("t") as system:
        waiter = await system.spawn(Waiter, ticks)
        await waiter.ask(Arm("beat", Tick(), 0.001, periodic=True))
        for _ in range(3):
            await ticks.get()
        await waiter.ask(Cancel("beat"))
        assert await waiter.ask(Active("beat")) is False
        while not ticks.empty():  # delivered before the cancel: fine
            ticks.get_nowait()
        await later(0.02)
        assert ticks.empty()


class Holder(Actor):
    """Starts a timer, waits until it has fired (the Timer is queued behind this very
    message), then cancels or replaces it before returning."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        match message:
            case Ping(0):
                self.timers.start_single("k", Tick(1), 0)
                await later(0.01)  # the timer (due earlier) has fired meanwhile
                assert len(self.mailbox) == 1  # its message is queued
                self.timers.cancel("k")
            case Ping(1):
                self.timers.start_single("k", Tick(1), 0)
                await later(0.01)
                self.timers.start_single("k", Tick(2), 0)  # replaces it
            case Ping(2):
                self.timers.start_periodic("p", Tick(3), 0.001)
                await later(0.02)  # several periods pass while we are busy
                assert len(self.mailbox) == 1  # one tick queued, not a pile
            case Ping(3):
                self.timers.start_single("k", Tick(4), 0)
                await later(0.01)
                self.timers.cancel_all()
            case Get():
                return list(self.seen)
            case _:
                self.seen.append(message)
        return None


@pytest.mark.parametrize(
    ("ping", "expected"),
    [(0, []), (1, [Tick(2)]), (3, [])],
    ids=["cancelled", "replaced", "cancel_all"],
)
async def test_a_cancelled_or_replaced_timer_is_never_delivered_even_if_queued(
    ping: int, expected: list[Any]
) -> None:
    seen: list[Any] = []
    async with ActorSystem("t") as system:
        holder = await system.spawn(Holder, seen)
        await holder.ask(Ping(ping))
        await later(0.01)  # a replacement (due at once) has fired and is queued
        assert await holder.ask(Get()) == expected


async def test_a_periodic_timer_skips_ticks_behind_a_slow_actor() -> None:
    seen: list[Any] = []
    async with ActorSystem("t") as system:
        holder = await system.spawn(Holder, seen)
        await holder.ask(Ping(2))  # asserts one queued tick after many periods
        assert Tick(3) in await holder.ask(Get())


async def test_a_restart_cancels_the_old_incarnations_timers() -> None:
    ticks: asyncio.Queue[Any] = asyncio.Queue()
    spec = SupervisorSpec(
        children=[ChildSpec(id="w", actor=Waiter, args=[ticks], name="w")], max_restarts=5
    )
    async with ActorSystem("t") as system:
        await system.spawn_tree(spec)
        waiter = system.whereis("w")
        assert waiter is not None
        await waiter.ask(Arm("k", Tick(1), 0.01))
        await waiter.ask(Arm("beat", Tick(2), 0.001, periodic=True))
        waiter.tell(Crash())
        assert await waiter.ask(Active("k")) is False  # the new incarnation has none
        assert await waiter.ask(Active("beat")) is False
        while not ticks.empty():
            ticks.get_nowait()
        await later(0.03)
        assert ticks.empty()


async def test_stop_cancels_timers_and_leaves_no_wakeup() -> None:
    ticks: asyncio.Queue[Any] = asyncio.Queue()
    async with ActorSystem("t") as system:
        waiter = await system.spawn(Waiter, ticks)
        await waiter.ask(Arm("beat", Tick(), 0.001, periodic=True))
        await ticks.get()
        cell = waiter._cell
        timer = cell.toolkit.timers._timers["beat"]  # type: ignore[union-attr]
        await system.stop(waiter)
        assert timer.handle is None and not timer.active
        assert cell.toolkit is None


async def test_an_actor_without_timers_has_no_toolkit() -> None:
    async with ActorSystem("t") as system:
        waiter = await system.spawn(Waiter, asyncio.Queue())
        await waiter.ask(Ping())
        assert waiter._cell.toolkit is None


@pytest.mark.parametrize("delay", [-1, "1", True])
async def test_bad_delays_are_refused_with_a_clear_error(delay: Any) -> None:
    async with ActorSystem("t") as system:
        waiter = await system.spawn(Waiter, asyncio.Queue())
        with pytest.raises(ActorCrashed) as caught:
            await waiter.ask(Arm("k", Tick(), delay))
        assert "`delay` must be a number of seconds >= 0" in str(caught.value)


async def test_a_timer_started_in_init_fires_after_started() -> None:
    class Early(Actor):
        def __init__(self, ticks: asyncio.Queue[Any]) -> None:
            self.ticks = ticks
            self.timers.start_single("k", Tick(7), 0)

        async def receive(self, message: Any) -> Any:
            self.ticks.put_nowait(message)

    ticks: asyncio.Queue[Any] = asyncio.Queue()
    async with ActorSystem("t") as system:
        await system.spawn(Early, ticks)
        assert await ticks.get() == Tick(7)
