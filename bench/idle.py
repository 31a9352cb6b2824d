"""Idle cost: CPU used by 10,000 actors that have nothing to do.

Each actor first handles one message (so every design is past its start-up path and in
its steady idle state), then the process sleeps for a fixed window while we read the
process CPU time (user + system, ``time.process_time``) before and after, divided by the
wall time the window really took (a saturated loop wakes late). An
event-driven actor needs no wake-up at all when idle, so ours and the task-per-actor
baselines should read about zero; the polling design wakes every agent every 5 ms and
cannot keep up with 10,000 of them. The voluntary context switches over the window
(``wakeups``) are kept in the JSON as a second witness.

Then, still among the 10,000 idle actors, one of them is asked in sequence,
``LATENCY_ASKS`` times or for ``LATENCY_BUDGET`` seconds, whichever ends first: the
round trip an application sees when its process hosts many idle agents. For an
event-driven design the idle actors change nothing; for the polling design the
loop is busy serving their time-outs and every answer waits its turn. This is where the
latency difference of polling shows (a lone polling agent answers almost as fast as a
queue actor, because ``wait_for(queue.get())`` is woken by the put itself).

Pykka (threads blocked on a queue) and Thespian's simpleSystemBase (nothing runs between
calls) are idle by construction and are not run here.

The same two rows are measured again for ours with the observer serving
(``ActorSystem(observe=("127.0.0.1", 0))``) and no browser connected, as the workload
``idle-observed`` registered right after ``idle`` (so ``--only idle`` runs both): the
observer promises to cost nothing while nobody watches (no timer, no snapshot), and
these rows are where that promise is checked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import actors

from .kits import actor_class, kit
from .measure import exit_now, percentiles_us, settle
from .messages import PING
from .registry import Goal, Metric, Runner, Sizes, Workload, register
from .spawn import Idle

ACTORS = 10_000
WINDOW_FULL = 2.0
WINDOW_QUICK = 1.0
SETTLE = 0.1
LATENCY_ASKS = 200
LATENCY_BUDGET = 0.5
IDLE_CPU_LIMIT = 0.1
"""Percent of one core read as "no CPU": about what the measuring sleep itself costs."""


async def _sequential_asks(ref: Any) -> list[int]:
    clock = time.perf_counter_ns
    deadline = clock() + int(LATENCY_BUDGET * 1e9)
    samples: list[int] = []
    while len(samples) < LATENCY_ASKS and (len(samples) < 2 or clock() < deadline):
        start = clock()
        await ref.ask(PING)
        samples.append(clock() - start)
    return samples


def _observed() -> actors.ActorSystem:
    """Ours with the observer listening on a free loopback port; nobody connects to it."""
    return actors.ActorSystem("bench", observe=("127.0.0.1", 0))


def _async_runner(
    name: str, open_system: Callable[[], AbstractAsyncContextManager[Any]] | None = None
) -> Runner:
    """The idle measurement on the kit ``name``, in a system from ``open_system`` (the
    kit's own by default)."""

    async def main(window: float) -> None:
        cls = actor_class(name, Idle)
        async with (open_system or kit(name).open)() as system:
            refs: list[Any] = [await system.spawn(cls) for _ in range(ACTORS)]
            await asyncio.gather(*(ref.ask(PING) for ref in refs))
            settle()
            await asyncio.sleep(SETTLE)
            import psutil  # the bench extra's; see measure.rss_bytes

            process = psutil.Process()
            switches = process.num_ctx_switches().voluntary
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.sleep(window)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            switches = process.num_ctx_switches().voluntary - switches
            latency = percentiles_us(await _sequential_asks(refs[len(refs) // 2]))
            exit_now(
                {
                    "cpu": 100.0 * cpu / wall,
                    "wakeups": switches / wall,
                    "ask_p50": latency["p50"],
                    "ask_p99": latency["p99"],
                }
            )

    def run(quick: bool) -> Mapping[str, float]:
        actors.run(main(WINDOW_QUICK if quick else WINDOW_FULL))
        raise AssertionError("unreachable: the measurement ends the process")

    return run


def _idle_metrics(suffix: str = "") -> tuple[Metric, ...]:
    return (
        Metric(
            key="cpu",
            label=f"idle CPU, {ACTORS // 1000}k idle actors{suffix}",
            unit="% of a core",
            better="lower",
            goal=Goal.at_most(IDLE_CPU_LIMIT, f"0 (<= {IDLE_CPU_LIMIT} %)"),
            digits=2,
            ratios=False,
        ),
        Metric(
            key="ask_p50",
            label=f"ask p50 among {ACTORS // 1000}k idle actors{suffix}",
            unit="µs",
            better="lower",
            digits=1,
        ),
    )


register(
    Workload(
        name="idle",
        family="idle",
        summary=f"CPU used by {ACTORS:,} idle actors while the process sleeps",
        metrics=_idle_metrics(),
        runners={name: _async_runner(name) for name in ("ours", "bare", "queue", "polling")},
        max_repeats=Sizes(3, 1),
    )
)

register(
    Workload(
        name="idle-observed",
        family="idle",
        summary="the idle rows again, ours with the observer serving and no browser connected",
        metrics=_idle_metrics(", observer on, no browser"),
        runners={"ours": _async_runner("ours", _observed)},
        max_repeats=Sizes(3, 1),
        notes=('ActorSystem(observe=("127.0.0.1", 0)): the observer listens, nobody connects.',),
    )
)
