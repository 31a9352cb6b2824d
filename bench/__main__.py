"""``python -m bench [--quick] [--only NAME ...] [--repeats N]``: run the suite.

Progress goes to stderr, the markdown table to stdout; results go to ``bench/results/``
(``latest.json`` and ``ratios.png`` for full runs, ``latest-quick.json`` for quick ones).
"""

from __future__ import annotations

import argparse
import sys
import time

from .chart import draw_chart
from .harness import Outcome, RunOptions, run_workload
from .report import format_value, machine_line, render_table
from .results import RESULTS_DIR, build_record, machine_info, save_record
from .workloads import all_workloads

FULL_REPEATS = 5
QUICK_REPEATS = 2


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _brief(outcome: Outcome) -> str:
    parts = []
    for metric in outcome.workload.metrics[:1]:
        for system, value in outcome.medians(metric.key).items():
            parts.append(f"{system} {format_value(value, metric.unit, metric.digits)}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller runs")
    parser.add_argument("--repeats", type=int, help="repeats per system (default 5, quick 2)")
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="run workloads whose name contains NAME"
    )
    parser.add_argument(
        "--tag",
        default="",
        help="appended to the result files' names (make bench-pythons: py3.12 ...), so a "
        "run on another interpreter does not replace latest.json",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    options = RunOptions(quick=args.quick, repeats=repeats)
    workloads = [
        workload
        for workload in all_workloads()
        if not (args.quick and workload.full_only)
        and (not args.only or any(name in workload.name for name in args.only))
    ]
    if not workloads:
        parser.error("no workload matches --only")

    machine = machine_info()
    started = time.perf_counter()
    _progress(f"bench: {len(workloads)} workloads, {'quick' if args.quick else 'full'} mode")
    outcomes = []
    for index, workload in enumerate(workloads, 1):
        outcome = run_workload(workload, options, _progress)
        outcomes.append(outcome)
        _progress(
            f"[{index}/{len(workloads)}] {workload.name} ({outcome.seconds:.1f} s): "
            f"{_brief(outcome)}"
        )
    seconds = time.perf_counter() - started

    record = build_record(
        outcomes, machine=machine, quick=args.quick, repeats=repeats, seconds=seconds
    )
    paths = save_record(record, partial=bool(args.only), tag=args.tag)
    if not args.quick and not args.only:
        chart = draw_chart(record, RESULTS_DIR / f"ratios{'-' + args.tag if args.tag else ''}.png")
        if chart is not None:
            paths.append(chart)
    print(render_table(record))
    print()
    print(machine_line(record))
    _progress(f"bench: done in {seconds:.0f} s; wrote {', '.join(str(p) for p in paths)}")


if __name__ == "__main__":
    main()
