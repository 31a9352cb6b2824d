"""The observer's cluster view (issue 16 on issue 11's ``system.cluster``): two real
nodes on the shared nats-server; the observer of one lists both ``up``, then the other
``down`` once it left, and its feed says when each changed."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from actors import ActorSystem, MemberReachable, MemberUnreachable, NameConflict
from tests.transport.nats_support import node, unique_system

from .support import push_until, statuses

OPTIONS = {"heartbeat": 0.2, "misses": 3}


async def test_the_observer_shows_a_node_join_then_leave(url: str) -> None:
    name = unique_system()
    before = time.time()
    observed = ActorSystem(name, transport=node(url, "n1", **OPTIONS), observe=("127.0.0.1", 0))
    async with (
        observed as a,
        aiohttp.ClientSession() as session,
        session.get(f"{a.observer_url}/api/events") as stream,
    ):
        async with ActorSystem(name, transport=node(url, "n2", **OPTIONS)):
            both = await push_until(stream, lambda s: len(statuses(s)) == 2)
            assert statuses(both) == {"n1": "up", "n2": "up"}
        await push_until(stream, lambda s: statuses(s)["n2"] == "down")
        async with session.get(f"{a.observer_url}/api/snapshot") as response:
            state = await response.json()
    assert state["cluster"]["node"] == "n1"
    assert statuses(state) == {"n1": "up", "n2": "down"}
    (n2,) = [m for m in state["cluster"]["members"] if m["node"] == "n2"]
    assert n2["since"] >= before
    changes = [(e["kind"], e["node"]) for e in state["feed"] if e["kind"].startswith("node")]
    assert changes == [("node up", "n2"), ("node down", "n2")]
    # The observer's own subscriber is an actor of the system, shown as such.
    assert "observer" in [row["name"] for row in state["tree"]]


async def test_without_a_transport_there_is_no_cluster_panel_and_no_subscriber() -> None:
    async with ActorSystem("solo", observe=("127.0.0.1", 0)) as system:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{system.observer_url}/api/snapshot") as response,
        ):
            state = await response.json()
        assert await system.subscriptions() == []
    assert state["cluster"] is None


async def test_the_feed_files_membership_changes_and_name_conflicts(url: str) -> None:
    # Published as the transport publishes them: the observer's subscriber files them.
    events = [
        MemberUnreachable("n3"),
        MemberReachable("n3"),
        NameConflict("orders", winner="n3", loser="shop/orders"),
    ]
    observed = ActorSystem(
        unique_system(), transport=node(url, "n1", **OPTIONS), observe=("127.0.0.1", 0)
    )
    async with (
        observed as a,
        aiohttp.ClientSession() as session,
        session.get(f"{a.observer_url}/api/events") as stream,
    ):
        await push_until(stream, lambda s: True)  # subscribed, streaming
        for event in events:
            a.publish(event)
        seen: list[dict[str, Any]] = []
        while len(seen) < len(events):
            seen += (await push_until(stream, lambda s: bool(s["feed"])))["feed"]
    rows = [(e["kind"], e["actor"], e.get("node"), e["reason"]) for e in seen]
    assert rows == [
        ("node unreachable", None, "n3", "silent: watches of its actors ended"),
        ("node reachable", None, "n3", "heard from again"),
        ("name conflict", "shop/orders", None, "`orders` kept by n3"),
    ]
