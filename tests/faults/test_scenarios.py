"""The fault suite (issue 11), Jepsen-style: real nats-server and node processes, steady
tell/ask/durable traffic, one fault per scenario, and a checker counting what must be
zero (see ``harness.py``). ``make test`` runs the short scenarios; ``make faults`` runs
them all (marker ``faults``) and regenerates the table in docs/reliability.md.

The outages are fault durations (the server stays down or paused that long); every
result is awaited on an event, bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors import (
    ActorStopped,
    MemberDown,
    MemberEvent,
    MemberUp,
    NameConflict,
    Terminated,
)
from tests.faults.harness import (
    DOWN_AFTER,
    HEARTBEAT,
    MISSES,
    Row,
    Svc,
    cluster,
    record,
    settle_and_count,
    until,
)
from tests.natsutil import NatsServer
from tests.transport.nats_support import NodeProcess, Ping, Pong


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[NatsServer]:
    async with NatsServer(name="faults", store_dir=tmp_path / "nats-store") as server:
        yield server


def check(row: Row) -> None:
    record(row)
    assert row.zeros() == dict.fromkeys(row.zeros(), 0), row


# ---------------------------------------------------------------------- the server


async def server_outage(nats_server: NatsServer, scenario: str, kind: str, seconds: float) -> Row:
    row = Row(scenario)
    async with cluster(nats_server) as world:
        svc_path = world.svc.path
        if kind == "kill":
            await nats_server.kill()
            await asyncio.sleep(seconds)  # the outage
            await nats_server.start()
        else:
            nats_server.pause()
            await asyncio.sleep(seconds)  # the outage
            nats_server.resume()
        row.recover_s = round(await world.recovered(time.monotonic()), 2)
        await settle_and_count(world, row, {"svc": world.b, "ledger": world.b})
        # Only the server was down: every nodedown of a live actor is false.
        row.false_terminated = len(world.terminated(svc_path))
    check(row)
    return row


async def test_server_killed_and_restarted_on_its_store(nats_server: NatsServer) -> None:
    await server_outage(nats_server, "server kill -9, 3 s, restart", "kill", 3.0)


@pytest.mark.faults
async def test_server_paused_5s(nats_server: NatsServer) -> None:
    await server_outage(nats_server, "server SIGSTOP 5 s", "pause", 5.0)


@pytest.mark.faults
async def test_server_paused_20s(nats_server: NatsServer) -> None:
    await server_outage(nats_server, "server SIGSTOP 20 s", "pause", 20.0)


# ---------------------------------------------------------------------- a node


async def node_killed(nats_server: NatsServer, scenario: str, *, contact: bool) -> Row:
    row = Row(scenario)
    async with cluster(nats_server) as world:
        proc = NodeProcess(nats_server.url, world.system, "n3", HEARTBEAT, MISSES)
        try:
            await proc.start()
            victim = await world.a.lookup("victim")
            assert victim is not None
            world.observer.tell(victim)
            if contact:
                await until(world.changed, lambda: world.member_up("n3"), "n1 hears n3")
            assert await victim.ask(Ping(1), timeout=5.0) == Pong(2)
            proc.kill()
            killed = time.monotonic()
            await until(world.changed, lambda: bool(world.terminated(victim.path)), "nodedown")
            row.recover_s = round(time.monotonic() - killed, 2)
            await until(world.changed, lambda: MemberDown("n3") in world.seen, "n3 down")
            # A down node's name is free: n1 takes it.
            await world.a.spawn(Svc, name="victim")
            await settle_and_count(world, row, {"svc": world.b, "victim": world.a})
        finally:
            await proc.aclose()
        row.watches_unended = 0 if world.terminated(victim.path) else 1
        assert world.terminated(victim.path)[0] == Terminated(victim, "nodedown")
    check(row)
    return row


async def test_node_killed_before_first_contact(nats_server: NatsServer) -> None:
    await node_killed(nats_server, "node kill -9 before first contact", contact=False)


async def test_node_killed_after_first_contact(nats_server: NatsServer) -> None:
    await node_killed(nats_server, "node kill -9 after first contact", contact=True)


@pytest.mark.faults
async def test_node_restarted_under_its_id(nats_server: NatsServer) -> None:
    row = Row("node kill -9 and restart (same id)")
    async with cluster(nats_server) as world:
        first = NodeProcess(nats_server.url, world.system, "n3", HEARTBEAT, MISSES)
        second = NodeProcess(nats_server.url, world.system, "n3", HEARTBEAT, MISSES)
        try:
            await first.start()
            await until(world.changed, lambda: world.member_up("n3"), "n1 hears n3")
            victim = await world.a.lookup("victim")
            assert victim is not None
            world.observer.tell(victim)
            assert await victim.ask(Ping(1), timeout=5.0) == Pong(2)
            first.kill()
            killed = time.monotonic()
            await second.start()  # at once: n3 may never be silent long enough
            await until(world.changed, lambda: bool(world.terminated(victim.path)), "nodedown")
            row.recover_s = round(time.monotonic() - killed, 2)
            await until(world.changed, lambda: world.member_up("n3"), "n3 up again")
            again = await world.a.lookup("victim")
            row.names_lost += again is None
            if again is not None:
                assert await again.ask(Ping(1), timeout=5.0) == Pong(2)
            await settle_and_count(world, row, {"svc": world.b})
        finally:
            await first.aclose()
            await second.aclose()
        row.watches_unended = 0 if world.terminated(victim.path) else 1
    check(row)


# ---------------------------------------------------------------------- a partition


@pytest.mark.faults
async def test_partition_of_one_node_then_heal(nats_server: NatsServer) -> None:
    """n2's link is cut until n1 judges it down and takes `svc`; when the link heals,
    n2's older claim wins and n1's `svc` stops with reason name_conflict."""
    row = Row("partition of one node (cut > down_after), heal")
    async with cluster(nats_server, partition=True) as world:
        await world.a.subscribe(world.observer, NameConflict)
        await world.a.subscribe(world.observer, ActorStopped)
        world.proxy.cut()
        await until(world.changed, lambda: MemberDown("n2") in world.seen, "n2 down")
        taken = await world.a.spawn(Svc, name="svc")
        world.proxy.heal()
        healed = time.monotonic()
        await until(
            world.changed,
            lambda: any(isinstance(e, NameConflict) for e in world.seen),
            "the name conflict resolved",
        )
        stopped = [e for e in world.seen if isinstance(e, ActorStopped) and e.actor == taken.path]
        await until(world.changed, lambda: bool(stopped) or taken.is_alive() is False, "stop")
        row.recover_s = round(await world.recovered(healed), 2)
        await settle_and_count(world, row, {"svc": world.b, "ledger": world.b})
        assert [e for e in world.seen if isinstance(e, MemberEvent) and e.node == "n2"][-1] in (
            MemberUp("n2"),
        )
    check(row)
    assert DOWN_AFTER > 0
