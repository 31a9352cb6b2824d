"""Issue 13's observations that the OTP port does not already show: the ask timeout
(observation 6), exact spec error paths and file suffixes (7), and what ``actors run``
prints (8). Observations 1-5 are in ``test_otp_suite.py`` (child_specs,
hanging_restart_loop_rest_for_one, do_not_save_start_parameters_for_temporary_children,
sup_flags, sup_flags_bad_combination)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from actors.supervision import SpecError, load_spec

from actors import Actor, ActorSystem
from tests.supervision.support import Journal, Ping, Worker

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------- observation 6


class Waits(Actor):
    """Answers ``"done"`` once ``release`` is set."""

    def __init__(self, release: asyncio.Event) -> None:
        self.release = release

    async def receive(self, message: Any) -> Any:
        await self.release.wait()
        return "done"


async def test_ask_timeout_none_leaves_the_deadline_to_the_caller() -> None:
    release = asyncio.Event()
    async with ActorSystem("ask") as system:
        ref = await system.spawn(Waits, release)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await ref.ask("first", timeout=None)
        release.set()
        assert await ref.ask("second", timeout=None) == "done"


def _spy_timers(loop: asyncio.AbstractEventLoop) -> list[tuple[float, asyncio.TimerHandle]]:
    """Record every timer armed on ``loop`` as (delay, handle); ``del loop.call_at`` and
    ``del loop.call_later`` undo it. Asks arm theirs with ``call_at`` (one timer per
    system for all pending asks, see actors/_deadlines.py)."""
    armed: list[tuple[float, asyncio.TimerHandle]] = []
    call_at, call_later = loop.call_at, loop.call_later

    def spy_at(when: float, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        armed.append((when - loop.time(), call_at(when, *args, **kwargs)))
        return armed[-1][1]

    def spy_later(delay: float, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        armed.append((delay, call_later(delay, *args, **kwargs)))
        return armed[-1][1]

    loop.call_at = spy_at  # type: ignore[method-assign]
    loop.call_later = spy_later  # type: ignore[method-assign]
    return armed


def _unspy(loop: asyncio.AbstractEventLoop) -> None:
    del loop.call_at  # type: ignore[method-assign]
    del loop.call_later  # type: ignore[method-assign]


def _ask_timers(armed: list[tuple[float, asyncio.TimerHandle]]) -> list[float]:
    """The delays of the timers armed for asks: more than a second (the runtime's
    other timer, the parked-task sweep, is 20 ms). uvloop's ``call_at`` calls
    ``call_later``: a handle seen twice counts once."""
    seen: dict[int, float] = {}
    for delay, handle in armed:
        if delay > 1.0:
            seen.setdefault(id(handle), round(delay))
    return list(seen.values())


async def test_ask_timeout_none_arms_no_timer(journal: Journal) -> None:
    async with ActorSystem("ask") as system:
        ref = await system.spawn(Worker, "w", journal)
        loop = asyncio.get_running_loop()
        armed = _spy_timers(loop)
        try:
            await ref.ask(Ping(), timeout=None)
            assert _ask_timers(armed) == []
            await ref.ask(Ping(), timeout=3.0)
        finally:
            _unspy(loop)
        assert _ask_timers(armed) == [3]


async def test_ask_whose_queuing_fails_leaves_no_timer_behind(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Refusing(Exception):
        pass

    def offer(self: Any, envelope: Any, priority: Any = None) -> None:
        raise Refusing("full")

    async with ActorSystem("ask") as system:
        ref = await system.spawn(Worker, "w", journal)
        loop = asyncio.get_running_loop()
        armed = _spy_timers(loop)
        try:
            with monkeypatch.context() as patch:
                patch.setattr(type(ref._cell.mailbox), "_offer", offer)
                with pytest.raises(Refusing):
                    await ref.ask(Ping(), timeout=30.0)
        finally:
            _unspy(loop)
        # The timer armed before queuing was cancelled when queuing raised.
        handles = {id(handle): handle for delay, handle in armed if delay > 1.0}
        assert len(handles) == 1 and all(handle.cancelled() for handle in handles.values())
        assert await ref.ask(Ping()) == ("w", 1)


# ---------------------------------------------------------------------- observation 7


def test_nested_spec_error_points_at_the_field() -> None:
    with pytest.raises(SpecError, match=r"- at `\$\.children\[0\]\.actor\.within`$"):
        load_spec({"children": [{"id": "sub", "actor": {"within": 0}}]})
    with pytest.raises(SpecError, match=r"- at `\$\.children\[0\]\.actor\.max_restarts`$"):
        load_spec({"children": [{"id": "sub", "actor": {"max_restarts": "infinity"}}]})


def test_spec_file_with_unknown_suffix_names_the_accepted_ones(tmp_path: Path) -> None:
    path = tmp_path / "tree.txt"
    path.write_text('strategy = "one_for_one"\n')
    with pytest.raises(
        SpecError, match=r"unknown suffix '\.txt'; use \.toml, \.yaml, \.yml or \.json"
    ):
        load_spec(str(path))


# ---------------------------------------------------------------------- observation 8


class Idle(Actor):
    async def receive(self, message: Any) -> None:
        return None


def run_cli(tmp_path: Path, spec: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "tree.toml"
    path.write_text(spec)
    return subprocess.run(
        [sys.executable, "-m", "actors", "run", str(path), "--log-format", "json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_cli_counts_and_logs_only_the_tree(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path,
        '[[children]]\nid = "idle"\nactor = "tests.supervision.test_issue13:Idle"\n',
        "--duration",
        "0.2",
    )
    assert result.returncode == 0, result.stderr
    assert "stopwhenterminated" not in result.stderr.lower()
    assert "actors spawned:   3" in result.stdout  # the event bus, the supervisor, idle


def test_cli_restart_and_crash_lines(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path,
        "max_restarts = 1\nwithin = 60.0\n"
        '[[children]]\nid = "bad"\nactor = "tests.cli_support:CrashesAtOnce"\n',
    )
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    started = [
        line for line in lines if line["event"] == "actor started" and "bad" in line["actor"]
    ]
    assert len(started) == 2  # the start and the restart
    assert all("message_type" not in line for line in started)
    failed = [
        line for line in lines if line["event"] == "actor failed" and line["actor"].endswith("bad")
    ]
    assert len(failed) == 2
    assert all("exception" not in line and "exc_info" not in line for line in failed)
    assert all(line["error"] == "RuntimeError: crash on purpose" for line in failed)
    assert "Traceback" not in result.stderr
