"""What nodes say to each other besides actor messages, and how it leaves the node.

The control notices (watch, unwatch, down), the registry entry, the error kinds an
answer can carry, the ordered writer every outbound message goes through, and the one
place NATS client exceptions are translated into ours.

``Outbox`` is the one queue-and-wake mechanism for a task that sends in order while
its callers never await (used by ``Writer`` here and by the durable mailboxes).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client

from actors import ActorCrashed, ActorNotFound, ActorsError, AskTimeout, MailboxFull

from ._codec import RefAddress
from ._errors import CodecError, InvalidAddress, MessageTooLarge, TransportUnavailable

if TYPE_CHECKING:
    from ._node import Node

__all__ = [
    "PROBE",
    "Control",
    "Down",
    "ErrorKind",
    "Outbox",
    "Probe",
    "Registration",
    "Unwatch",
    "Watch",
    "Writer",
    "map_nats_errors",
    "remote_error",
]


class ErrorKind(enum.StrEnum):
    """The kinds of error an answer can carry (the value is header Actor-Error's)."""

    NOT_FOUND = "not_found"
    CRASHED = "crashed"
    FULL = "mailbox_full"
    UNDECODABLE = "undecodable"
    TOO_LARGE = "too_large"  # the answer was larger than the server's max_payload
    INVALID_ADDRESS = "invalid_address"  # an address in the message broke the limits


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


class Probe(msgspec.Struct, tag=True, frozen=True):
    """Are you there? Sent as a request; the node answers it (see ``_gone``)."""


Control = Watch | Unwatch | Down | Probe


PROBE = msgspec.msgpack.encode(Probe())


class Registration(msgspec.Struct, frozen=True, array_like=True):
    """A name's entry in the registry bucket."""

    address: RefAddress
    durable: bool = False


Item = TypeVar("Item")


class Outbox(Generic[Item]):
    """A queue that callers fill without awaiting and one task drains in order.

    The draining task pops (or peeks at) ``items`` and, once they are empty, awaits
    ``wait()``: a future that ``put`` or ``close`` resolves, never a poll.
    """

    __slots__ = ("_wake", "closing", "items")

    def __init__(self) -> None:
        self.items: deque[Item] = deque()
        self._wake: asyncio.Future[None] | None = None
        self.closing = False

    def put(self, item: Item) -> None:
        self.items.append(item)
        self.wake()

    def wake(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def close(self) -> None:
        """The drainer finishes what is queued, then ``wait()`` says stop."""
        self.closing = True
        self.wake()

    async def wait(self) -> bool:
        """Sleep until something is queued (True) or the outbox closed (False)."""
        while not self.items:
            if self.closing:
                return False
            self._wake = asyncio.get_running_loop().create_future()
            try:
                await self._wake
            finally:
                self._wake = None
        return True


class Writer:
    """One connection's outbound queue and the task that drains it in order.

    Callers never await: ``publish`` appends and wakes the task, which is the only code
    awaiting the NATS client's publish (it suspends only to flush a full buffer).
    """

    def __init__(self, node: Node, client: Client, reply_prefix: str) -> None:
        self.node = node
        self.client = client
        # Where answers to requests sent on this connection come back (subject + token).
        self.reply_prefix = reply_prefix
        # (subject, payload, reply, headers, message for a dead letter or None)
        self.outbox: Outbox[tuple[str, bytes, str, dict[str, str] | None, Any]] = Outbox()

    @property
    def closing(self) -> bool:
        return self.outbox.closing

    def publish(
        self, subject: str, payload: bytes, reply: str, headers: dict[str, str] | None, about: Any
    ) -> None:
        self.outbox.put((subject, payload, reply, headers, about))

    async def run(self) -> None:
        outbox = self.outbox
        items = outbox.items
        client = self.client
        while await outbox.wait():
            while items:
                subject, payload, reply, headers, about = items.popleft()
                try:
                    await client.publish(subject, payload, reply=reply, headers=headers)
                except (nats.errors.Error, OSError) as exc:
                    self.node.messaging.publish_failed(subject, reply, about, exc)

    def close(self) -> None:
        """Finish what is queued, then end ``run``."""
        self.outbox.close()


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


def remote_error(kind: str, text: str, path: str, message_type: str) -> ActorsError:
    """The exception an ask raises for an error answer of ``kind`` (unknown kinds, from
    a newer node, are crashes)."""
    if kind == ErrorKind.NOT_FOUND:
        return ActorNotFound(text, actor=path, message_type=message_type)
    if kind == ErrorKind.FULL:
        return MailboxFull(text, actor=path, message_type=message_type)
    if kind == ErrorKind.UNDECODABLE:
        return CodecError(text, actor=path, message_type=message_type)
    if kind == ErrorKind.TOO_LARGE:
        return MessageTooLarge(text, actor=path, message_type=message_type)
    if kind == ErrorKind.INVALID_ADDRESS:
        return InvalidAddress(text, actor=path, message_type=message_type)
    return ActorCrashed(text, actor=path, message_type=message_type)
