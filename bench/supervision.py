"""Supervision: crash -> restarted -> answering again (latency); start and stop a
supervisor of 1,000 children (ms).

*Restart latency.* A one_for_one supervisor (``max_restarts=1_000_000``,
``within=0.001`` s, so intensity never trips) supervises one child that raises on
``Crash`` and echoes anything else. Each round times ``tell(CRASH)`` followed by
``await ask(PING)`` until the answer arrives: the child fails, the runtime reports the
failure to its supervisor, the supervisor restarts the slot with a fresh instance (same
ref, same mailbox), and the new instance handles the queued ask. The restart history
holds the restarts of the last ``within`` seconds: a few dozen at this rate, about what
a real intensity limit allows. With ``within=0.01`` it would hold about 250, and
rebuilding it on every restart (``supervision._policy.add_restart`` is linear in its
length) adds about 6 µs to the p50.

*Start and stop.* ``spawn_tree`` of a one_for_one supervisor with 1,000 idle children,
until it returns (every child started); then ``system.stop`` of the supervisor, until
every child and the supervisor have stopped. Each process runs a warm-up cycle and then
several timed cycles; the figure is their median.

The bare column is the hand-written equivalent (``bench.baselines.RestartingSystem``):
a bare actor whose loop catches the exception and carries on with a fresh instance, and,
for start/stop, 1,000 such actors started as tasks and stopped with a stop message.
Its ratio is the price of supervision (intensity bookkeeping, restart strategies,
lifecycle events, ordered shutdown).

Logging is silenced in every system (structlog filtered at CRITICAL): the runtime logs
each crash at error level, and formatting and writing log lines is not a runtime cost.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Mapping
from typing import Any

import msgspec
from actors.supervision import ChildSpec, Strategy, SupervisorSpec

import actors

from .baselines import RestartingSystem
from .kits import actor_class, kit
from .measure import percentiles_us
from .messages import PING
from .quiet import silence_logging
from .registry import Goal, Metric, Runner, Sizes, Workload, register

__all__ = ["Crash", "Crasher"]

RESTARTS = Sizes(full=10_000, quick=3_000)
CHILDREN = 1_000
CYCLES = Sizes(full=5, quick=3)
"""Timed start/stop cycles per process (after one warm-up cycle)."""
MAX_RESTARTS = 1_000_000
WITHIN = 0.001
"""Seconds of restart history kept: short, so the figure is not the history's length."""
WARMUP_FRACTION = 10


class Crash(msgspec.Struct, frozen=True):
    """Makes the child raise."""


CRASH = Crash()


class Boom(Exception):
    """What the child raises on ``Crash``."""


class Crasher:
    """Behaviour: raise on ``Crash``, echo anything else."""

    async def receive(self, message: Any) -> Any:
        if message.__class__ is Crash:
            raise Boom("crash requested")
        return message


class Idle:
    """Behaviour: a child with nothing to do."""

    async def receive(self, message: Any) -> None:
        return None


def _spec(cls: type, children: int) -> SupervisorSpec:
    return SupervisorSpec(
        strategy=Strategy.ONE_FOR_ONE,
        max_restarts=MAX_RESTARTS,
        within=WITHIN,
        children=[ChildSpec(id=f"child-{n}", actor=cls) for n in range(children)],
    )


# ------------------------------------------------------------------ restart latency


async def _restart_rounds(ref: Any, count: int) -> list[int]:
    clock = time.perf_counter_ns
    samples: list[int] = []
    append = samples.append
    tell = ref.tell
    ask = ref.ask
    for _ in range(count):
        start = clock()
        tell(CRASH)
        answer = await ask(PING)
        append(clock() - start)
        if answer is not PING:
            raise RuntimeError(f"the restarted child answered {answer!r}")
    return samples


