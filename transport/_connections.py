"""A node's NATS connections: one control connection and one or more data connections,
opened, health-checked and closed through the node's ``TransportPool``.

The node acquires them all at start and holds them while it runs; at close the pool
closes them in order, data first (their drain delivers what they already received),
control last (after the goodbye heartbeat). Each connection is named
``<system>/<node>/<role>`` for the server's monitoring, notices failure in seconds
(ping every 2 s, 2 outstanding), reconnects forever with a wait drawn per connection,
and has every callback logged and counted.

``security_options`` turns ``NatsTransport``'s authentication, TLS and inbox options
into the NATS client's, checked once, at construction (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nats
import nats.errors
from nats.aio.client import Client

from actors.lowlevel import get_logger

from ._errors import TransportUnavailable
from ._pool import TransportPool

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["Connections", "security_options"]

log = get_logger("actors.transport")

# One or more dot-separated tokens, none empty, no wildcard, no whitespace.
_SUBJECT_PREFIX = re.compile(r"[^\s.*>]+(\.[^\s.*>]+)*")
# What an nkeys seed looks like (S, then the key type, base32): a value, not a path.
_NKEYS_SEED = re.compile(r"S[A-Z][A-Z2-7]{50,}")

PathLike = str | os.PathLike[str]


def security_options(
    *,
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    nkeys_seed: PathLike | None = None,
    creds: PathLike | None = None,
    tls: ssl.SSLContext | None = None,
    tls_ca: PathLike | None = None,
    tls_cert: PathLike | None = None,
    tls_key: PathLike | None = None,
    tls_server_name: str | None = None,
    inbox_prefix: str | None = None,
) -> dict[str, Any]:
    """The NATS client's ``connect`` options for these settings (only those given).

    Raises ``ValueError`` for settings that contradict each other or are malformed and
    ``FileNotFoundError`` for a file that is not there, naming the option, so that a
    misconfigured node fails when it is built, not on its first reconnect.
    """
    options: dict[str, Any] = {}
    if (user is None) != (password is None):
        raise ValueError("user and password go together: give both or neither")
    ways = [
        name
        for name, value in (("user", user), ("token", token), ("nkeys_seed", nkeys_seed))
        if value is not None
    ] + (["creds"] if creds is not None else [])
    if len(ways) > 1:
        raise ValueError(f"choose one way to authenticate, got {' and '.join(ways)}")
    if user is not None:
        options.update(user=user, password=password)
    if token is not None:
        if not token:
            raise ValueError("token must not be empty")
        options["token"] = token
    if nkeys_seed is not None:
        if _NKEYS_SEED.fullmatch(str(nkeys_seed)):
            raise ValueError(
                "nkeys_seed is the path of a file holding the seed, not the seed itself "
                "(keep seeds out of code and command lines)"
            )
        options["nkeys_seed"] = str(_existing("nkeys_seed", nkeys_seed))
    if creds is not None:
        options["user_credentials"] = str(_existing("creds", creds))
    context = _tls_context(tls, tls_ca, tls_cert, tls_key, tls_server_name)
    if context is not None:
        options["tls"] = context
    if tls_server_name is not None:
        if not tls_server_name or any(c.isspace() for c in tls_server_name):
            raise ValueError(f"tls_server_name must be a host name, got {tls_server_name!r}")
        options["tls_hostname"] = tls_server_name
    if inbox_prefix is not None:
        if not _SUBJECT_PREFIX.fullmatch(inbox_prefix):
            raise ValueError(
                "inbox_prefix must be dot-separated subject tokens without wildcards or "
                f"whitespace (e.g. `_INBOX_node1`), got {inbox_prefix!r}"
            )
        options["inbox_prefix"] = inbox_prefix
    return options


def _tls_context(
    tls: ssl.SSLContext | None,
    ca: PathLike | None,
    cert: PathLike | None,
    key: PathLike | None,
    server_name: str | None,
) -> ssl.SSLContext | None:
    """``tls`` as given, else one built from the files (None: no TLS settings)."""
    if tls is not None:
        if ca is not None or cert is not None or key is not None:
            raise ValueError("give either tls (an ssl.SSLContext) or tls_ca/tls_cert/tls_key")
        if not isinstance(tls, ssl.SSLContext):
            raise TypeError(f"tls must be an ssl.SSLContext, got {type(tls).__name__}")
        return tls
    if (cert is None) != (key is None):
        raise ValueError("tls_cert and tls_key go together: the client certificate and its key")
    if ca is None and cert is None and server_name is None:
        return None
    # The system's trusted roots unless tls_ca names the CA that signed the server's
    # certificate; the host name is checked (against tls_server_name when given).
    cafile = None if ca is None else str(_existing("tls_ca", ca))
    try:
        context = ssl.create_default_context(cafile=cafile)
    except ssl.SSLError as exc:
        raise ValueError(f"tls_ca: {cafile} holds no usable CA certificate: {exc}") from exc
    if cert is not None and key is not None:
        certfile, keyfile = _existing("tls_cert", cert), _existing("tls_key", key)
        try:
            context.load_cert_chain(certfile, keyfile)
        except ssl.SSLError as exc:
            raise ValueError(
                f"tls_cert/tls_key: {certfile} and {keyfile} are not a certificate and its "
                f"private key: {exc}"
            ) from exc
    return context


def _existing(option: str, path: PathLike) -> Path:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{option}: no file at {file}")
    return file


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

        # Why the first connection failed, as the server or TLS said it (nats-py reports
        # it here and then raises only "no servers available").
        refusals: list[Exception] = []

        async def on_error(error: Exception) -> None:
            if not client.is_connected:
                refusals.append(error)
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

        settings = dict(node.auth)
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
        # One round over the servers takes at most a connect timeout each (plus nats-py's
        # wait between them); past twice that, the first connect is stuck (nats-py 2.16
        # never returns when the client refuses the server's TLS certificate).
        deadline = 2 * (node.connect_timeout + 0.75) * len(node.servers)
        try:
            try:
                async with asyncio.timeout(deadline):
                    await client.connect(**settings)
            except TimeoutError:
                await _abandon(client)
                raise
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            why = "".join(dict.fromkeys(f"; {type(e).__name__}: {e}" for e in refusals))
            raise TransportUnavailable(
                f"cannot connect to NATS at {node.servers}: {type(exc).__name__}: {exc}{why}"
            ) from exc
        client.options["max_reconnect_attempts"] = -1
        return client


async def _abandon(client: Client) -> None:
    """Close a client whose first connect was given up: nats-py may still hold its
    stream and tasks."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await client.close()
    attempt = client._transport
    if attempt is not None:
        attempt.close()  # type: ignore[no-untyped-call]
