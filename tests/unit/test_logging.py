"""The library is a guest: it logs through ``logging`` under ``actors.*``, writes nothing
to stdout, and renders only when a program asks (``actors.run(configure_logging=True)``,
the ``actors`` command): JSON without colour codes when stderr is not a terminal."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from actors import Actor, ActorCrashed, ActorSystem

ROOT = Path(__file__).resolve().parents[2]

CRASH = """
import asyncio
from actors import Actor, ActorCrashed, ActorSystem

class Fragile(Actor):
    async def receive(self, message):
        raise ValueError("boom")

async def main():
    async with ActorSystem("app") as system:
        ref = await system.spawn(Fragile, name="fragile")
        try:
            await ref.ask("hello", timeout=5)
        except ActorCrashed:
            pass
"""


def run_app(source: str) -> subprocess.CompletedProcess[str]:
    """``source`` as a program of its own (stdout and stderr are pipes, not terminals)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_a_crash_prints_nothing_when_the_app_set_logging_to_critical() -> None:
    result = run_app(
        "import logging\nlogging.basicConfig(level=logging.CRITICAL)\n"
        + CRASH
        + "asyncio.run(main())\n"
    )
    assert (result.stdout, result.stderr) == ("", "")


def test_by_default_nothing_reaches_stdout_and_a_crash_reaches_stderr() -> None:
    result = run_app(CRASH + "asyncio.run(main())\n")
    assert result.stdout == ""
    # logging's last resort (WARNING and above, stderr): the crash is not lost.
    assert "actor failed" in result.stderr
    assert "ValueError: boom" in result.stderr


def test_configure_logging_off_a_terminal_writes_json_lines_without_colour() -> None:
    result = run_app(
        CRASH
        + "import structlog\n"
        + "async def app():\n"
        + "    structlog.get_logger('app').info('app line', answer=42)\n"
        + "    await main()\n"
        + "import actors\nactors.run(app(), configure_logging=True)\n"
    )
    assert result.stdout == ""
    assert "\x1b[" not in result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    app_line = next(line for line in lines if line["event"] == "app line")
    assert app_line["answer"] == 42 and app_line["logger"] == "app"
    crash = next(line for line in lines if line["event"] == "actor failed")
    assert crash["logger"] == "actors.cell" and crash["level"] == "error"
    assert crash["actor"] == "app/fragile" and crash["system"] == "app"
    assert crash["error"] == "ValueError: boom"


class Fragile(Actor):
    async def receive(self, message: Any) -> None:
        raise ValueError("boom")


@pytest.fixture
def unconfigured_structlog() -> Iterator[None]:
    """structlog as an application that never configured it leaves it (other tests
    configure it, e.g. through ``structlog.testing.capture_logs``)."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("unconfigured_structlog")
async def test_records_arrive_in_logging_under_actors_names(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="actors")
    async with ActorSystem("app") as system:
        ref = await system.spawn(Fragile, name="fragile")
        with pytest.raises(ActorCrashed):
            await ref.ask("hello", timeout=5)
    crashes = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.name for r in crashes] == ["actors.cell"]
    # A plain formatter reads the event and its fields, the actor's context included.
    message = crashes[0].getMessage()
    assert message.startswith("actor failed ")
    assert "actor='app/fragile'" in message and "message_type='str'" in message
    assert "error='ValueError: boom'" in message
    # The traceback follows at debug level, for whoever asks for it.
    [traceback] = [r for r in caplog.records if r.getMessage().startswith("actor failed: ")]
    assert traceback.levelno == logging.DEBUG and traceback.name == "actors.cell"
    assert traceback.exc_info is not None and traceback.exc_info[0] is ValueError
    assert all(r.name.startswith("actors.") for r in caplog.records)


@pytest.mark.usefixtures("unconfigured_structlog")
async def test_a_structlog_processor_formatter_gets_the_fields_as_data() -> None:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.dict_tracebacks,
                structlog.processors.JSONRenderer(),
            ]
        )
    )
    logger = logging.getLogger("actors")
    logger.addHandler(handler)
    try:
        async with ActorSystem("app") as system:
            ref = await system.spawn(Fragile, name="fragile")
            with pytest.raises(ActorCrashed):
                await ref.ask("hello", timeout=5)
    finally:
        logger.removeHandler(handler)
    [crash] = [json.loads(line) for line in lines]
    assert crash["event"] == "actor failed" and crash["actor"] == "app/fragile"
    assert crash["error"] == "ValueError: boom"
