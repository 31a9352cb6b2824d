"""Spawn rate: how many actors per second a running system can start.

The clock covers ``await spawn(...)`` for every actor and then one turn of the event
loop, so a baseline whose actor task only begins running on the next turn pays for that
first step too: every counted actor is ready to handle a message when the clock stops.
The actors are kept (not stopped in between), as an application building a population
of actors would, and the process ends without stopping them: teardown is not measured.
Pykka starts one OS thread per actor, so it spawns fewer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import actors

from .kits import actor_class, kit
from .measure import exit_now
from .registry import Goal, Metric, Runner, Sizes, Workload, register

__all__ = ["Idle"]

SPAWNS = Sizes(full=50_000, quick=20_000)
PYKKA_SPAWNS = Sizes(full=300, quick=150)
THESPIAN_SPAWNS = Sizes(full=5_000, quick=2_000)
WARMUP_FRACTION = 10


class Idle:
    """Behaviour: accept any message, do nothing. What a waiting actor looks like."""

    async def receive(self, message: Any) -> None:
        return None


async def _spawn_many(system: Any, cls: type, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        await system.spawn(cls)
    await asyncio.sleep(0)
    return count / (time.perf_counter() - start)


def _async_runner(name: str) -> Runner:
    async def main(count: int) -> None:
        cls = actor_class(name, Idle)
        async with kit(name).open() as system:
            await _spawn_many(system, cls, count // WARMUP_FRACTION)
            exit_now({"rate": await _spawn_many(system, cls, count)})

    def run(quick: bool) -> Mapping[str, float]:
        actors.run(main(SPAWNS.pick(quick)))
        raise AssertionError("unreachable: the measurement ends the process")

    return run


def _pykka_run(quick: bool) -> Mapping[str, float]:
    from .peers import PykkaIdle, pykka_stop_all

    count = PYKKA_SPAWNS.pick(quick)
    try:
        for _ in range(count // WARMUP_FRACTION):
            PykkaIdle.start()
        start = time.perf_counter()
        for _ in range(count):
            PykkaIdle.start()
        rate = count / (time.perf_counter() - start)
    finally:
        pykka_stop_all()
    return {"rate": rate}


def _thespian_run(quick: bool) -> Mapping[str, float]:
    from .peers import ThespianIdle, thespian_system

    count = THESPIAN_SPAWNS.pick(quick)
    system = thespian_system()
    try:
        for _ in range(count // WARMUP_FRACTION):
            system.createActor(ThespianIdle)
        start = time.perf_counter()
        for _ in range(count):
            system.createActor(ThespianIdle)
        return {"rate": count / (time.perf_counter() - start)}
    finally:
        system.shutdown()


register(
    Workload(
        name="spawn",
        family="spawn",
        summary="start idle actors one after another in a running system",
        metrics=(
            Metric(
                key="rate",
                label="spawn",
                unit="actors/s",
                better="higher",
                goal=Goal.relative("higher", 2.0, ">= 2x bare"),
                chart=True,
            ),
        ),
        runners={
            "ours": _async_runner("ours"),
            "bare": _async_runner("bare"),
            "queue": _async_runner("queue"),
            "pykka": _pykka_run,
            "thespian": _thespian_run,
        },
        notes=("Polling agents start like queue actors; they are left out here.",),
    )
)
