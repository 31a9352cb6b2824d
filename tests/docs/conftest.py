"""The count of docs examples run and not run, printed at the end of the test run.
(Examples that need NATS get the session's shared server: ``url`` in tests/conftest.py.)"""

from __future__ import annotations

from collections import Counter

import pytest

_OUTCOMES: Counter[str] = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "test_python_example_runs" not in report.nodeid:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _OUTCOMES[report.outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _OUTCOMES:
        terminalreporter.write_line(
            f"docs examples: {_OUTCOMES['passed']} ran, {_OUTCOMES['failed']} failed, "
            f"{_OUTCOMES['skipped']} not run by marker"
        )
