"""``python -m tests.faults.table REPORT PAGE``: the fault suite's rows (JSON lines,
written by ``harness.record``) as the Markdown table between the markers of ``PAGE``
(``make faults`` regenerates docs/reliability.md with it).

Per scenario: how many runs, the sum over the runs of each figure that must be zero,
the durable messages sent and handled twice, and the slowest recovery."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BEGIN = "<!-- faults-table:begin -->"
END = "<!-- faults-table:end -->"
ZEROS = (
    "durable_lost",
    "asks_outlived",
    "watches_unended",
    "names_lost",
    "names_doubled",
    "false_terminated",
    "tasks_left",
)


def table(rows: list[dict[str, object]]) -> str:
    by_scenario: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_scenario.setdefault(str(row["scenario"]), []).append(row)
    head = ["scenario", "runs", "durable sent", "handled twice", *ZEROS, "recover (s, max)"]
    lines = ["| " + " | ".join(h.replace("_", " ") for h in head) + " |"]
    lines.append("|" + "---|" * len(head))
    for scenario, runs in by_scenario.items():

        def total(key: str, runs: list[dict[str, object]] = runs) -> int:
            return sum(int(str(run[key])) for run in runs)

        cells = [scenario, str(len(runs)), str(total("durable_sent"))]
        cells.append(str(total("handled_twice")))
        cells += [str(total(key)) for key in ZEROS]
        cells.append(f"{max(float(str(run['recover_s'])) for run in runs):.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    report, page = Path(sys.argv[1]), Path(sys.argv[2])
    rows = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    text = page.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    page.write_text(text[:start] + "\n" + table(rows) + "\n" + text[end:])


if __name__ == "__main__":
    main()
