"""``NatsTransport``: actors on several processes and machines, through NATS.

Subjects (``P`` = ``<prefix>.<system>``)::

    P.node.<node>.a.<path tokens>   a message to one actor (one wildcard subscription
                                    per node: P.node.<node>.>, demultiplexed here)
    P.name.<name>                   a message to a named actor, wherever it runs
    P.reply.<node>.<lane>.<token>   answers to this node's asks (one wildcard sub per
                                    data connection: <lane> is its index)
    P.ctl.<node>                    watch / unwatch / down notices for this node
    P.hb.<node>                     heartbeats, on a separate control connection

A tell is encoded at once (an unencodable message fails in the sender, naming its
type) and queued for the node's one writer task, so everything a sender sends to one
actor — asks included — leaves in order. An ask is a publish with a reply subject in
this node's reply space: no responders (the node is gone) is ``ActorNotFound`` at once,
no answer in time is ``AskTimeout``, no connection is ``TransportUnavailable`` at once.

The NATS subscription callbacks only decode and enqueue into mailboxes; they never
await actor work, so a slow actor cannot stall the node.

Beside this module: ``_remote`` (the refs and reply handles that act over the wire),
``_wire`` (control notices, the ordered writer, error mapping), ``_durable`` (JetStream
mailboxes) and ``_subjects`` (names to subjects and keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import re
import uuid
import weakref
from collections.abc import Sequence
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
    ActorNotFound,
    ActorRef,
    AskTimeout,
    MailboxClosed,
    MailboxFull,
    Priority,
    Publish,
    Terminated,
)
from actors._cell import STOPPED, ActorCell
from actors._mailbox import Envelope
from actors._ref import Reply, current_cell, trace_of_sender
from actors._trace import TraceContext

from ._codec import Codec, RefAddress
from ._durable import DurableMailboxes
from ._errors import CodecError, TransportUnavailable
from ._pool import TransportPool
from ._remote import JetStreamAck, RemoteAnswer, RemoteRef, RemoteWatcher
from ._subjects import kv_key, path_tokens, subject_token, tokens_path
from ._wire import (
    CRASHED,
    FULL,
    NOT_FOUND,
    PROBE,
    UNDECODABLE,
    Control,
    Down,
    Probe,
    Registration,
    Unwatch,
    Watch,
    Writer,
    map_nats_errors,
    remote_error,
)

if TYPE_CHECKING:
    from actors import ActorSystem

__all__ = ["NatsTransport", "RemoteRef"]

log = structlog.get_logger("actors.transport")

# JetStream's error codes for a conditional write that lost the race.
_WRONG_LAST_SEQUENCE = (10071, 10164)


class NatsTransport:
    """Connects an ``ActorSystem`` to a NATS cluster.

    ``NatsTransport(servers=["nats://127.0.0.1:4222"], types=[Order, Paid])``: ``types``
    are the message classes this node sends and accepts (anything else arriving is a
    dead letter). Auth and TLS go to the NATS client: ``user``/``password``, ``token``,
    ``tls`` (an ``ssl.SSLContext``). ``heartbeat`` seconds between heartbeats; a node
    silent for ``heartbeat * misses`` seconds is down: its watched actors produce
    ``Terminated(ref, "nodedown")``.

    The node's connections come from ``self.connections`` (a ``TransportPool``): one
    control connection and ``data_connections`` data connections (default 1: a second
    one did not raise throughput on a 2-core machine, see docs/performance.md). With
    several, each message goes out on the connection its subject hashes to, so order
    still holds per destination subject.
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
        data_connections: int = 1,
    ) -> None:
        if heartbeat <= 0 or misses < 1:
            raise ValueError(f"need heartbeat > 0 and misses >= 1, got {heartbeat}, {misses}")
        if data_connections < 1:
            raise ValueError(f"need data_connections >= 1, got {data_connections}")
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
        self.data_connections = data_connections
        self.connections: TransportPool[Client] = TransportPool(
            self._open_connection,
            max_size=data_connections + 1,
            healthy=self._healthy,
            close=self._close_connection,
        )
        # Connection names, in the order start() acquires them (the pool opens them in
        # that order), so that the server's connection list says what each one is for.
        self._roles = ["control", "data"] + [f"data-{i}" for i in range(1, data_connections)]
        self._system: ActorSystem | None = None
        self._codec: Codec | None = None
        self._data: Client | None = None  # the first data connection: all subscriptions
        self._control: Client | None = None
        self._lanes: list[Client] = []  # the data connections
        self._writers: list[Writer] = []  # one per data connection, in the same order
        self._writer: Writer | None = None  # the first one's
        self._control_writer: Writer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._releases: set[asyncio.Task[Any]] = set()  # names being released
        self._purges: set[asyncio.Task[Any]] = set()  # names of down nodes being released
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
        self._durable = DurableMailboxes(self)
        self._connected = asyncio.Event()
        # node -> target path -> local watcher cells
        self._remote_watches: dict[str, dict[str, list[ActorCell]]] = {}
        self._peers: dict[str, asyncio.TimerHandle] = {}
        self._down: set[str] = set()
        self._beat_timer: asyncio.TimerHandle | None = None
        self._kv: Any = None
        self._bucket = ""
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
        try:
            self._control = await self.connections.acquire()
            for _ in range(self.data_connections):
                self._lanes.append(await self.connections.acquire())
        except BaseException:
            await self._release_connections()
            raise
        self._data = self._lanes[0]
        self._connected.set()
        base, node = self._base, self.node_id
        with map_nats_errors("subscribing"):
            await self._data.subscribe(f"{base}.node.{node}.>", cb=self._on_actor_message)
            for lane, client in enumerate(self._lanes):
                # Each data connection has its own reply space: NATS answers "no
                # responders" on the connection that sent the request.
                await client.subscribe(f"{base}.reply.{node}.{lane}.*", cb=self._on_reply)
            await self._data.subscribe(f"{base}.event.>", cb=self._on_event)
            await self._control.subscribe(f"{base}.ctl.{node}", cb=self._on_control)
            await self._control.subscribe(f"{base}.hb.*", cb=self._on_heartbeat)
            js = self._data.jetstream()
            bucket = self._bucket = re.sub(
                r"[^-_a-zA-Z0-9]", "_", f"{self.prefix}_{system.name}_names"
            )
            try:
                self._kv = await js.key_value(bucket)
            except nats.js.errors.BucketNotFoundError:
                try:
                    self._kv = await js.create_key_value(bucket=bucket, history=1)
                except nats.js.errors.BadRequestError:
                    self._kv = await js.key_value(bucket)  # another node created it first
        task_group = system._task_group
        assert task_group is not None
        self._writers = [
            Writer(self, client, f"{base}.reply.{node}.{lane}.")
            for lane, client in enumerate(self._lanes)
        ]
        self._writer = self._writers[0]
        self._control_writer = Writer(self, self._control, "")
        for writer in (*self._writers, self._control_writer):
            self._spawn_task(writer.run())
        self._spawn_task(self._durable.run())
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
        for task in self._purges:
            task.cancel()  # another node releases them (or the next one to look up)
        if self._control_writer is not None:
            self._control_writer.publish(
                f"{self._base}.hb.{self.node_id}", b"", "", {"Bye": "1"}, None
            )
        for writer in (*self._writers, self._control_writer):
            if writer is not None:
                writer.close()
        self._durable.wake()
        self._connected.set()  # a store waiting for the connection sees _closing
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for future, _, _ in self._asks.values():
            if not future.done():
                future.set_exception(TransportUnavailable("the transport closed"))
        self._asks.clear()
        self._data = None
        await self._release_connections()
        log.info("transport closed", node=self.node_id)

    async def _release_connections(self) -> None:
        """Close the node's connections through the pool: data first (their drain
        delivers what was already received), control last."""
        await self.connections.close()
        held, self._lanes, control, self._control = self._lanes, [], self._control, None
        for client in (*held, control):
            if client is not None:
                await self.connections.release(client)

    async def _healthy(self, client: Client) -> bool:
        """The pool's health check: connected, and the server answers a ping in time."""
        if not client.is_connected:
            return False
        # Not client.rtt(timeout): on a timeout nats-py 2.16 cancels the PONG future but
        # leaves it queued, and the late PONG then breaks the client's read loop (the
        # connection drops and reconnects). A future we never cancel just resolves late,
        # or is dropped with the queue when the client reconnects.
        pong: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        try:
            await client._send_ping(pong)
        except (nats.errors.Error, OSError):
            return False
        await asyncio.wait([pong], timeout=self._connect_timeout)
        return pong.done()

    async def _close_connection(self, client: Client) -> None:
        # nats-py cancels its subscription tasks on close without awaiting them; we
        # await them, so that no task of ours outlives the system.
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

    # ------------------------------------------------------------------ observability

    def problem(self) -> str | None:
        """None while the node can reach the cluster, else what is wrong."""
        if self._data is None or self._control is None:
            return "closed" if self._closing else "not started"
        down = [
            role
            for role, client in (("data", self._data), ("control", self._control))
            if not client.is_connected
        ]
        down += [f"data-{i}" for i, lane in enumerate(self._lanes[1:], 1) if not lane.is_connected]
        if down:
            return f"not connected to NATS at {self.servers}: {', '.join(down)} reconnecting"
        return None

    def metrics(self) -> dict[str, float]:
        """The node's counters (``*_total``) and gauges, for ``system.metrics()``."""
        pool = self.connections.stats()
        figures: dict[str, float] = {f"{key}_total": value for key, value in self.counters.items()}
        figures.update(
            connected=float(self.problem() is None),
            connections_open=pool.size,
            connections_created_total=pool.created,
            connections_closed_total=pool.closed,
            connections_unhealthy_total=pool.unhealthy,
            peers_alive=len(self._peers),
            peers_down=len(self._down),
            asks_pending=len(self._asks),
        )
        return figures

    async def _open_connection(self) -> Client:
        """The pool's factory: a client with this node's settings and callbacks."""
        system = self._system
        assert system is not None
        opened = self.connections.stats().created
        role = self._roles[opened] if opened < len(self._roles) else f"spare-{opened}"
        client = Client()

        async def on_disconnect() -> None:
            if self._closing:
                return  # our own drain at close
            self.counters["disconnects"] += 1
            if client is self._data:
                self._connected.clear()
            log.warning("nats disconnected", node=self.node_id, connection=role)

        async def on_reconnect() -> None:
            self.counters["reconnects"] += 1
            if client is self._data:
                self._connected.set()
            log.info("nats reconnected", node=self.node_id, connection=role)

        async def on_error(error: Exception) -> None:
            if isinstance(error, nats.errors.SlowConsumerError):
                self.counters["slow_consumers"] += 1
            self.counters["errors"] += 1
            log.warning("nats error", node=self.node_id, connection=role, error=repr(error))

        settings: dict[str, Any] = {
            key: value for key, value in self._auth.items() if value is not None
        }
        settings.update(
            servers=self.servers,
            name=f"{system.name}/{self.node_id}/{role}",
            allow_reconnect=True,
            # One round over the servers for the first connection (nats-py retries the
            # first connection forever when this is unlimited), then unlimited.
            max_reconnect_attempts=1,
            # nats-py waits a fixed time between attempts; a wait drawn per connection
            # keeps the nodes of a cluster from reconnecting in lockstep after an outage.
            reconnect_time_wait=random.uniform(0.25, 0.75),
            ping_interval=2,
            max_outstanding_pings=2,
            connect_timeout=self._connect_timeout,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            error_cb=on_error,
        )
        try:
            await client.connect(**settings)
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
                assert self._writer is not None
                await self._data.publish(self._writer.reply_prefix + token, b"")
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
            while True:
                try:
                    await self._kv.create(key, value)
                    break
                except nats.js.errors.KeyWrongLastSequenceError:
                    pass  # held, or held once (a delete marker): see by whom
                try:
                    entry = await self._kv.get(key)
                except nats.js.errors.KeyNotFoundError:
                    continue  # released meanwhile
                holder = msgspec.msgpack.decode(entry.value, type=Registration).address
                if holder.node != self.node_id and not await self._gone(holder.node):
                    raise ValueError(
                        f"name `{name}` is already registered in system "
                        f"`{self._system.name}` by `{holder.path}` on node `{holder.node}`"
                    )
                try:
                    # Only over the entry just read: of two nodes taking over a dead
                    # node's name at once, one wins and the other sees it held.
                    await self._kv.update(key, value, last=entry.revision)
                    break
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue
            subject = f"{self._base}.name.{subject_token(name)}"

            async def on_named(msg: Msg) -> None:
                self._on_named_message(name, msg)

            self._name_subs[name] = await self._data.subscribe(subject, cb=on_named)
            await self._caught_up()  # reachable by name, cluster-wide, on return
            if durable:
                await self._durable.open(name, cell)

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
        durable = self._durable.detach(name)
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
        if address.node != self.node_id and await self._gone(address.node):
            with map_nats_errors(f"looking up `{name}`"):
                await self._forget(kv_key(name), entry.revision)
            return None
        if registration.durable and address.node != self.node_id:
            return RemoteRef(self, address, self._durable.subject(name), durable=True)
        return self._resolve(address)

    async def _gone(self, node: str) -> bool:
        """Whether ``node`` has left the cluster: known to be down, or (a node this one
        has not heard from yet, e.g. it died before we started) nobody answers on its
        control subject. A node that answers late is taken to be alive."""
        if node in self._down:
            return True
        if node in self._peers or self._data is None:
            return False
        try:
            await self._data.request(
                f"{self._base}.ctl.{node}", PROBE, timeout=self._connect_timeout
            )
        except nats.errors.NoRespondersError:
            log.info("node gone: no responders on its control subject", node=node)
            self._node_down(node, release_names=True)
            return True
        except (nats.errors.Error, TimeoutError, OSError):
            return False  # late, or we cannot tell: assume it is there
        return False

    async def _forget(self, key: str, revision: int | None) -> None:
        """Delete a registry entry of a node that is gone, unless it changed since it
        was read (its name was taken again meanwhile)."""
        assert self._kv is not None
        try:
            await self._kv.delete(key, last=revision)
        except nats.js.errors.APIError as exc:
            # nats-py 2.16's delete() does not translate "wrong last sequence" into
            # KeyWrongLastSequenceError as update() does: match the server's codes.
            if exc.err_code not in _WRONG_LAST_SEQUENCE:
                raise

    async def _registered_keys(self) -> list[str]:
        """Every key of the registry bucket, deleted ones included (their ``get``
        fails). Read from the bucket's stream, not with ``KeyValue.keys()``, whose
        watcher leaves two nats-py tasks running after it stops (nats-py 2.16)."""
        assert self._data is not None
        bucket = self._bucket
        prefix = f"$KV.{bucket}."
        info = await self._data.jetstream().stream_info(
            f"KV_{bucket}", subjects_filter=prefix + ">"
        )
        return [subject[len(prefix) :] for subject in info.state.subjects or {}]

    async def _purge_names(self, node: str) -> None:
        """Release every name ``node`` held: it went down without releasing them."""
        assert self._kv is not None
        purged = 0
        try:
            for key in await self._registered_keys():
                try:
                    entry = await self._kv.get(key)
                except nats.js.errors.KeyNotFoundError:
                    continue
                if entry.value is None:
                    continue
                holder = msgspec.msgpack.decode(entry.value, type=Registration).address
                if holder.node == node:
                    await self._forget(key, entry.revision)
                    purged += 1
        except (nats.errors.Error, nats.js.errors.Error, OSError, msgspec.DecodeError) as exc:
            log.warning("releasing the names of a down node failed", node=node, error=repr(exc))
            return
        log.info("names of a down node released", node=node, names=purged)

    # ------------------------------------------------------------------ sending

    def _headers(self, type_name: str) -> dict[str, str]:
        sender = current_cell.get()
        if sender is None:
            context = trace_of_sender()
            if context is not None:
                return {"Actor-Type": type_name, "traceparent": context.traceparent}
            # Shared per type: the NATS client only reads headers.
            headers = self._type_headers.get(type_name)
            if headers is None:
                headers = self._type_headers[type_name] = {"Actor-Type": type_name}
            return headers
        address = self._export(sender.ref)
        headers = {
            "Actor-Type": type_name,
            "Sender-Node": address.node,
            "Sender-Path": address.path,
        }
        if sender.trace is not None:
            headers["traceparent"] = sender.trace.traceparent
        return headers

    def _lane(self, subject: str) -> Writer | None:
        """The writer (so the data connection) for messages to ``subject``: always the
        same one, which keeps messages to one destination in order."""
        writers = self._writers
        if len(writers) == 1:
            return writers[0]
        return writers[hash(subject) % len(writers)] if writers else None

    def _tell(self, ref: RemoteRef, message: Any) -> None:
        assert self._codec is not None
        type_name, payload = self._codec.encode(message)
        writer = self._lane(ref._subject)
        if writer is None or writer._closing:
            self._dead_letter(message, ref.path, "transport_unavailable")
            return
        writer.publish(ref._subject, payload, "", self._headers(type_name), message)

    async def _ask(self, ref: RemoteRef, message: Any, timeout: float) -> Any:
        assert self._codec is not None
        name = type(message).__name__
        data, writer = self._data, self._lane(ref._subject)
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
        reply = writer.reply_prefix + token
        latency = self._system._ask_latency if self._system is not None else None
        started = latency.start() if latency is not None else 0.0
        writer.publish(ref._subject, payload, reply, self._headers(type_name), message)
        timer = loop.call_later(timeout, self._ask_expired, token, timeout)
        try:
            return await future
        finally:
            timer.cancel()
            self._asks.pop(token, None)
            if latency is not None:
                latency.stop(started)

    def _ask_expired(self, token: str, timeout: float) -> None:
        pending = self._asks.pop(token, None)
        if pending is not None and not pending[0].done():
            future, ref, message = pending
            future.set_exception(AskTimeout.after(ref.path, message, timeout))

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
            self._answer_error(reply_to, CRASHED, str(exc))
            return
        writer = self._lane(reply_to)
        if writer is not None:
            writer.publish(reply_to, payload, "", headers or None, None)

    def _answer_error(self, reply_to: str, kind: str, text: str) -> None:
        writer = self._lane(reply_to)
        if writer is not None:
            writer.publish(reply_to, text.encode(), "", {"Actor-Error": kind}, None)

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
            self._reject(msg, msg.subject, NOT_FOUND, "no such actor")
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
                self._durable.ack(msg.reply, b"-NAK")  # for the next incarnation
                return
            self._reject(msg, target, NOT_FOUND, f"no actor `{target}` on this node")
            return
        headers = msg.headers or {}
        try:
            message = self._codec.decode(headers.get("Actor-Type", ""), msg.data)
        except CodecError as exc:
            self.counters["undecodable"] += 1
            log.warning("undecodable message", actor=cell.path, error=str(exc))
            if durable:
                self._durable.ack(msg.reply, b"+TERM")
                self._dead_letter(msg.data, cell.path, UNDECODABLE)
                return
            self._reject(msg, cell.path, UNDECODABLE, str(exc))
            return
        accepts = getattr(type(cell.actor), "accepts", None)
        if accepts is not None and not isinstance(message, accepts):
            log.warning("message type not accepted", actor=cell.path, type=type(message).__name__)
            if durable:
                self._durable.ack(msg.reply, b"+TERM")  # it will never be accepted
                self._dead_letter(message, cell.path, UNDECODABLE)
                return
            self._reject(msg, cell.path, UNDECODABLE, f"`{cell.path}` does not accept it", message)
            return
        sender: Any = None
        if durable:
            sender = Reply(JetStreamAck(self, msg.reply))
        elif msg.reply:
            sender = Reply(RemoteAnswer(self, msg.reply))
        elif headers.get("Sender-Node") and headers.get("Sender-Path") and self._system:
            sender = self._resolve(
                RefAddress(self._system.name, headers["Sender-Node"], headers["Sender-Path"])
            )
        context = _trace_in(headers)
        if sender is not None or context is not None:
            entry: Any = Envelope(message, sender, context)
        else:
            entry = message
        try:
            cell.mailbox._offer(entry)
        except MailboxFull:
            if durable:
                self._durable.ack(msg.reply, b'-NAK {"delay": 1000000000}')  # retry in 1 s
            elif msg.reply:
                self._answer_error(msg.reply, FULL, f"the mailbox of `{cell.path}` is full")
        except MailboxClosed:
            if durable:
                self._durable.ack(msg.reply, b"-NAK")  # for the next incarnation
                return
            self._reject(msg, cell.path, NOT_FOUND, f"`{cell.path}` stopped", message)

    def _reject(self, msg: Msg, target: str, kind: str, text: str, message: Any = None) -> None:
        reason = "unknown" if kind == NOT_FOUND else kind  # DeadLetter's own vocabulary
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
            future.set_exception(remote_error(error, text, ref.path, name))
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

    def durable(self, name: str) -> RemoteRef:
        """A ref to the durable mailbox of ``name``: its tells are stored even while no
        incarnation of the actor runs, and delivered when one starts."""
        return self._durable.ref(name)

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
        context = trace_of_sender()  # the bus's: the trace the event was published in
        if context is not None:
            headers["traceparent"] = context.traceparent
        subject = f"{self._base}.event.{subject_token(topic or type_name)}"
        lane = self._lane(subject)
        if lane is not None:
            lane.publish(subject, payload, "", headers, None)

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
            publish = Publish(event, headers.get("Topic"), remote=True)
            context = _trace_in(headers)
            entry = publish if context is None else Envelope(publish, None, context)
            bus.deliver(entry, Priority.NORMAL)

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
                self._writer.reply_prefix + token,
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
                proxy = RemoteWatcher(self, watcher)
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
                proxy = RemoteWatcher(self, watcher)
                if cell is not None and cell.watchers and proxy in cell.watchers:
                    cell.watchers.remove(proxy)  # type: ignore[arg-type]
            case Probe():
                if msg.reply and self._control_writer is not None:
                    self._control_writer.publish(msg.reply, b"", "", None, None)
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
            self._node_down(node, release_names=False)  # it released them itself
            return
        self._down.discard(node)
        loop = asyncio.get_running_loop()
        self._peers[node] = loop.call_later(self.heartbeat * self.misses, self._node_silent, node)

    def _node_silent(self, node: str) -> None:
        log.warning("node down: no heartbeat", node=node, silent_for=self.heartbeat * self.misses)
        self._node_down(node, release_names=True)

    def _node_down(self, node: str, *, release_names: bool) -> None:
        """A node went silent, said goodbye, or is gone from the server: its watched
        actors are gone. The names a node that did not say goodbye held are released
        by one surviving node: the lowest id among those this one knows alive (should
        two pick themselves, each deletion is conditional, so the second changes
        nothing)."""
        self._peers.pop(node, None)
        first = node not in self._down
        self._down.add(node)
        leader = self.node_id == min(self._peers.keys() | {self.node_id})
        if release_names and first and leader and not self._closing:
            task = self._spawn_task(self._purge_names(node))
            self._purges.add(task)
            task.add_done_callback(self._purges.discard)
        for path, watchers in self._remote_watches.pop(node, {}).items():
            assert self._system is not None
            ref = self._resolve(RefAddress(self._system.name, node, path))
            for watcher in watchers:
                watcher.deliver(Terminated(ref, "nodedown"), Priority.SYSTEM)


def _trace_in(headers: dict[str, str]) -> TraceContext | None:
    """The trace context a message arrived with; a malformed header is logged and
    ignored (the message itself is fine), as W3C asks of a receiver."""
    header = headers.get("traceparent")
    if header is None:
        return None
    try:
        return TraceContext.from_traceparent(header)
    except ValueError as exc:
        log.warning("ignoring a malformed traceparent header", error=str(exc))
        return None
