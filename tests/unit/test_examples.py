"""The README's runnable examples run: ``make run``'s pipeline tree and ``make cluster``'s
three processes (a real nats-server, one node killed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_example(
    *args: str, timeout: float, keep_colour: bool = False
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if not keep_colour:
        result.stdout, result.stderr = ANSI.sub("", result.stdout), ANSI.sub("", result.stderr)
    return result


def test_the_pipeline_tree_runs_and_reports_its_work() -> None:
    result = run_example(
        "-m", "actors", "run", "examples/pipeline/tree.toml", "--duration", "1", timeout=60
    )
    assert result.returncode == 0, result.stderr
    handled = re.search(r"messages handled: (\d+)", result.stdout + result.stderr)
    assert handled is not None and int(handled[1]) > 0
    assert "restarts by child:" in result.stdout + result.stderr


def test_the_cluster_trades_across_processes_and_notices_the_killed_store() -> None:
    result = run_example("-m", "examples.cluster", timeout=90, keep_colour=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "shops noticed and stopped (exit codes [0, 0])" in output
    # Output into a pipe or a file: JSON lines, no colour codes.
    assert not ANSI.search(output), output[-2000:]
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    # A reservation is one trace across two processes: the store's line and the shop's
    # carry the same trace id.
    store = {line.get("trace_id") for line in lines if line["event"] == "reservation"}
    shops = {line.get("trace_id") for line in lines if line["event"] == "reserved"}
    assert store & shops - {None}, output[-2000:]
