"""Typed refs: mypy --strict accepts ``typed_ok.py`` and reports exactly the lines of
``misuses.py`` marked ``# error``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def run_mypy(tmp_path: Path, *files: str) -> str:
    """mypy --strict on ``files``, with ``actors`` laid out as installed (the
    Makefile's typecheck does the same: folders map to modules one to one)."""
    package = tmp_path / "actors"
    package.mkdir()
    for source in (ROOT / "actors").iterdir():
        (package / source.name).symlink_to(source)
    (package / "supervision").symlink_to(ROOT / "supervision")
    (package / "transport").symlink_to(ROOT / "transport")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *files],
        cwd=HERE,
        env={**os.environ, "MYPYPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout + result.stderr


def test_the_typed_example_passes(tmp_path: Path) -> None:
    output = run_mypy(tmp_path, "typed_ok.py")
    assert "Success: no issues found" in output, output


def test_every_marked_misuse_is_reported_and_nothing_else(tmp_path: Path) -> None:
    output = run_mypy(tmp_path, "misuses.py")
    reported = {int(line) for line in re.findall(r"^misuses\.py:(\d+): error", output, re.M)}
    source = (HERE / "misuses.py").read_text().splitlines()
    marked = {number for number, line in enumerate(source, 1) if line.endswith("# error")}
    assert len(marked) == 7
    assert reported == marked, output
