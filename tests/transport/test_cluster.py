"""A cluster you can trust (issue 11): membership, watches that always end, names never
lost or held twice, names that never collide on the wire.

Each observation of the issue is a test here (real nats-server; a real node process
where a SIGKILL is needed). The outages are fault durations (the server stays down or
paused that long), never waits for a result: results are awaited on events, replies
and log events, bounded."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from actors.transport import NatsTransport, RemoteRef

from actors import (
    Actor,
    ActorCrashed,
    ActorStopped,
    ActorSystem,
    Member,
    MemberDown,
    MemberEvent,
    MemberStatus,
    MemberUnreachable,
    MemberUp,
    NameConflict,
    Terminated,
)
from tests.natsutil import NatsServer
from tests.transport.nats_support import (
    PREFIX,
    WAIT,
    Echo,
    Inbox,
    LogEvents,
    NodeProcess,
    Note,
    Ping,
    Pong,
    Watcher,
    ask_until_answered,
    node,
    raw_client,
    two_nodes,
    unique_system,
)

HEARTBEAT, MISSES = 0.2, 3
SILENCE = HEARTBEAT * MISSES


class Recorder(Actor):
    """Puts every event it is subscribed to into ``inbox``."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def receive(self, message: Any) -> None:
        self.inbox.put(message)


async def record(system: ActorSystem, *types: type) -> Inbox:
    inbox = Inbox()
    ref = await system.spawn(Recorder, inbox)
    for kind in types:
        await system.subscribe(ref, kind)
    return inbox


async def beats_of(url: str, system: str, node_id: str, count: int) -> None:
    """Return once ``node_id`` has sent ``count`` more heartbeats (seen by the server)."""
    async with raw_client(url) as nc:
        sub = await nc.subscribe(f"{PREFIX}.{system}.hb.{node_id}")
        for _ in range(count):
            await sub.next_msg(timeout=WAIT)


async def reconnected(logs: LogEvents, mark: int, *nodes: str) -> None:
    for node_id in nodes:
        for role in ("control", "data"):
            await logs.wait_for("nats reconnected", node=node_id, connection=role, after=mark)


# ---------------------------------------------------------------------- membership


async def test_cluster_without_transport_is_this_node_up() -> None:
    async with ActorSystem("solo") as system:
        members = system.cluster.members()
    assert system.cluster.node == "local"
    assert len(members) == 1 and members[0].node == "local"
    assert members[0].status == MemberStatus.UP and members[0].since <= time.time()


async def test_members_up_then_down_after_goodbye_with_events(url: str) -> None:
    system = unique_system()
    options = {"heartbeat": HEARTBEAT, "misses": MISSES}
    async with ActorSystem(system, transport=node(url, "n1", **options)) as a:
        events = await record(a, MemberEvent)
        before = time.time()
        async with ActorSystem(system, transport=node(url, "n2", **options)) as b:
            assert b.cluster.node == "n2"
            assert await events.first() == MemberUp("n2")
            members = a.cluster.members()
            assert [m.node for m in members] == ["n1", "n2"]
            assert all(m.status == MemberStatus.UP for m in members)
            assert members[1].since >= before
        assert (await events.count(2))[1] == MemberDown("n2")
        (n2,) = [m for m in a.cluster.members() if m.node == "n2"]
        assert n2.status == MemberStatus.DOWN and isinstance(n2, Member)
        assert a.metrics().transport["peers_alive"] == 0


async def test_member_killed_is_unreachable_then_down(nats_server: NatsServer) -> None:
    system = unique_system()
    options = {"heartbeat": HEARTBEAT, "misses": MISSES}
    async with ActorSystem(system, transport=node(nats_server.url, "n1", **options)) as a:
        events = await record(a, MemberEvent)
        async with NodeProcess(nats_server.url, system, "victim-node", HEARTBEAT, MISSES) as proc:
            assert await events.first() == MemberUp("victim-node")
            proc.kill()
            seen = await events.count(3, timeout=WAIT + 4 * SILENCE)
        assert seen[1:3] == [MemberUnreachable("victim-node"), MemberDown("victim-node")]


