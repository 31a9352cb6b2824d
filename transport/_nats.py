"""``NatsTransport``: actors on several processes and machines, through NATS.

Subjects (``P`` = ``<prefix>.<system>``)::

    P.node.<node>.a.<path tokens>   a message to one actor (one wildcard subscription
                                    per node: P.node.<node>.>, demultiplexed here)
    P.name.<name>                   a message to a named actor, wherever it runs
    P.reply.<node>.<lane>.<token>   answers to this node's asks (one wildcard sub per
                                    data connection: <lane> is its index)
    P.ctl.<node>                    watch / unwatch / down notices and probes for this node
    P.hb.<node>                     heartbeats, on a separate control connection

A tell is encoded at once (an unencodable message fails in the sender, naming its
type) and queued for the node's one writer task, so everything a sender sends to one
actor — asks included — leaves in order. An ask is a publish with a reply subject in
this node's reply space: no responders (the node is gone) is ``ActorNotFound`` at once,
no answer in time is ``AskTimeout``, no connection is ``TransportUnavailable`` at once.

The NATS subscription callbacks only decode and enqueue into mailboxes; they never
await actor work, so a slow actor cannot stall the node.

Beside this module: ``_connections`` (the node's connections, through its pool),
``_registry`` (names, cluster-wide), ``_liveness`` (heartbeats, nodes up and down,
watches across nodes), ``_remote`` (the refs and reply handles that act over the wire),
``_wire`` (control notices, the ordered writer, error mapping), ``_durable`` (JetStream
mailboxes) and ``_subjects`` (names to subjects and keys).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

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
)
from actors._cell import STOPPED, ActorCell
from actors._mailbox import Envelope
from actors._ref import Reply, current_cell, outside_context, trace_of_sender
from actors._trace import TraceContext

from ._codec import Codec, RefAddress
from ._connections import Connections
from ._durable import DurableMailboxes
from ._errors import CodecError, TransportUnavailable
from ._liveness import Liveness
from ._pool import TransportPool
from ._registry import Registry
from ._remote import JetStreamAck, RemoteAnswer, RemoteRef
from ._subjects import path_tokens, subject_token, tokens_path
from ._wire import (
    CRASHED,
    FULL,
    NOT_FOUND,
    UNDECODABLE,
    Writer,
    map_nats_errors,
    remote_error,
)

if TYPE_CHECKING:
    from actors import ActorSystem

__all__ = ["NatsTransport", "RemoteRef"]

log = structlog.get_logger("actors.transport")


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
        self._links = Connections(self, data_connections)
        self.connections: TransportPool[Client] = self._links.pool
        self._system: ActorSystem | None = None
        self._codec: Codec | None = None
        self._data: Client | None = None  # the first data connection: all subscriptions
        self._writers: list[Writer] = []  # one per data connection, in the same order
        self._writer: Writer | None = None  # the first one's
        self._control_writer: Writer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._base = ""
        self._asks: dict[str, tuple[asyncio.Future[Any], RemoteRef, Any]] = {}
        self._syncs: dict[str, asyncio.Future[None]] = {}  # see _caught_up
        self._tokens = itertools.count(1)
        # Local actors reachable by path from other nodes (a ref of theirs was sent).
        self._exported: weakref.WeakValueDictionary[str, ActorCell] = weakref.WeakValueDictionary()
        self._pool_subs: dict[tuple[str, str], Any] = {}  # (pool, member path) -> sub
        self._durable = DurableMailboxes(self)
        self._registry = Registry(self)
        self._liveness = Liveness(self)
        self._connected = asyncio.Event()
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
        links = self._links
        await links.open()
        control = links.control
        assert control is not None
        self._data = links.data[0]
        self._connected.set()
        base, node = self._base, self.node_id
        with map_nats_errors("subscribing"):
            await self._data.subscribe(f"{base}.node.{node}.>", cb=self._on_actor_message)
            for lane, client in enumerate(links.data):
                # Each data connection has its own reply space: NATS answers "no
                # responders" on the connection that sent the request.
                await client.subscribe(f"{base}.reply.{node}.{lane}.*", cb=self._on_reply)
            await self._data.subscribe(f"{base}.event.>", cb=self._on_event)
            liveness = self._liveness
            await control.subscribe(f"{base}.ctl.{node}", cb=liveness.on_control)
            await control.subscribe(f"{base}.hb.*", cb=liveness.on_heartbeat)
            await self._registry.open()
        task_group = system._task_group
        assert task_group is not None
        self._writers = [
            Writer(self, client, f"{base}.reply.{node}.{lane}.")
            for lane, client in enumerate(links.data)
        ]
        self._writer = self._writers[0]
        self._control_writer = Writer(self, control, "")
        for writer in (*self._writers, self._control_writer):
            self._spawn_task(writer.run())
        self._spawn_task(self._durable.run())
        self._liveness.start()
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
        self._liveness.close()
        self._registry.close()
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
        await self._links.close()
        log.info("transport closed", node=self.node_id)

    # ------------------------------------------------------------------ observability

    def problem(self) -> str | None:
        """None while the node can reach the cluster, else what is wrong."""
        if self._data is None:
            return "closed" if self._closing else "not started"
        return self._links.problem()

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
            peers_alive=len(self._liveness.peers),
            peers_down=len(self._liveness.down),
            asks_pending=len(self._asks),
        )
        return figures

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
        return node not in self._liveness.down

    # ------------------------------------------------------------------ registry

    async def register(self, name: str, cell: ActorCell) -> None:
        await self._registry.register(name, cell)

    def unregister(self, name: str, cell: ActorCell) -> None:
        if self._data is not None:
            self._registry.unregister(name)

    async def settle(self) -> None:
        await self._registry.settle()

    async def lookup(self, name: str) -> ActorRef | None:
        return await self._registry.lookup(name)

    # ------------------------------------------------------------------ sending

    def _headers(self, type_name: str) -> dict[str, str]:
        sender = current_cell.get()
        if sender is None:
            context = outside_context()
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

    async def _ask(self, ref: RemoteRef, message: Any, timeout: float | None) -> Any:
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
        # Armed before publishing; the finally clause undoes it if publishing raises.
        timer = (
            None if timeout is None else loop.call_later(timeout, self._ask_expired, token, timeout)
        )
        try:
            writer.publish(ref._subject, payload, reply, self._headers(type_name), message)
            return await future
        finally:
            if timer is not None:
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
        if self._liveness.check_answered(token, msg):
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
