"""Durable mailboxes: at-least-once across a server crash, kept while the actor is down."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from actors.supervision import ChildSpec, SupervisorSpec
from actors.transport import NatsTransport
from actors.transport._remote import DurableRef

from actors import Actor, ActorSystem
from tests.natsutil import NatsServer


class Entry(msgspec.Struct, frozen=True):
    n: int


class Ledger(Actor):
    """Records entries; resolves ``done`` once every number in ``want`` was seen."""

    durable = True

    def __init__(self, seen: list[int], want: int, done: asyncio.Future[None]) -> None:
        self.seen = seen
        self.want = want
        self.done = done

    async def receive(self, message: Any) -> None:
        if isinstance(message, Entry):
            self.seen.append(message.n)
            if len(set(self.seen)) >= self.want and not self.done.done():
                self.done.set_result(None)


class Flaky(Actor):
    """Crashes the first time it sees each entry: the redelivery must bring it back."""

    durable = True

    def __init__(self, crashed: set[int], handled: list[int], done: asyncio.Future[None]) -> None:
        self.crashed = crashed
        self.handled = handled
        self.done = done

    async def receive(self, message: Any) -> None:
        if isinstance(message, Entry):
            if message.n not in self.crashed:
                self.crashed.add(message.n)
                raise RuntimeError(f"first delivery of {message.n} fails")
            self.handled.append(message.n)
            if not self.done.done():
                self.done.set_result(None)


def node(server: NatsServer, node_id: str) -> NatsTransport:
    return NatsTransport([server.url], types=[Entry], node_id=node_id)


async def test_durable_tells_survive_a_server_crash_none_lost(nats_server: NatsServer) -> None:
    seen: list[int] = []
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    async with (
        ActorSystem("bank", transport=node(nats_server, "n1")) as a,
        ActorSystem("bank", transport=node(nats_server, "n2")) as b,
    ):
        ledger = await a.spawn(Ledger, seen, 150, done, name="ledger")
        assert isinstance(ledger, DurableRef)
        remote = await b.lookup("ledger")
        assert remote is not None
        for n in range(50):
            remote.tell(Entry(n))
        for n in range(50, 100):
            ledger.tell(Entry(n))
        await nats_server.kill()
        for n in range(100, 150):  # sent while the server is down: stored after restart
            remote.tell(Entry(n))
        await nats_server.restart()
        await asyncio.wait_for(done, 20)
    assert set(seen) == set(range(150))  # at least once: duplicates allowed, losses not


async def test_durable_messages_wait_for_the_next_incarnation(nats_server: NatsServer) -> None:
    loop = asyncio.get_running_loop()
    seen: list[int] = []
    transport = node(nats_server, "n1")
    async with ActorSystem("bank", transport=transport) as system:
        first = await system.spawn(Ledger, seen, 10, loop.create_future(), name="ledger")
        await system.stop(first)
        mailbox = transport.durable("ledger")
        for n in range(10):  # no ledger runs now: JetStream keeps them
            mailbox.tell(Entry(n))
        done: asyncio.Future[None] = loop.create_future()
        await system.spawn(Ledger, seen, 10, done, name="ledger")
        await asyncio.wait_for(done, 10)
    assert set(seen) == set(range(10))


async def test_durable_message_redelivered_after_a_crash(nats_server: NatsServer) -> None:
    crashed: set[int] = set()
    handled: list[int] = []
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    async with ActorSystem("bank", transport=node(nats_server, "n1")) as a:
        tree = SupervisorSpec(
            max_restarts=5,
            children=[
                ChildSpec(id="flaky", actor=Flaky, args=[crashed, handled, done], name="flaky")
            ],
        )
        await a.spawn_tree(tree)
        ref = a.whereis("flaky")
        assert ref is not None
        ref.tell(Entry(7))
        await asyncio.wait_for(done, 10)
    assert crashed == {7} and handled == [7]
