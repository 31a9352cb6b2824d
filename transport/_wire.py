"""What nodes say to each other besides actor messages, and how it leaves the node.

The control notices (watch, unwatch, down), the seal that signs and checks the control
plane (``Seal``), the registry entry, the error kinds an answer can carry, the ordered
writer every outbound message goes through, and the one place NATS client exceptions
are translated into ours.

``Outbox`` is the one queue-and-wake mechanism for a task that sends in order while
its callers never await (used by ``Writer`` here and by the durable mailboxes).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import hashlib
import hmac
import re
import secrets
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors import ActorCrashed, ActorNotFound, ActorsError, AskTimeout, MailboxFull
from actors.lowlevel import get_logger

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
    "NameLost",
    "Registration",
    "Seal",
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


class NameLost(msgspec.Struct, tag=True, frozen=True):
    """Your actor at ``path`` held ``name`` too (after a partition); ``winner``'s older
    claim keeps it: stop yours (reason ``name_conflict``)."""

    name: str
    path: str
    winner: str


Control = Watch | Unwatch | Down | Probe | NameLost


PROBE = msgspec.msgpack.encode(Probe())


log = get_logger("actors.transport")

SEAL_HEADER = "Actor-Seal"


class Seal:
    """Signs every control-plane message and checks those received
    (``NatsTransport(secret=...)``); without a secret it signs nothing and accepts all.

    Anyone allowed on the server can publish on our subjects, so a heartbeat, a goodbye,
    a watch, unwatch or down notice, a probe or the answer to one is acted on only if it
    carries ``Actor-Seal: <milliseconds>:<nonce>:<HMAC-SHA256>``, the MAC covering the
    subject it was published on (a notice for one node cannot be replayed to another),
    its headers, the time, the nonce and the payload. It is accepted once: within
    ``window`` seconds of the time it states (the nodes' clocks must agree that well)
    and only if its nonce was not seen in that window. Nonces are kept for the window
    only, and only for messages whose MAC checked, so forgeries cannot grow the set.
    Anything else is dropped and counted (``forged``), never acted on.
    """

    __slots__ = ("_counters", "_expiries", "_key", "_seen", "window")

    def __init__(self, secret: bytes | str | None, window: float, counters: dict[str, int]) -> None:
        if isinstance(secret, str):
            secret = secret.encode()
        if secret is not None and not isinstance(secret, bytes):
            raise TypeError(f"secret must be bytes or str, got {type(secret).__name__}")
        if secret is not None and len(secret) < 16:
            raise ValueError(
                f"secret must be at least 16 bytes (a guessable secret protects nothing), "
                f"got {len(secret)}"
            )
        if window <= 0:
            raise ValueError(f"replay_window must be > 0 seconds, got {window}")
        self._key = secret
        self.window = window
        self._counters = counters
        self._seen: set[str] = set()
        self._expiries: deque[tuple[float, str]] = deque()  # in the order they expire

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def sign(
        self, subject: str, payload: bytes, headers: dict[str, str] | None = None
    ) -> dict[str, str] | None:
        """``headers`` plus the seal for publishing ``payload`` on ``subject``."""
        key = self._key
        if key is None:
            return headers
        stamp, nonce = str(time.time_ns() // 1_000_000), secrets.token_hex(12)
        mac = self._mac(key, subject, stamp, nonce, headers or {}, payload)
        return {**(headers or {}), SEAL_HEADER: f"{stamp}:{nonce}:{mac}"}

    def check(self, msg: Msg) -> bool:
        """Whether ``msg`` may be acted on; a message that may not is counted and logged."""
        key = self._key
        if key is None:
            return True
        headers = dict(msg.headers or {})
        seal = headers.pop(SEAL_HEADER, "")
        why = self._refusal(key, msg.subject, seal, headers, msg.data)
        if why is None:
            return True
        self._counters["forged"] += 1
        log.warning("control message dropped", subject=msg.subject, reason=why)
        return False

    def _refusal(
        self, key: bytes, subject: str, seal: str, headers: dict[str, str], payload: bytes
    ) -> str | None:
        stamp, _, rest = seal.partition(":")
        nonce, _, mac = rest.partition(":")
        if not (stamp.isdigit() and nonce and mac):
            return "unsigned"
        expected = self._mac(key, subject, stamp, nonce, headers, payload)
        if not hmac.compare_digest(mac, expected):
            return "bad signature"
        now = time.monotonic()
        while self._expiries and self._expiries[0][0] <= now:
            self._seen.discard(self._expiries.popleft()[1])
        if abs(time.time() - int(stamp) / 1000) > self.window:
            return "outside the replay window"
        if nonce in self._seen:
            return "replayed"
        self._seen.add(nonce)
        self._expiries.append((now + 2 * self.window, nonce))
        return None

    @staticmethod
    def _mac(
        key: bytes, subject: str, stamp: str, nonce: str, headers: dict[str, str], payload: bytes
    ) -> str:
        signed = msgspec.msgpack.encode((subject, stamp, nonce, sorted(headers.items()), payload))
        return hmac.new(key, signed, hashlib.sha256).hexdigest()


class Registration(msgspec.Struct, frozen=True, array_like=True):
    """A name's entry in the registry bucket."""

    address: RefAddress
    durable: bool = False
    # The KV revision at which the holder took the name (0: this entry's own revision);
    # kept when a holder re-asserts its name, so that the older claim is known.
    claim: int = 0


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

    A wake usually finds a batch (a burst of tells). Then all but the last message are
    handed to the client in one step (``_hand_over``): their PUB commands appended to
    its pending buffer, exactly what its ``publish`` does per message, without the
    coroutine, the checks it repeats and the flusher kick per message (about 1.3 µs of
    CPU per message, docs/performance.md). The last goes through ``publish``, which
    kicks the client's flusher for the whole batch. Only plain messages (no headers) on
    a connected client, within the server's payload limit and to a subject the client
    would accept, are handed over; at the first that is not, the batch goes on through
    ``publish``, so the order is the queue's.
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
                if len(items) > 1 and client.is_connected:
                    self._hand_over()
                subject, payload, reply, headers, about = items.popleft()
                try:
                    await client.publish(subject, payload, reply=reply, headers=headers)
                except (nats.errors.Error, OSError) as exc:
                    self.node.messaging.publish_failed(subject, reply, about, exc)

    def _hand_over(self) -> None:
        """Move the queue's plain messages, all but the last, into the client's pending
        buffer as PUB commands (the NATS protocol's ``PUB <subject> [reply] <size>``,
        as nats-py writes them), stopping at the first that must go through
        ``publish``. Never raises: nothing here can fail that ``publish`` would not
        have refused first."""
        client = self.client
        items = self.outbox.items
        limit = client.max_payload
        commands: list[bytes] = []
        size = 0
        while len(items) > 1:
            subject, payload, reply, headers, _ = items[0]
            if (
                headers is not None
                or len(payload) > limit
                or not publishable(subject)
                or (reply and _NOT_IN_SUBJECT.search(reply) is not None)
            ):
                break
            items.popleft()
            start = _pub_start(subject) if not reply else f"PUB {subject} {reply} ".encode()
            commands.append(b"%s%d\r\n%s\r\n" % (start, len(payload), payload))
            size += len(payload)
        if commands:
            client._pending.extend(commands)
            client._pending_data_size += sum(map(len, commands))
            stats = client.stats
            stats["out_msgs"] += len(commands)
            stats["out_bytes"] += size

    def close(self) -> None:
        """Finish what is queued, then end ``run``."""
        self.outbox.close()


# What nats-py refuses in a subject it publishes to: a blank or a line break would let
# the text inject protocol commands.
_NOT_IN_SUBJECT = re.compile(r"[ \t\r\n]")


@functools.lru_cache(maxsize=4096)
def publishable(subject: str) -> bool:
    """Whether nats-py's ``publish`` would accept ``subject`` (cached: a node publishes
    to few distinct subjects, so the check runs once per subject, not per message)."""
    return bool(subject) and _NOT_IN_SUBJECT.search(subject) is None


@functools.lru_cache(maxsize=4096)
def _pub_start(subject: str) -> bytes:
    """The start of a PUB command with no reply subject, up to the payload's size."""
    return f"PUB {subject}  ".encode()


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
