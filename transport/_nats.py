"""``NatsTransport``: actors on several processes and machines, through NATS.

Subjects (``P`` = ``<prefix>.<system>``)::

    P.node.<node>.a.<path tokens>   a message to one actor (one wildcard subscription
                                    per node: P.node.<node>.>, demultiplexed here)
    P.name.<name>                   a message to a named actor, wherever it runs
    P.reply.<node>.<token>          answers to this node's asks (one wildcard sub)
    P.ctl.<node>                    watch / unwatch / down notices for this node
    P.hb.<node>                     heartbeats, on a separate control connection

A tell is encoded at once (an unencodable message fails in the sender, naming its
type) and queued for the node's one writer task, so everything a sender sends to one
actor — asks included — leaves in order. An ask is a publish with a reply subject in
this node's reply space: no responders (the node is gone) is ``ActorNotFound`` at once,
no answer in time is ``AskTimeout``, no connection is ``TransportUnavailable`` at once.

The NATS subscription callbacks only decode and enqueue into mailboxes; they never
await actor work, so a slow actor cannot stall the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import re
import urllib.parse
import uuid
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import nats
import nats.errors
import nats.js.api
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors import (
    ActorCrashed,
    ActorNotFound,
    ActorRef,
    ActorsError,
    AskTimeout,
    MailboxClosed,
    MailboxFull,
    Priority,
    Publish,
    Terminated,
)
from actors._cell import STOPPED, ActorCell
from actors._mailbox import Envelope
from actors._ref import Reply, current_cell

from ._codec import Codec, RefAddress
from ._errors import CodecError, TransportUnavailable

if TYPE_CHECKING:
    from actors import ActorSystem

__all__ = ["NatsTransport", "RemoteRef"]

log = structlog.get_logger("actors.transport")

_NOT_FOUND = "not_found"
_CRASHED = "crashed"
_FULL = "mailbox_full"
_UNDECODABLE = "undecodable"


# ---------------------------------------------------------------- names on the wire


def subject_token(text: str) -> str:
    """Escape text into one NATS subject token (no '.', '*', '>', whitespace)."""
    return urllib.parse.quote(text, safe="!$&'()+,;=:@-_~").replace(".", "%2E")


def path_tokens(path: str) -> str:
    return ".".join(subject_token(segment) for segment in path.split("/"))


@functools.lru_cache(maxsize=8192)
def tokens_path(tokens: str) -> str:
    """The actor path a subject's tokens name (cached: a node sees few distinct ones)."""
    return "/".join(urllib.parse.unquote(token) for token in tokens.split("."))


_KV_SAFE = re.compile(r"[-_a-zA-Z0-9]+")


def kv_key(name: str) -> str:
    """A JetStream KV key for an actor name (keys allow only [-/_=.a-zA-Z0-9])."""
    if _KV_SAFE.fullmatch(name):
        return name
    return "=" + name.encode().hex()


# ---------------------------------------------------------------- control messages


class Watch(msgspec.Struct, tag=True, frozen=True):
    target: str  # path of the watched actor, on the receiving node
    watcher: RefAddress


class Unwatch(msgspec.Struct, tag=True, frozen=True):
    target: str
    watcher: RefAddress


class Down(msgspec.Struct, tag=True, frozen=True):
    target: RefAddress
    watcher: str  # path of the watching actor, on the receiving node
    reason: str


Control = Watch | Unwatch | Down


class Registration(msgspec.Struct, frozen=True, array_like=True):
    """A name's entry in the registry bucket."""

    address: RefAddress
    durable: bool = False


class RemoteRef(ActorRef):
    """A ref to an actor on another node; ``tell``/``ask`` go through NATS.

    Equal to any other ref with the same address. ``send`` does not wait for room
    (a remote mailbox's bound applies on its node).
    """

    __slots__ = ("_address", "_durable", "_subject", "_transport")

    def __init__(
        self, transport: NatsTransport, address: RefAddress, subject: str, durable: bool = False
    ) -> None:
        self._transport = transport
        self._address = address
        self._subject = subject
        self._durable = durable  # tells go through the actor's JetStream mailbox

    @property
    def path(self) -> str:
        return self._address.path

    @property
    def name(self) -> str:
        return self._address.path.rsplit("/", 1)[-1]

    @property
    def node(self) -> str:
        return self._address.node

    def is_alive(self) -> bool:
        """False once its node went silent (the actor may have stopped earlier)."""
        return self._transport._node_alive(self._address.node)

    def __repr__(self) -> str:
        return f"RemoteRef({self._address.path!r}, node={self._address.node!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemoteRef) and other._address == self._address

    def __hash__(self) -> int:
        return hash(self._address)

    def tell(self, message: Any, priority: Priority = Priority.NORMAL) -> None:
        if self._durable:
            self._transport._durable_tell(self._subject, self.path, message)
        else:
            self._transport._tell(self, message)

    async def send(self, message: Any, priority: Priority = Priority.NORMAL) -> None:
        self.tell(message, priority)

    async def ask(self, message: Any, *, timeout: float = 5.0) -> Any:
        """Asks are not durable: they go to the actor's node directly."""
        return await self._transport._ask(self, message, timeout)

    def _watched_by(self, watcher: ActorCell) -> None:
        self._transport._watch(self, watcher)

    def _unwatched_by(self, watcher: ActorCell) -> None:
        self._transport._unwatch(self, watcher)


