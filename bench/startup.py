"""Start-up costs: ``import actors``, and an ``ActorSystem`` started and stopped.

Import: each figure is the median over fresh interpreters of the CPU time the import
statement itself takes (``process_time`` around it: interpreter start-up is not counted,
and on a shared machine waiting for a core is not either), ``import actors`` in the
"ours" column and the irreducible core it builds on, ``import asyncio, msgspec``, in the
"bare" column; the goal is their ratio. Bytecode
is written and used as an installed package's is (``PYTHONDONTWRITEBYTECODE`` dropped,
one unmeasured import first), so the figure is not the compiler's.

Start+stop: ``async with ActorSystem(): pass`` in a running loop, repeated; the median
of one round trip after a few unmeasured ones (the first pays for the lazy imports, such
as structlog's, that a long-lived program pays once).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping

import actors

from .registry import Goal, Metric, Runner, Sizes, Workload, register

IMPORTS = Sizes(full=21, quick=7)
STARTS = Sizes(full=500, quick=100)
WARMUP_STARTS = 20
IMPORT_RATIO_GOAL = 1.3
START_STOP_GOAL_MS = 5.0

_TIMED_IMPORT = "import time\nt = time.process_time()\n{statement}\nprint(time.process_time() - t)"


def _import_runner(statement: str) -> Runner:
    def run(quick: bool) -> Mapping[str, float]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        command = [sys.executable, "-c", _TIMED_IMPORT.format(statement=statement)]

        def once() -> float:
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            return float(done.stdout)

        once()  # writes the bytecode
        times = [once() for _ in range(IMPORTS.pick(quick))]
        return {"import_ms": statistics.median(times) * 1e3}

    return run


register(
    Workload(
        name="import",
        family="startup",
        summary="`import actors` vs `import asyncio, msgspec`, fresh interpreters",
        metrics=(
            Metric(
                key="import_ms",
                label="import time (ours: actors; bare: asyncio, msgspec)",
                unit="ms",
                better="lower",
                goal=Goal.relative("lower", IMPORT_RATIO_GOAL, f"<= {IMPORT_RATIO_GOAL}x bare"),
                digits=1,
            ),
        ),
        runners={
            "ours": _import_runner("import actors"),
            "bare": _import_runner("import asyncio, msgspec"),
        },
    )
)


async def _start_stop(count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        async with actors.ActorSystem("bench"):
            pass
        times.append(time.perf_counter() - started)
    return times


def _start_stop_run(quick: bool) -> Mapping[str, float]:
    actors.run(_start_stop(WARMUP_STARTS))
    times = actors.run(_start_stop(STARTS.pick(quick)))
    return {"start_stop_ms": statistics.median(times) * 1e3}


register(
    Workload(
        name="system start+stop",
        family="startup",
        summary="`async with ActorSystem(): pass`, median of one",
        metrics=(
            Metric(
                key="start_stop_ms",
                label="ActorSystem start + stop",
                unit="ms",
                better="lower",
                goal=Goal.at_most(START_STOP_GOAL_MS, f"<= {START_STOP_GOAL_MS:g} ms"),
                digits=2,
                ratios=False,
            ),
        ),
        runners={"ours": _start_stop_run},
    )
)
