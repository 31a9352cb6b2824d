"""A node's NATS connections: one control connection and one or more data connections,
opened, health-checked and closed through the node's ``TransportPool``.

The node acquires them all at start and holds them while it runs; at close the pool
closes them in order, data first (their drain delivers what they already received),
control last (after the goodbye heartbeat). Each connection is named
``<system>/<node>/<role>`` for the server's monitoring, notices failure in seconds
(ping every 2 s, 2 outstanding), reconnects forever with a wait drawn per connection,
and has every callback logged and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import TYPE_CHECKING, Any

import nats
import nats.errors
from nats.aio.client import Client

from actors.lowlevel import get_logger

from ._errors import TransportUnavailable
from ._pool import TransportPool

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["Connections"]

log = get_logger("actors.transport")


class Connections:
    """The connections of one node (``Node.links``)."""

    def __init__(self, node: Node, data_connections: int) -> None:
        self.node = node
        self.pool: TransportPool[Client] = TransportPool(
            self._open_one,
            max_size=data_connections + 1,
            healthy=self.healthy,
            close=self._close_one,
        )
        # Connection names, in the order open() acquires them (the pool opens them in
        # that order), so that the server's connection list says what each one is for.
        self._roles = ["control", "data"] + [f"data-{i}" for i in range(1, data_connections)]
        self._data_connections = data_connections
        self.control: Client | None = None
        self.data: list[Client] = []  # the first carries every subscription

    async def open(self) -> None:
        """Acquire the control and the data connections; on failure, close those
        already open and raise ``TransportUnavailable``."""
        try:
            self.control = await self.pool.acquire()
            for _ in range(self._data_connections):
                self.data.append(await self.pool.acquire())
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        await self.pool.close()
        held, self.data, control, self.control = self.data, [], self.control, None
        for client in (*held, control):
            if client is not None:
                await self.pool.release(client)

    def problem(self) -> str | None:
        """None while every connection is up, else which are reconnecting."""
        if not self.data or self.control is None:
            return "not connected"
        held = zip(self._roles, (self.control, *self.data), strict=True)
        down = [role for role, client in held if not client.is_connected]
        if down:
            servers = self.node.servers
            return f"not connected to NATS at {servers}: {', '.join(down)} reconnecting"
        return None

    async def healthy(self, client: Client) -> bool:
        """The pool's health check: connected, and the server answers a ping in time."""
        if not client.is_connected:
            return False
        # Not client.rtt(timeout): on a timeout nats-py 2.16 cancels the PONG future but
        # leaves it queued, and the late PONG then breaks the client's read loop (the
        # connection drops and reconnects). A future we never cancel just resolves late,
        # or is dropped with the queue when the client reconnects.
        pong: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        try:
            await client._send_ping(pong)
        except (nats.errors.Error, OSError):
            return False
        await asyncio.wait([pong], timeout=self.node.connect_timeout)
        return pong.done()

    async def _close_one(self, client: Client) -> None:
        # nats-py cancels its subscription tasks on close without awaiting them; we
        # await them, so that no task of ours outlives the system.
        sub_tasks: list[Any] = [
            sub._wait_for_msgs_task
            for sub in client._subs.values()
            if sub._wait_for_msgs_task is not None
        ]
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
            if client.is_connected:
                await client.drain()
            else:
                # Reconnecting: what it buffered can no longer be sent, and nats-py
                # 2.16's close() writes that buffer to the dead socket, raises, and
                # leaves its subscription tasks running. Drop the buffer first.
                self.node.counters["publish_failures"] += len(client._pending)
                client._pending.clear()
                client._pending_data_size = 0
                await client.close()
        await asyncio.gather(*sub_tasks, return_exceptions=True)

    async def _open_one(self) -> Client:
        """The pool's factory: a client with this node's settings and callbacks."""
        node = self.node
        system = node.system
        assert system is not None
        counters, node_id = node.counters, node.node_id
        opened = self.pool.stats().created
        role = self._roles[opened] if opened < len(self._roles) else f"spare-{opened}"
        client = Client()

        async def on_disconnect() -> None:
            if node.closing:
                return  # our own drain at close
            counters["disconnects"] += 1
            if self.data and client is self.data[0]:
                node.connected.clear()
            log.warning("nats disconnected", node=node_id, connection=role)

        async def on_reconnect() -> None:
            counters["reconnects"] += 1
            if self.data and client is self.data[0]:
                node.connected.set()
            log.info("nats reconnected", node=node_id, connection=role)

        async def on_error(error: Exception) -> None:
            if isinstance(error, nats.errors.SlowConsumerError):
                counters["slow_consumers"] += 1
            counters["errors"] += 1
            log.warning("nats error", node=node_id, connection=role, error=repr(error))
            if client.is_connecting or client.is_reconnecting:
                # A failed attempt (e.g. no INFO from a paused server): nats-py 2.16
                # opens the next one over it without closing its stream, which then
                # warns "unclosed" when collected. Close it; the next attempt opens anew.
                attempt = client._transport
                if attempt is not None:
                    attempt.close()  # type: ignore[no-untyped-call]

        settings: dict[str, Any] = {
            key: value for key, value in node.auth.items() if value is not None
        }
        settings.update(
            servers=node.servers,
            name=f"{system.name}/{node_id}/{role}",
            allow_reconnect=True,
            # One round over the servers for the first connection (nats-py retries the
            # first connection forever when this is unlimited), then unlimited.
            max_reconnect_attempts=1,
            # nats-py waits a fixed time between attempts; a wait drawn per connection
            # keeps the nodes of a cluster from reconnecting in lockstep after an outage.
            reconnect_time_wait=random.uniform(0.25, 0.75),
            ping_interval=2,
            max_outstanding_pings=2,
            connect_timeout=node.connect_timeout,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            error_cb=on_error,
        )
        try:
            await client.connect(**settings)
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            raise TransportUnavailable(
                f"cannot connect to NATS at {node.servers}: {type(exc).__name__}: {exc}"
            ) from exc
        client.options["max_reconnect_attempts"] = -1
        return client
