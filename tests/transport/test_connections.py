"""The node's connections through its ``TransportPool``: what it holds while running,
closed in order at the end, and several data connections keeping every guarantee."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from actors.transport import NatsTransport, PoolStats, TransportUnavailable

from actors import Actor, ActorNotFound, ActorSystem
from tests.natsutil import NatsServer
from tests.transport.nats_support import (
    WAIT,
    Echo,
    Inbox,
    Note,
    Ping,
    Pong,
    Watcher,
    ghost_ref,
    node,
    two_nodes,
    unique_system,
)


@pytest.mark.parametrize("data_connections", [1, 3])
async def test_a_node_holds_its_connections_from_the_pool_and_closes_them_all(
    url: str, data_connections: int
) -> None:
    transport = node(url, "n1", data_connections=data_connections)
    held = data_connections + 1  # and the control connection
    async with ActorSystem(unique_system(), transport=transport):
        assert transport.connections.stats() == PoolStats(
            size=held, idle=0, busy=held, waiting=0, created=held, closed=0, unhealthy=0
        )
        assert transport.connections.max_size == held
    assert transport.connections.stats() == PoolStats(
        size=0, idle=0, busy=0, waiting=0, created=held, closed=held, unhealthy=0
    )
    with pytest.raises(TransportUnavailable, match="pool is closed"):
        await transport.connections.acquire()


def test_at_least_one_data_connection() -> None:
    with pytest.raises(ValueError, match="data_connections >= 1, got 0"):
        NatsTransport(data_connections=0)


async def test_a_failed_start_leaves_no_connection_open() -> None:
    transport = NatsTransport(["nats://127.0.0.1:1"], connect_timeout=0.5)
    with pytest.raises(TransportUnavailable, match="cannot connect to NATS"):
        async with ActorSystem(unique_system(), transport=transport):
            pass
    assert transport.connections.stats().size == 0


async def test_the_health_check_is_a_ping_the_server_answers(nats_server: NatsServer) -> None:
    transport = node(nats_server.url, "n1", connect_timeout=0.5)
    async with ActorSystem(unique_system(), transport=transport):
        client = transport.node.data
        assert client is not None
        assert await transport.node.links.healthy(client)
        nats_server.pause()
        try:
            assert not await transport.node.links.healthy(client)  # no PONG within the timeout
        finally:
            nats_server.resume()
        # The late PONG does not break the connection (nats-py's own rtt() would).
        assert await transport.node.links.healthy(client)
        assert transport.counters["disconnects"] == 0
        assert transport.counters["errors"] == 0


class Numbered(Actor):
    """Records every message in ``inbox``; answers ``Ping``."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def receive(self, message: Any) -> Any:
        self.inbox.put(message)
        if isinstance(message, Ping):
            return Pong(message.n + 1)
        return None


async def test_with_several_data_connections_each_destination_keeps_its_order(url: str) -> None:
    actors, per_actor = 8, 200
    async with two_nodes(url, data_connections=3) as (a, b):
        inboxes = [Inbox() for _ in range(actors)]
        for i, inbox in enumerate(inboxes):
            await a.spawn(Numbered, inbox, name=f"w{i}")
        refs = [await b.lookup(f"w{i}") for i in range(actors)]
        lanes = {b.transport.node.lane(ref.subject) for ref in refs}  # type: ignore[union-attr]
        assert len(lanes) > 1, "the destinations should spread over the data connections"
        for n in range(per_actor):
            for ref in refs:
                assert ref is not None
                if n % 50 == 49:
                    assert await ref.ask(Ping(n), timeout=WAIT) == Pong(n + 1)
                else:
                    ref.tell(Note(str(n)))
        for inbox in inboxes:
            items = await inbox.count(per_actor)
            numbers = [int(m.text) if isinstance(m, Note) else m.n for m in items]
            assert numbers == list(range(per_actor))


async def test_with_several_data_connections_asks_to_nobody_fail_at_once_on_each(
    url: str,
) -> None:
    async with two_nodes(url, data_connections=2) as (_, b):
        ghosts = [ghost_ref(b, "ghost", f"nobody{i}") for i in range(16)]
        lanes = {b.transport.node.lane(ghost.subject) for ghost in ghosts}  # type: ignore[union-attr]
        assert len(lanes) == 2
        for ghost in ghosts:
            with pytest.raises(ActorNotFound, match="no responders"):
                async with asyncio.timeout(1.0):
                    await ghost.ask(Ping(1), timeout=WAIT)


async def test_with_several_data_connections_replies_events_and_watch_work(url: str) -> None:
    async with two_nodes(url, data_connections=2) as (a, b):
        inbox = Inbox()
        echo = await a.spawn(Echo, None, name="echo")
        remote = await b.lookup("echo")
        assert remote is not None and await remote.ask(Ping(1), timeout=WAIT) == Pong(2)
        listener = await a.spawn(Numbered, inbox)
        await a.subscribe(listener, Note)
        b.publish(Note("event"))
        assert await inbox.first() == Note("event")
        terminated = Inbox()
        await b.spawn(Watcher, remote, terminated)
        await a.stop(echo)
        (notice,) = await terminated.count(1)
        assert notice.ref == remote


async def test_the_node_figures_are_in_the_system_metrics_and_its_prometheus_text(
    url: str,
) -> None:
    system = unique_system()
    async with (
        ActorSystem(system, transport=node(url, "n1")) as a,
        ActorSystem(system, transport=node(url, "n2", data_connections=2), sample_latency=1) as b,
    ):
        await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        for i in range(5):
            assert await ref.ask(Ping(i), timeout=WAIT) == Pong(i + 1)
        metrics = b.metrics()
        assert metrics.ask_latency.count == 5
        figures = metrics.transport
        assert figures["connections_open"] == 3
        assert figures["connections_created_total"] == 3
        assert figures["connected"] == 1
        assert figures["asks_pending"] == 0
        assert figures["peers_down"] == 0
        assert figures["publish_failures_total"] == 0
        text = metrics.prometheus()
        assert f'actors_transport_connections_open{{system="{b.name}"}} 3.0' in text
        assert f'actors_transport_reconnects_total{{system="{b.name}"}} 0.0' in text
