"""Durable mailboxes: an actor's tells stored in JetStream before delivery.

An actor class with ``durable = True``, spawned with a name on a system with a
``NatsTransport``, gets a durable consumer on the work-queue stream
``<prefix>_<system>_durable`` (subject ``P.durable.<name>``). Tells to it are published
there, each with a ``Nats-Msg-Id``, and retried with that id until JetStream
acknowledges them; the consumer delivers them into the mailbox, and the runtime
acknowledges each when ``receive`` returns (a crash asks for redelivery). Messages
wait in the stream while no incarnation of the actor runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

import nats.errors
import nats.js.api
import nats.js.errors
from nats.aio.msg import Msg

from actors._cell import ActorCell
from actors._logging import get_logger

from ._codec import RefAddress
from ._remote import DurableRef, RemoteRef
from ._subjects import kv_key, subject_token

if TYPE_CHECKING:
    from ._nats import NatsTransport

__all__ = ["DurableMailboxes"]

log = get_logger("actors.transport")


class DurableMailboxes:
    """The durable mailboxes of one node, and the task that stores durable tells."""

    def __init__(self, transport: NatsTransport) -> None:
        self._transport = transport
        self._subs: dict[str, Any] = {}  # name -> JetStream push subscription
        self._stream: str | None = None  # created on first use
        # Durable tells waiting for JetStream's acknowledgement: (subject, payload,
        # headers, target path, message), published one at a time by run(), in order.
        self._outbox: deque[tuple[str, bytes, dict[str, str], str, Any]] = deque()
        self._wake: asyncio.Future[None] | None = None

    def subject(self, name: str) -> str:
        return f"{self._transport._base}.durable.{subject_token(name)}"

    async def open(self, name: str, cell: ActorCell) -> None:
        """Consume the actor's JetStream mailbox (a durable consumer: what was stored
        while no incarnation ran is delivered now) and give it a DurableRef."""
        transport = self._transport
        assert transport._data is not None and transport._system is not None
        js = transport._data.jetstream()
        subject = self.subject(name)
        await self._ensure_stream()
        consumer = "d_" + re.sub(r"[^-_a-zA-Z0-9]", "_", kv_key(name))

        async def on_durable(msg: Msg) -> None:
            transport._deliver(cell, cell.path, msg, durable=True)

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
        cell.ref = DurableRef(cell, transport, subject)

    async def _ensure_stream(self) -> None:
        """Create the system's durable-mailbox stream once (work-queue retention: a
        message stays until a consumer acknowledges it)."""
        if self._stream is not None:
            return
        transport = self._transport
        assert transport._data is not None and transport._system is not None
        js = transport._data.jetstream()
        stream = re.sub(
            r"[^-_a-zA-Z0-9]", "_", f"{transport.prefix}_{transport._system.name}_durable"
        )
        try:
            await js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            with contextlib.suppress(nats.js.errors.BadRequestError):  # another node won
                await js.add_stream(
                    name=stream,
                    subjects=[f"{transport._base}.durable.>"],
                    retention=nats.js.api.RetentionPolicy.WORK_QUEUE,
                    storage=nats.js.api.StorageType.FILE,
                    duplicate_window=120.0,
                )
        self._stream = stream

    def ref(self, name: str) -> RemoteRef:
        """A ref to the durable mailbox of ``name``, whether or not its actor runs."""
        system = self._transport._system
        assert system is not None
        address = RefAddress(system.name, "*", f"{system.name}/{name}")
        return RemoteRef(self._transport, address, self.subject(name), durable=True)

    def detach(self, name: str) -> Any:
        """The subscription of ``name``'s mailbox, forgotten here (to unsubscribe)."""
        return self._subs.pop(name, None)

    def tell(self, subject: str, path: str, message: Any) -> None:
        """Queue a tell for JetStream; ``run`` publishes it until acknowledged."""
        transport = self._transport
        assert transport._codec is not None
        type_name, payload = transport._codec.encode(message)
        if transport._closing:
            transport._dead_letter(message, path, "transport_unavailable")
            return
        headers = dict(transport._headers(type_name))
        headers["Nats-Msg-Id"] = uuid.uuid4().hex  # JetStream drops a retried duplicate
        self._outbox.append((subject, payload, headers, path, message))
        self.wake()

    def wake(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def run(self) -> None:
        """Publish durable tells in order, each until JetStream acknowledges it: across
        disconnects it waits for the connection (an event, not a poll) and retries with
        the same message id, so a retry never stores a message twice."""
        transport = self._transport
        outbox = self._outbox
        loop = asyncio.get_running_loop()
        delay = 0.0
        while True:
            while outbox:
                subject, payload, headers, path, message = outbox[0]
                data = transport._data
                if data is None or transport._closing:
                    outbox.popleft()
                    transport._dead_letter(message, path, "transport_unavailable")
                    continue
                try:
                    await self._ensure_stream()
                    await data.jetstream().publish(subject, payload, timeout=2.0, headers=headers)
                except (nats.errors.Error, nats.js.errors.Error, OSError, TimeoutError) as exc:
                    transport.counters["publish_failures"] += 1
                    log.warning("durable tell not stored yet; retrying", error=repr(exc))
                    await transport._connected.wait()
                    # Connected but refused (JetStream not ready after a restart): back
                    # off before the next attempt rather than spin.
                    delay = min(2.0, delay * 2 or 0.05)
                    await asyncio.sleep(delay)
                    continue
                delay = 0.0
                outbox.popleft()
            if transport._closing:
                return
            self._wake = loop.create_future()
            await self._wake
            self._wake = None

    def ack(self, ack_subject: str, verdict: bytes) -> None:
        """Acknowledge a delivered message (+ACK), ask for it again (-NAK), or drop it
        for good (+TERM), through the node's ordered writer."""
        writer = self._transport._writer
        if writer is not None and ack_subject:
            writer.publish(ack_subject, verdict, "", None, None)