class DurableRef(ActorRef):
    """The ref of a local actor with a durable mailbox: tells are stored in JetStream
    first (at-least-once, deduplicated by message id) and delivered from there; asks
    stay direct. Equal to the actor's plain ref."""

    __slots__ = ("_subject", "_transport")

    def __init__(self, cell: ActorCell, transport: NatsTransport, subject: str) -> None:
        super().__init__(cell)
        self._transport = transport
        self._subject = subject

    def tell(self, message: Any, priority: Priority = Priority.NORMAL) -> None:
        self._transport._durable_tell(self._subject, self.path, message)

    async def send(self, message: Any, priority: Priority = Priority.NORMAL) -> None:
        self.tell(message, priority)


class _JetStreamAck:
    """The ``ReplyTarget`` of a durable message: handling it acknowledges it (the
    runtime answers it with the handler's result), a crash asks for redelivery."""

    __slots__ = ("_ack_subject", "_done", "_transport")

    def __init__(self, transport: NatsTransport, ack_subject: str) -> None:
        self._transport = transport
        self._ack_subject = ack_subject
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, result: Any, /) -> None:
        self._done = True
        self._transport._js_ack(self._ack_subject, b"+ACK")

    def set_exception(self, exception: BaseException, /) -> None:
        self._done = True
        self._transport._js_ack(self._ack_subject, b"-NAK")


class _RemoteAnswer:
    """The ``ReplyTarget`` of an ask that came over the wire: answering publishes."""

    __slots__ = ("_done", "_reply_to", "_transport")

    def __init__(self, transport: NatsTransport, reply_to: str) -> None:
        self._transport = transport
        self._reply_to = reply_to
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, result: Any, /) -> None:
        self._done = True
        self._transport._answer(self._reply_to, result)

    def set_exception(self, exception: BaseException, /) -> None:
        self._done = True
        kind = _CRASHED
        if isinstance(exception, ActorNotFound):
            kind = _NOT_FOUND
        elif isinstance(exception, MailboxFull):
            kind = _FULL
        self._transport._answer_error(self._reply_to, kind, str(exception))


class _RemoteWatcher:
    """Stands in a local actor's watcher list for an actor watching from another node:
    the ``Terminated`` it is delivered goes back over the wire."""

    __slots__ = ("_transport", "address")

    def __init__(self, transport: NatsTransport, address: RefAddress) -> None:
        self._transport = transport
        self.address = address

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _RemoteWatcher) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)

    def deliver(self, message: Any, priority: Priority) -> None:
        if isinstance(message, Terminated):
            self._transport._send_down(message, self.address)


class _Writer:
    """One connection's outbound queue and the task that drains it in order.

    Callers never await: ``publish`` appends and wakes the task, which is the only code
    awaiting the NATS client's publish (it suspends only to flush a full buffer).
    """

    def __init__(self, transport: NatsTransport, client: Client) -> None:
        self._transport = transport
        self._client = client
        # (subject, payload, reply, headers, message for a dead letter or None)
        self._outbox: deque[tuple[str, bytes, str, dict[str, str] | None, Any]] = deque()
        self._wake: asyncio.Future[None] | None = None
        self._closing = False

    def publish(
        self, subject: str, payload: bytes, reply: str, headers: dict[str, str] | None, about: Any
    ) -> None:
        self._outbox.append((subject, payload, reply, headers, about))
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def run(self) -> None:
        outbox = self._outbox
        client = self._client
        loop = asyncio.get_running_loop()
        while True:
            while outbox:
                subject, payload, reply, headers, about = outbox.popleft()
                try:
                    await client.publish(subject, payload, reply=reply, headers=headers)
                except (nats.errors.Error, OSError) as exc:
                    self._transport._publish_failed(subject, reply, about, exc)
            if self._closing:
                return
            self._wake = loop.create_future()
            await self._wake
            self._wake = None

    def close(self) -> None:
        """Finish what is queued, then end ``run``."""
        self._closing = True
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)


@contextlib.contextmanager
def map_nats_errors(doing: str) -> Iterator[None]:
    """Translate NATS client exceptions into ours, once, at the boundary."""
    try:
        yield
    except nats.errors.NoRespondersError as exc:
        raise ActorNotFound(f"{doing}: no responders") from exc
    except (TimeoutError, nats.errors.TimeoutError) as exc:
        raise AskTimeout(f"{doing}: timed out") from exc
    except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
        raise TransportUnavailable(f"{doing}: {type(exc).__name__}: {exc}") from exc


