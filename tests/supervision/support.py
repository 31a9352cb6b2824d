"""Test actors and helpers shared by the supervision tests.

``Worker`` is the supervised child of almost every test: it records each ``started()``
and ``stopped()`` in a shared ``Journal``, and on command answers, crashes, stops itself
normally, cancels its own handler task or hangs. A ``Gate`` makes its ``started()`` fail
a given number of times (OTP's ``supervisor_1:start_child(error)``). Every test observes
the supervisor through refs, asks, ``which_children`` and the journal; nothing sleeps in
a loop.

Test modules import from here (``from tests.supervision.support import ...``); the
fixtures are in ``conftest.py`` beside it.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import Any

import msgspec
from actors.supervision import ChildSpec, SupervisorRef

from actors import Actor, ActorRef, ActorRestarted, ActorSystem, Terminated

# ---------------------------------------------------------------------- messages


class Ping(msgspec.Struct):
    """Answered with ``(label, incarnation)``: which instance handled it (the n-th
    ``Worker`` created with that label)."""


class Crash(msgspec.Struct):
    """The handler raises ``Boom(text)``: an abnormal exit."""

    text: str = "boom"


class StopNormally(msgspec.Struct):
    """The handler calls ``self.stop()``: a normal exit made by the child itself."""


class CancelSelf(msgspec.Struct):
    """The handler cancels its own task (``asyncio.current_task().cancel()``)."""


class Record(msgspec.Struct):
    """Appended to the journal as ``("record", label, n)``; answered with ``n``."""

    n: int


class GetArgs(msgspec.Struct):
    """Answered with the extra positional args the worker was started with."""


class Hang(msgspec.Struct):
    """The handler never returns (until cancelled)."""


class Boom(Exception):
    """The exception a ``Worker`` raises on ``Crash``."""


# ---------------------------------------------------------------------- shared state


class Journal:
    """What the workers of one test did, in order: ``(event, label, ...)`` tuples."""

    def __init__(self) -> None:
        self.entries: list[tuple[Any, ...]] = []
        self.created: Counter[str] = Counter()  # Worker instances per label, never cleared

    def append(self, *entry: Any) -> None:
        self.entries.append(entry)

    def labels(self, event: str) -> list[str]:
        """The labels of every ``event`` entry, in order."""
        return [entry[1] for entry in self.entries if entry[0] == event]

    def count(self, event: str, label: str) -> int:
        return sum(1 for entry in self.entries if entry[0] == event and entry[1] == label)

    def clear(self) -> None:
        """Forget the entries so far (instance counts are kept)."""
        self.entries.clear()


class Gate:
    """Makes ``Worker.started()`` fail: ``fail(n)`` fails the next ``n`` starts
    (``math.inf``: every start until ``open()``)."""

    def __init__(self) -> None:
        self.failures_left: float = 0

    def fail(self, times: float = math.inf) -> None:
        self.failures_left = times

    def open(self) -> None:
        self.failures_left = 0

    def should_fail(self) -> bool:
        if self.failures_left > 0:
            self.failures_left -= 1
            return True
        return False


# ---------------------------------------------------------------------- actors


class Worker(Actor):
    """The supervised child of the tests.

    ``Worker(label, journal, *extra, gate=None, hang_in_stopped=False)``: ``started()``
    journals ``("started", label)`` (or ``("start_failed", label)`` and raises when the
    gate says so); ``stopped()`` journals ``("stopped", label)``, or with
    ``hang_in_stopped`` journals ``("stopping", label)`` and waits until cancelled,
    then journals ``("stop_cancelled", label)``.
    """

    def __init__(
        self,
        label: str,
        journal: Journal,
        *extra: Any,
        gate: Gate | None = None,
        hang_in_stopped: bool = False,
    ) -> None:
        self.label = label
        self.journal = journal
        self.extra = extra
        self.gate = gate
        self.hang_in_stopped = hang_in_stopped
        journal.created[label] += 1
        self.incarnation = journal.created[label]

    async def started(self) -> None:
        if self.gate is not None and self.gate.should_fail():
            self.journal.append("start_failed", self.label)
            raise Boom(f"{self.label} refuses to start")
        self.journal.append("started", self.label)

    async def stopped(self) -> None:
        if not self.hang_in_stopped:
            self.journal.append("stopped", self.label)
            return
        self.journal.append("stopping", self.label)
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            self.journal.append("stop_cancelled", self.label)
            raise

    async def receive(self, message: Any) -> Any:
        match message:
            case Ping():
                return (self.label, self.incarnation)
            case Crash(text):
                raise Boom(text)
            case StopNormally():
                self.stop()
            case CancelSelf():
                task = asyncio.current_task()
                assert task is not None
                task.cancel()
                await asyncio.sleep(0)
            case Record(n):
                self.journal.append("record", self.label, n)
                return n
            case GetArgs():
                return self.extra
            case Hang():
                await asyncio.get_running_loop().create_future()
        return None


class _Watcher(Actor):
    """Watches ``target`` and resolves ``future`` with the ``Terminated`` reason."""

    def __init__(self, target: ActorRef, future: asyncio.Future[str]) -> None:
        self.target = target
        self.future = future

    async def started(self) -> None:
        self.watch(self.target)

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Terminated) and message.ref == self.target:
            if not self.future.done():
                self.future.set_result(message.reason)
            self.stop()
        return None


async def watch(system: ActorSystem, ref: ActorRef) -> asyncio.Future[str]:
    """A future resolved with the reason ``ref`` stops with for good (its slot ends)."""
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    await system.spawn(_Watcher, ref, future)
    return future


class _RestartProbe(Actor):
    """Resolves ``future`` when an ``ActorRestarted`` event names ``path``."""

    def __init__(self, path: str, future: asyncio.Future[int]) -> None:
        self.path = path
        self.future = future

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ActorRestarted) and message.actor == self.path:
            if not self.future.done():
                self.future.set_result(message.restarts)
            self.stop()
        return None


async def restarted(system: ActorSystem, ref: ActorRef) -> asyncio.Future[int]:
    """A future resolved (with the restart count) when ``ref``'s supervisor next
    restarts it, observed on the event bus."""
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    probe = await system.spawn(_RestartProbe, ref.path, future)
    await system.subscribe(probe, ActorRestarted)
    return future


# ---------------------------------------------------------------------- helpers


def worker(child_id: str, journal: Journal, *extra: Any, **options: Any) -> ChildSpec:
    """A ``ChildSpec`` for a ``Worker`` labelled with its id. ``options`` go to the
    spec, except ``gate`` and ``hang_in_stopped`` which go to the worker."""
    kwargs = {key: options.pop(key) for key in ("gate", "hang_in_stopped") if key in options}
    return ChildSpec(
        id=child_id, actor=Worker, args=[child_id, journal, *extra], kwargs=kwargs, **options
    )


async def child_ref(sup: SupervisorRef, child_id: str) -> ActorRef:
    """The ref of child ``child_id`` (running or restarting)."""
    for info in await sup.which_children():
        if info.id == child_id:
            assert info.ref is not None, f"child {child_id!r} has no ref: {info}"
            return info.ref
    raise AssertionError(f"no child {child_id!r}")


async def until_system_fails(timeout: float = 5.0) -> None:
    """Block the body of ``async with ActorSystem`` until the system fails fast (it
    cancels the body); a ``TimeoutError`` after ``timeout`` means it never did."""
    async with asyncio.timeout(timeout):
        await asyncio.get_running_loop().create_future()
