"""Actors named by the spec files of tests/unit/test_cli.py (``tests.cli_support:X``)."""

from __future__ import annotations

from typing import Any

from actors import Actor


class StopsAtOnce(Actor):
    """Stops itself right after starting: a significant child whose exit ends a tree."""

    async def started(self) -> None:
        self.ref.tell("stop")

    async def receive(self, message: Any) -> None:
        self.stop()


class CrashesAtOnce(Actor):
    """Crashes on its first message, sent to itself as it starts."""

    async def started(self) -> None:
        self.ref.tell("crash")

    async def receive(self, message: Any) -> None:
        raise RuntimeError("crash on purpose")


class Idle(Actor):
    async def receive(self, message: Any) -> None:
        return None