class NatsTransport:
    """Connects an ``ActorSystem`` to a NATS cluster.

    ``NatsTransport(servers=["nats://127.0.0.1:4222"], types=[Order, Paid])``: ``types``
    are the message classes this node sends and accepts (anything else arriving is a
    dead letter). Auth and TLS go to the NATS client: ``user``/``password``, ``token``,
    ``tls`` (an ``ssl.SSLContext``). ``heartbeat`` seconds between heartbeats; a node
    silent for ``heartbeat * misses`` seconds is down: its watched actors produce
    ``Terminated(ref, "nodedown")``.
    """

    def __init__(
        self,
        servers: Sequence[str] = ("nats://127.0.0.1:4222",),
        *,
        types: Sequence[type] = (),
        node_id: str | None = None,
        prefix: str = "actors",
        heartbeat: float = 1.0,
        misses: int = 3,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        tls: Any = None,
        connect_timeout: float = 2.0,
    ) -> None:
        if heartbeat <= 0 or misses < 1:
            raise ValueError(f"need heartbeat > 0 and misses >= 1, got {heartbeat}, {misses}")
        self.servers = list(servers)
        self.node_id = node_id or uuid.uuid4().hex[:12]
        if not re.fullmatch(r"[-_a-zA-Z0-9]+", self.node_id):
            raise ValueError(f"node_id must match [-_a-zA-Z0-9]+, got {self.node_id!r}")
        self.prefix = prefix
        self.heartbeat = heartbeat
        self.misses = misses
        self._types = list(types)
        self._auth = {"user": user, "password": password, "token": token, "tls": tls}
        self._connect_timeout = connect_timeout
        self._system: ActorSystem | None = None
        self._codec: Codec | None = None
        self._data: Client | None = None
        self._control: Client | None = None
        self._writer: _Writer | None = None
        self._control_writer: _Writer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._releases: set[asyncio.Task[Any]] = set()  # names being released
        self._base = ""
        self._asks: dict[str, tuple[asyncio.Future[Any], RemoteRef, Any]] = {}
        # Watch notices sent with a reply subject, waiting for NATS's verdict.
        self._watch_checks: dict[str, tuple[RemoteRef, ActorCell]] = {}
        self._syncs: dict[str, asyncio.Future[None]] = {}  # see _caught_up
        self._tokens = itertools.count(1)
        # Local actors reachable by path from other nodes (a ref of theirs was sent).
        self._exported: weakref.WeakValueDictionary[str, ActorCell] = weakref.WeakValueDictionary()
        self._name_subs: dict[str, Any] = {}
        self._pool_subs: dict[tuple[str, str], Any] = {}  # (pool, member path) -> sub
        self._durable_subs: dict[str, Any] = {}  # name -> JetStream push subscription
        self._durable_stream: str | None = None
        # Durable tells waiting for JetStream's acknowledgement: (subject, payload,
        # headers, target path, message), published one at a time by _store().
        self._durable_outbox: deque[tuple[str, bytes, dict[str, str], str, Any]] = deque()
        self._durable_wake: asyncio.Future[None] | None = None
        self._connected = asyncio.Event()
        # node -> target path -> local watcher cells
        self._remote_watches: dict[str, dict[str, list[ActorCell]]] = {}
        self._peers: dict[str, asyncio.TimerHandle] = {}
        self._down: set[str] = set()
        self._beat_timer: asyncio.TimerHandle | None = None
        self._kv: Any = None
        self._closing = False
        self._type_headers: dict[str, dict[str, str]] = {}
        self.counters: dict[str, int] = {
            "disconnects": 0,
            "reconnects": 0,
            "errors": 0,
            "slow_consumers": 0,
            "undecodable": 0,
            "publish_failures": 0,
        }

    def __repr__(self) -> str:
        return f"<NatsTransport node={self.node_id} servers={self.servers}>"

    # ------------------------------------------------------------------ life cycle

    async def start(self, system: ActorSystem) -> None:
        self._system = system
        self._base = f"{self.prefix}.{subject_token(system.name)}"
        self._codec = Codec(self._types, export=self._export, resolve=self._resolve)
        self._data = await self._connect("data")
        self._control = await self._connect("control")
        self._connected.set()
        base, node = self._base, self.node_id
        with map_nats_errors("subscribing"):
            await self._data.subscribe(f"{base}.node.{node}.>", cb=self._on_actor_message)
            await self._data.subscribe(f"{base}.reply.{node}.*", cb=self._on_reply)
            await self._data.subscribe(f"{base}.event.>", cb=self._on_event)
            await self._control.subscribe(f"{base}.ctl.{node}", cb=self._on_control)
            await self._control.subscribe(f"{base}.hb.*", cb=self._on_heartbeat)
            js = self._data.jetstream()
            bucket = re.sub(r"[^-_a-zA-Z0-9]", "_", f"{self.prefix}_{system.name}_names")
            try:
                self._kv = await js.key_value(bucket)
            except nats.js.errors.BucketNotFoundError:
                try:
                    self._kv = await js.create_key_value(bucket=bucket, history=1)
                except nats.js.errors.BadRequestError:
                    self._kv = await js.key_value(bucket)  # another node created it first
        task_group = system._task_group
        assert task_group is not None
        self._writer = _Writer(self, self._data)
        self._control_writer = _Writer(self, self._control)
        self._spawn_task(self._writer.run())
        self._spawn_task(self._control_writer.run())
        self._spawn_task(self._store())
        self._beat()
        log.info("transport started", node=node, servers=self.servers)

    def _spawn_task(self, coro: Any) -> asyncio.Task[Any]:
        assert self._system is not None and self._system._task_group is not None
        task = self._system._task_group.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Finish queued sends, say goodbye, release names, disconnect. Idempotent."""
        if self._data is None or self._closing:
            return
        self._closing = True
        if self._beat_timer is not None:
            self._beat_timer.cancel()
        for timer in self._peers.values():
            timer.cancel()
        self._peers.clear()
        if self._control_writer is not None:
            self._control_writer.publish(
                f"{self._base}.hb.{self.node_id}", b"", "", {"Bye": "1"}, None
            )
        for writer in (self._writer, self._control_writer):
            if writer is not None:
                writer.close()
        self._wake_store()
        self._connected.set()  # a store waiting for the connection sees _closing
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for future, _, _ in self._asks.values():
            if not future.done():
                future.set_exception(TransportUnavailable("the transport closed"))
        self._asks.clear()
        data, control = self._data, self._control
        self._data = self._control = None
        for client in (data, control):
            if client is None:
                continue
            # nats-py cancels its subscription tasks on close without awaiting them;
            # we await them, so that no task of ours outlives the system.
            sub_tasks: list[Any] = [
                sub._wait_for_msgs_task
                for sub in client._subs.values()
                if sub._wait_for_msgs_task is not None
            ]
            with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
                if client.is_connected:
                    await client.drain()
                else:
                    # Reconnecting: what it buffered can no longer be sent, and nats-py
                    # 2.16's close() writes that buffer to the dead socket, raises, and
                    # leaves its subscription tasks running. Drop the buffer first.
                    self.counters["publish_failures"] += len(client._pending)
                    client._pending.clear()
                    client._pending_data_size = 0
                    await client.close()
            await asyncio.gather(*sub_tasks, return_exceptions=True)
        log.info("transport closed", node=self.node_id)

    async def _connect(self, role: str) -> Client:
        system = self._system
        assert system is not None

        async def on_disconnect() -> None:
            if self._closing:
                return  # our own drain at close
            self.counters["disconnects"] += 1
            if role == "data":
                self._connected.clear()
            log.warning("nats disconnected", node=self.node_id, connection=role)

        async def on_reconnect() -> None:
            self.counters["reconnects"] += 1
            if role == "data":
                self._connected.set()
            log.info("nats reconnected", node=self.node_id, connection=role)

        async def on_error(error: Exception) -> None:
            if isinstance(error, nats.errors.SlowConsumerError):
                self.counters["slow_consumers"] += 1
            self.counters["errors"] += 1
            log.warning("nats error", node=self.node_id, connection=role, error=repr(error))

        options = {key: value for key, value in self._auth.items() if value is not None}
        try:
            client = await nats.connect(
                servers=self.servers,
                name=f"{system.name}/{self.node_id}/{role}",
                allow_reconnect=True,
                # One round over the servers for the first connection (nats-py retries
                # the first connection forever when this is unlimited), then unlimited.
                max_reconnect_attempts=1,
                reconnect_time_wait=0.5,
                ping_interval=2,
                max_outstanding_pings=2,
                connect_timeout=self._connect_timeout,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                error_cb=on_error,
                **options,
            )
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            raise TransportUnavailable(
                f"cannot connect to NATS at {self.servers}: {type(exc).__name__}: {exc}"
            ) from exc
        client.options["max_reconnect_attempts"] = -1
        return client

    # ------------------------------------------------------------------ addresses

    def _export(self, ref: ActorRef) -> RefAddress:
        if isinstance(ref, RemoteRef):
            return ref._address
        cell = ref._cell
        self._exported[cell.path] = cell
        assert self._system is not None
        return RefAddress(self._system.name, self.node_id, cell.path)

    def _resolve(self, address: RefAddress) -> ActorRef:
        if address.node == self.node_id:
            cell = self._exported.get(address.path)
            if cell is not None:
                return cell.ref
        return RemoteRef(self, address, self._actor_subject(address))

    def _actor_subject(self, address: RefAddress) -> str:
        base = f"{self.prefix}.{subject_token(address.system)}"
        return f"{base}.node.{address.node}.a.{path_tokens(address.path)}"

    def named(self, name: str) -> RemoteRef:
        """A ref addressing ``name`` by its subject, wherever the actor runs."""
        assert self._system is not None
        address = RefAddress(self._system.name, "*", f"{self._system.name}/{name}")
        return RemoteRef(self, address, f"{self._base}.name.{subject_token(name)}")

    def pool(self, name: str) -> RemoteRef:
        """A ref to the pool ``name``: each message goes to one of its members, on any
        node (a NATS queue group). An ask with no member anywhere is ActorNotFound."""
        assert self._system is not None
        address = RefAddress(self._system.name, "*", f"{self._system.name}/pool:{name}")
        return RemoteRef(self, address, f"{self._base}.pool.{subject_token(name)}")

    async def join_pool(self, name: str, ref: ActorRef) -> None:
        """Make the local actor ``ref`` a member of pool ``name`` until it stops or
        leaves; messages to the pool are shared among all members of all nodes."""
        if isinstance(ref, RemoteRef):
            raise TypeError(f"only local actors can join a pool, got {ref!r}")
        assert self._data is not None
        cell = ref._cell
        key = (name, cell.path)
        if key in self._pool_subs:
            return

        async def on_pool_message(msg: Msg) -> None:
            if cell.state == STOPPED:
                self._leave(key)  # a member that stopped leaves on its next message
            self._deliver(cell, cell.path, msg)

        subject = f"{self._base}.pool.{subject_token(name)}"
        with map_nats_errors(f"joining pool `{name}`"):
            self._pool_subs[key] = await self._data.subscribe(
                subject, queue=subject_token(name), cb=on_pool_message
            )
            await self._caught_up()  # a member when this returns, cluster-wide

    async def leave_pool(self, name: str, ref: ActorRef) -> None:
        sub = self._pool_subs.pop((name, ref.path), None)
        if sub is not None and self._data is not None:
            with map_nats_errors(f"leaving pool `{name}`"):
                await sub.unsubscribe()
                await self._caught_up()  # no longer a member when this returns

    def _leave(self, key: tuple[str, str]) -> None:
        sub = self._pool_subs.pop(key, None)
        if sub is not None:
            self._spawn_task(sub.unsubscribe())

    async def _caught_up(self, timeout: float = 5.0) -> None:
        """Return once the server has processed everything this node's data
        connection sent so far (subscriptions included).

        ``flush()`` does not promise that: nats-py writes its PING straight to the
        socket, ahead of commands still in its buffer. A message to our own reply
        subject, sent behind them, comes back only after the server handled them.
        """
        assert self._data is not None
        token = f"s{next(self._tokens)}"
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._syncs[token] = future
        try:
            with map_nats_errors("waiting for the server"):
                await self._data.publish(f"{self._base}.reply.{self.node_id}.{token}", b"")
                await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            self._syncs.pop(token, None)

    def _node_alive(self, node: str) -> bool:
        return node not in self._down

    # ------------------------------------------------------------------ registry

    async def register(self, name: str, cell: ActorCell) -> None:
        assert self._data is not None and self._kv is not None and self._system is not None
        durable = bool(getattr(type(cell.actor), "durable", False))
        value = msgspec.msgpack.encode(Registration(self._export(cell.ref), durable))
        key = kv_key(name)
        with map_nats_errors(f"registering `{name}`"):
            try:
                await self._kv.create(key, value)
            except nats.js.errors.KeyWrongLastSequenceError:
                entry = await self._kv.get(key)
                holder = msgspec.msgpack.decode(entry.value, type=Registration).address
                if holder.node != self.node_id and holder.node not in self._down:
                    raise ValueError(
                        f"name `{name}` is already registered in system "
                        f"`{self._system.name}` by `{holder.path}` on node `{holder.node}`"
                    ) from None
                await self._kv.put(key, value)
            subject = f"{self._base}.name.{subject_token(name)}"

            async def on_named(msg: Msg) -> None:
                self._on_named_message(name, msg)

            self._name_subs[name] = await self._data.subscribe(subject, cb=on_named)
            await self._caught_up()  # reachable by name, cluster-wide, on return
            if durable:
                await self._open_durable(name, cell)

    def unregister(self, name: str, cell: ActorCell) -> None:
        if self._data is None:
            return
        task = self._spawn_task(self._release(name))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def settle(self) -> None:
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)

    async def _release(self, name: str) -> None:
        sub = self._name_subs.pop(name, None)
        durable = self._durable_subs.pop(name, None)
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, OSError):
            if sub is not None:
                await sub.unsubscribe()
            if durable is not None:
                # The consumer stays: queued messages wait for the next incarnation.
                await durable.unsubscribe()
            await self._kv.delete(kv_key(name))

    async def lookup(self, name: str) -> ActorRef | None:
        if self._kv is None or self._data is None:
            raise TransportUnavailable("the transport is not started")
        if not self._data.is_connected:
            raise TransportUnavailable(f"looking up `{name}`: not connected to NATS")
        with map_nats_errors(f"looking up `{name}`"):
            try:
                entry = await self._kv.get(kv_key(name))
            except nats.js.errors.KeyNotFoundError:
                return None
        if entry.value is None:
            return None
        registration = msgspec.msgpack.decode(entry.value, type=Registration)
        address = registration.address
        if address.node in self._down:
            return None
        if registration.durable and address.node != self.node_id:
            return RemoteRef(self, address, self._durable_subject(name), durable=True)
        return self._resolve(address)

    # ------------------------------------------------------------------ sending

    def _headers(self, type_name: str) -> dict[str, str]:
        sender = current_cell.get()
        if sender is None:
            # Shared per type: the NATS client only reads headers.
            headers = self._type_headers.get(type_name)
            if headers is None:
                headers = self._type_headers[type_name] = {"Actor-Type": type_name}
            return headers
        address = self._export(sender.ref)
        return {"Actor-Type": type_name, "Sender-Node": address.node, "Sender-Path": address.path}

    def _tell(self, ref: RemoteRef, message: Any) -> None:
        assert self._codec is not None
        type_name, payload = self._codec.encode(message)
        writer = self._writer
        if writer is None or writer._closing:
            self._dead_letter(message, ref.path, "transport_unavailable")
            return
        writer.publish(ref._subject, payload, "", self._headers(type_name), message)

    async def _ask(self, ref: RemoteRef, message: Any, timeout: float) -> Any:
        assert self._codec is not None
        name = type(message).__name__
        data, writer = self._data, self._writer
        if data is None or writer is None or not data.is_connected:
            raise TransportUnavailable(
                f"ask of `{name}` to `{ref.path}`: not connected to NATS",
                actor=ref.path,
                message_type=name,
            )
        type_name, payload = self._codec.encode(message)
        token = str(next(self._tokens))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._asks[token] = (future, ref, message)
        reply = f"{self._base}.reply.{self.node_id}.{token}"
        writer.publish(ref._subject, payload, reply, self._headers(type_name), message)
        timer = loop.call_later(timeout, self._ask_expired, token, timeout)
        try:
            return await future
        finally:
            timer.cancel()
            self._asks.pop(token, None)

    def _ask_expired(self, token: str, timeout: float) -> None:
        pending = self._asks.pop(token, None)
        if pending is not None and not pending[0].done():
            future, ref, message = pending
            name = type(message).__name__
            future.set_exception(
                AskTimeout(
                    f"ask of `{name}` to `{ref.path}` timed out after {timeout} s",
                    actor=ref.path,
                    message_type=name,
                )
            )

    def _answer(self, reply_to: str, value: Any) -> None:
        assert self._codec is not None
        headers: dict[str, str] = {}
        if isinstance(value, ActorRef):
            value = self._export(value)  # a ref answer travels as its address
        try:
            if self._codec.registered(type(value)):
                type_name, payload = self._codec.encode(value)
                headers["Actor-Type"] = type_name
            else:
                payload = self._codec.encode_value(value)
        except CodecError as exc:
            self._answer_error(reply_to, _CRASHED, str(exc))
            return
        if self._writer is not None:
            self._writer.publish(reply_to, payload, "", headers or None, None)

    def _answer_error(self, reply_to: str, kind: str, text: str) -> None:
        if self._writer is not None:
            self._writer.publish(reply_to, text.encode(), "", {"Actor-Error": kind}, None)

    def _publish_failed(self, subject: str, reply: str, about: Any, exc: Exception) -> None:
        self.counters["publish_failures"] += 1
        log.warning("nats publish failed", subject=subject, error=repr(exc))
        token = reply.rsplit(".", 1)[-1] if reply.startswith(f"{self._base}.reply.") else None
        pending = self._asks.pop(token, None) if token else None
        if pending is not None and not pending[0].done():
            pending[0].set_exception(TransportUnavailable(f"sending to `{subject}` failed: {exc}"))
        elif about is not None:
            self._dead_letter(about, subject, "transport_unavailable")

    def _dead_letter(self, message: Any, recipient: str, reason: str) -> None:
        if self._system is not None:
            self._system._dead_letter(message, recipient, reason, None)

    # ------------------------------------------------------------------ receiving

    async def _on_actor_message(self, msg: Msg) -> None:
        prefix = f"{self._base}.node.{self.node_id}.a."
        if not msg.subject.startswith(prefix):
            self._reject(msg, msg.subject, _NOT_FOUND, "no such actor")
            return
        path = tokens_path(msg.subject[len(prefix) :])
        self._deliver(self._exported.get(path), path, msg)

    def _on_named_message(self, name: str, msg: Msg) -> None:
        assert self._system is not None
        ref = self._system.whereis(name)
        self._deliver(None if ref is None else ref._cell, name, msg)

    def _deliver(
        self, cell: ActorCell | None, target: str, msg: Msg, durable: bool = False
    ) -> None:
        """Decode and enqueue; never awaits. Every failure is a dead letter (and an
        error answer when it was an ask). A durable message that cannot be handled now
        is left for redelivery; one that can never be decoded is terminated."""
        assert self._codec is not None
        if cell is None or cell.state == STOPPED:
            if durable:
                self._js_ack(msg.reply, b"-NAK")  # for the next incarnation
                return
            self._reject(msg, target, _NOT_FOUND, f"no actor `{target}` on this node")
            return
        headers = msg.headers or {}
        try:
            message = self._codec.decode(headers.get("Actor-Type", ""), msg.data)
        except CodecError as exc:
            self.counters["undecodable"] += 1
            log.warning("undecodable message", actor=cell.path, error=str(exc))
            if durable:
                self._js_ack(msg.reply, b"+TERM")
                self._dead_letter(msg.data, cell.path, _UNDECODABLE)
                return
            self._reject(msg, cell.path, _UNDECODABLE, str(exc))
            return
        accepts = getattr(type(cell.actor), "accepts", None)
        if accepts is not None and not isinstance(message, accepts):
            log.warning("message type not accepted", actor=cell.path, type=type(message).__name__)
            if durable:
                self._js_ack(msg.reply, b"+TERM")  # it will never be accepted
                self._dead_letter(message, cell.path, _UNDECODABLE)
                return
            self._reject(msg, cell.path, _UNDECODABLE, f"`{cell.path}` does not accept it", message)
            return
        sender: Any = None
        if durable:
            sender = Reply(_JetStreamAck(self, msg.reply))
        elif msg.reply:
            sender = Reply(_RemoteAnswer(self, msg.reply))
        elif headers.get("Sender-Node") and headers.get("Sender-Path") and self._system:
            sender = self._resolve(
                RefAddress(self._system.name, headers["Sender-Node"], headers["Sender-Path"])
            )
        entry = message if sender is None else Envelope(message, sender)
        try:
            cell.mailbox._offer(entry)
        except MailboxFull:
            if durable:
                self._js_ack(msg.reply, b'-NAK {"delay": 1000000000}')  # retry in 1 s
            elif msg.reply:
                self._answer_error(msg.reply, _FULL, f"the mailbox of `{cell.path}` is full")
        except MailboxClosed:
            if durable:
                self._js_ack(msg.reply, b"-NAK")  # for the next incarnation
                return
            self._reject(msg, cell.path, _NOT_FOUND, f"`{cell.path}` stopped", message)

    def _reject(self, msg: Msg, target: str, kind: str, text: str, message: Any = None) -> None:
        reason = "unknown" if kind == _NOT_FOUND else kind  # DeadLetter's own vocabulary
        self._dead_letter(message if message is not None else msg.data, target, reason)
        if msg.reply:
            self._answer_error(msg.reply, kind, text)

    async def _on_reply(self, msg: Msg) -> None:
        token = msg.subject.rsplit(".", 1)[-1]
        sync = self._syncs.pop(token, None)
        if sync is not None:
            if not sync.done():
                sync.set_result(None)
            return
        check = self._watch_checks.pop(token, None)
        if check is not None:
            if (msg.headers or {}).get("Status") == "503":
                self._watch_failed(*check)
            return
        pending = self._asks.pop(token, None)
        if pending is None or pending[0].done():
            return  # the asker gave up already
        future, ref, message = pending
        name = type(message).__name__
        headers = msg.headers or {}
        if headers.get("Status") == "503":
            future.set_exception(
                ActorNotFound(
                    f"ask of `{name}` to `{ref.path}`: no responders (its node is gone)",
                    actor=ref.path,
                    message_type=name,
                )
            )
            return
        error = headers.get("Actor-Error")
        if error is not None:
            text = msg.data.decode(errors="replace")
            future.set_exception(_remote_error(error, text, ref.path, name))
            return
        assert self._codec is not None
        try:
            type_name = headers.get("Actor-Type")
            if type_name is not None:
                value = self._codec.decode(type_name, msg.data)
            else:
                value = self._codec.decode_value(msg.data)
        except CodecError as exc:
            future.set_exception(exc)
            return
        if isinstance(value, RefAddress):
            value = self._resolve(value)
        future.set_result(value)

    # ------------------------------------------------------------------ durable mailboxes

    def _durable_subject(self, name: str) -> str:
        return f"{self._base}.durable.{subject_token(name)}"

    async def _open_durable(self, name: str, cell: ActorCell) -> None:
        """Consume the actor's JetStream mailbox (a durable consumer: what was stored
        while no incarnation ran is delivered now) and give it a DurableRef."""
        assert self._data is not None and self._system is not None
        js = self._data.jetstream()
        subject = self._durable_subject(name)
        await self._ensure_stream()
        consumer = "d_" + re.sub(r"[^-_a-zA-Z0-9]", "_", kv_key(name))

        async def on_durable(msg: Msg) -> None:
            self._deliver(cell, cell.path, msg, durable=True)

        self._durable_subs[name] = await js.subscribe(
            subject,
            durable=consumer,
            stream=self._durable_stream,
            manual_ack=True,
            cb=on_durable,
            config=nats.js.api.ConsumerConfig(
                ack_policy=nats.js.api.AckPolicy.EXPLICIT,
                ack_wait=30.0,
                max_deliver=5,
                max_ack_pending=1000,
            ),
        )
        cell.ref = DurableRef(cell, self, subject)

    async def _ensure_stream(self) -> None:
        """Create the system's durable-mailbox stream once (work-queue retention: a
        message stays until a consumer acknowledges it)."""
        if self._durable_stream is not None:
            return
        assert self._data is not None and self._system is not None
        js = self._data.jetstream()
        stream = re.sub(r"[^-_a-zA-Z0-9]", "_", f"{self.prefix}_{self._system.name}_durable")
        try:
            await js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            with contextlib.suppress(nats.js.errors.BadRequestError):  # another node won
                await js.add_stream(
                    name=stream,
                    subjects=[f"{self._base}.durable.>"],
                    retention=nats.js.api.RetentionPolicy.WORK_QUEUE,
                    storage=nats.js.api.StorageType.FILE,
                    duplicate_window=120.0,
                )
        self._durable_stream = stream

    def durable(self, name: str) -> RemoteRef:
        """A ref to the durable mailbox of ``name``: its tells are stored even while no
        incarnation of the actor runs, and delivered when one starts."""
        assert self._system is not None
        address = RefAddress(self._system.name, "*", f"{self._system.name}/{name}")
        return RemoteRef(self, address, self._durable_subject(name), durable=True)

    def _durable_tell(self, subject: str, path: str, message: Any) -> None:
        """Queue a tell for JetStream; ``_store`` publishes it until acknowledged."""
        assert self._codec is not None
        type_name, payload = self._codec.encode(message)
        if self._closing:
            self._dead_letter(message, path, "transport_unavailable")
            return
        headers = dict(self._headers(type_name))
        headers["Nats-Msg-Id"] = uuid.uuid4().hex  # JetStream drops a retried duplicate
        self._durable_outbox.append((subject, payload, headers, path, message))
        self._wake_store()

    def _wake_store(self) -> None:
        wake = self._durable_wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _store(self) -> None:
        """Publish durable tells in order, each until JetStream acknowledges it: across
        disconnects it waits for the connection (an event, not a poll) and retries with
        the same message id, so a retry never stores a message twice."""
        outbox = self._durable_outbox
        loop = asyncio.get_running_loop()
        delay = 0.0
        while True:
            while outbox:
                subject, payload, headers, path, message = outbox[0]
                data = self._data
                if data is None or self._closing:
                    outbox.popleft()
                    self._dead_letter(message, path, "transport_unavailable")
                    continue
                try:
                    await self._ensure_stream()
                    await data.jetstream().publish(subject, payload, timeout=2.0, headers=headers)
                except (nats.errors.Error, nats.js.errors.Error, OSError, TimeoutError) as exc:
                    self.counters["publish_failures"] += 1
                    log.warning("durable tell not stored yet; retrying", error=repr(exc))
                    await self._connected.wait()
                    # Connected but refused (JetStream not ready after a restart): back
                    # off before the next attempt rather than spin.
                    delay = min(2.0, delay * 2 or 0.05)
                    await asyncio.sleep(delay)
                    continue
                delay = 0.0
                outbox.popleft()
            if self._closing:
                return
            self._durable_wake = loop.create_future()
            await self._durable_wake
            self._durable_wake = None

    def _js_ack(self, ack_subject: str, verdict: bytes) -> None:
        if self._writer is not None and ack_subject:
            self._writer.publish(ack_subject, verdict, "", None, None)

    # ------------------------------------------------------------------ events

    def forward_event(self, event: Any, topic: str | None) -> None:
        """Send a published event to the other nodes, once: each fans it out to its own
        subscribers. Only registered types cross; others stay on this node."""
        codec, writer = self._codec, self._writer
        if codec is None or writer is None or writer._closing:
            return
        if not codec.registered(type(event)):
            return
        try:
            type_name, payload = codec.encode(event)
        except CodecError as exc:
            log.warning("event not forwarded", error=str(exc))
            return
        headers = {"Actor-Type": type_name, "Origin-Node": self.node_id}
        if topic is not None:
            headers["Topic"] = topic
        subject = f"{self._base}.event.{subject_token(topic or type_name)}"
        writer.publish(subject, payload, "", headers, None)

    async def _on_event(self, msg: Msg) -> None:
        headers = msg.headers or {}
        if headers.get("Origin-Node") == self.node_id or self._system is None:
            return
        assert self._codec is not None
        try:
            event = self._codec.decode(headers.get("Actor-Type", ""), msg.data)
        except CodecError as exc:
            self.counters["undecodable"] += 1
            log.warning("undecodable event", error=str(exc))
            return
        bus = self._system._bus_cell
        if bus is not None:
            bus.deliver(Publish(event, headers.get("Topic"), remote=True), Priority.NORMAL)

    # ------------------------------------------------------------------ watching

    def _watch(self, ref: RemoteRef, watcher: ActorCell) -> None:
        node = ref._address.node
        if node in self._down:
            watcher.deliver(Terminated(ref, "nodedown"), Priority.SYSTEM)
            return
        watchers = self._remote_watches.setdefault(node, {}).setdefault(ref.path, [])
        if watcher in watchers:
            return
        watchers.append(watcher)
        # Sent with a reply subject: if no node `node` listens, NATS answers "no
        # responders" at once and the watcher gets Terminated(ref, "noproc").
        token = f"w{next(self._tokens)}"
        self._watch_checks[token] = (ref, watcher)
        # On the data connection: NATS sends "no responders" back to the connection
        # that published, and our reply subscription lives there.
        if self._writer is not None:
            self._writer.publish(
                f"{self._base}.ctl.{node}",
                msgspec.msgpack.encode(Watch(ref.path, self._export(watcher.ref))),
                f"{self._base}.reply.{self.node_id}.{token}",
                None,
                None,
            )

    def _watch_failed(self, ref: RemoteRef, watcher: ActorCell) -> None:
        """Nobody received our Watch: that node does not exist (or is gone)."""
        watchers = self._remote_watches.get(ref._address.node, {}).get(ref.path, [])
        if watcher in watchers:
            watchers.remove(watcher)
            watcher.deliver(Terminated(ref, "noproc"), Priority.SYSTEM)

    def _unwatch(self, ref: RemoteRef, watcher: ActorCell) -> None:
        node = ref._address.node
        watchers = self._remote_watches.get(node, {}).get(ref.path, [])
        if watcher in watchers:
            watchers.remove(watcher)
            self._control_send(node, Unwatch(ref.path, self._export(watcher.ref)))

    def _send_down(self, terminated: Terminated, watcher: RefAddress) -> None:
        target = self._export(terminated.ref)
        self._control_send(watcher.node, Down(target, watcher.path, terminated.reason))

    def _control_send(self, node: str, message: Control) -> None:
        if self._control_writer is not None:
            self._control_writer.publish(
                f"{self._base}.ctl.{node}", msgspec.msgpack.encode(message), "", None, None
            )

    async def _on_control(self, msg: Msg) -> None:
        try:
            notice = msgspec.msgpack.decode(msg.data, type=Control)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.counters["undecodable"] += 1
            log.warning("undecodable control message", error=str(exc))
            return
        match notice:
            case Watch(target, watcher):
                if msg.reply and self._control_writer is not None:
                    self._control_writer.publish(msg.reply, b"", "", None, None)  # received
                proxy = _RemoteWatcher(self, watcher)
                cell = self._exported.get(target)
                if cell is None or cell.state == STOPPED:
                    self._control_send(
                        watcher.node,
                        Down(
                            RefAddress(watcher.system, self.node_id, target), watcher.path, "noproc"
                        ),
                    )
                    return
                if cell.watchers is None:
                    cell.watchers = []
                if proxy not in cell.watchers:
                    cell.watchers.append(proxy)  # type: ignore[arg-type]
            case Unwatch(target, watcher):
                cell = self._exported.get(target)
                proxy = _RemoteWatcher(self, watcher)
                if cell is not None and cell.watchers and proxy in cell.watchers:
                    cell.watchers.remove(proxy)  # type: ignore[arg-type]
            case Down(target, watcher_path, reason):
                by_path = self._remote_watches.get(target.node, {})
                cells = by_path.get(target.path, [])
                ref = self._resolve(target)
                for cell in [c for c in cells if c.path == watcher_path]:
                    cells.remove(cell)
                    cell.deliver(Terminated(ref, reason), Priority.SYSTEM)
                if not cells:
                    by_path.pop(target.path, None)

    # ------------------------------------------------------------------ liveness

    def _beat(self) -> None:
        if self._control_writer is not None:
            self._control_writer.publish(f"{self._base}.hb.{self.node_id}", b"", "", None, None)
        loop = asyncio.get_running_loop()
        self._beat_timer = loop.call_later(self.heartbeat, self._beat)

    async def _on_heartbeat(self, msg: Msg) -> None:
        node = msg.subject.rsplit(".", 1)[-1]
        if node == self.node_id:
            return
        timer = self._peers.pop(node, None)
        if timer is not None:
            timer.cancel()
        if msg.headers and msg.headers.get("Bye"):
            log.info("node left", node=node)
            self._node_down(node, "nodedown", quiet=True)
            return
        self._down.discard(node)
        loop = asyncio.get_running_loop()
        self._peers[node] = loop.call_later(
            self.heartbeat * self.misses, self._node_down, node, "nodedown"
        )

    def _node_down(self, node: str, reason: str, quiet: bool = False) -> None:
        """A node went silent (or said goodbye): its watched actors are gone."""
        self._peers.pop(node, None)
        self._down.add(node)
        if not quiet:
            log.warning(
                "node down: no heartbeat", node=node, silent_for=self.heartbeat * self.misses
            )
        for path, watchers in self._remote_watches.pop(node, {}).items():
            assert self._system is not None
            ref = self._resolve(RefAddress(self._system.name, node, path))
            for watcher in watchers:
                watcher.deliver(Terminated(ref, reason), Priority.SYSTEM)


def _remote_error(kind: str, text: str, path: str, message_type: str) -> ActorsError:
    if kind == _NOT_FOUND:
        return ActorNotFound(text, actor=path, message_type=message_type)
    if kind == _FULL:
        return MailboxFull(text, actor=path, message_type=message_type)
    if kind == _UNDECODABLE:
        return CodecError(text, actor=path, message_type=message_type)
    return ActorCrashed(text, actor=path, message_type=message_type)
