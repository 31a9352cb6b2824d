"""``actors run``: exit codes, the summary, shutdown on signals and on the tree's end."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actors", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_spec(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tree.toml"
    path.write_text(text)
    return str(path)


def test_run_tree_that_shuts_itself_down_exits_zero_without_waiting(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """
auto_shutdown = "any_significant"
[[children]]
id = "once"
actor = "tests.cli_support:StopsAtOnce"
restart = "transient"
significant = true
""",
    )
    # No --duration: only the tree's own end can make it exit.
    result = run_cli(spec, "--log-format", "json")
    assert result.returncode == 0, result.stderr
    assert "summary:" in result.stdout


def test_run_tree_escalating_to_the_top_exits_one_with_the_error(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """
max_restarts = 0
[[children]]
id = "bad"
actor = "tests.cli_support:CrashesAtOnce"
""",
    )
    result = run_cli(spec, "--log-format", "json")
    assert result.returncode == 1
    assert "the supervision tree failed" in result.stderr
    assert "gave up: more than 0 restart(s)" in result.stderr


def test_run_bad_spec_exits_two_naming_the_problem(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, '[[children]]\nid = "x"\nactor = "no.such.module:Thing"\n')
    result = run_cli(spec)
    assert result.returncode == 2
    assert "cannot import module `no.such.module`" in result.stderr


def test_run_duration_prints_summary_with_restarts(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """
[[children]]
id = "idle"
actor = "tests.cli_support:Idle"
""",
    )
    result = run_cli(spec, "--duration", "0.2", "--log-format", "json")
    assert result.returncode == 0, result.stderr
    assert "restarts by child: none" in result.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_run_signal_shuts_down_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    spec = write_spec(tmp_path, '[[children]]\nid = "idle"\nactor = "tests.cli_support:Idle"\n')
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "actors",
        "run",
        spec,
        "--log-format",
        "json",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    # Wait for the tree to be up: its "actor started" log lines, not a sleep.
    async with asyncio.timeout(15):
        while b'"actor started"' not in await process.stderr.readline():
            pass
    process.send_signal(signum)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, stderr.decode()
    assert b"summary:" in stdout