# ---------------------------------------------------------------------- observation 1


async def test_watch_of_a_node_killed_before_first_contact_ends_with_nodedown(
    nats_server: NatsServer,
) -> None:
    """The victim beats once as it starts, then every 30 s: the watcher, started after
    it, never hears it before the kill."""
    system = unique_system()
    options = {"heartbeat": HEARTBEAT, "misses": MISSES}
    async with (
        NodeProcess(nats_server.url, system, "victim-node", heartbeat=30.0) as proc,
        ActorSystem(system, transport=node(nats_server.url, "n1", **options)) as a,
    ):
        ref = await a.lookup("victim")
        assert isinstance(ref, RemoteRef)
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)
        inbox = Inbox()
        watcher = await a.spawn(Watcher, ref, inbox)
        await watcher.ask(Note("sync"), timeout=WAIT)  # the watch is sent
        proc.kill()
        terminated = await inbox.first(timeout=WAIT + SILENCE)
        assert terminated == Terminated(ref, "nodedown")
        assert a.cluster.members()[1] == Member(
            "victim-node", MemberStatus.UNREACHABLE, a.cluster.members()[1].since
        )


# ---------------------------------------------------------------------- observations 2, 3


async def settle_two(logs: LogEvents, mark: int, url: str, system: str) -> None:
    """Both nodes reconnected and beating again, seen by the server."""
    await reconnected(logs, mark, "n1", "n2")
    await beats_of(url, system, "n1", 2)
    await beats_of(url, system, "n2", 2)


class Counter(Actor):
    """Counts the notes it handles into the ``handled`` list shared by the test."""

    def __init__(self, handled: list[str]) -> None:
        self.handled = handled

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Note):
            self.handled.append(message.text)
        return "ok"


@pytest.mark.parametrize("fault", ["kill", "pause"])
async def test_server_outage_neither_loses_nor_doubles_a_live_nodes_name(
    nats_server: NatsServer, logs: LogEvents, fault: str
) -> None:
    system = unique_system()
    options = {"heartbeat": 0.5, "misses": 3}  # silent 1.5 s: less than the outage
    handled_a: list[str] = []
    handled_b: list[str] = []
    async with two_nodes(nats_server.url, system=system, **options) as (a, b):
        svc = await b.spawn(Counter, handled_b, name="svc")
        await beats_of(nats_server.url, system, "n2", 2)
        mark = logs.mark()
        if fault == "kill":
            await nats_server.kill()
            await asyncio.sleep(3.0)  # the outage
            await nats_server.start()
        else:
            nats_server.pause()
            await asyncio.sleep(3.0)  # the outage
            nats_server.resume()
            mark = logs.mark()
        if fault == "kill":
            await settle_two(logs, mark, nats_server.url, system)
        else:
            await beats_of(nats_server.url, system, "n1", 2)
            await beats_of(nats_server.url, system, "n2", 2)
        assert await ask_until_answered(a.transport.named("svc"), Note("probe")) == "ok"
        found = await a.lookup("svc")
        assert isinstance(found, RemoteRef) and found.node == "n2"
        with pytest.raises(ActorCrashed, match="already registered"):
            await a.spawn(Counter, handled_a, name="svc")
        named = a.transport.named("svc")
        for i in range(10):
            assert await named.ask(Note(f"m{i}"), timeout=WAIT) == "ok"
        assert handled_a == []
        assert [t for t in handled_b if t.startswith("m")] == [f"m{i}" for i in range(10)]
        assert svc.is_alive()


