"""The child process: run one workload on one system once, report its figures.

``python -m bench.worker <workload> <system> [--quick]``. The parent starts a fresh
interpreter for every (repeat, system) pair, so no system inherits another's heap, JIT
warm-up, threads or leaked tasks, and a crash costs one cell of the table, not the run.
"""

from __future__ import annotations

import argparse

from .measure import emit
from .workloads import WORKLOADS

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("system")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    runner = WORKLOADS[args.workload].runners.get(args.system)
    if runner is None:
        parser.error(f"workload `{args.workload}` has no runner for `{args.system}`")
    emit(runner(args.quick))


if __name__ == "__main__":
    main()
