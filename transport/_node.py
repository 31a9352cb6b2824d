"""What the parts of one ``NatsTransport`` share: the node context.

The transport is split by job (``_messaging``: sends, asks and deliveries;
``_registry``: names; ``_liveness``: peers and remote watches; ``_durable``: JetStream
mailboxes; ``_connections``: the NATS clients). None of them reaches into another's
private state: each gets this object, whose public fields are the node's
configuration, its connections and writers once started, its counters, and the other
parts (``messaging``, ``links``, ``registry``, ``liveness``, ``durable``), and whose
methods are the few operations several parts need (export and resolve
refs, pick a writer, dead-letter, own a task).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from actors import ActorRef
from actors.lowlevel import ActorCell, DeadLetterReason, cell_of, dead_letter, task_group

from ._codec import Codec, RefAddress
from ._remote import RemoteRef
from ._subjects import path_tokens, subject_token

if TYPE_CHECKING:
    from nats.aio.client import Client

    from actors import ActorSystem

    from ._connections import Connections
    from ._durable import DurableMailboxes
    from ._liveness import Liveness
    from ._messaging import Messaging
    from ._registry import Registry
    from ._wire import Seal, Writer

__all__ = ["Node"]


class Node:
    """One node of a system's cluster, as its transport's parts see it.

    Set at construction: the configuration. Set by ``NatsTransport.start``: ``system``,
    ``base`` (``<prefix>.<system>``, every subject's start), ``codec``, ``data`` (the
    first data connection: every subscription), ``writers`` (one per data connection)
    and ``control_writer``. ``connected`` is set while the data connection is up;
    ``closing`` once ``close`` began.
    """

    def __init__(
        self,
        *,
        servers: list[str],
        node_id: str,
        prefix: str,
        heartbeat: float,
        misses: int,
        down_after: float,
        connect_timeout: float,
        auth: dict[str, Any],
    ) -> None:
        self.servers = servers
        self.node_id = node_id
        self.prefix = prefix
        self.heartbeat = heartbeat
        self.misses = misses
        self.down_after = down_after  # seconds of silence after which a node is down
        self.connect_timeout = connect_timeout
        self.auth = auth  # every NATS client's auth, TLS, inbox options (security_options)
        self.system: ActorSystem | None = None
        self.base = ""
        self.codec: Codec | None = None
        self.data: Client | None = None
        self.writers: list[Writer] = []
        self.control_writer: Writer | None = None
        self.bus: ActorCell | None = None  # the system's event bus, for remote events
        self.connected = asyncio.Event()
        self.closing = False
        self.tasks: set[asyncio.Task[Any]] = set()
        # Local actors reachable by path from other nodes (a ref of theirs was sent).
        self.exported: weakref.WeakValueDictionary[str, ActorCell] = weakref.WeakValueDictionary()
        self.counters: dict[str, int] = {
            "disconnects": 0,
            "reconnects": 0,
            "errors": 0,
            "slow_consumers": 0,
            "undecodable": 0,
            # Data messages in another wire version than ours (docs/wire.md).
            "wrong_version": 0,
            "publish_failures": 0,
            "forged": 0,  # control messages dropped by ``seal``
            # Wire input refused by the bounds of docs/distributed.md ("Limits").
            "invalid_address": 0,
            "asks_refused": 0,
            "watchers_refused": 0,
            "peers_refused": 0,
        }
        self.seal: Seal  # signs and checks the control plane; set by NatsTransport
        # The parts, wired by NatsTransport right after this object is built.
        self.messaging: Messaging
        self.links: Connections
        self.registry: Registry
        self.liveness: Liveness
        self.durable: DurableMailboxes

    @property
    def writer(self) -> Writer | None:
        """The first data connection's writer (acks, watch notices, events)."""
        return self.writers[0] if self.writers else None

    def spawn_task(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the system's task group; ``close`` awaits it."""
        assert self.system is not None
        task = task_group(self.system).create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def dead_letter(self, message: Any, recipient: str, reason: DeadLetterReason) -> None:
        if self.system is not None:
            dead_letter(self.system, message, recipient, reason)

    def node_alive(self, node: str) -> bool:
        """Not known to be unreachable or down."""
        return self.liveness.alive(node)

    # ------------------------------------------------------------------ addresses

    def subject(self, kind: str, name: str) -> str:
        """``<base>.<kind>.<name as one token>``: a name's, a pool's, a durable
        mailbox's or an event topic's subject."""
        return f"{self.base}.{kind}.{subject_token(name)}"

    def export(self, ref: ActorRef) -> RefAddress:
        """The address of ``ref``; a local actor becomes reachable by path from other
        nodes (as long as it lives)."""
        if isinstance(ref, RemoteRef):
            return ref.address
        cell = cell_of(ref)
        self.exported[cell.path] = cell
        assert self.system is not None
        return RefAddress(self.system.name, self.node_id, cell.path)

    def resolve(self, address: RefAddress) -> ActorRef:
        """The ref for ``address``: the local actor's own, else a ``RemoteRef``."""
        if address.node == self.node_id:
            cell = self.exported.get(address.path)
            if cell is not None:
                return cell.ref
        elif address.node not in self.liveness.peers:
            self.liveness.contact(address.node)  # first contact: its clock starts
        return RemoteRef(self, address, self.actor_subject(address))

    def actor_subject(self, address: RefAddress) -> str:
        base = f"{self.prefix}.{subject_token(address.system)}"  # the address's system
        return f"{base}.node.{address.node}.a.{path_tokens(address.path)}"

    def lane(self, subject: str) -> Writer | None:
        """The writer (so the data connection) for messages to ``subject``: always the
        same one, which keeps messages to one destination in order."""
        writers = self.writers
        if len(writers) == 1:
            return writers[0]
        return writers[hash(subject) % len(writers)] if writers else None
