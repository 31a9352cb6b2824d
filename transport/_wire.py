"""What nodes say to each other besides actor messages, and how it leaves the node.

The control notices (watch, unwatch, down), the registry entry, the error kinds an
answer can carry, the ordered writer every outbound message goes through, and the one
place NATS client exceptions are translated into ours.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client

from actors import ActorCrashed, ActorNotFound, ActorsError, AskTimeout, MailboxFull

from ._codec import RefAddress
from ._errors import CodecError, TransportUnavailable

if TYPE_CHECKING:
    from ._nats import NatsTransport

__all__ = [
    "CRASHED",
    "FULL",
    "NOT_FOUND",
    "PROBE",
    "UNDECODABLE",
    "Control",
    "Down",
    "Probe",
    "Registration",
    "Unwatch",
    "Watch",
    "Writer",
    "map_nats_errors",
    "remote_error",
]

# The kinds of error an answer can carry (header Actor-Error).
NOT_FOUND = "not_found"
CRASHED = "crashed"
FULL = "mailbox_full"
UNDECODABLE = "undecodable"


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


class Writer:
    """One connection's outbound queue and the task that drains it in order.

    Callers never await: ``publish`` appends and wakes the task, which is the only code
    awaiting the NATS client's publish (it suspends only to flush a full buffer).
    """

    def __init__(self, transport: NatsTransport, client: Client, reply_prefix: str) -> None:
        self._transport = transport
        self._client = client
        # Where answers to requests sent on this connection come back (subject + token).
        self.reply_prefix = reply_prefix
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


def remote_error(kind: str, text: str, path: str, message_type: str) -> ActorsError:
    if kind == NOT_FOUND:
        return ActorNotFound(text, actor=path, message_type=message_type)
    if kind == FULL:
        return MailboxFull(text, actor=path, message_type=message_type)
    if kind == UNDECODABLE:
        return CodecError(text, actor=path, message_type=message_type)
    return ActorCrashed(text, actor=path, message_type=message_type)
