"""Measuring inside a child process: clocks, quantiles, memory, and reporting back.

Statistics come from the standard library (``statistics.quantiles``), never from
hand-rolled index arithmetic, so every workload computes percentiles the same way.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
from collections.abc import Mapping, Sequence

__all__ = ["RESULT_MARKER", "emit", "exit_now", "percentiles_us", "rss_bytes", "settle"]

RESULT_MARKER = "BENCH-RESULT "
"""Prefix of the one stdout line a child uses to hand its figures to the parent."""


def percentiles_us(samples_ns: Sequence[int]) -> dict[str, float]:
    """p50 and p99 of latency samples given in nanoseconds, in microseconds."""
    cuts = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return {"p50": cuts[49] / 1000.0, "p99": cuts[98] / 1000.0}


def rss_bytes() -> int:
    """Resident set size of this process."""
    # psutil comes with the bench extra: imported here, where a child measures, so the
    # workload table itself loads with the dev extra alone (tests/unit/test_bench_goals).
    import psutil

    return int(psutil.Process().memory_info().rss)


def settle() -> None:
    """Collect garbage so memory readings do not include collectable cycles."""
    gc.collect()
    gc.collect()


def emit(result: Mapping[str, float]) -> None:
    """Report a runner's figures to the parent (one marked line on stdout)."""
    sys.stdout.write(RESULT_MARKER + json.dumps(dict(result)) + "\n")
    sys.stdout.flush()


def exit_now(result: Mapping[str, float]) -> None:
    """Report and end the process at once, skipping the teardown of a huge heap.

    Memory workloads leave up to a million actors behind; stopping them cleanly takes
    longer than measuring them and tells nothing about memory.
    """
    emit(result)
    sys.stderr.flush()
    os._exit(0)
