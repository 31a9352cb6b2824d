"""The refs and reply handles that stand for something on another node.

``RemoteRef`` (an actor elsewhere), ``DurableRef`` (a local actor whose tells go
through JetStream), and the small objects the runtime treats as an ask's reply target
or as a watcher, whose methods send over the wire instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors import ActorNotFound, ActorRef, MailboxFull, Priority, Terminated
from actors._cell import ActorCell

from ._codec import RefAddress
from ._wire import CRASHED, FULL, NOT_FOUND

if TYPE_CHECKING:
    from ._nats import NatsTransport

__all__ = ["DurableRef", "JetStreamAck", "RemoteAnswer", "RemoteRef", "RemoteWatcher"]


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
            self._transport._durable.tell(self._subject, self.path, message)
        else:
            self._transport._tell(self, message)

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
        """Asks are not durable: they go to the actor's node directly. Like ``tell``,
        a remote ask ignores ``priority`` and ``wait_for_room``; it needs a ``timeout``
        (the reply subject must not wait forever)."""
        if timeout is None:
            raise ValueError(f"an ask to the remote actor `{self.path}` needs a timeout")
        return await self._transport._ask(self, message, timeout)

    def _watched_by(self, watcher: ActorCell) -> None:
        self._transport._liveness.watch(self, watcher)

    def _unwatched_by(self, watcher: ActorCell) -> None:
        self._transport._liveness.unwatch(self, watcher)


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
        self._transport._durable.tell(self._subject, self.path, message)

    async def send(self, message: Any, priority: Priority = Priority.NORMAL) -> None:
        self.tell(message, priority)


class JetStreamAck:
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
        self._transport._durable.ack(self._ack_subject, b"+ACK")

    def set_exception(self, exception: BaseException, /) -> None:
        self._done = True
        self._transport._durable.ack(self._ack_subject, b"-NAK")


class RemoteAnswer:
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
        kind = CRASHED
        if isinstance(exception, ActorNotFound):
            kind = NOT_FOUND
        elif isinstance(exception, MailboxFull):
            kind = FULL
        self._transport._answer_error(self._reply_to, kind, str(exception))


class RemoteWatcher:
    """Stands in a local actor's watcher list for an actor watching from another node:
    the ``Terminated`` it is delivered goes back over the wire."""

    __slots__ = ("_transport", "address")

    def __init__(self, transport: NatsTransport, address: RefAddress) -> None:
        self._transport = transport
        self.address = address

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemoteWatcher) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)

    def deliver(self, message: Any, priority: Priority) -> None:
        if isinstance(message, Terminated):
            self._transport._liveness.send_down(message, self.address)
