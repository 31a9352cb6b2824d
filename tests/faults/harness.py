"""The fault suite's cluster, traffic and checker (see ``test_scenarios.py``).

A scenario runs two nodes in this process, ``n1`` and ``n2`` (``n2`` through a
``TcpProxy``, so that its link can be cut), and, for the node faults, a node in its own
process (``n3``, ``NodeProcess``: SIGKILL, restart). ``n2`` hosts ``svc`` (answers
pings) and the durable ``ledger``; ``n1`` watches ``svc`` (and ``n3``'s ``victim``)
and sends steady traffic: a durable tell and an ask to ``svc`` every ``PACE`` seconds.
The ``Checker`` counts, per scenario, what the issue says must be zero, and the time
from the end of the fault to the first answered ask.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from actors.transport import NatsTransport, RemoteRef, TransportUnavailable

from actors import (
    Actor,
    ActorNotFound,
    ActorRef,
    ActorSystem,
    AskTimeout,
    MemberEvent,
    MemberReachable,
    MemberUp,
    Terminated,
)
from tests.natsutil import NatsServer, TcpProxy
from tests.transport.nats_support import TYPES, Ping, Pong, unique_system

HEARTBEAT, MISSES = 0.5, 3
SILENCE = HEARTBEAT * MISSES
DOWN_AFTER = 2 * SILENCE
ASK_TIMEOUT = 1.0
PACE = 0.05  # the traffic's rate: one tell and one ask per PACE seconds
SLACK = 1.0  # an ask "outlived its timeout" past ASK_TIMEOUT + SLACK (a loaded machine)
WAIT = 20.0  # a bound on settling; reaching it is a failure, not a pass


class Entry(msgspec.Struct, frozen=True):
    n: int


class Ledger(Actor):
    """Durable: counts each entry it handles."""

    durable = True

    def __init__(self, handled: dict[int, int], arrived: asyncio.Event) -> None:
        self.handled = handled
        self.arrived = arrived

    async def receive(self, message: Any) -> None:
        if isinstance(message, Entry):
            self.handled[message.n] = self.handled.get(message.n, 0) + 1
            self.arrived.set()


class Svc(Actor):
    async def receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return Pong(message.n + 1)
        return None


class Observer(Actor):
    """Watches what it is told to (a ref) and records every Terminated and event."""

    def __init__(self, seen: list[Any], changed: asyncio.Event) -> None:
        self.seen = seen
        self.changed = changed

    async def receive(self, message: Any) -> Any:
        if isinstance(message, RemoteRef):
            self.watch(message)
            return None
        self.seen.append(message)
        self.changed.set()
        return None


@dataclass
class Row:
    """One scenario's figures (the table in docs/reliability.md)."""

    scenario: str
    durable_sent: int = 0
    durable_lost: int = 0
    handled_twice: int = 0
    asks: int = 0
    asks_outlived: int = 0
    watches_unended: int = 0
    names_lost: int = 0
    names_doubled: int = 0
    false_terminated: int = 0
    tasks_left: int = 0
    recover_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def zeros(self) -> dict[str, int]:
        """The figures that must be zero."""
        return {
            "durable_lost": self.durable_lost,
            "asks_outlived": self.asks_outlived,
            "watches_unended": self.watches_unended,
            "names_lost": self.names_lost,
            "names_doubled": self.names_doubled,
            "false_terminated": self.false_terminated,
            "tasks_left": self.tasks_left,
        }


def transport(url: str, node_id: str) -> NatsTransport:
    return NatsTransport(
        [url], types=[*TYPES, Entry], node_id=node_id, heartbeat=HEARTBEAT, misses=MISSES
    )


async def until(event: asyncio.Event, done: Callable[[], bool], what: str) -> None:
    """Wait (bounded by WAIT) until ``done()``, checked again each time ``event`` fires."""
    try:
        async with asyncio.timeout(WAIT):
            while not done():
                event.clear()
                await event.wait()
    except TimeoutError:
        raise AssertionError(f"never, within {WAIT} s: {what}") from None


