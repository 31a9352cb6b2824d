"""The refs and reply handles that stand for something on another node.

``RemoteRef`` (an actor elsewhere), ``DurableRef`` (a local actor whose tells go
through JetStream), and the small objects the runtime treats as an ask's reply target
or as a watcher, whose methods send over the wire instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors import ActorNotFound, ActorRef, MailboxFull, Priority, Terminated
from actors.lowlevel import ActorCell

from ._codec import RefAddress
from ._wire import ErrorKind

if TYPE_CHECKING:
    from ._node import Node

__all__ = [
    "DurableRef",
    "JetStreamAck",
    "RemoteAnswer",
    "RemoteRef",
    "RemoteWatchers",
]


class RemoteRef(ActorRef):
    """A ref to an actor on another node; ``tell``/``ask`` go through NATS.

    Equal to any other ref with the same address. ``send`` does not wait for room
    (a remote mailbox's bound applies on its node). ``address`` is where the actor
    lives, ``subject`` the NATS subject its messages are published on directly.
    ``durable_subject``, for an actor with a durable mailbox, is where its tells go
    instead (JetStream stores them); asks always go to ``subject``: a request published
    into the stream would be answered by JetStream's acknowledgement, not by the actor.
    """

    __slots__ = ("_node", "address", "durable_subject", "subject")

    def __init__(
        self,
        node: Node,
        address: RefAddress,
        subject: str,
        durable_subject: str | None = None,
    ) -> None:
        self._node = node
        self.address = address
        self.subject = subject
        self.durable_subject = durable_subject

    @property
    def path(self) -> str:
        return self.address.path

    @property
    def name(self) -> str:
        return self.address.path.rsplit("/", 1)[-1]

    @property
    def node(self) -> str:
        return self.address.node

    def is_alive(self) -> bool:
        """False once its node went silent (the actor may have stopped earlier)."""
        return self._node.node_alive(self.address.node)

    def __repr__(self) -> str:
        return f"RemoteRef({self.address.path!r}, node={self.address.node!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemoteRef) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)

    def tell(self, message: Any, priority: Priority = Priority.NORMAL) -> None:
        if self.durable_subject is not None:
            self._node.durable.tell(self.durable_subject, self.path, message)
        else:
            self._node.messaging.tell(self, message)

    async def send(self, message: Any, priority: Priority = Priority.NORMAL) -> None:
        self.tell(message, priority)

    async def ask(
        self,
        message: Any,
        *,
        timeout: float | None = 5.0,
        priority: Priority = Priority.NORMAL,
        wait_for_room: bool = False,
    ) -> Any:
        """Asks are not durable: they go to the actor directly. Like ``tell``, a remote
        ask ignores ``priority`` and ``wait_for_room`` (the bound of a remote mailbox
        applies on its node). ``timeout=None``: no timer of the ask's own, the caller's
        ``asyncio.timeout()`` governs."""
        return await self._node.messaging.ask(self, message, timeout)

    def _watched_by(self, watcher: ActorCell) -> None:
        self._node.liveness.watch(self, watcher)

    def _unwatched_by(self, watcher: ActorCell) -> None:
        self._node.liveness.unwatch(self, watcher)


class DurableRef(ActorRef):
    """The ref of a local actor with a durable mailbox: tells are stored in JetStream
    first (at-least-once, deduplicated by message id) and delivered from there; asks
    stay direct. Equal to the actor's plain ref."""

    __slots__ = ("_node", "subject")

    def __init__(self, cell: ActorCell, node: Node, subject: str) -> None:
        super().__init__(cell)
        self._node = node
        self.subject = subject  # of the actor's JetStream mailbox

    def tell(self, message: Any, priority: Priority = Priority.NORMAL) -> None:
        self._node.durable.tell(self.subject, self.path, message)

    async def send(self, message: Any, priority: Priority = Priority.NORMAL) -> None:
        self.tell(message, priority)


class JetStreamAck:
    """The ``ReplyTarget`` of a durable message: handling it acknowledges it (the
    runtime answers it with the handler's result), a crash asks for redelivery."""

    __slots__ = ("_ack_subject", "_done", "_node")

    def __init__(self, node: Node, ack_subject: str) -> None:
        self._node = node
        self._ack_subject = ack_subject
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, result: Any, /) -> None:
        self._done = True
        self._node.durable.ack(self._ack_subject, b"+ACK")

    def set_exception(self, exception: BaseException, /) -> None:
        self._done = True
        self._node.durable.ack(self._ack_subject, b"-NAK")


class RemoteAnswer:
    """The ``ReplyTarget`` of an ask that came over the wire: answering publishes."""

    __slots__ = ("_done", "_node", "_reply_to")

    def __init__(self, node: Node, reply_to: str) -> None:
        self._node = node
        self._reply_to = reply_to
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, result: Any, /) -> None:
        self._done = True
        self._node.messaging.answer(self._reply_to, result)

    def set_exception(self, exception: BaseException, /) -> None:
        self._done = True
        kind = ErrorKind.CRASHED
        if isinstance(exception, ActorNotFound):
            kind = ErrorKind.NOT_FOUND
        elif isinstance(exception, MailboxFull):
            kind = ErrorKind.FULL
        self._node.messaging.answer_error(self._reply_to, kind, str(exception))


class RemoteWatchers:
    """Stands in a local actor's watcher list, once, for every actor watching it from
    other nodes: adding and removing one is a dict operation (O(1)), where one entry per
    remote watcher in the cell's list would make each ``Watch`` notice a linear scan.
    When the actor stops, each watcher's node gets a ``Down`` notice."""

    __slots__ = ("_node", "addresses")

    def __init__(self, node: Node) -> None:
        self._node = node
        self.addresses: dict[RefAddress, None] = {}  # an ordered set

    def __repr__(self) -> str:
        return "remote: " + ", ".join(f"{a.node}:{a.path}" for a in self.addresses)

    def __len__(self) -> int:
        return len(self.addresses)

    def deliver(self, message: Any, priority: Priority) -> None:
        if isinstance(message, Terminated):
            liveness = self._node.liveness
            liveness.forget_watched(message.ref.path, self)
            for address in self.addresses:
                liveness.send_down(message, address)
