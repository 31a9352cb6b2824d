"""The worked example runs: ``python -m examples.fetcher`` (timers, stash/become and a
pool together)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_rate_limited_fetcher_fetches_everything_in_order_through_a_crash() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.fetcher"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if not line.startswith((" ", "\t"))]
    assert "fetched 19 of 20; failed 1" in lines
    assert "in order: True" in lines
    assert any(line.startswith("throttled: True; refills: ") for line in lines)
    assert "after the crash: <html>https://example.com/after</html>" in lines
    assert "restarts: 1" in lines
    assert any("crashed handling `Fetch`: ConnectionError" in line for line in lines)
