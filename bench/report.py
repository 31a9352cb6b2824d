"""The markdown table: one row per metric, one column per system, ratios and goals.

Ratios are literally ``ours ÷ other`` on the row's own unit; the arrow after the unit
says which way is better (↑ higher, ↓ lower), so 0.5x is twice as good on a ↓ row and
half as good on a ↑ row. A cell is "—" when a system does not run that workload, and
"error" when every run of it failed (the reason is in the JSON and on stderr).

``python -m bench.report [results.json]`` prints the table of a saved run (default:
``bench/results/latest.json``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .registry import COLUMNS

__all__ = ["format_value", "machine_line", "render_table"]

ARROWS = {"higher": "↑", "lower": "↓"}


def format_value(value: float | None, unit: str, digits: int) -> str:
    """Rates compactly (1.77 M), other figures with their row's decimals."""
    if value is None:
        return "—"
    if unit.endswith("/s"):
        for scale, suffix in ((1e6, " M"), (1e3, " k")):
            if value >= scale:
                return f"{value / scale:.3g}{suffix}"
        return f"{value:.3g}"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None, peer: str | None = None) -> str:
    if value is None:
        return "—"
    text = f"{value:.2f}x"
    return f"{text} ({peer})" if peer else text


def _verdict(met: bool | None, goal: str | None) -> str:
    if goal is None:
        return "—"
    if met is None:
        return "n/a"
    return "met" if met else "**missed**"


def render_table(record: Mapping[str, Any]) -> str:
    header = [
        "workload",
        "unit",
        *COLUMNS,
        "ours/bare",
        "ours/best peer",
        "goal",
        "met",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for workload in record["workloads"]:
        errors = workload.get("errors", {})
        systems = workload["systems"]
        for row in workload["rows"]:
            cells = [row["label"], f"{row['unit']} {ARROWS[row['better']]}"]
            for column in COLUMNS:
                if column in row["medians"]:
                    cells.append(format_value(row["medians"][column], row["unit"], row["digits"]))
                elif column in errors:
                    cells.append("error")
                elif column in systems:
                    cells.append("(full)")  # a slow system skipped in quick mode
                else:
                    cells.append("—")
            cells.append(_ratio(row["ratio_bare"]))
            cells.append(_ratio(row["ratio_best_peer"], row["best_peer"]))
            cells.append(row["goal"] or "—")
            cells.append(_verdict(row["met"], row["goal"]))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_line(record: Mapping[str, Any]) -> str:
    machine = record["machine"]
    load = ", ".join(str(x) for x in machine["load_average"])
    return (
        f"{record['mode']} run, {record['repeats']} repeats (medians), "
        f"{record['seconds']:.0f} s; {machine['cpu']}, {machine['cpu_count']} CPUs, "
        f"{machine['memory_gb']} GB; {machine['platform']}; Python {machine['python']}, "
        f"{machine['loop']}; load average at start {load}; {machine['date']}"
    )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path(__file__).resolve().parent / "results" / "latest.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    print(render_table(record))
    print()
    print(machine_line(record))


if __name__ == "__main__":
    main()
