"""``NatsTransport``: actors on several processes and machines, through NATS.

Subjects (``P`` = ``<prefix>.<system>``)::

    P.node.<node>.a.<path tokens>   a message to one actor (one wildcard subscription
                                    per node: P.node.<node>.>, demultiplexed here)
    P.name.<name>                   a message to a named actor, wherever it runs
    P.reply.<node>.<lane>.<token>   answers to this node's asks (one wildcard sub per
                                    data connection: <lane> is its index)
    P.ctl.<node>                    watch / unwatch / down notices and probes for this node
    P.hb.<node>                     heartbeats, on a separate control connection

This module is the transport's face: life cycle, observability, the registry and pool
API, and events. The work is done by parts that share one ``Node`` (``_node``: the node
context, with public fields; no part reaches into another's private state):
``_messaging`` (tells, asks, answers and deliveries), ``_connections`` (the node's
connections, through its pool), ``_registry`` (names, cluster-wide), ``_liveness``
(heartbeats, nodes up and down, watches across nodes), ``_durable`` (JetStream
mailboxes), ``_remote`` (the refs and reply handles that act over the wire), ``_wire``
(control notices, the ordered writer, error mapping) and ``_subjects`` (names to
subjects and keys).
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.aio.msg import Msg

from actors import ActorRef, Member, Priority, Publish
from actors.lowlevel import (
    CellState,
    Envelope,
    cell_of,
    check_node_id,
    get_logger,
    trace_of_sender,
)

from ._codec import Codec, RefAddress
from ._connections import Connections, PathLike, security_options
from ._durable import DurableMailboxes
from ._errors import CodecError
from ._frame import ERROR, VERSION, Extras, FrameError, frame, parse, seen_version
from ._liveness import Liveness
from ._messaging import Messaging, trace_in
from ._node import Node
from ._pool import TransportPool
from ._registry import Registry
from ._remote import RemoteRef
from ._subjects import subject_token
from ._wire import Seal, Writer, map_nats_errors

if TYPE_CHECKING:
    from actors import ActorSystem
    from actors.lowlevel import ActorCell

__all__ = ["NatsTransport", "RemoteRef"]

log = get_logger("actors.transport")


class NatsTransport:
    """Connects an ``ActorSystem`` to a NATS cluster.

    ``NatsTransport(servers=["nats://127.0.0.1:4222"], types=[Order, Paid])``: ``types``
    are the message classes this node sends and accepts (anything else arriving is a
    dead letter). ``servers`` is one URL or a list of them. ``node_id`` follows the
    limits of docs/distributed.md ("Limits"): 1 to 64 characters of ``[-_a-zA-Z0-9]``.
    Auth, TLS and the signed control plane: see the options below and
    docs/security.md. ``heartbeat`` seconds between heartbeats; a node silent for
    ``heartbeat * misses`` seconds (while this one hears the cluster) is unreachable: its
    watched actors produce ``Terminated(ref, "nodedown")``; silent for ``down_after``
    seconds (default twice that) it is down: its names are released. See
    ``system.cluster`` and docs/distributed.md.

    Security (docs/security.md): ``secret`` (bytes or str, at least 16 bytes, the same
    on every node) signs the control plane with HMAC-SHA256: heartbeats, goodbyes,
    watch/unwatch/down notices and probes without a valid signature, or replayed, or
    older than ``replay_window`` seconds, are dropped and counted (``forged``).
    Without it any client of the server can declare a node down. Authentication is one
    of ``user`` and ``password``, ``token``, ``nkeys_seed`` (the path of a seed file)
    or ``creds`` (the path of a JWT credentials file); TLS is ``tls_ca`` (the CA that
    signed the server's certificate), ``tls_cert`` and ``tls_key`` (a client
    certificate), ``tls_server_name`` (the name the server's certificate must carry,
    when the URL's host is not it), or ``tls`` (an ``ssl.SSLContext`` of your own,
    instead of the files); ``inbox_prefix`` replaces ``_INBOX`` in the NATS client's
    request inboxes (so that server permissions can give each node its own).

    The node's connections come from ``self.connections`` (a ``TransportPool``): one
    control connection and ``data_connections`` data connections (default 1: a second
    one did not raise throughput on a 2-core machine, see docs/performance.md). With
    several, each message goes out on the connection its subject hashes to, so order
    still holds per destination subject.

    ``self.node`` is the node context its parts share (connections, writers, counters);
    tools and tests may read it, e.g. ``transport.node.data`` or ``node.links``.
    """

    def __init__(
        self,
        servers: str | Sequence[str] = ("nats://127.0.0.1:4222",),
        *,
        types: Sequence[type] = (),
        node_id: str | None = None,
        prefix: str = "actors",
        heartbeat: float = 1.0,
        misses: int = 3,
        down_after: float | None = None,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        nkeys_seed: PathLike | None = None,
        creds: PathLike | None = None,
        tls: ssl.SSLContext | None = None,
        tls_ca: PathLike | None = None,
        tls_cert: PathLike | None = None,
        tls_key: PathLike | None = None,
        tls_server_name: str | None = None,
        inbox_prefix: str | None = None,
        secret: bytes | str | None = None,
        replay_window: float = 30.0,
        connect_timeout: float = 2.0,
        data_connections: int = 1,
    ) -> None:
        if heartbeat <= 0 or misses < 1:
            raise ValueError(f"need heartbeat > 0 and misses >= 1, got {heartbeat}, {misses}")
        down_after = 2 * heartbeat * misses if down_after is None else down_after
        if down_after < heartbeat * misses:
            raise ValueError(
                f"need down_after >= heartbeat * misses ({heartbeat * misses}), got {down_after}"
            )
        if data_connections < 1:
            raise ValueError(f"need data_connections >= 1, got {data_connections}")
        node_id = node_id or uuid.uuid4().hex[:12]
        check_node_id(node_id)
        # One URL is one server (a str is a sequence too: of characters).
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        self.node_id = node_id
        self.prefix = prefix
        self.heartbeat = heartbeat
        self.misses = misses
        self.data_connections = data_connections
        self._types = list(types)
        node = self.node = Node(
            servers=self.servers,
            node_id=node_id,
            prefix=prefix,
            heartbeat=heartbeat,
            misses=misses,
            down_after=down_after,
            connect_timeout=connect_timeout,
            auth=security_options(
                user=user,
                password=password,
                token=token,
                nkeys_seed=nkeys_seed,
                creds=creds,
                tls=tls,
                tls_ca=tls_ca,
                tls_cert=tls_cert,
                tls_key=tls_key,
                tls_server_name=tls_server_name,
                inbox_prefix=inbox_prefix,
            ),
        )
        node.seal = Seal(secret, replay_window, node.counters)
        node.messaging = Messaging(node)
        node.durable = DurableMailboxes(node)
        node.registry = Registry(node)
        node.liveness = Liveness(node)
        node.links = Connections(node, data_connections)
        self.connections: TransportPool[Client] = node.links.pool
        self.counters = node.counters
        self._pool_subs: dict[tuple[str, str], Any] = {}  # (pool, member path) -> sub

    def __repr__(self) -> str:
        return f"<NatsTransport node={self.node_id} servers={self.servers}>"

    # ------------------------------------------------------------------ life cycle

    async def start(self, system: ActorSystem) -> None:
        node = self.node
        node.system = system
        node.base = base = f"{self.prefix}.{subject_token(system.name)}"
        node.codec = Codec(self._types, export=node.export, resolve=node.resolve)
        node.bus = cell_of(system.event_bus)
        links = node.links
        await links.open()
        control = links.control
        assert control is not None
        data = node.data = links.data[0]
        node.connected.set()
        node_id, messaging, liveness = self.node_id, node.messaging, node.liveness
        with map_nats_errors("subscribing"):
            await data.subscribe(f"{base}.node.{node_id}.>", cb=messaging.on_actor_message)
            for lane, client in enumerate(links.data):
                # Each data connection has its own reply space: NATS answers "no
                # responders" on the connection that sent the request.
                await client.subscribe(f"{base}.reply.{node_id}.{lane}.*", cb=messaging.on_reply)
            await data.subscribe(f"{base}.event.>", cb=self._on_event)
            await control.subscribe(f"{base}.ctl.{node_id}", cb=liveness.on_control)
            await control.subscribe(f"{base}.hb.*", cb=liveness.on_heartbeat)
            await node.registry.open()
        node.writers = [
            Writer(node, client, f"{base}.reply.{node_id}.{lane}.")
            for lane, client in enumerate(links.data)
        ]
        node.control_writer = Writer(node, control, "")
        for writer in (*node.writers, node.control_writer):
            node.spawn_task(writer.run())
        node.spawn_task(node.durable.run())
        liveness.start()
        log.info("transport started", node=node_id, servers=self.servers)

    async def close(self) -> None:
        """Finish queued sends, say goodbye, release names, disconnect. Idempotent."""
        node = self.node
        if node.data is None or node.closing:
            return
        node.closing = True
        node.liveness.close()
        node.registry.close()
        for writer in (*node.writers, node.control_writer):
            if writer is not None:
                writer.close()
        node.durable.close()
        node.connected.set()  # a store waiting for the connection sees `closing`
        if node.tasks:
            await asyncio.gather(*node.tasks, return_exceptions=True)
        node.messaging.fail_pending()
        node.data = None
        await node.links.close()
        log.info("transport closed", node=self.node_id)

    # ------------------------------------------------------------------ observability

    def problem(self) -> str | None:
        """None while the node can reach the cluster, else what is wrong."""
        node = self.node
        if node.data is None:
            return "closed" if node.closing else "not started"
        return node.links.problem()

    def metrics(self) -> dict[str, float]:
        """The node's counters (``*_total``) and gauges, for ``system.metrics()``."""
        pool = self.connections.stats()
        liveness = self.node.liveness
        figures: dict[str, float] = {f"{key}_total": value for key, value in self.counters.items()}
        figures.update(
            connected=float(self.problem() is None),
            connections_open=pool.size,
            connections_created_total=pool.created,
            connections_closed_total=pool.closed,
            connections_unhealthy_total=pool.unhealthy,
            **liveness.metrics(),
            asks_pending=len(self.node.messaging.asks),
        )
        return figures

    def members(self) -> list[Member]:
        """This node (``up``) and every node it has heard from, with its status."""
        return self.node.liveness.members()

    # ------------------------------------------------------------------ addresses

    def named(self, name: str) -> RemoteRef:
        """A ref addressing ``name`` by its subject, wherever the actor runs."""
        node = self.node
        assert node.system is not None
        address = RefAddress(node.system.name, "*", f"{node.system.name}/{name}")
        return RemoteRef(node, address, node.subject("name", name))

    def pool(self, name: str) -> RemoteRef:
        """A ref to the pool ``name``: each message goes to one of its members, on any
        node (a NATS queue group). An ask with no member anywhere is ActorNotFound."""
        node = self.node
        assert node.system is not None
        address = RefAddress(node.system.name, "*", f"{node.system.name}/pool:{name}")
        return RemoteRef(node, address, node.subject("pool", name))

    async def join_pool(self, name: str, ref: ActorRef) -> None:
        """Make the local actor ``ref`` a member of pool ``name`` until it stops or
        leaves; messages to the pool are shared among all members of all nodes."""
        if isinstance(ref, RemoteRef):
            raise TypeError(f"only local actors can join a pool, got {ref!r}")
        node = self.node
        assert node.data is not None
        cell = cell_of(ref)
        key = (name, cell.path)
        if key in self._pool_subs:
            return

        async def on_pool_message(msg: Msg) -> None:
            if cell.state == CellState.STOPPED:
                self._leave(key)  # a member that stopped leaves on its next message
            node.messaging.deliver(cell, cell.path, msg)

        with map_nats_errors(f"joining pool `{name}`"):
            self._pool_subs[key] = await node.data.subscribe(
                node.subject("pool", name), queue=subject_token(name), cb=on_pool_message
            )
            await node.messaging.caught_up()  # a member when this returns, cluster-wide

    async def leave_pool(self, name: str, ref: ActorRef) -> None:
        sub = self._pool_subs.pop((name, ref.path), None)
        if sub is not None and self.node.data is not None:
            with map_nats_errors(f"leaving pool `{name}`"):
                await sub.unsubscribe()
                await self.node.messaging.caught_up()  # no longer a member when this returns

    def _leave(self, key: tuple[str, str]) -> None:
        sub = self._pool_subs.pop(key, None)
        if sub is not None:
            self.node.spawn_task(sub.unsubscribe())

    # ------------------------------------------------------------------ registry

    async def register(self, name: str, cell: ActorCell) -> None:
        await self.node.registry.register(name, cell)

    def unregister(self, name: str, cell: ActorCell) -> None:
        if self.node.data is not None:
            self.node.registry.unregister(name)

    async def settle(self) -> None:
        await self.node.registry.settle()

    async def lookup(self, name: str) -> ActorRef | None:
        return await self.node.registry.lookup(name)

    def durable(self, name: str) -> RemoteRef:
        """A ref to the durable mailbox of ``name``: its tells are stored even while no
        incarnation of the actor runs, and delivered when one starts."""
        return self.node.durable.ref(name)

    # ------------------------------------------------------------------ events

    def forward_event(self, event: Any, topic: str | None) -> None:
        """Send a published event to the other nodes, once: each fans it out to its own
        subscribers. Only registered types cross; others stay on this node."""
        node = self.node
        codec, writer = node.codec, node.writer
        if codec is None or writer is None or writer.closing:
            return
        if not codec.registered(type(event)):
            return
        try:
            type_name, payload = codec.encode(event)
        except CodecError as exc:
            log.warning("event not forwarded", error=str(exc))
            return
        context = trace_of_sender()  # the bus's: the trace the event was published in
        trace = "" if context is None else context.traceparent
        data = frame(type_name, payload, Extras(trace=trace, origin=self.node_id, topic=topic))
        subject = node.subject("event", topic or type_name)
        lane = node.lane(subject)
        if lane is not None:
            lane.publish(subject, data, "", None, None)

    async def _on_event(self, msg: Msg) -> None:
        node = self.node
        if node.system is None:
            return
        assert node.codec is not None
        try:
            name, flags, extras, body = parse(msg.data)
            if extras is None or flags & ERROR:
                raise FrameError("an event frame without its origin", VERSION)
            if extras.origin == self.node_id:
                return  # our own, back from the server
            event = node.codec.decode(name, body)
        except FrameError as exc:
            if exc.version == VERSION:
                self.counters["undecodable"] += 1
                log.warning("unreadable event", error=str(exc))
            else:  # the peer is reported once by its heartbeats (Liveness)
                self.counters["wrong_version"] += 1
                log.debug("event of another wire version", seen=seen_version(msg.data, msg.headers))
            return
        except CodecError as exc:
            self.counters["undecodable"] += 1
            log.warning("undecodable event", error=str(exc))
            return
        bus = node.bus
        if bus is not None:
            publish = Publish(event, extras.topic, remote=True)
            context = trace_in(extras.trace)
            entry = publish if context is None else Envelope(publish, None, context)
            bus.deliver(entry, Priority.NORMAL)