async def test_no_false_nodedown_while_only_the_server_is_paused(
    nats_server: NatsServer, logs: LogEvents
) -> None:
    system = unique_system()
    options = {"heartbeat": HEARTBEAT, "misses": MISSES}
    async with two_nodes(nats_server.url, system=system, **options) as (a, b):
        events = await record(a, MemberEvent)
        target = await b.spawn(Echo, name="target")
        ref = await a.lookup("target")
        assert ref is not None
        inbox = Inbox()
        watcher = await a.spawn(Watcher, ref, inbox)
        await watcher.ask(Note("sync"), timeout=WAIT)
        await beats_of(nats_server.url, system, "n2", 2)
        nats_server.pause()
        await asyncio.sleep(6 * SILENCE)  # the outage: long enough to judge anyone
        nats_server.resume()
        await beats_of(nats_server.url, system, "n1", 2)
        await beats_of(nats_server.url, system, "n2", 2)
        assert await ask_until_answered(ref, Ping(1)) == Pong(2)
        await b.stop(target)
        assert await inbox.first() == Terminated(ref, "shutdown")  # the first, and real, one
        assert not logs.events("node down: no heartbeat")
        assert not [e for e in events.items if not isinstance(e, MemberUp)]


# ---------------------------------------------------------------------- observation 4


class Keeper(Actor):
    """Durable; records what it handles into ``inbox``."""

    durable = True

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def receive(self, message: Any) -> Any:
        self.inbox.put(message)
        return "kept"


async def test_system_names_that_plain_names_confused_are_distinct(url: str) -> None:
    tag = uuid.uuid4().hex[:6]
    dotted, underscored = f"x{tag}.y", f"x{tag}_y"
    async with (
        ActorSystem(dotted, transport=node(url, "n1")) as one,
        ActorSystem(underscored, transport=node(url, "n2")) as two,
        ActorSystem(dotted, transport=node(url, "n3")) as three,
    ):
        await one.spawn(Echo, name="svc")
        await two.spawn(Echo, name="svc")  # another system: its own names
        found = await three.lookup("svc")
        assert isinstance(found, RemoteRef) and found.node == "n1"
        inboxes = (Inbox(), Inbox())
        for system, inbox in zip((one, two), inboxes, strict=True):
            await system.spawn(Keeper, inbox, name="ledger")
        for system in (one, two):
            system.transport.durable("ledger").tell(Note(system.name))
        for system, inbox in zip((one, two), inboxes, strict=True):
            assert await inbox.first() == Note(system.name)


async def test_durable_names_that_kv_keys_confused_are_distinct(url: str) -> None:
    async with ActorSystem(unique_system(), transport=node(url, "n1")) as system:
        first, second = Inbox(), Inbox()
        await system.spawn(Keeper, first, name="a.b")
        await system.spawn(Keeper, second, name="_612e62")
        system.transport.durable("a.b").tell(Note("to a.b"))
        system.transport.durable("_612e62").tell(Note("to _612e62"))
        assert await first.first() == Note("to a.b")
        assert await second.first() == Note("to _612e62")
        assert len(first.items) == 1 and len(second.items) == 1


# ---------------------------------------------------------------------- names


async def test_partitioned_holder_comes_back_older_claim_wins_newer_stops(
    nats_server: NatsServer, logs: LogEvents
) -> None:
    """n2 holds `svc`; its link is cut long enough to be judged down, and n1 takes the
    name. When the link heals, n2 re-asserts its (older) claim: n1's actor stops with
    reason `name_conflict` and a `NameConflict` event; tells reach n2's only."""
    from tests.natsutil import TcpProxy

    system = unique_system()
    options = {"heartbeat": HEARTBEAT, "misses": MISSES}
    async with (
        TcpProxy.to(nats_server) as proxy,
        ActorSystem(system, transport=node(nats_server.url, "n1", **options)) as a,
        ActorSystem(system, transport=node(proxy.url, "n2", **options)) as b,
    ):
        events = await record(a, MemberEvent, NameConflict, ActorStopped)
        handled_a: list[str] = []
        handled_b: list[str] = []
        await b.spawn(Counter, handled_b, name="svc")
        await events.until(lambda items: MemberUp("n2") in items)
        proxy.cut()
        await events.until(lambda items: MemberDown("n2") in items, timeout=WAIT + 4 * SILENCE)
        mine = await a.spawn(Counter, handled_a, name="svc")  # n2 is down: free
        mark = logs.mark()
        proxy.heal()
        await reconnected(logs, mark, "n2")
        conflict = await events.until(lambda items: any(isinstance(e, NameConflict) for e in items))
        (event,) = [e for e in conflict if isinstance(e, NameConflict)]
        assert event == NameConflict("svc", winner="n2", loser=mine.path)
        stopped = await events.until(
            lambda items: any(isinstance(e, ActorStopped) and e.actor == mine.path for e in items)
        )
        assert [e.reason for e in stopped if isinstance(e, ActorStopped)] == ["name_conflict"]
        found = await a.lookup("svc")
        assert isinstance(found, RemoteRef) and found.node == "n2"
        for i in range(5):
            assert await a.transport.named("svc").ask(Note(f"m{i}"), timeout=WAIT) == "ok"
        assert handled_a == [] and handled_b == [f"m{i}" for i in range(5)]


