"""Actor messages over NATS: tells, asks and their answers out; deliveries in.

Each is one frame of the versioned wire format (``_frame``, docs/wire.md): the type,
the sender and the trace travel inside the payload, not in NATS headers. A frame of
another version is refused clearly: counted (``wrong_version``), logged once per version
seen, dead-lettered, and an ask carrying it answered with an error naming both versions
in a shape every version reads (``refusal``).

A tell is encoded at once (an unencodable message fails in the sender, naming its
type) and queued for the writer of its subject's lane, so everything a sender sends to
one actor — asks included — leaves in order. An ask is a publish with a reply subject
in this node's reply space: no responders (the node is gone) is ``ActorNotFound`` at
once, no answer in time is ``AskTimeout``, no connection is ``TransportUnavailable``.
A message larger than the server's ``max_payload`` is ``MessageTooLarge``, raised
before anything is sent; so is an ask whose answer was too large (the answering node
sends that error instead). Reply tokens are random (``secrets``): an answer cannot be
forged by guessing the next one. At most ``MAX_ASKS_PER_NODE`` asks wait on one node.

Inbound, the wire is hostile: every address read from it (the subject's path, the
frame's sender node and path, the reply subject, refs inside a message) is
checked against the limits first; a bad one is a dead letter (``invalid_address``) and
a count in ``counters["invalid_address"]``, never a publish.

Inbound, the NATS subscription callbacks only decode and enqueue into mailboxes; they
never await actor work, so a slow actor cannot stall the node.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections import Counter
from typing import TYPE_CHECKING, Any

from nats.aio.msg import Msg

from actors import ActorNotFound, ActorRef, AskTimeout, MailboxClosed, MailboxFull, TraceContext
from actors.lowlevel import (
    ActorCell,
    CellState,
    DeadLetterReason,
    Envelope,
    Reply,
    ask_latency,
    cell_of,
    current_cell,
    get_logger,
    node_id_problem,
    offer,
    outside_context,
    path_problem,
)

from ._codec import RefAddress, address_problem
from ._errors import CodecError, InvalidAddress, MessageTooLarge, TransportUnavailable
from ._frame import ERROR, VERSION, Extras, FrameError, error_frame, frame, parse, seen_version
from ._remote import JetStreamAck, RemoteAnswer, RemoteRef
from ._subjects import tokens_path
from ._wire import ErrorKind, map_nats_errors, remote_error

if TYPE_CHECKING:
    from ._node import Node

__all__ = [
    "MAX_ASKS_PER_NODE",
    "MAX_REPLY_BYTES",
    "REFUSAL_HEADERS",
    "Messaging",
    "headers_size",
    "trace_in",
]

# Asks waiting on one node at most: each holds a future, a timer and the message until
# answered, so a node that stopped answering must not make them pile up without end.
MAX_ASKS_PER_NODE = 10_000
# Our own reply subjects are under 400 bytes; a longer one from the wire is not a reply
# subject any node of ours sent.
MAX_REPLY_BYTES = 1024
# NATS's header block: "NATS/1.0\r\n", then "key: value\r\n" per header, then "\r\n".
_HEADER_OVERHEAD = 12
_HEADER_LINE = 4
# The answer refusing a frame of another version is the one data message with headers:
# its shape must be readable whatever the asker speaks, and nodes of before the
# versioned format read an error from ``Actor-Error``. ``Actor-Wire`` names ours.
REFUSAL_HEADERS = {"Actor-Error": "undecodable", "Actor-Wire": str(VERSION)}


def reply_problem(reply: str) -> str | None:
    """What is wrong with a reply subject from the wire (None: nothing)."""
    if len(reply) > MAX_REPLY_BYTES:
        return f"a reply subject longer than {MAX_REPLY_BYTES} bytes"
    tokens = reply.split(".")
    if "" in tokens or "*" in tokens or ">" in tokens:
        return "a reply subject with a wildcard or an empty token"
    return None


@functools.lru_cache(maxsize=8192)
def subject_path(tokens: str) -> tuple[str, str | None]:
    """The actor path a received subject's tokens name, and what is wrong with it
    (None: nothing). Cached like ``tokens_path``: a node receives on few distinct
    subjects, and checking the same text again gives the same answer, so the check
    runs once per subject instead of once per message."""
    path = tokens_path(tokens)
    return path, path_problem(path)


@functools.lru_cache(maxsize=8192)
def sender_problem(node_id: str | None, path: str | None) -> str | None:
    """What is wrong with a frame's sender node and path (None: nothing); cached for
    the same reason as ``subject_path``: few distinct senders."""
    return node_id_problem(node_id) or path_problem(path)


def headers_size(headers: dict[str, str] | None) -> int:
    """What ``headers`` add to a message against the server's ``max_payload`` (only a
    durable tell's ``Nats-Msg-Id`` among data messages)."""
    if not headers:
        return 0
    lines = sum(len(k) + len(v.encode()) + _HEADER_LINE for k, v in headers.items())
    return _HEADER_OVERHEAD + lines


