"""The parent side: run every (workload, repeat, system) in its own child process.

Order is interleaved per workload — A B C, A B C, ... — so slow drift of the machine
(thermal state, other tenants, page cache) spreads over all systems instead of landing
on whichever ran last, and the medians over repeats are compared within one run. Each
child runs in its own session; after it ends, whatever it left behind (Thespian's admin
and actor processes) is killed by process group, so no run leaks into the next.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .measure import RESULT_MARKER
from .registry import Workload

__all__ = ["Outcome", "RunOptions", "run_workload"]


@dataclass(frozen=True)
class RunOptions:
    quick: bool
    repeats: int


@dataclass
class Outcome:
    """Everything one workload produced: raw figures per system, failures, medians."""

    workload: Workload
    repeats: int
    runs: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    def medians(self, key: str) -> dict[str, float]:
        """``{system: median of key over its successful repeats}``."""
        result = {}
        for system, runs in self.runs.items():
            values = [run[key] for run in runs if key in run]
            if values:
                result[system] = statistics.median(values)
        return result


def repeats_for(workload: Workload, options: RunOptions) -> int:
    if workload.max_repeats is None:
        return options.repeats
    return max(1, min(options.repeats, workload.max_repeats.pick(options.quick)))


def run_workload(
    workload: Workload, options: RunOptions, progress: Callable[[str], None]
) -> Outcome:
    """Run ``workload`` on all its systems, interleaved, ``repeats`` times."""
    repeats = repeats_for(workload, options)
    outcome = Outcome(workload, repeats)
    started = time.perf_counter()
    for repeat in range(repeats):
        for system in workload.runners:
            if system in workload.slow_systems and (options.quick or repeat > 0):
                continue
            result, error = _run_child(workload, system, options.quick)
            if error is None:
                outcome.runs.setdefault(system, []).append(result)
            else:
                outcome.errors.setdefault(system, []).append(error)
                progress(f"  {workload.name} / {system} (repeat {repeat + 1}) failed: {error}")
    outcome.seconds = time.perf_counter() - started
    return outcome


def _run_child(workload: Workload, system: str, quick: bool) -> tuple[dict[str, float], str | None]:
    command = [sys.executable, "-m", "bench.worker", workload.name, system]
    if quick:
        command.append("--quick")
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=_project_root(),
    )
    try:
        stdout, stderr = child.communicate(timeout=workload.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(child.pid)
        child.communicate()
        return {}, f"timed out after {workload.timeout:.0f} s"
    finally:
        _kill_group(child.pid)
    result = _parse(stdout.splitlines())
    if result is None:
        tail = " | ".join(stderr.strip().splitlines()[-3:]) or "no output"
        return {}, f"exit status {child.returncode}: {tail}"
    return result, None


def _parse(lines: Iterable[str]) -> dict[str, float] | None:
    for line in reversed(list(lines)):
        if line.startswith(RESULT_MARKER):
            parsed = json.loads(line[len(RESULT_MARKER) :])
            return {key: float(value) for key, value in parsed.items()}
    return None


def _kill_group(pgid: int) -> None:
    """Kill what is left of a child's session (the child itself led it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _project_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