class Cluster:
    """n1, n2 (through ``proxy``), their actors, the traffic and the records."""

    def __init__(self, server: NatsServer, proxy: TcpProxy, system: str) -> None:
        self.server, self.proxy, self.system = server, proxy, system
        self.handled: dict[int, int] = {}
        self.arrived = asyncio.Event()
        self.seen: list[Any] = []  # n1's observer: Terminated notices and member events
        self.changed = asyncio.Event()
        self.sent = 0
        self.asks: list[float] = []  # elapsed time of every ask
        self.answered = asyncio.Event()
        self.last_answer = 0.0
        self.a: ActorSystem
        self.b: ActorSystem
        self.observer: ActorRef
        self.svc: ActorRef

    async def traffic(self) -> None:
        """A durable tell and an ask every PACE seconds (a load generator's rate)."""
        ledger = self.a.transport.durable("ledger")  # type: ignore[union-attr]
        named = self.a.transport.named("svc")  # type: ignore[union-attr]
        while True:
            ledger.tell(Entry(self.sent))
            self.sent += 1
            started = time.monotonic()
            try:
                await named.ask(Ping(self.sent), timeout=ASK_TIMEOUT)
                self.last_answer = time.monotonic()
                self.answered.set()
            except (AskTimeout, ActorNotFound, TransportUnavailable):
                pass
            self.asks.append(time.monotonic() - started)
            await asyncio.sleep(PACE)

    async def recovered(self, since: float) -> float:
        """Seconds from ``since`` to the first ask answered after it."""
        await until(self.answered, lambda: self.last_answer > since, "an answered ask")
        return self.last_answer - since

    def member_up(self, node: str) -> bool:
        """Whether n1's latest membership event about ``node`` says it is up."""
        about = [e for e in self.seen if isinstance(e, MemberEvent) and e.node == node]
        return bool(about) and type(about[-1]) in (MemberUp, MemberReachable)

    def terminated(self, path: str) -> list[Terminated]:
        return [e for e in self.seen if isinstance(e, Terminated) and e.ref.path == path]


@contextlib.asynccontextmanager
async def cluster(server: NatsServer, *, partition: bool = False) -> AsyncIterator[Cluster]:
    """The scenario's cluster; with ``partition``, n2 reaches the server through the
    proxy (only then: a proxy in front of a dead server accepts connections and drops
    them, and nats-py leaves the stream of such an attempt unclosed)."""
    system = unique_system()
    async with TcpProxy.to(server) as proxy:
        world = Cluster(server, proxy, system)
        async with (
            ActorSystem(system, transport=transport(server.url, "n1")) as a,
            ActorSystem(
                system, transport=transport(proxy.url if partition else server.url, "n2")
            ) as b,
        ):
            world.a, world.b = a, b
            world.observer = await a.spawn(Observer, world.seen, world.changed)
            await a.subscribe(world.observer, MemberEvent)
            world.svc = await b.spawn(Svc, name="svc")
            await b.spawn(Ledger, world.handled, world.arrived, name="ledger")
            await until(world.changed, lambda: world.member_up("n2"), "n1 hears n2")
            found = await a.lookup("svc")
            assert found is not None
            world.observer.tell(found)
            async with asyncio.TaskGroup() as group:
                traffic = group.create_task(world.traffic())
                await until(world.answered, lambda: len(world.asks) >= 5, "traffic flows")
                try:
                    yield world
                finally:
                    traffic.cancel()


async def settle_and_count(world: Cluster, row: Row, names: dict[str, ActorSystem]) -> None:
    """Wait for the cluster to settle, then count: every durable entry handled, names
    held once (by the node in ``names``), asks within their timeout."""
    await until(world.changed, lambda: world.member_up("n2"), "n1 hears n2 again")
    sent = world.sent
    await until(
        world.arrived, lambda: all(n in world.handled for n in range(sent)), "durable delivery"
    )
    row.durable_sent = sent
    row.durable_lost = sum(1 for n in range(sent) if n not in world.handled)
    row.handled_twice = sum(count - 1 for count in world.handled.values() if count > 1)
    row.asks = len(world.asks)
    row.asks_outlived = sum(1 for elapsed in world.asks if elapsed > ASK_TIMEOUT + SLACK)
    for name, holder in names.items():
        holders = [s for s in (world.a, world.b) if s.whereis(name) is not None]
        row.names_doubled += len(holders) > 1
        found = await world.a.lookup(name)
        mine = holder.whereis(name)
        if found is None or mine is None or found.path != mine.path:
            row.names_lost += 1
            row.notes.append(f"`{name}` lost: found {found!r}, held by {mine!r}")


def record(row: Row) -> None:
    """Append ``row`` to the report ``make faults`` turns into docs/reliability.md."""
    report = os.environ.get("FAULTS_REPORT")
    if report:
        with Path(report).open("a") as out:
            out.write(json.dumps(asdict(row)) + "\n")


Fault = Callable[[Cluster], Awaitable[None]]
