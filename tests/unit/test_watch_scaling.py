"""Watcher bookkeeping scales: adding and removing N watchers of one actor is O(N) in
total, whatever the order (DESIGN.md: "unsubscribing or stopping N subscribers, watchers
or actors costs O(N) in total"), and ``Terminated`` goes out in the order the watches
were made.

Work is counted, not timed: the watchers here compare equal by value (as a transport's
proxy for a remote watcher does), so every comparison a lookup makes calls ``__eq__``.
A list scanned per removal calls it O(N) times per watcher when the newest is removed
first (the order a teardown stops actors in); a hash set needs none for the very object
it holds.
"""

from __future__ import annotations

from typing import Any

from actors import Actor, ActorSystem, Priority, Terminated
from actors.lowlevel import cell_of

WATCHERS = 2_000


class CountingWatcher:
    """A watcher equal by value, counting how often it is compared."""

    comparisons = 0

    def __init__(self, key: int, told: list[int]) -> None:
        self.key = key
        self.told = told

    def __eq__(self, other: object) -> bool:
        CountingWatcher.comparisons += 1
        return isinstance(other, CountingWatcher) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def deliver(self, message: Any, priority: Priority) -> None:
        assert isinstance(message, Terminated)
        self.told.append(self.key)


class Idle(Actor):
    async def receive(self, message: Any) -> None:
        return None


async def test_removing_watchers_newest_first_compares_each_at_most_once() -> None:
    async with ActorSystem("watch-scaling") as system:
        cell = cell_of(await system.spawn(Idle))
        told: list[int] = []
        watchers = [CountingWatcher(key, told) for key in range(WATCHERS)]
        for watcher in watchers:
            assert cell.add_watcher(watcher)
        CountingWatcher.comparisons = 0
        for watcher in reversed(watchers):
            cell.remove_watcher(watcher)
        assert CountingWatcher.comparisons <= WATCHERS
        assert not cell.watchers


async def test_adding_a_watcher_twice_keeps_one_and_tells_in_watch_order() -> None:
    told: list[int] = []
    async with ActorSystem("watch-order") as system:
        ref = await system.spawn(Idle)
        cell = cell_of(ref)
        for key in (3, 1, 2):
            assert cell.add_watcher(CountingWatcher(key, told))
        assert not cell.add_watcher(CountingWatcher(1, told))
        await system.stop(ref)
    assert told == [3, 1, 2]
