"""Shared by the NATS transport tests (``from tests.transport.nats_support import ...``).

- Message types: defined here so the node started in another process
  (``nats_node.py``) sends and accepts the same wire names (``module:QualName``).
- ``Echo`` (answers, crashes, holds, hands out refs) and ``Watcher`` (collects the
  ``Terminated`` notices of what it watches).
- ``Inbox``: what an actor saw, awaited by the test (futures, no polling).
- ``LogEvents``: the structlog events of a test, with ``wait_for(event, **fields)`` to
  await one the transport logs from its NATS callbacks (disconnected, reconnected...).
- ``ControlProbe``: a raw client on a node's control subject; ``barrier()`` returns once
  that node has handled every control notice (watch/unwatch) sent to it so far.
- ``two_nodes``: two systems of one name, nodes ``n1`` and ``n2``, on one server.
- ``framed`` / ``frame_of`` / ``read_frame``: wire frames (docs/wire.md) built and read
  by hand, for the tests that speak to a node from a raw client.
- ``NodeProcess``: a node in a child process (killed with SIGKILL by the tests).

Every wait is on an event, a future or a reply, bounded by ``WAIT``; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import nats
import nats.errors
from actors.transport import NatsTransport, RefAddress, RemoteRef, TransportUnavailable
from actors.transport._codec import type_name
from actors.transport._frame import Extras, frame, parse
from actors.transport._wire import Control, Down, Watch
from nats.aio.client import Client
from nats.aio.subscription import Subscription
from structlog.testing import capture_logs

from actors import Actor, ActorNotFound, ActorRef, ActorSystem, AskTimeout, Terminated

WAIT = 5.0  # a generous bound on anything that should happen within a second
PREFIX = "actors"
ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------- messages


class Ping(msgspec.Struct, frozen=True):
    """Answered with ``Pong(n + 1)``."""

    n: int


class Pong(msgspec.Struct, frozen=True):
    n: int


class Note(msgspec.Struct, frozen=True):
    """Recorded; answered with ``None``."""

    text: str


class Boom(msgspec.Struct, frozen=True):
    """The handler raises ``ValueError(text)``."""

    text: str = "boom"


class Hold(msgspec.Struct, frozen=True):
    """The handler waits for the actor's ``release`` event before answering."""


class GetRef(msgspec.Struct, frozen=True):
    """Answered with the actor's own ref."""


class Answer(msgspec.Struct, frozen=True):
    """Answered with ``value`` itself (plain msgpack data)."""

    value: Any


class Hello(msgspec.Struct, frozen=True):
    """The handler tells ``who`` a ``Pong(n)``: a ref used by the receiver."""

    who: ActorRef
    n: int = 0


class Carry(msgspec.Struct, frozen=True):
    """A ref inside a message; ``Echo`` sends it back to the ref itself (``hops + 1``)."""

    ref: ActorRef
    hops: int = 0


class Team(msgspec.Struct, frozen=True):
    """Refs inside containers and an optional field."""

    lead: ActorRef | None
    members: list[ActorRef]


class Blob(msgspec.Struct, frozen=True):
    """Any plain data."""

    data: Any


class Big(msgspec.Struct, frozen=True):
    """Answered with ``2**70``: an int msgpack cannot encode."""


class Extra(msgspec.Struct, frozen=True):
    """Registered on the sending node only, in the tests that need it."""

    n: int


TYPES: list[type] = [Ping, Pong, Note, Boom, Hold, GetRef, Answer, Hello, Carry, Team, Blob, Big]

# ---------------------------------------------------------------------- inbox


