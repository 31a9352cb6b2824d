"""Durable mailboxes: an actor's tells stored in JetStream before delivery.

An actor class with ``durable = True``, spawned with a name on a system with a
``NatsTransport``, gets a durable consumer on the work-queue stream
``<prefix>__<system>__durable`` (subject ``P.durable.<name>``; consumer ``d__<name>``,
each part escaped: see ``_subjects``). Tells to it are published
there, each with a ``Nats-Msg-Id``, and retried with that id until JetStream
acknowledges them; the consumer delivers them into the mailbox, and the runtime
acknowledges each when ``receive`` returns (a crash asks for redelivery). Messages
wait in the stream while no incarnation of the actor runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING, Any

import nats.errors
import nats.js.api
import nats.js.errors
from nats.aio.msg import Msg

from actors.lowlevel import ActorCell, DeadLetterReason, get_logger

from ._codec import RefAddress
from ._messaging import headers_size
from ._remote import DurableRef, RemoteRef
from ._subjects import wire_name
from ._wire import Outbox

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["DurableMailboxes"]

log = get_logger("actors.transport")


class DurableMailboxes:
    """The durable mailboxes of one node, and the task that stores durable tells."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._subs: dict[str, Any] = {}  # name -> JetStream push subscription
        self._stream: str | None = None  # created on first use
        # Durable tells waiting for JetStream's acknowledgement: (subject, payload,
        # headers, target path, message), published one at a time by run(), in order.
        self._outbox: Outbox[tuple[str, bytes, dict[str, str], str, Any]] = Outbox()

    def subject(self, name: str) -> str:
        return self.node.subject("durable", name)

    async def open(self, name: str, cell: ActorCell) -> None:
        """Consume the actor's JetStream mailbox (a durable consumer: what was stored
        while no incarnation ran is delivered now) and give it a DurableRef."""
        node = self.node
        assert node.data is not None and node.system is not None
        js = node.data.jetstream()
        subject = self.subject(name)
        await self._ensure_stream()
        consumer = wire_name("d", name)
        deliver = node.messaging.deliver

        async def on_durable(msg: Msg) -> None:
            deliver(cell, cell.path, msg, durable=True)

        self._subs[name] = await js.subscribe(
            subject,
            durable=consumer,
            stream=self._stream,
            manual_ack=True,
            cb=on_durable,
            config=nats.js.api.ConsumerConfig(
                ack_policy=nats.js.api.AckPolicy.EXPLICIT,
                ack_wait=30.0,
                max_deliver=5,
                max_ack_pending=1000,
            ),
        )
        cell.ref = DurableRef(cell, node, subject)

    async def _ensure_stream(self) -> None:
        """Create the system's durable-mailbox stream once (work-queue retention: a
        message stays until a consumer acknowledges it)."""
        if self._stream is not None:
            return
        node = self.node
        assert node.data is not None and node.system is not None
        js = node.data.jetstream()
        stream = wire_name(node.prefix, node.system.name, "durable")
        try:
            await js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            with contextlib.suppress(nats.js.errors.BadRequestError):  # another node won
                await js.add_stream(
                    name=stream,
                    subjects=[f"{node.base}.durable.>"],
                    retention=nats.js.api.RetentionPolicy.WORK_QUEUE,
                    storage=nats.js.api.StorageType.FILE,
                    duplicate_window=120.0,
                )
        self._stream = stream

    def ref(self, name: str) -> RemoteRef:
        """A ref to the durable mailbox of ``name``, whether or not its actor runs:
        tells are stored until it handles them; asks go to the actor by its name, and
        fail with ``ActorNotFound`` while no incarnation runs."""
        node = self.node
        assert node.system is not None
        address = RefAddress(node.system.name, "*", f"{node.system.name}/{name}")
        return RemoteRef(
            node, address, node.subject("name", name), durable_subject=self.subject(name)
        )

    def detach(self, name: str) -> Any:
        """The subscription of ``name``'s mailbox, forgotten here (to unsubscribe)."""
        return self._subs.pop(name, None)

    def tell(self, subject: str, path: str, message: Any) -> None:
        """Queue a tell for JetStream; ``run`` publishes it until acknowledged. It is
        framed like any tell; its one header is JetStream's ``Nats-Msg-Id`` (a retried
        duplicate is dropped by it), counted in its size: a message too large for the
        server is ``MessageTooLarge`` here, not a retry that can never succeed."""
        node = self.node
        messaging = node.messaging
        type_name, payload = messaging.encode(message)
        headers = {"Nats-Msg-Id": uuid.uuid4().hex}
        size = len(payload) + headers_size(headers)
        messaging.check_size(size, "durable tell", type_name, path, "framed, with its header")
        if node.closing:
            node.dead_letter(message, path, DeadLetterReason.TRANSPORT_UNAVAILABLE)
            return
        self._outbox.put((subject, payload, headers, path, message))

    def close(self) -> None:
        """The transport is closing: what is still queued is dead-lettered."""
        self._outbox.close()

    async def run(self) -> None:
        """Publish durable tells in order, each until JetStream acknowledges it: across
        disconnects it waits for the connection (an event, not a poll) and retries with
        the same message id, so a retry never stores a message twice."""
        node = self.node
        outbox = self._outbox
        items = outbox.items
        delay = 0.0
        while await outbox.wait():
            while items:
                subject, payload, headers, path, message = items[0]
                data = node.data
                if data is None or node.closing:
                    items.popleft()
                    node.dead_letter(message, path, DeadLetterReason.TRANSPORT_UNAVAILABLE)
                    continue
                try:
                    await self._ensure_stream()
                    await data.jetstream().publish(subject, payload, timeout=2.0, headers=headers)
                except (nats.errors.Error, nats.js.errors.Error, OSError, TimeoutError) as exc:
                    node.counters["publish_failures"] += 1
                    log.warning("durable tell not stored yet; retrying", error=repr(exc))
                    await node.connected.wait()
                    # Connected but refused (JetStream not ready after a restart): back
                    # off before the next attempt rather than spin.
                    delay = min(2.0, delay * 2 or 0.05)
                    await asyncio.sleep(delay)
                    continue
                delay = 0.0
                items.popleft()

    def ack(self, ack_subject: str, verdict: bytes) -> None:
        """Acknowledge a delivered message (+ACK), ask for it again (-NAK), or drop it
        for good (+TERM), through the node's ordered writer."""
        writer = self.node.writer
        if writer is not None and ack_subject:
            writer.publish(ack_subject, verdict, "", None, None)
