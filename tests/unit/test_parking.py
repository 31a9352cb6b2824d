"""Parked drain tasks (``actors/_parking.py``): a recently busy actor is woken by its
next message without a new task, and a quiet system returns to holding no task.

Nothing here is timed: the sweep that ends parked tasks is awaited through the parked
task itself (it ends when released), never with a sleep.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from actors.supervision import ChildSpec, SupervisorRef, SupervisorSpec

from actors import NO_REPLY, Actor, ActorRef, ActorSystem, AskTimeout
from actors.lowlevel import cell_of


class WhichTask(msgspec.Struct):
    pass


class Tasks(Actor):
    """Answers the task that handles each message (the task itself: an id could be
    reused by a new task once the old one is freed)."""

    async def receive(self, message: Any) -> Any:
        return asyncio.current_task()


async def _parked_task(ref: ActorRef) -> asyncio.Task[None]:
    cell = cell_of(ref)
    # Idle (nothing queued, waiting for a message) and still holding its task: parked.
    assert not cell.mailbox, "not idle"
    assert cell.task is not None, "the actor's drain task is not parked"
    return cell.task


async def test_next_message_to_a_recently_busy_actor_reuses_its_task() -> None:
    async with ActorSystem("parking") as system:
        ref = await system.spawn(Tasks)
        first = await ref.ask(WhichTask())
        await asyncio.sleep(0)  # the actor has gone idle: its mailbox is empty
        second = await ref.ask(WhichTask())
        assert first is second


async def test_parked_task_ends_after_the_sweep_and_the_system_holds_no_task() -> None:
    async with ActorSystem("parking") as system:
        ref = await system.spawn(Tasks)
        first = await ref.ask(WhichTask())
        await asyncio.sleep(0)
        parked = await _parked_task(ref)
        await parked  # released by a sweep: nothing woke it
        cell = cell_of(ref)
        assert cell.task is None
        assert asyncio.all_tasks() == {asyncio.current_task()}
        # Idle with no task: the next message starts a new drain task.
        assert await ref.ask(WhichTask()) is not first


async def test_stop_wakes_a_parked_actor_and_it_stops() -> None:
    stopped: list[str] = []

    class Recording(Tasks):
        async def stopped(self) -> None:
            stopped.append("stopped")

    async with ActorSystem("parking") as system:
        ref = await system.spawn(Recording)
        await ref.ask(WhichTask())
        await asyncio.sleep(0)
        parked = await _parked_task(ref)
        await system.stop(ref)
        assert parked.done()
        assert stopped == ["stopped"]
        assert not ref.is_alive()


async def test_parked_actor_killed_by_cancellation_is_restarted_by_its_supervisor() -> None:
    spec = SupervisorSpec(children=[ChildSpec(id="worker", actor=Tasks)])
    async with ActorSystem("parking") as system:
        supervisor = await system.spawn_tree(spec)
        assert isinstance(supervisor, SupervisorRef)
        (info,) = await supervisor.which_children()
        assert info.ref is not None
        child = info.ref
        before = await child.ask(WhichTask())
        await asyncio.sleep(0)
        parked = await _parked_task(child)
        parked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await parked
        # Same ref, the restarted incarnation, in a new task.
        assert await child.ask(WhichTask()) is not before


async def test_system_exit_releases_parked_tasks() -> None:
    async with ActorSystem("parking") as system:
        refs = [await system.spawn(Tasks) for _ in range(10)]
        for ref in refs:
            await ref.ask(WhichTask())
        await asyncio.sleep(0)
        parked = [await _parked_task(ref) for ref in refs]
    assert all(task.done() for task in parked)


async def test_sequential_asks_share_one_timeout_timer() -> None:
    # A loop timer per ask costs about 2 µs on uvloop; the system's AskDeadlines arms
    # one for all of them (actors/_deadlines.py), and still expires a late ask.
    async with ActorSystem("deadlines") as system:
        ref = await system.spawn(Tasks)
        loop = asyncio.get_running_loop()
        # Handles kept alive (so no id is reused); uvloop's call_at calls call_later.
        armed: dict[int, tuple[float, asyncio.TimerHandle]] = {}
        call_at, call_later = loop.call_at, loop.call_later

        def spy_at(when: float, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
            handle = call_at(when, *args, **kwargs)
            armed.setdefault(id(handle), (when - loop.time(), handle))
            return handle

        def spy_later(delay: float, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
            handle = call_later(delay, *args, **kwargs)
            armed.setdefault(id(handle), (delay, handle))
            return handle

        loop.call_at = spy_at  # type: ignore[method-assign]
        loop.call_later = spy_later  # type: ignore[method-assign]
        try:
            for _ in range(50):
                await ref.ask(WhichTask())
        finally:
            del loop.call_at  # type: ignore[method-assign]
            del loop.call_later  # type: ignore[method-assign]
        assert len([delay for delay, _ in armed.values() if delay > 1.0]) == 1


class Silent(Actor):
    async def receive(self, message: Any) -> Any:
        return NO_REPLY  # never answers


async def test_shorter_timeout_expires_before_an_earlier_longer_one() -> None:
    async with ActorSystem("deadlines") as system:
        ref = await system.spawn(Silent)
        slow = asyncio.ensure_future(ref.ask(WhichTask(), timeout=30.0))
        with pytest.raises(AskTimeout):
            await ref.ask(WhichTask(), timeout=0.01)
        assert not slow.done()
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
