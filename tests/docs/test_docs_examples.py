"""The code examples of the docs run: every ```` ```python ```` block of ``docs/*.md`` and
``README.md`` is saved to a file and run in a fresh interpreter, as a reader would run
it, and where a ```` ```text ```` block follows it directly, what it prints must be that
text. A block that cannot run alone says so with a ``<!-- not-run: reason -->`` comment
(see ``tests/docs/markdown.py``); the end of the test run counts how many ran and how
many were not run by marker."""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.markdown import Block, read_blocks

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
BLOCKS = [block for page in PAGES for block in read_blocks(page)]
PROGRAMS = [block for block in BLOCKS if block.lang == "python"]

# Runs the example as ``__main__`` with log lines sent to stderr: a page's shown output is
# what the program prints, and log lines (their timestamps differ on every run) are not
# part of it.
LAUNCH = (
    "import runpy, sys, structlog\n"
    "structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))\n"
    "runpy.run_path(sys.argv[1], run_name='__main__')\n"
)
TIMEOUT = 120.0


def run_python(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def shown(text: str) -> list[str]:
    """The lines of an output, without trailing blanks (a page cannot show them)."""
    return [line.rstrip() for line in text.rstrip().splitlines()]


@pytest.mark.parametrize("block", PROGRAMS, ids=[block.id for block in PROGRAMS])
def test_python_example_runs(block: Block, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if block.marker == "not-run":
        pytest.skip(f"not-run by marker: {block.argument}")
    env = {}
    if "NATS_URL" in block.code:
        env["NATS_URL"] = request.getfixturevalue("url")
    if block.marker == "run-as" and block.argument == "pytest":
        (tmp_path / "test_example.py").write_text(block.code, encoding="utf-8")
        args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto"]
        result = run_python([*args, "test_example.py"], tmp_path, env)
    elif block.marker is None:
        (tmp_path / "example.py").write_text(block.code, encoding="utf-8")
        result = run_python(["-c", LAUNCH, "example.py"], tmp_path, env)
    else:
        pytest.fail(f"{block.id}: unknown marker `{block.marker}: {block.argument}`")
    assert result.returncode == 0, f"{block.id} failed:\n{result.stdout}\n{result.stderr}"
    if block.marker == "run-as":
        # pytest exits 0 when it skips an async test it cannot run: each test must pass.
        summary = result.stdout.strip().splitlines()[-1]
        assert re.fullmatch(r"\d+ passed in .*", summary), f"{block.id}: {summary}"
    if block.output is not None and block.marker is None:
        diff = "\n".join(
            difflib.unified_diff(
                shown(block.output), shown(result.stdout), "the page", "printed", lineterm=""
            )
        )
        assert not diff, f"{block.id}: the output shown differs from the output:\n{diff}"


def test_every_marker_belongs_to_a_code_block() -> None:
    """A misspelt or misplaced marker would leave its block to fail (or run) unexplained:
    every marker-like comment is the marker of the code block right after it, and every
    ``not-run`` gives a reason."""
    marked = {(block.path, block.line - 1) for block in BLOCKS if block.marker is not None}
    looks_like_marker = re.compile(r"<!--\s*(not|run)[\s_-]*(run|as)", re.IGNORECASE)
    stray = [
        f"{page.name}:{number}"
        for page in PAGES
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if looks_like_marker.search(line) and (page, number) not in marked
    ]
    assert not stray, f"markers not right before a code block: {stray}"
    unexplained = [block.id for block in BLOCKS if block.marker == "not-run" and not block.argument]
    assert not unexplained, f"not-run markers without a reason: {unexplained}"