async def test_a_node_judged_down_is_up_again_only_with_its_names_back(
    nats_server: NatsServer,
) -> None:
    """n2's link is cut until n1 judges it down and releases its names; when the link
    heals, n1 reports n2 up again only once n2 has re-asserted them: at `MemberUp`,
    every name n2 holds is found on n2 (it used to be announced up at its first
    heartbeat, with some names still missing)."""
    from tests.natsutil import TcpProxy

    system = unique_system()
    names = [f"svc{i}" for i in range(5)]
    options = {"heartbeat": HEARTBEAT, "misses": MISSES}
    async with (
        TcpProxy.to(nats_server) as proxy,
        ActorSystem(system, transport=node(nats_server.url, "n1", **options)) as a,
        ActorSystem(system, transport=node(proxy.url, "n2", **options)) as b,
    ):
        events = await record(a, MemberEvent)
        held = {name: await b.spawn(Counter, [], name=name) for name in names}
        await events.until(lambda items: MemberUp("n2") in items)
        proxy.cut()
        await events.until(lambda items: MemberDown("n2") in items, timeout=WAIT + 4 * SILENCE)
        for name in names:  # released: n2 is down
            assert await a.lookup(name) is None
        proxy.heal()
        await events.until(lambda items: items[-1] == MemberUp("n2"))
        found = {name: await a.lookup(name) for name in names}
        assert {name: ref and ref.path for name, ref in found.items()} == {
            name: ref.path for name, ref in held.items()
        }


async def test_a_restarted_node_releases_the_names_its_earlier_incarnation_left(
    nats_server: NatsServer,
) -> None:
    """n3 holds `victim` and is killed; it comes back at once under its id, now
    holding no name: `victim` is free (it used to stay registered to the dead actor)."""
    system = unique_system()
    options = {"heartbeat": HEARTBEAT, "misses": MISSES}
    async with ActorSystem(system, transport=node(nats_server.url, "n1", **options)) as a:
        crashed = NodeProcess(nats_server.url, system, "n3", HEARTBEAT, MISSES)
        try:
            await crashed.start()
            assert await a.lookup("victim") is not None
            crashed.kill()
        finally:
            await crashed.aclose()
        async with ActorSystem(system, transport=node(nats_server.url, "n3", **options)):
            assert await a.lookup("victim") is None
            await a.spawn(Counter, [], name="victim")  # free for anyone


@contextlib.asynccontextmanager
async def transports(url: str, system: str, count: int) -> AsyncIterator[list[ActorSystem]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                ActorSystem(system, transport=NatsTransport([url], node_id=f"r{i}"))
            )
            for i in range(count)
        ]


async def test_racing_claims_on_one_name_exactly_one_wins(url: str) -> None:
    system = unique_system()
    async with transports(url, system, 4) as systems:
        results = await asyncio.gather(
            *(s.spawn(Echo, name="prize") for s in systems), return_exceptions=True
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1, results
        found = await systems[0].lookup("prize")
        assert found is not None and found.path == winners[0].path