class Inbox:
    """Items an actor saw, in order; ``until`` waits for a condition on them."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._waiters: list[tuple[Callable[[list[Any]], bool], asyncio.Future[None]]] = []

    def put(self, item: Any) -> None:
        self.items.append(item)
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(self.items):
                future.set_result(None)

    async def until(
        self, predicate: Callable[[list[Any]], bool], timeout: float = WAIT
    ) -> list[Any]:
        if not predicate(self.items):
            future = asyncio.get_running_loop().create_future()
            entry = (predicate, future)
            self._waiters.append(entry)
            try:
                async with asyncio.timeout(timeout):
                    await future
            finally:
                self._waiters.remove(entry)
        return self.items

    async def count(self, n: int, timeout: float = WAIT) -> list[Any]:
        return await self.until(lambda items: len(items) >= n, timeout)

    async def first(self, timeout: float = WAIT) -> Any:
        return (await self.count(1, timeout))[0]


# ---------------------------------------------------------------------- actors


class Seen(msgspec.Struct, frozen=True):
    """One message an ``Echo`` handled and who sent it (``self.sender``)."""

    message: Any
    sender: Any


class Echo(Actor):
    """Answers ``Ping``, ``GetRef``, ``Answer``; raises on ``Boom``; holds on ``Hold``
    until ``release`` is set; replies to ``Hello.who`` and bounces ``Carry`` back to its
    ref. Every message goes to ``inbox`` first (with its sender)."""

    def __init__(self, inbox: Inbox | None = None, release: asyncio.Event | None = None) -> None:
        self.inbox = inbox
        self.release = release

    async def receive(self, message: Any) -> Any:
        if self.inbox is not None:
            self.inbox.put(Seen(message, self.sender))
        match message:
            case Ping(n):
                return Pong(n + 1)
            case Boom(text):
                raise ValueError(text)
            case Hold():
                assert self.release is not None
                await self.release.wait()
                return "released"
            case GetRef():
                return self.ref
            case Answer(value):
                return value
            case Hello(who, n):
                who.tell(Pong(n))
                return None
            case Carry(ref, hops) if hops == 0:
                ref.tell(Carry(ref, hops + 1))
                return None
            case Big():
                return 2**70
        return None


class Watcher(Actor):
    """Watches ``target`` from ``started()``; every ``Terminated`` goes to ``inbox``.
    Asked ``Note("unwatch")`` it unwatches (the ask returns once it did)."""

    def __init__(self, target: ActorRef, inbox: Inbox) -> None:
        self.target = target
        self.inbox = inbox

    async def started(self) -> None:
        self.watch(self.target)

    async def receive(self, message: Any) -> Any:
        match message:
            case Terminated():
                self.inbox.put(message)
            case Note("unwatch"):
                self.unwatch(self.target)
        return None


# ---------------------------------------------------------------------- systems


_ids = itertools.count(1)


def unique_system() -> str:
    """A system name of its own per test: own subjects, own registry bucket."""
    return f"shop{next(_ids)}x{uuid.uuid4().hex[:6]}"


def bucket(system: str) -> str:
    """The registry bucket of ``system`` (as the transport names it)."""
    return f"{PREFIX}__{system}__names"


def node(url: str, node_id: str, types: Sequence[type] = TYPES, **options: Any) -> NatsTransport:
    return NatsTransport([url], types=types, node_id=node_id, **options)


@contextlib.asynccontextmanager
async def two_nodes(
    url: str,
    *,
    types_a: Sequence[type] = TYPES,
    types_b: Sequence[type] = TYPES,
    system: str | None = None,
    **options: Any,
) -> AsyncIterator[tuple[ActorSystem, ActorSystem]]:
    """Systems ``a`` (node ``n1``) and ``b`` (node ``n2``) of one name, both closed on exit."""
    name = system or unique_system()
    async with (
        ActorSystem(name, transport=node(url, "n1", types_a, **options)) as a,
        ActorSystem(name, transport=node(url, "n2", types_b, **options)) as b,
    ):
        yield a, b


def framed(name: str, body: bytes, **extras: Any) -> bytes:
    """The wire frame of ``body`` named ``name`` (``extras``: ``Extras``' fields)."""
    return frame(name, body, Extras(**extras) if extras else None)


def frame_of(message: Any, **extras: Any) -> bytes:
    """The wire frame of ``message``, named by its type, as a node sends it."""
    return framed(type_name(type(message)), msgspec.msgpack.encode(message), **extras)


def read_frame(data: bytes, cls: type | None = None) -> Any:
    """The message (decoded as ``cls``, else untyped) in a frame a node sent."""
    _, _, _, body = parse(data)
    return msgspec.msgpack.decode(body) if cls is None else msgspec.msgpack.decode(body, type=cls)


def actor_subject(system: str, node_id: str, path: str) -> str:
    """The subject of one actor on one node (``P.node.<node>.a.<path tokens>``)."""
    return f"{PREFIX}.{system}.node.{node_id}.a.{path.replace('/', '.')}"


def ghost_ref(system: ActorSystem, node_id: str = "ghost", name: str = "nobody") -> RemoteRef:
    """A ref to an actor on a node that does not exist."""
    path = f"{system.name}/{name}"
    address = RefAddress(system.name, node_id, path)
    return RemoteRef(system.transport.node, address, actor_subject(system.name, node_id, path))


async def server_caught_up(nc: Client) -> None:
    """Return once the server has processed everything ``nc`` sent before this call
    (subscriptions included): a message to a fresh inbox, sent after them, came back.

    ``await nc.flush()`` is not enough with nats-py 2.16: it writes its PING straight to
    the socket, ahead of commands still in the client's pending buffer, so the PONG can
    come back before the server has seen a SUB sent just before (about 2 % of the time
    on loopback).
    """
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    try:
        await nc.publish(inbox, b"")
        await sub.next_msg(timeout=WAIT)
    finally:
        await sub.unsubscribe()


async def ignore_error(error: Exception) -> None:
    """nats-py error callback for raw test clients (no error logs with tracebacks)."""


@contextlib.asynccontextmanager
async def raw_client(url: str, **options: Any) -> AsyncIterator[Client]:
    """A plain nats-py client, closed however the test ends."""
    options.setdefault("error_cb", ignore_error)
    nc = await nats.connect(url, **options)
    try:
        yield nc
    finally:
        await nc.close()


# ---------------------------------------------------------------------- logs


class LogEvents:
    """A structlog processor recording every event of the test (and dropping it), so a
    test can await one: ``await logs.wait_for("nats reconnected", node="n2")``."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._waiters: list[tuple[int, str, dict[str, Any], asyncio.Future[dict[str, Any]]]] = []

    @classmethod
    @contextlib.contextmanager
    def capture(cls) -> Iterator[LogEvents]:
        events = cls()
        with capture_logs(processors=[events]):
            yield events

    def __call__(self, logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        index = len(self.entries)
        self.entries.append(dict(event))
        for after, name, fields, future in list(self._waiters):
            if index >= after and not future.done() and self._matches(event, name, fields):
                future.set_result(event)
        return event

    @staticmethod
    def _matches(event: dict[str, Any], name: str, fields: dict[str, Any]) -> bool:
        return event.get("event") == name and all(event.get(k) == v for k, v in fields.items())

    def mark(self) -> int:
        """A position: ``wait_for(..., after=mark)`` ignores what was logged before."""
        return len(self.entries)

    def events(self, name: str, after: int = 0, **fields: Any) -> list[dict[str, Any]]:
        return [e for e in self.entries[after:] if self._matches(e, name, fields)]

    async def wait_for(
        self, name: str, *, after: int = 0, timeout: float = WAIT, **fields: Any
    ) -> dict[str, Any]:
        for event in self.entries[after:]:
            if self._matches(event, name, fields):
                return event
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        entry = (after, name, fields, future)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._waiters.remove(entry)


# ---------------------------------------------------------------------- control probe


class ControlProbe:
    """Watches the control subject of ``node_id`` with a raw client.

    ``notice()`` returns the next watch/unwatch/down notice sent to that node.
    ``barrier()`` sends the node a watch of an actor that does not exist, from a probe
    address, and waits for its "noproc" answer: the node handles its control notices
    in order, so by then it has handled every notice the probe saw before.
    """

    def __init__(self, nc: Client, system: str, node_id: str) -> None:
        self.nc = nc
        self.system = system
        self.node_id = node_id
        self.probe_node = f"probe{uuid.uuid4().hex[:8]}"
        self._seen: Subscription | None = None
        self._answers: Subscription | None = None

    async def open(self) -> ControlProbe:
        self._seen = await self.nc.subscribe(f"{PREFIX}.{self.system}.ctl.{self.node_id}")
        self._answers = await self.nc.subscribe(f"{PREFIX}.{self.system}.ctl.{self.probe_node}")
        await server_caught_up(self.nc)
        return self

    async def notice(self, timeout: float = WAIT) -> Control:
        """The next notice sent to the node by anyone but this probe."""
        assert self._seen is not None
        while True:
            msg = await self._seen.next_msg(timeout=timeout)
            notice: Control = msgspec.msgpack.decode(msg.data, type=Control)
            if isinstance(notice, Watch) and notice.watcher.node == self.probe_node:
                continue
            return notice

    async def barrier(self, timeout: float = WAIT) -> None:
        assert self._answers is not None
        watcher = RefAddress(self.system, self.probe_node, f"{self.system}/probe")
        probe = Watch(f"{self.system}/no-such-actor-{uuid.uuid4().hex[:6]}", watcher)
        await self.nc.publish(
            f"{PREFIX}.{self.system}.ctl.{self.node_id}", msgspec.msgpack.encode(probe)
        )
        msg = await self._answers.next_msg(timeout=timeout)
        answer = msgspec.msgpack.decode(msg.data, type=Control)
        assert isinstance(answer, Down) and answer.reason == "noproc", answer


async def watched(probe: ControlProbe, target: ActorRef) -> None:
    """The watch of ``target`` sent to the probe's node has been handled there."""
    notice = await probe.notice()
    assert isinstance(notice, Watch) and notice.target == target.path, notice
    await probe.barrier()


# ---------------------------------------------------------------------- node processes


class NodeProcess:
    """A node of ``system`` in a child process (``python -m tests.transport.nats_node``):
    it serves an ``Echo`` named ``victim`` and prints ``READY`` once it does."""

    def __init__(
        self, url: str, system: str, node_id: str, heartbeat: float = 0.2, misses: int = 3
    ) -> None:
        self.args = [url, system, node_id, str(heartbeat), str(misses)]
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 15.0) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.transport.nats_node",
            *self.args,
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    stderr = b""
                    if self.proc.stderr is not None:
                        stderr = await self.proc.stderr.read()
                    raise RuntimeError(f"node process exited before READY:\n{stderr.decode()}")
                if line.strip() == b"READY":
                    return

    def kill(self) -> None:
        """SIGKILL: no goodbye, no cleanup."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)

    async def aclose(self) -> None:
        if self.proc is None:
            return
        self.kill()
        await self.proc.wait()
        # Close the pipes here, on the loop that made them (no ResourceWarning later).
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.read()
        transport = getattr(self.proc, "_transport", None)
        if transport is not None:
            transport.close()

    async def __aenter__(self) -> NodeProcess:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def ask_until_answered(
    ref: ActorRef, message: Any, *, attempts: int = 20, timeout: float = 0.5
) -> Any:
    """Retry real work (an ask, each with its own timeout) a bounded number of times:
    for the moments after a reconnection, before every subscription is back."""
    error: Exception | None = None
    for _ in range(attempts):
        try:
            return await ref.ask(message, timeout=timeout)
        except (AskTimeout, ActorNotFound, TransportUnavailable) as exc:
            error = exc
    raise AssertionError(f"no answer after {attempts} attempts; last error: {error!r}")
