"""A NATS server for the examples that need one (started only if one does), and the
count of docs examples run and not run, printed at the end of the test run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.natsutil import NatsServer

_OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("nats-docs")
    with NatsServer(
        name="docs", store_dir=root / "store", log_path=root / "nats-server.log"
    ) as server:
        yield server.url


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
