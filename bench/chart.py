"""``ratios.png``: how ours compares with the bare baseline and the best peer.

Every bar is an *advantage factor*: how many times better ours is on that row (the ratio
for ↑ rows, its inverse for ↓ rows), on a log scale with 1 marked, so bars to the right
of the line are wins and bars to the left are losses whatever the unit (bars grow from
1 in both directions). Only rows marked
``chart=True`` appear, and only ratios that exist.

``python -m bench.chart [results.json]`` redraws ``ratios.png`` from a saved run
(default: ``bench/results/latest.json``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["draw_chart"]

TICKS = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def _advantage(row: Mapping[str, Any], key: str) -> float | None:
    ratio = row[key]
    if ratio is None or ratio <= 0:
        return None
    return float(ratio) if row["better"] == "higher" else 1.0 / float(ratio)


def draw_chart(record: Mapping[str, Any], path: Path) -> Path | None:
    """Draw the chart of ``record`` to ``path``; None if no row has a ratio."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for workload in record["workloads"] for row in workload["rows"] if row["chart"]]
    labels = [row["label"] for row in rows]
    series = {
        "vs bare": [_advantage(row, "ratio_bare") for row in rows],
        "vs best peer": [_advantage(row, "ratio_best_peer") for row in rows],
    }
    if not any(value for values in series.values() for value in values):
        return None
    height = 0.38
    figure, axes = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.6))
    for offset, (name, values) in enumerate(series.items()):
        positions = [index + (offset - 0.5) * height for index in range(len(rows))]
        shown = [(p, v) for p, v in zip(positions, values, strict=True) if v is not None]
        bars = axes.barh(
            [p for p, _ in shown],
            [v - 1.0 for _, v in shown],
            left=1.0,
            height=height,
            label=name,
        )
        axes.bar_label(bars, labels=[f"{v:.2g}x" for _, v in shown], padding=3, fontsize=8)
    axes.set_xscale("log")
    shown_values = [v for values in series.values() for v in values if v is not None]
    low, high = min([*shown_values, 1.0]) / 1.8, max([*shown_values, 1.0]) * 1.8
    ticks = [tick for tick in TICKS if low <= tick <= high]
    axes.set_xlim(low, high)
    axes.set_xticks(ticks, [f"{tick:g}x" for tick in ticks])
    axes.minorticks_off()
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_yticks(range(len(rows)), labels)
    axes.invert_yaxis()
    axes.set_xlabel("times better than the other system (log scale; > 1 = ours wins)")
    machine = record["machine"]
    axes.set_title(
        f"actors-runtime vs baselines ({record['mode']} run, {machine['cpu_count']} CPUs, "
        f"{machine['loop']}, {machine['date'][:10]})",
        fontsize=10,
    )
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    results = Path(__file__).resolve().parent / "results"
    path = Path(args[0]) if args else results / "latest.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    print(draw_chart(record, results / "ratios.png"))


if __name__ == "__main__":
    main()
