"""Turning outcomes into the result record: medians, ratios, goals, and the machine.

The record is plain JSON-able data and holds everything the table and the chart show,
so ``python -m bench.report bench/results/latest.json`` can redraw them later without
re-running anything. Raw per-repeat figures stay in it too, so a reader can check any
median by hand.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from .harness import Outcome
from .registry import PEERS, SYSTEM_NOTES, Metric

__all__ = ["RESULTS_DIR", "build_record", "machine_info", "save_record", "summarize"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"

PACKAGES = (
    "actors-runtime",
    "uvloop",
    "msgspec",
    "structlog",
    "pykka",
    "thespian",
    "psutil",
    "matplotlib",
)


def summarize(metric: Metric, medians: Mapping[str, float]) -> dict[str, Any]:
    """One table row: the medians, ours/bare, ours/best peer, and the goal verdict."""
    ours = medians.get("ours")
    peers = {name: medians[name] for name in PEERS if name in medians}
    best_peer = None
    if peers:
        pick = max if metric.better == "higher" else min
        best_peer = pick(peers, key=peers.__getitem__)
    return {
        "key": metric.key,
        "label": metric.label,
        "unit": metric.unit,
        "better": metric.better,
        "digits": metric.digits,
        "chart": metric.chart,
        "medians": dict(medians),
        "ratio_bare": _ratio(ours, medians.get("bare")) if metric.ratios else None,
        "best_peer": best_peer if metric.ratios else None,
        "ratio_best_peer": (
            _ratio(ours, None if best_peer is None else peers[best_peer]) if metric.ratios else None
        ),
        "goal": None if metric.goal is None else metric.goal.text,
        "met": None if metric.goal is None else metric.goal.check(medians),
    }


def _ratio(ours: float | None, other: float | None) -> float | None:
    if ours is None or other is None or other == 0:
        return None
    return ours / other


def build_record(
    outcomes: Sequence[Outcome],
    *,
    machine: Mapping[str, Any],
    quick: bool,
    repeats: int,
    seconds: float,
) -> dict[str, Any]:
    """The whole run; ``machine`` is taken at the start, the end load is added here."""
    return {
        "mode": "quick" if quick else "full",
        "repeats": repeats,
        "seconds": round(seconds, 1),
        "machine": {
            **machine,
            "load_average_end": [round(load, 2) for load in os.getloadavg()],
        },
        "systems": dict(SYSTEM_NOTES),
        "workloads": [
            {
                "name": outcome.workload.name,
                "family": outcome.workload.family,
                "summary": outcome.workload.summary,
                "notes": list(outcome.workload.notes),
                "repeats": outcome.repeats,
                "seconds": round(outcome.seconds, 1),
                "systems": list(outcome.workload.runners),
                "runs": outcome.runs,
                "errors": outcome.errors,
                "rows": [
                    summarize(metric, outcome.medians(metric.key))
                    for metric in outcome.workload.metrics
                ],
            }
            for outcome in outcomes
        ],
    }


def machine_info() -> dict[str, Any]:
    """Where and with what the figures were taken."""
    memory = psutil.virtual_memory().total
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(memory / 2**30, 1),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "loop": _loop(),
        "packages": {name: _version(name) for name in PACKAGES},
        "commit": _commit(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loop() -> str:
    version = _version("uvloop")
    return "asyncio" if version is None else f"uvloop {version}"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _commit() -> str | None:
    root = RESULTS_DIR.parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "actors"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}+dirty" if dirty else head


def save_record(record: Mapping[str, Any], *, partial: bool, tag: str = "") -> list[Path]:
    """Write ``<timestamp>[-quick][-tag].json`` and ``latest[-quick][-tag].json``; return
    the paths.

    Quick runs are kept apart so that a quick check never replaces the full figures
    that ``docs/performance.md`` and the chart are made from; a partial run (``--only``)
    writes its timestamped file only.
    """
    RESULTS_DIR.mkdir(exist_ok=True)
    suffix = ("-quick" if record["mode"] == "quick" else "") + ("-partial" if partial else "")
    suffix += f"-{tag}" if tag else ""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    paths = [RESULTS_DIR / f"{stamp}{suffix}.json"]
    if not partial:
        paths.append(RESULTS_DIR / f"latest{suffix}.json")
    for path in paths:
        path.write_text(text, encoding="utf-8")
    return paths
