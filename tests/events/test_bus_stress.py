"""Load on the event bus: 100 publishers (50 actors, 50 plain tasks) each publish a few
events to 1,000 subscribers; every delivery is counted. Each subscriber must receive
every event exactly once (some are matched by two subscriptions), and each publisher's
events in the order they were published."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import msgspec
import pytest

from actors import Actor, ActorSystem

PUBLISHERS = 100  # the first half are actors, the second half tasks
SUBSCRIBERS = 1_000
EVENTS = 10  # per publisher
DELIVERIES = PUBLISHERS * EVENTS * SUBSCRIBERS  # 1,000,000


class Tick(msgspec.Struct, frozen=True):
    topic: ClassVar[str] = "stress.tick"

    publisher: int
    seq: int


class Go(msgspec.Struct):
    publisher: int


class Count(msgspec.Struct):
    """Answered with ``(ticks received, next expected seq per publisher)``."""


class Ledger:
    """Counters shared by every subscriber; single-threaded, so plain ints are exact."""

    def __init__(self) -> None:
        self.delivered = 0
        self.out_of_order = 0  # a tick whose seq is not the next one of its publisher
        self.all_delivered = asyncio.Event()


class Counter(Actor):
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.next_seq = [0] * PUBLISHERS
        self.received = 0

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Count):
            return self.received, list(self.next_seq)
        if not isinstance(message, Tick):
            return None  # "*" subscribers may see runtime events (at shutdown)
        ledger = self.ledger
        if message.seq != self.next_seq[message.publisher]:
            ledger.out_of_order += 1
        self.next_seq[message.publisher] = message.seq + 1
        self.received += 1
        ledger.delivered += 1
        if ledger.delivered == DELIVERIES:
            ledger.all_delivered.set()
        return None


async def publish_ticks(system: ActorSystem, publisher: int) -> None:
    for seq in range(EVENTS):
        system.publish(Tick(publisher, seq))
        await asyncio.sleep(0)  # a yield, not a wait: lets the publishers interleave


class Publisher(Actor):
    async def receive(self, message: Go) -> None:
        await publish_ticks(self.system, message.publisher)


@pytest.mark.stress
async def test_bus_stress_100_publishers_1000_subscribers_every_delivery_counted() -> None:
    async with ActorSystem("stress") as system:
        ledger = Ledger()
        publishers = [await system.spawn(Publisher) for _ in range(PUBLISHERS // 2)]
        counters = [await system.spawn(Counter, ledger) for _ in range(SUBSCRIBERS)]
        targets: list[Any] = [Tick, "stress.>", "stress.tick", "*.tick", "*"]
        for index, counter in enumerate(counters):
            await system.subscribe(counter, targets[index % len(targets)])
            if index % 10 == 0:  # a second matching subscription: still one delivery
                await system.subscribe(counter, ">")
        dead_letters = system.metrics().dead_letters

        async with asyncio.timeout(20.0), asyncio.TaskGroup() as group:
            for publisher, ref in enumerate(publishers):
                ref.tell(Go(publisher))
            for publisher in range(len(publishers), PUBLISHERS):
                group.create_task(publish_ticks(system, publisher))
            await ledger.all_delivered.wait()

        # Nothing beyond the expected count either: flush the bus, then every counter.
        await system.subscriptions()
        counts = [await counter.ask(Count()) for counter in counters]
        assert ledger.delivered == DELIVERIES
        assert ledger.out_of_order == 0
        assert all(received == PUBLISHERS * EVENTS for received, _ in counts)
        assert all(next_seq == [EVENTS] * PUBLISHERS for _, next_seq in counts)
        assert system.metrics().dead_letters == dead_letters
