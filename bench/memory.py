"""Memory per idle actor: the growth of the resident set when N idle actors exist.

Each run is a fresh process: it imports everything, starts the system, spawns and
collects a few warm-up actors, reads RSS, spawns N idle actors (keeping their refs in a
list, as an application would), lets the loop turn, collects garbage and reads RSS again.
The figure is the difference divided by N: everything an idle actor costs (runtime
state, the actor object, a task if the design needs one, allocator overhead), which is
what "1M idle actors in 1 GB" is about. The cyclic garbage collector is off while
spawning (it only costs time here: idle actors are not garbage), and the process ends
without tearing the actors down; teardown is not what is measured.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Mapping
from typing import Any

import actors

from .kits import actor_class, kit
from .measure import exit_now, rss_bytes, settle
from .registry import Goal, Metric, Runner, Sizes, Workload, register
from .spawn import Idle

WARMUP_ACTORS = 100


def _per_actor(before: int, after: int, count: int) -> dict[str, float]:
    return {"bytes": (after - before) / count}


def _async_runner(name: str, count: int) -> Runner:
    async def main() -> None:
        cls = actor_class(name, Idle)
        async with kit(name).open() as system:
            warmup = [await system.spawn(cls) for _ in range(WARMUP_ACTORS)]
            await asyncio.sleep(0)
            settle()
            gc.disable()
            before = rss_bytes()
            refs: list[Any] = []
            for _ in range(count):
                refs.append(await system.spawn(cls))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            settle()
            after = rss_bytes()
            exit_now(_per_actor(before, after, count) | {"actors": len(refs) + len(warmup)})

    def run(quick: bool) -> Mapping[str, float]:
        actors.run(main())
        raise AssertionError("unreachable: the measurement ends the process")

    return run


def _pykka_runner(count: int) -> Runner:
    def run(quick: bool) -> Mapping[str, float]:
        from .peers import PykkaIdle

        warmup = [PykkaIdle.start() for _ in range(WARMUP_ACTORS)]
        settle()
        gc.disable()
        before = rss_bytes()
        refs = [PykkaIdle.start() for _ in range(count)]
        settle()
        after = rss_bytes()
        exit_now(_per_actor(before, after, count) | {"actors": len(refs) + len(warmup)})
        raise AssertionError("unreachable")

    return run


def _thespian_runner(count: int) -> Runner:
    def run(quick: bool) -> Mapping[str, float]:
        from .peers import ThespianIdle, thespian_system

        system = thespian_system()
        warmup = [system.createActor(ThespianIdle) for _ in range(WARMUP_ACTORS)]
        settle()
        gc.disable()
        before = rss_bytes()
        refs = [system.createActor(ThespianIdle) for _ in range(count)]
        settle()
        after = rss_bytes()
        exit_now(_per_actor(before, after, count) | {"actors": len(refs) + len(warmup)})
        raise AssertionError("unreachable")

    return run


def _register(label: str, count: int, systems: tuple[str, ...], **options: Any) -> None:
    runners: dict[str, Runner] = {}
    for system in systems:
        if system == "pykka":
            runners[system] = _pykka_runner(count)
        elif system == "thespian":
            runners[system] = _thespian_runner(count)
        else:
            runners[system] = _async_runner(system, count)
    register(
        Workload(
            name=f"memory_{label}",
            family="memory",
            summary=f"RSS growth per idle actor with {count:,} idle actors, fresh process",
            metrics=(
                Metric(
                    key="bytes",
                    label=f"memory per idle actor, {label} actors",
                    unit="B/actor",
                    better="lower",
                    goal=Goal.at_most(600, "<= 600 B"),
                    chart=label == "100k",
                ),
            ),
            runners=runners,
            **options,
        )
    )


_register(
    "10k",
    10_000,
    ("ours", "bare", "queue", "pykka", "thespian"),
    max_repeats=Sizes(3, 2),
    slow_systems=frozenset({"pykka"}),
    notes=("Pykka: 10,000 threads take about 12 s to start, so it runs once, full mode only.",),
)
_register("100k", 100_000, ("ours", "bare", "queue", "thespian"), max_repeats=Sizes(3, 1))
_register(
    "1M",
    1_000_000,
    ("ours", "bare"),
    full_only=True,
    max_repeats=Sizes(1, 1),
    timeout=120.0,
    notes=("Full mode only; a single repeat, the figure hardly varies at this size.",),
)
