"""Pools of interchangeable actors on NATS queue groups."""

from __future__ import annotations

import asyncio
import collections
import itertools
from typing import Any

import msgspec
import pytest
from actors.transport import NatsTransport

from actors import Actor, ActorNotFound, ActorSystem
from tests.natsutil import NatsServer

_systems = itertools.count(1)


class Job(msgspec.Struct, frozen=True):
    n: int


class Member(Actor):
    """Answers which node handled the job and counts what it got."""

    def __init__(self, node: str, seen: collections.Counter[str]) -> None:
        self.node = node
        self.seen = seen

    async def receive(self, message: Any) -> str:
        self.seen[self.node] += 1
        return self.node


def transport(server: NatsServer, node: str) -> NatsTransport:
    return NatsTransport([server.url], types=[Job], node_id=node)


async def test_pool_messages_shared_among_members_on_both_nodes(
    nats_server_shared: NatsServer,
) -> None:
    name = f"pools{next(_systems)}"
    seen: collections.Counter[str] = collections.Counter()
    ta, tb = transport(nats_server_shared, "a"), transport(nats_server_shared, "b")
    async with ActorSystem(name, transport=ta) as a, ActorSystem(name, transport=tb) as b:
        await ta.join_pool("workers", await a.spawn(Member, "a", seen))
        await tb.join_pool("workers", await b.spawn(Member, "b", seen))
        pool = ta.pool("workers")
        answers = [await pool.ask(Job(n), timeout=2) for n in range(60)]
    assert set(answers) == {"a", "b"}, "every job went to the same node"
    assert sum(seen.values()) == 60


async def test_pool_ask_without_members_fails_at_once(
    nats_server_shared: NatsServer,
) -> None:
    name = f"pools{next(_systems)}"
    ta = transport(nats_server_shared, "a")
    async with ActorSystem(name, transport=ta):
        with pytest.raises(ActorNotFound, match="no responders"):
            async with asyncio.timeout(2):
                await ta.pool("nobody").ask(Job(1), timeout=5)


async def test_pool_member_that_left_gets_nothing_more(
    nats_server_shared: NatsServer,
) -> None:
    name = f"pools{next(_systems)}"
    seen: collections.Counter[str] = collections.Counter()
    ta, tb = transport(nats_server_shared, "a"), transport(nats_server_shared, "b")
    async with ActorSystem(name, transport=ta) as a, ActorSystem(name, transport=tb) as b:
        leaving = await a.spawn(Member, "a", seen)
        await ta.join_pool("workers", leaving)
        await tb.join_pool("workers", await b.spawn(Member, "b", seen))
        await ta.leave_pool("workers", leaving)
        pool = tb.pool("workers")
        answers = {await pool.ask(Job(n), timeout=2) for n in range(20)}
    assert answers == {"b"}