async def _measure_restarts(ref: Any, count: int) -> dict[str, float]:
    await _restart_rounds(ref, count // WARMUP_FRACTION)
    return percentiles_us(await _restart_rounds(ref, count))


def _ours_restart(quick: bool) -> Mapping[str, float]:
    silence_logging()

    async def main() -> dict[str, float]:
        count = RESTARTS.pick(quick)
        async with kit("ours").open() as system:
            supervisor = await system.spawn_tree(_spec(actor_class("ours", Crasher), 1))
            [child] = await supervisor.which_children()
            result = await _measure_restarts(child.ref, count)
            [after] = await supervisor.which_children()
            failures = system.metrics().failures
            expected = count + count // WARMUP_FRACTION
            if after.ref != child.ref or after.status != "running" or failures != expected:
                raise RuntimeError(
                    f"after {expected} crashes: {after!r}, {failures} failures counted"
                )
            return result

    return actors.run(main())


def _bare_restart(quick: bool) -> Mapping[str, float]:
    silence_logging()

    async def main() -> dict[str, float]:
        async with RestartingSystem() as system:
            ref = await system.spawn(actor_class("bare", Crasher))
            return await _measure_restarts(ref, RESTARTS.pick(quick))

    return actors.run(main())


# ------------------------------------------------------------------ start and stop


async def _ours_cycle(system: Any, spec: SupervisorSpec) -> tuple[float, float]:
    clock = time.perf_counter
    start = clock()
    supervisor = await system.spawn_tree(spec)
    started = clock() - start
    children = await supervisor.which_children()
    if len(children) != CHILDREN or any(c.status != "running" for c in children):
        raise RuntimeError("the supervisor did not start all its children")
    start = clock()
    await system.stop(supervisor)
    stopped = clock() - start
    if supervisor.is_alive() or any(c.ref.is_alive() for c in children):
        raise RuntimeError("the supervisor or a child is still alive after stop")
    return started, stopped


async def _bare_cycle(cls: type) -> tuple[float, float]:
    clock = time.perf_counter
    system = RestartingSystem()
    start = clock()
    refs = [await system.spawn(cls) for _ in range(CHILDREN)]
    await asyncio.sleep(0)  # every child task is at its first await, ready for a message
    started = clock() - start
    start = clock()
    await system.stop_all(refs)
    stopped = clock() - start
    return started, stopped


def _summary(cycles: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "start_ms": 1000.0 * statistics.median(c[0] for c in cycles),
        "stop_ms": 1000.0 * statistics.median(c[1] for c in cycles),
    }


def _ours_start_stop(quick: bool) -> Mapping[str, float]:
    silence_logging()

    async def main() -> dict[str, float]:
        spec = _spec(actor_class("ours", Idle), CHILDREN)
        async with kit("ours").open() as system:
            await _ours_cycle(system, spec)
            cycles = [await _ours_cycle(system, spec) for _ in range(CYCLES.pick(quick))]
            return _summary(cycles)

    return actors.run(main())


def _bare_start_stop(quick: bool) -> Mapping[str, float]:
    silence_logging()

    async def main() -> dict[str, float]:
        cls = actor_class("bare", Idle)
        await _bare_cycle(cls)
        return _summary([await _bare_cycle(cls) for _ in range(CYCLES.pick(quick))])

    return actors.run(main())


# ------------------------------------------------------------------ registration


_restart_runners: dict[str, Runner] = {"ours": _ours_restart, "bare": _bare_restart}
_start_stop_runners: dict[str, Runner] = {"ours": _ours_start_stop, "bare": _bare_start_stop}

_WITHIN_100_MS = Goal.at_most(100.0, "<= 100 ms")

register(
    Workload(
        name="supervision_restart",
        family="supervision",
        summary="a supervised child crashes, is restarted and answers a queued ask",
        metrics=(
            Metric(
                key="p50",
                label="crash -> restart -> answer p50 (bare: try/except)",
                unit="µs",
                better="lower",
                goal=Goal.at_most(30.0, "<= 30 µs"),
                digits=1,
                chart=True,
            ),
            Metric(
                key="p99",
                label="crash -> restart -> answer p99",
                unit="µs",
                better="lower",
                digits=1,
            ),
        ),
        runners=_restart_runners,
        notes=("bare: a bare actor whose loop catches the exception and starts again.",),
    )
)

register(
    Workload(
        name="supervision_start_stop",
        family="supervision",
        summary=f"start, then stop, a one_for_one supervisor of {CHILDREN:,} idle children",
        metrics=(
            Metric(
                key="start_ms",
                label=f"start a {CHILDREN:,}-child supervisor",
                unit="ms",
                better="lower",
                goal=_WITHIN_100_MS,
                digits=1,
            ),
            Metric(
                key="stop_ms",
                label=f"stop a {CHILDREN:,}-child supervisor",
                unit="ms",
                better="lower",
                goal=_WITHIN_100_MS,
                digits=1,
            ),
        ),
        runners=_start_stop_runners,
        notes=(f"bare: {CHILDREN:,} restart-loop tasks, stopped with a stop message each.",),
    )
)
