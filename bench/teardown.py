"""Teardown and bookkeeping at scale: stopping 20,000 bus subscribers, 10,000 watchers.

DESIGN.md asks that unsubscribing or stopping N subscribers, watchers or actors cost
O(N) in total. A list where a set belongs turns that into O(N²) without any single step
looking slow, so these rows time the whole teardown at a size where quadratic shows:

- *stop 20,000 subscribers*: 20,000 actors each subscribed to one event type, then the
  system exits (every subscriber stops; the bus, which watches each of them, is told
  and drops its subscriptions). Timed: the ``async with`` exit.
- *10,000 watchers*: 10,000 actors each watching one target actor, then the system
  exits (the watchers stop first, newest first, each leaving the target's watcher set).
  Timed: the ``async with`` exit.

bare: the same number of hand-written task-per-actor actors stopped by the bare system's
exit (it has no bus and no watches): the cost of stopping that many tasks, which is the
floor the runtime's teardown is compared with.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import msgspec

import actors

from .kits import actor_class, kit
from .quiet import silence_logging
from .registry import Metric, Sizes, Workload, register

SUBSCRIBERS = Sizes(full=20_000, quick=20_000)
WATCHERS = Sizes(full=10_000, quick=10_000)


class Event(msgspec.Struct, frozen=True):
    """What the subscribers subscribe to (never published: only teardown is timed)."""


class Idle:
    """Behaviour: an actor that is never sent anything."""

    async def receive(self, message: Any) -> None:
        return None


class Watcher(actors.Actor):
    """Watches the target it is given as soon as it starts."""

    def __init__(self, target: actors.ActorRef) -> None:
        self.target = target

    async def started(self) -> None:
        self.watch(self.target)

    async def receive(self, message: Any) -> None:
        return None  # the target's Terminated, if it stops first


async def _ours_subscribers(count: int) -> float:
    system = actors.ActorSystem("bench")
    async with system:
        cls = actor_class("ours", Idle)
        for _ in range(count):
            await system.subscribe(await system.spawn(cls), Event)
        start = time.perf_counter()
    return time.perf_counter() - start


async def _ours_watchers(count: int) -> float:
    async with actors.ActorSystem("bench") as system:
        target = await system.spawn(actor_class("ours", Idle))
        for _ in range(count):
            await system.spawn(Watcher, target)
        start = time.perf_counter()
    return time.perf_counter() - start


async def _bare_stop(count: int) -> float:
    async with kit("bare").open() as system:
        cls = actor_class("bare", Idle)
        for _ in range(count):
            await system.spawn(cls)
        start = time.perf_counter()
    return time.perf_counter() - start


def _ours(quick: bool) -> Mapping[str, float]:
    silence_logging()
    subscribers = actors.run(_ours_subscribers(SUBSCRIBERS.pick(quick)))
    watchers = actors.run(_ours_watchers(WATCHERS.pick(quick)))
    return {"subscribers_ms": subscribers * 1e3, "watchers_ms": watchers * 1e3}


def _bare(quick: bool) -> Mapping[str, float]:
    silence_logging()
    subscribers = actors.run(_bare_stop(SUBSCRIBERS.pick(quick)))
    watchers = actors.run(_bare_stop(WATCHERS.pick(quick)))
    return {"subscribers_ms": subscribers * 1e3, "watchers_ms": watchers * 1e3}


register(
    Workload(
        name="teardown",
        family="teardown",
        summary="system exit with 20,000 bus subscribers / 10,000 watchers of one actor",
        metrics=(
            Metric(
                key="subscribers_ms",
                label=f"stop {SUBSCRIBERS.full:,} subscribers (bare: that many actors)",
                unit="ms",
                better="lower",
                digits=0,
            ),
            Metric(
                key="watchers_ms",
                label=f"stop {WATCHERS.full:,} watchers of one actor (bare: that many actors)",
                unit="ms",
                better="lower",
                digits=0,
            ),
        ),
        runners={"ours": _ours, "bare": _bare},
        max_repeats=Sizes(full=3, quick=1),
        timeout=120.0,
    )
)
