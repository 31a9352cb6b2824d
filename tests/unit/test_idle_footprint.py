"""What an idle actor costs, and the lazily made parts that keep it small.

DESIGN.md's performance section sets a goal per idle actor (<= 600 B, bench/memory.py
measures it). These tests hold the structural facts that figure rests on, not the
figure: the cell's and the mailbox's rarely used parts are made only on first use (and
work once made), an unnamed actor's name is formatted only when read, a parent keys its
children by the cell itself (no int object per child). Sizes are ``sys.getsizeof``
facts of the objects, not timings.

Also here: ``tell`` leaves the high-water mark to the drain loop (it must still be
exact), and the fairness budget, now counted in time, still lets another actor run
while one is flooded.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from actors import Actor, ActorRef, ActorSystem, Mailbox, Overflow
from actors.lowlevel import cell_of


class Idle(Actor):
    async def receive(self, message: Any) -> Any:
        return message


class Parent(Actor):
    async def receive(self, message: Any) -> Any:
        return await self.spawn(Idle)


class Watcher(Actor):
    async def receive(self, message: Any) -> Any:
        self.watch(message)


def slotted(count: int, weakref: bool = False) -> object:
    """A plain object with ``count`` slots (and a weakref slot), nothing else."""
    names = tuple(f"slot{index}" for index in range(count))
    return type("Slotted", (), {"__slots__": (*names, "__weakref__") if weakref else names})()


class Gate(Actor):
    """Handling a future, waits for it (the actor stays busy, its mailbox fills)."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, asyncio.Future):
            await message
        return None


async def test_an_idle_actor_has_no_rare_parts_and_small_objects() -> None:
    async with ActorSystem("footprint") as system:
        ref = await system.spawn(Idle)
        cell = cell_of(ref)
        assert cell.rare is None
        assert cell.mailbox._rare is None
        assert cell.mailbox._normal is None  # no queue buffer while idle
        # 15 slots and a weakref slot (a transport exports cells in a
        # WeakValueDictionary), 11 for the mailbox: 160 and 120 bytes on Python 3.11,
        # 216 and 168 before. Compared with plain objects of that shape, since each
        # interpreter version lays them out its own way.
        assert sys.getsizeof(cell) <= sys.getsizeof(slotted(15, weakref=True))
        assert sys.getsizeof(cell.mailbox) <= sys.getsizeof(slotted(11))
        assert (cell.shutdown, cell.children, cell.registered, cell.claimed) == (
            5.0,
            None,
            False,
            False,
        )
        assert (cell.watchers, cell.watching, cell.factory) == (None, None, None)


async def test_an_unnamed_actor_keeps_a_number_and_formats_its_name_when_read() -> None:
    async with ActorSystem("footprint") as system:
        first = await system.spawn(Idle)
        second = await system.spawn(Idle)
        assert isinstance(cell_of(first)._name, int)
        assert first.name == f"idle-{cell_of(first)._name}"
        assert first.path == f"footprint/{first.name}"
        assert first.name != second.name
        named = await system.spawn(Idle, name="kept")
        assert cell_of(named)._name == "kept" and named.path == "footprint/kept"


async def test_an_unnamed_actor_whose_path_would_be_too_long_is_refused() -> None:
    long_class = type("L" * 127, (Idle,), {})  # "l" * 127 + "-<n>": over 128 bytes
    async with ActorSystem("footprint") as system:
        with pytest.raises(ValueError, match="at most 128 bytes"):
            await system.spawn(long_class)


async def test_children_are_keyed_by_their_cell_and_leave_when_they_stop() -> None:
    async with ActorSystem("footprint") as system:
        parent = await system.spawn(Parent)
        child: ActorRef = await parent.ask("spawn")
        children = cell_of(parent).children
        assert children == {cell_of(child): cell_of(child)}
        await system.stop(child)
        assert children == {}


async def test_the_rare_part_appears_with_a_watch_and_lets_go_at_the_end() -> None:
    async with ActorSystem("footprint") as system:
        watched = await system.spawn(Idle)
        watcher = await system.spawn(Watcher)
        await watcher.ask(watched)
        assert cell_of(watched).watchers == {cell_of(watcher): None}
        assert cell_of(watcher).watching == {cell_of(watched): None}
        await system.stop(watched)
        assert cell_of(watched).watchers is None
        await system.stop(watcher)
        assert cell_of(watcher).watching is None


async def test_a_bounded_mailbox_keeps_its_bound_and_counters_in_its_rare_part() -> None:
    mailbox = Mailbox(maxsize=2, overflow=Overflow.DROP_NEWEST)
    assert mailbox._rare is not None
    assert (mailbox.maxsize, mailbox.overflow) == (2, Overflow.DROP_NEWEST)
    unbounded = Mailbox()
    assert unbounded._rare is None
    assert (unbounded.maxsize, unbounded.overflow) == (None, Overflow.WAIT)
    unbounded.put_nowait(1)
    unbounded.remove(lambda m: True)  # the first eviction makes the counters
    assert unbounded._rare is not None
    assert unbounded.stats().put == 1


async def test_tell_leaves_an_exact_high_water_mark() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    async with ActorSystem("footprint") as system:
        ref = await system.spawn(Gate)
        ref.tell(gate)
        await asyncio.sleep(0)  # its drain task took the gate and waits on it
        for n in range(7):
            ref.tell(n)
        mailbox = cell_of(ref).mailbox
        assert mailbox.stats().high_water == 7  # read before anything shrank it
        gate.set_result(None)
        await ref.ask("sync")
        for n in range(3):
            ref.tell(n)  # fewer than before: the mark stays
        await ref.ask("sync")
        stats = mailbox.stats()
        assert (stats.size, stats.high_water, stats.put, stats.got) == (0, 8, 13, 13)


async def test_a_flooded_actor_lets_another_actor_answer_before_it_is_done() -> None:
    flood = 20_000
    async with ActorSystem("footprint") as system:
        busy = await system.spawn(Idle)
        other = await system.spawn(Idle)
        for n in range(flood):
            busy.tell(n)
        assert await other.ask("hello") == "hello"
        # The busy actor yielded (its turns are bounded in time) before handling all.
        assert cell_of(busy).mailbox.stats().got < flood
