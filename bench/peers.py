"""The peers: the same behaviours written for Pykka and for Thespian.

Only the peers' own idioms are used (Pykka ``ThreadingActor`` with ``tell``/``ask`` and
its own futures; Thespian actors driven through ``ActorSystem.tell``/``ask``), so each
peer is measured the way its users would write it. Workload modules import this module
inside their peer runners, so processes measuring the asyncio systems never load the
peers at all.
"""

from __future__ import annotations

import socket
from typing import Any

import pykka
from thespian.actors import Actor as ThespianActor
from thespian.actors import ActorSystem as ThespianSystem

from .messages import PING, Go, Ping, Report

__all__ = [
    "PykkaCounter",
    "PykkaEcho",
    "PykkaIdle",
    "PykkaSender",
    "ThespianCounter",
    "ThespianEcho",
    "ThespianIdle",
    "ThespianSender",
    "pykka_stop_all",
    "thespian_system",
]

# ------------------------------------------------------------------ Pykka


class PykkaCounter(pykka.ThreadingActor):
    """Counts pings and completes ``done`` at the ``count``-th."""

    def __init__(self, count: int, done: pykka.ThreadingFuture[None]) -> None:
        super().__init__()
        self.count = count
        self.seen = 0
        self.done = done

    def on_receive(self, message: Any) -> Any:
        self.seen += 1
        if self.seen == self.count:
            self.done.set(None)
        return None


class PykkaEcho(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        return message


class PykkaIdle(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        return None


class PykkaSender(pykka.ThreadingActor):
    """On ``Go(target, count)``, tells ``count`` pings to ``target``."""

    def on_receive(self, message: Any) -> Any:
        tell = message.target.tell
        for _ in range(message.count):
            tell(PING)
        return None


def pykka_stop_all() -> None:
    pykka.ActorRegistry.stop_all()


# ------------------------------------------------------------------ Thespian


def thespian_system(base: str = "simpleSystemBase") -> ThespianSystem:
    """A fresh Thespian system of ``base``, never joined to another process's.

    The multi-process base gets its admin on a free port of its own rather than the
    default 1900, so a stale admin left by some other run can never answer for it.
    """
    if base == "simpleSystemBase":
        return ThespianSystem(base, transientUnique=True, logDefs=False)
    return ThespianSystem(base, {"Admin Port": _free_port()}, transientUnique=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThespianCounter(ThespianActor):  # type: ignore[misc]
    """Counts pings; answers ``Report(count)`` once it has seen ``count`` of them."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.reporter: Any = None
        self.expected = -1

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if message.__class__ is Ping:
            self.seen += 1
            if self.seen == self.expected:
                self.send(self.reporter, self.seen)
        elif isinstance(message, Report):
            if self.seen >= message.count:
                self.send(sender, self.seen)
            else:
                self.expected, self.reporter = message.count, sender


class ThespianEcho(ThespianActor):  # type: ignore[misc]
    def receiveMessage(self, message: Any, sender: Any) -> None:
        if message.__class__ is Ping:
            self.send(sender, message)


class ThespianIdle(ThespianActor):  # type: ignore[misc]
    def receiveMessage(self, message: Any, sender: Any) -> None:
        pass


class ThespianSender(ThespianActor):  # type: ignore[misc]
    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, Go):
            target = message.target
            for _ in range(message.count):
                self.send(target, PING)