log = get_logger("actors.transport")


def preview(data: bytes, limit: int = 64) -> str:
    """The first ``limit`` bytes of ``data``, for an error message."""
    return repr(data[:limit]) + ("..." if len(data) > limit else "")


class Messaging:
    """A node's actor traffic, and the bookkeeping of its pending asks."""

    def __init__(self, node: Node) -> None:
        self.node = node
        # token -> (the asker's future, the ref asked, the message): for errors' texts
        self.asks: dict[str, tuple[asyncio.Future[Any], RemoteRef, Any]] = {}
        self._syncs: dict[str, asyncio.Future[None]] = {}  # see caught_up
        self._per_node: Counter[str] = Counter()  # asks pending per node asked
        # What other versions were seen, to log each once (at most 258: a byte's values,
        # the header format, an empty message).
        self._versions_seen: set[str] = set()
        self._route = functools.lru_cache(maxsize=8192)(self._route_of)
        # Actor class -> what it ``accepts`` (None: anything): a missing class attribute
        # is slow to look up, and this runs per message. Classes come from code, not
        # from the wire, so this stays as small as the program.
        self._accepts: dict[type, Any] = {}

    def fail_pending(self) -> None:
        """The transport closed: every ask still waiting fails."""
        for future, _, _ in self.asks.values():
            if not future.done():
                future.set_exception(TransportUnavailable("the transport closed"))
        self.asks.clear()
        self._per_node.clear()

    def check_size(
        self, size: int, kind: str, type_name: str, path: str | None, what: str = "framed"
    ) -> None:
        """Raise ``MessageTooLarge`` if a message of ``size`` bytes (its frame, plus any
        headers) would not fit the server's limit. ``kind``, ``type_name`` and ``path``
        (None: an answer) name the message in the error, formatted only then: a message
        that fits costs no text and no closure."""
        data = self.node.data
        if data is None or size <= data.max_payload:
            return
        named = f"{kind} of `{type_name}` to `{path}`" if path else f"{kind} (`{type_name}`)"
        raise MessageTooLarge(
            f"{named} is {size} bytes {what}; the NATS server takes at most "
            f"{data.max_payload} (its max_payload): send less, or a reference to the data"
        )

    async def caught_up(self, timeout: float = 5.0) -> None:
        """Return once the server has processed everything this node's data
        connection sent so far (subscriptions included).

        ``flush()`` does not promise that: nats-py writes its PING straight to the
        socket, ahead of commands still in its buffer. A message to our own reply
        subject, sent behind them, comes back only after the server handled them.
        """
        node = self.node
        assert node.data is not None and node.writer is not None
        token = secrets.token_urlsafe(16)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._syncs[token] = future
        try:
            with map_nats_errors("waiting for the server"):
                await node.data.publish(node.writer.reply_prefix + token, b"")
                await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            self._syncs.pop(token, None)

    # ------------------------------------------------------------------ sending

    def encode(self, message: Any) -> tuple[str, bytes]:
        """``(type name, frame)`` of a message sent from here: its type, its sender when
        sent by an actor, and its trace. The common case (no sender, no trace) is the
        type's cached frame head and the body."""
        node = self.node
        assert node.codec is not None
        type_name, body = node.codec.encode(message)
        sender = current_cell()
        if sender is None:
            context = outside_context()
            if context is None:
                return type_name, frame(type_name, body)
            return type_name, frame(type_name, body, Extras(trace=context.traceparent))
        address = node.export(sender.ref)
        trace = "" if sender.trace is None else sender.trace.traceparent
        return type_name, frame(type_name, body, Extras(address.node, address.path, trace))

    def tell(self, ref: RemoteRef, message: Any) -> None:
        node = self.node
        type_name, data = self.encode(message)
        client = node.data
        if client is not None and len(data) > client.max_payload:
            self.check_size(len(data), "tell", type_name, ref.path)
        writers = node.writers
        writer = writers[0] if len(writers) == 1 else node.lane(ref.subject)
        if writer is None or writer.closing:
            node.dead_letter(message, ref.path, DeadLetterReason.TRANSPORT_UNAVAILABLE)
            return
        writer.publish(ref.subject, data, "", None, message)

    async def ask(self, ref: RemoteRef, message: Any, timeout: float | None) -> Any:
        node = self.node
        assert node.codec is not None
        name = type(message).__name__
        data, writer = node.data, node.lane(ref.subject)
        if data is None or writer is None or not data.is_connected:
            raise TransportUnavailable(
                f"ask of `{name}` to `{ref.path}`: not connected to NATS",
                actor=ref.path,
                message_type=name,
            )
        _, payload = self.encode(message)
        self.check_size(len(payload), "ask", name, ref.path)
        target = ref.address.node
        if self._per_node[target] >= MAX_ASKS_PER_NODE:
            node.counters["asks_refused"] += 1
            raise MailboxFull(
                f"ask of `{name}` to `{ref.path}`: {MAX_ASKS_PER_NODE} asks already wait on "
                f"node `{target}` (the limit per node); it is not answering, retry later",
                actor=ref.path,
                message_type=name,
            )
        token = secrets.token_urlsafe(16)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.asks[token] = (future, ref, message)
        self._per_node[target] += 1
        reply = writer.reply_prefix + token
        latency = ask_latency(node.system) if node.system is not None else None
        started = latency.start() if latency is not None else 0.0
        # Armed before publishing; the finally clause undoes it if publishing raises.
        timer = (
            None if timeout is None else loop.call_later(timeout, self._ask_expired, token, timeout)
        )
        try:
            writer.publish(ref.subject, payload, reply, None, message)
            return await future
        finally:
            if timer is not None:
                timer.cancel()
            self.asks.pop(token, None)
            left = self._per_node[target] - 1
            if left:
                self._per_node[target] = left
            else:
                del self._per_node[target]
            if latency is not None:
                latency.stop(started)

    def _ask_expired(self, token: str, timeout: float) -> None:
        pending = self.asks.pop(token, None)
        if pending is not None and not pending[0].done():
            future, ref, message = pending
            future.set_exception(AskTimeout.after(ref.path, message, timeout))

    def answer(self, reply_to: str, value: Any) -> None:
        """Send ``value`` back as the answer to an ask that came over the wire."""
        node = self.node
        assert node.codec is not None
        if isinstance(value, ActorRef):
            value = node.export(value)  # a ref answer travels as its address
        try:
            if node.codec.registered(type(value)):
                payload = frame(*node.codec.encode(value))
            else:
                payload = frame("", node.codec.encode_value(value))  # untyped: no name
            self.check_size(len(payload), "the answer", type(value).__qualname__, None)
        except MessageTooLarge as exc:
            self.answer_error(reply_to, ErrorKind.TOO_LARGE, str(exc))
            return
        except CodecError as exc:
            self.answer_error(reply_to, ErrorKind.CRASHED, str(exc))
            return
        writer = node.lane(reply_to)
        if writer is not None:
            writer.publish(reply_to, payload, "", None, None)

    def answer_error(self, reply_to: str, kind: ErrorKind, text: str) -> None:
        writer = self.node.lane(reply_to)
        if writer is not None:
            writer.publish(reply_to, error_frame(kind, text), "", None, None)

    def publish_failed(self, subject: str, reply: str, about: Any, exc: Exception) -> None:
        """A writer could not publish: fail the ask it carried, or dead-letter it."""
        node = self.node
        node.counters["publish_failures"] += 1
        log.warning("nats publish failed", subject=subject, error=repr(exc))
        token = reply.rsplit(".", 1)[-1] if reply.startswith(f"{node.base}.reply.") else None
        pending = self.asks.pop(token, None) if token else None
        if pending is not None and not pending[0].done():
            pending[0].set_exception(TransportUnavailable(f"sending to `{subject}` failed: {exc}"))
        elif about is not None:
            node.dead_letter(about, subject, DeadLetterReason.TRANSPORT_UNAVAILABLE)

    # ------------------------------------------------------------------ receiving

    async def on_actor_message(self, msg: Msg) -> None:
        path, problem = self._route(msg.subject)
        if path is None:
            self._reject(msg, msg.subject, ErrorKind.NOT_FOUND, "no such actor")
        elif problem is None:
            self.deliver(self.node.exported.get(path), path, msg)
        else:
            self.invalid(msg, msg.subject, problem)

    def _route_of(self, subject: str) -> tuple[str | None, str | None]:
        """The actor path a received subject names (None: not a subject of this node's
        actors) and what is wrong with it (None: nothing). Through ``_route``, cached
        per subject like ``subject_path``: a node receives on few distinct subjects."""
        node = self.node
        prefix = f"{node.base}.node.{node.node_id}.a."
        if not subject.startswith(prefix):
            return None, None
        return subject_path(subject[len(prefix) :])

    def on_named_message(self, name: str, msg: Msg) -> None:
        system = self.node.system
        assert system is not None
        ref = system.whereis(name)
        self.deliver(None if ref is None else cell_of(ref), name, msg)

    def deliver(self, cell: ActorCell | None, target: str, msg: Msg, durable: bool = False) -> None:
        """Decode and enqueue; never awaits. Every failure is a dead letter (and an
        error answer when it was an ask). A durable message that cannot be handled now
        is left for redelivery; one that can never be decoded is terminated."""
        node = self.node
        assert node.codec is not None
        reply = msg.reply
        if reply and not durable:
            problem = reply_problem(reply)
            if problem is not None:
                msg.reply = ""  # never published to
                self.invalid(msg, target, problem)
                return
        data = msg.data
        # The common frame (version 1, no flags, a registered type) by its head alone;
        # anything else is read, and refused, by ``parse``.
        name = node.codec.plain_heads.get(data[: 3 + data[2]]) if len(data) > 2 else None
        if name is not None:
            extras, body = None, memoryview(data)[3 + len(name) :]
        else:
            try:
                name, flags, extras, body = parse(data)
            except FrameError as exc:
                self.unreadable(msg, target, exc, durable)
                return
            if flags & ERROR:
                error = FrameError("an error frame sent as a message")
                self.unreadable(msg, target, error, durable)
                return
        sender_node = sender_path = ""
        if extras is not None:
            sender_node, sender_path = extras.sender_node, extras.sender_path
            if sender_node or sender_path:
                problem = sender_problem(sender_node, sender_path)
                if problem is not None:
                    self.invalid(msg, target, f"the frame's sender: {problem}")
                    return
        if cell is None or cell.state == CellState.STOPPED:
            if durable:
                node.durable.ack(msg.reply, b"-NAK")  # for the next incarnation
                return
            self._reject(msg, target, ErrorKind.NOT_FOUND, f"no actor `{target}` on this node")
            return
        try:
            message = node.codec.decode(name, body)
        except InvalidAddress as exc:
            if durable:
                node.durable.ack(msg.reply, b"+TERM")  # it will never be valid
            self.invalid(msg, cell.path, str(exc))
            return
        except CodecError as exc:
            node.counters["undecodable"] += 1
            log.warning("undecodable message", actor=cell.path, error=str(exc))
            if durable:
                node.durable.ack(msg.reply, b"+TERM")
                node.dead_letter(msg.data, cell.path, DeadLetterReason.UNDECODABLE)
                return
            self._reject(msg, cell.path, ErrorKind.UNDECODABLE, str(exc))
            return
        actor_class = type(cell.actor)
        try:
            accepts = self._accepts[actor_class]
        except KeyError:
            accepts = self._accepts[actor_class] = getattr(actor_class, "accepts", None)
        if accepts is not None and not isinstance(message, accepts):
            log.warning("message type not accepted", actor=cell.path, type=type(message).__name__)
            if durable:
                node.durable.ack(msg.reply, b"+TERM")  # it will never be accepted
                node.dead_letter(message, cell.path, DeadLetterReason.UNDECODABLE)
                return
            self._reject(
                msg, cell.path, ErrorKind.UNDECODABLE, f"`{cell.path}` does not accept it", message
            )
            return
        sender: Any = None
        if durable:
            sender = Reply(JetStreamAck(node, msg.reply))
        elif msg.reply:
            sender = Reply(RemoteAnswer(node, msg.reply))
        elif sender_node and sender_path and node.system:
            sender = node.resolve(RefAddress(node.system.name, sender_node, sender_path))
        context = None if extras is None else trace_in(extras.trace)
        if sender is not None or context is not None:
            entry: Any = Envelope(message, sender, context)
        else:
            entry = message
        try:
            offer(cell.mailbox, entry)
        except MailboxFull:  # the mailbox dead-lettered it (reason mailbox_full)
            if durable:
                node.durable.ack(msg.reply, b'-NAK {"delay": 1000000000}')  # retry in 1 s
            elif msg.reply:
                self.answer_error(
                    msg.reply, ErrorKind.FULL, f"the mailbox of `{cell.path}` is full"
                )
        except MailboxClosed:
            if durable:
                node.durable.ack(msg.reply, b"-NAK")  # for the next incarnation
                return
            self._reject(msg, cell.path, ErrorKind.NOT_FOUND, f"`{cell.path}` stopped", message)

    def unreadable(self, msg: Msg, target: str, exc: FrameError, durable: bool) -> None:
        """A message whose frame cannot be read: dead-lettered (a durable one
        terminated: no redelivery makes it readable). From a node of another version
        it is counted in ``wrong_version``, logged once per version seen, and an ask
        is answered in the version-independent refusal shape naming both versions;
        a malformed frame of ours is an undecodable message like any other."""
        node = self.node
        target = target[:MAX_REPLY_BYTES]
        if durable:
            node.durable.ack(msg.reply, b"+TERM")
        if exc.version == VERSION:
            node.counters["undecodable"] += 1
            log.warning("undecodable message", actor=target, error=str(exc))
            if durable:
                node.dead_letter(msg.data, target, DeadLetterReason.UNDECODABLE)
            else:
                self._reject(msg, target, ErrorKind.UNDECODABLE, f"malformed frame: {exc}")
            return
        node.counters["wrong_version"] += 1
        seen = seen_version(msg.data, msg.headers)
        text = (
            f"message to `{target}` refused: it came in {seen}; "
            f"this node speaks wire version {VERSION} (docs/wire.md)"
        )
        if seen not in self._versions_seen:
            self._versions_seen.add(seen)
            log.warning("message of another wire version refused", seen=seen, spoken=VERSION)
        node.dead_letter(msg.data, target, DeadLetterReason.UNDECODABLE)
        writer = node.lane(msg.reply) if msg.reply and not durable else None
        if writer is not None:
            writer.publish(msg.reply, text.encode(), "", REFUSAL_HEADERS, None)

    def invalid(self, msg: Msg, target: str, problem: str) -> None:
        """A message with a bad address from the wire: a dead letter and a count; an
        error answer only to a reply subject that passed its own check."""
        node = self.node
        node.counters["invalid_address"] += 1
        log.warning("invalid address from the wire", target=target[:128], problem=problem)
        self._reject(msg, target[:MAX_REPLY_BYTES], ErrorKind.INVALID_ADDRESS, problem)

    def _reject(
        self, msg: Msg, target: str, kind: ErrorKind, text: str, message: Any = None
    ) -> None:
        # DeadLetter's own vocabulary: no such actor here is "unknown".
        if kind is ErrorKind.NOT_FOUND:
            reason = DeadLetterReason.UNKNOWN
        else:
            reason = DeadLetterReason(kind.value)
        self.node.dead_letter(message if message is not None else msg.data, target, reason)
        if msg.reply:
            self.answer_error(msg.reply, kind, text)

    async def on_reply(self, msg: Msg) -> None:
        token = msg.subject.rsplit(".", 1)[-1]
        sync = self._syncs.pop(token, None)
        if sync is not None:
            if not sync.done():
                sync.set_result(None)
            return
        node = self.node
        if node.liveness.check_answered(token, msg):
            return
        pending = self.asks.pop(token, None)
        if pending is None or pending[0].done():
            return  # the asker gave up already
        future, ref, message = pending
        name = type(message).__name__
        headers = msg.headers
        if headers:  # the server's status, or a refusal in the version-independent shape
            if headers.get("Status") == "503":
                future.set_exception(
                    ActorNotFound(
                        f"ask of `{name}` to `{ref.path}`: no responders (no such actor "
                        "runs: never started, stopped, or its node is gone)",
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
        try:
            type_name, flags, _, body = parse(msg.data)
        except FrameError as exc:
            if exc.version != VERSION:
                node.counters["wrong_version"] += 1
                exc = FrameError(
                    f"it came in {seen_version(msg.data, headers)}; this node speaks wire "
                    f"version {VERSION} (docs/wire.md)"
                )
            future.set_exception(
                CodecError(
                    f"the answer to the ask of `{name}` to `{ref.path}` is unreadable: {exc}; "
                    f"it was {len(msg.data)} bytes: {preview(msg.data)}",
                    actor=ref.path,
                    message_type=name,
                )
            )
            return
        if flags & ERROR:
            kind = type_name.decode(errors="replace")
            text = bytes(body).decode(errors="replace")
            future.set_exception(remote_error(kind, text, ref.path, name))
            return
        assert node.codec is not None
        try:
            if type_name:
                value = node.codec.decode(type_name, body)
            else:
                value = node.codec.decode_value(body)
        except InvalidAddress as exc:
            node.counters["invalid_address"] += 1
            future.set_exception(exc)
            return
        except CodecError as exc:
            future.set_exception(
                CodecError(
                    f"{exc}; in the answer to the ask of `{name}` to `{ref.path}`, "
                    f"which was {len(msg.data)} bytes: {preview(msg.data)}"
                )
            )
            return
        if isinstance(value, RefAddress):
            problem = address_problem(value)
            if problem is not None:
                node.counters["invalid_address"] += 1
                future.set_exception(InvalidAddress(f"the answer holds a bad address: {problem}"))
                return
            value = node.resolve(value)
        future.set_result(value)


def trace_in(traceparent: str) -> TraceContext | None:
    """The trace context a frame arrived with (``""``: none); a malformed one is logged
    and ignored (the message itself is fine), as W3C asks of a receiver."""
    if not traceparent:
        return None
    try:
        return TraceContext.from_traceparent(traceparent)
    except ValueError as exc:
        log.warning("ignoring a malformed traceparent", error=str(exc))
        return None
