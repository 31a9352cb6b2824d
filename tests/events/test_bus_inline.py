"""Publishing to an idle bus fans out in the publisher's call; to a busy one it queues.

``system.publish`` delivers inline only while the bus is running, idle and its mailbox
empty, so an event published later can never overtake one still queued in the bus.
These tests pin both paths and their interleavings, from outside actors, from inside
handlers and from several actors at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import Actor, ActorRef, ActorSystem, DeadLetter, LifecycleEvent, Publish, run, trace


class Seq(msgspec.Struct, frozen=True):
    """An event numbered per publisher."""

    publisher: int
    n: int


class Flush(msgspec.Struct):
    """Answered once everything queued before it was handled."""


class Steps(msgspec.Struct):
    """Run ``steps`` (see ``perform``) as publisher ``publisher``, inside the handler."""

    publisher: int
    steps: list[str]


class Collector(Actor):
    def __init__(self, events: list[Any]) -> None:
        self.events = events

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Flush):
            return len(self.events)
        self.events.append(message)
        return None


class Publisher(Actor):
    """Runs ``Steps`` in its handler; the subscriber it is, too, may get its own events."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Steps):
            await perform(self.system, message.publisher, message.steps)
        return None


async def perform(system: ActorSystem, publisher: int, steps: list[str]) -> int:
    """``publish``: ``system.publish``; ``tell``: a ``Publish`` told to the bus (always
    queued: the bus is busy until it has handled it); ``yield``: let other tasks run.
    Returns how many events were published, numbered from 0 in order."""
    n = 0
    for step in steps:
        if step == "publish":
            system.publish(Seq(publisher, n))
            n += 1
        elif step == "tell":
            system.event_bus.tell(Publish(Seq(publisher, n)))
            n += 1
        else:
            await asyncio.sleep(0)
    return n


async def subscriber(system: ActorSystem, to: Any = Seq) -> tuple[ActorRef, list[Any]]:
    events: list[Any] = []
    ref = await system.spawn(Collector, events)
    await system.subscribe(ref, to)
    return ref, events


async def settle(system: ActorSystem, *refs: ActorRef) -> None:
    """Everything published before has been handled by ``refs``."""
    await system.subscriptions()
    for ref in refs:
        await ref.ask(Flush())


def queued(ref: ActorRef) -> int:
    return len(ref._cell.mailbox)


async def test_a_publish_to_an_idle_bus_is_in_the_subscribers_mailbox_when_it_returns() -> None:
    async with ActorSystem("bus") as system:
        ref, events = await subscriber(system)
        other, _ = await subscriber(system)
        system.publish(Seq(0, 0))
        # No await in between: the publisher's own call put it there, not the bus.
        assert queued(ref) == 1
        assert queued(other) == 1
        assert queued(system.event_bus) == 0
        await settle(system, ref)
        assert events == [Seq(0, 0)]


async def test_a_publish_behind_an_event_queued_in_the_bus_queues_behind_it() -> None:
    async with ActorSystem("bus") as system:
        ref, events = await subscriber(system)
        system.event_bus.tell(Publish(Seq(0, 0)))
        system.publish(Seq(0, 1))  # the bus is not idle: this one must not overtake
        assert queued(ref) == 0
        assert queued(system.event_bus) == 2
        await settle(system, ref)
        system.publish(Seq(0, 2))  # idle again: inline
        assert queued(ref) == 1
        await settle(system, ref)
        assert events == [Seq(0, 0), Seq(0, 1), Seq(0, 2)]


async def test_a_publish_behind_a_queued_runtime_event_keeps_the_order() -> None:
    async with ActorSystem("bus") as system:
        ref, events = await subscriber(system, "*")
        await settle(system, ref)
        events.clear()
        temp = await system.spawn(Collector, [])  # ActorStarted: queued in the bus
        system.publish(Seq(0, 0))
        await settle(system, ref)
        assert [type(e).__name__ for e in events] == ["ActorStarted", "Seq"]
        assert isinstance(events[0], LifecycleEvent)
        await system.stop(temp)


async def test_a_subscriber_publishing_from_its_handler_gets_its_events_in_order() -> None:
    async with ActorSystem("bus") as system:
        ref, events = await subscriber(system)
        publisher = await system.spawn(Publisher)
        await system.subscribe(publisher, Seq)
        await publisher.ask(Steps(1, ["publish", "tell", "publish", "yield", "publish"]))
        await settle(system, ref)
        assert events == [Seq(1, n) for n in range(4)]


async def test_many_actors_publishing_from_their_handlers_keep_each_ones_order() -> None:
    steps = ["publish", "publish", "yield", "tell", "publish", "yield", "yield", "publish"] * 25
    count = steps.count("publish") + steps.count("tell")
    async with ActorSystem("bus") as system:
        subscribers = [await subscriber(system) for _ in range(3)]
        publishers = [await system.spawn(Publisher) for _ in range(5)]
        for p, ref in enumerate(publishers):
            ref.tell(Steps(p, steps))
        mine = await perform(system, len(publishers), steps)  # and the test itself
        for ref in publishers:
            await ref.ask(Flush())
        await settle(system, *(ref for ref, _ in subscribers))
        for _, events in subscribers:
            assert len(events) == (len(publishers) + 1) * count
            for p in range(len(publishers) + 1):
                want = mine if p == len(publishers) else count
                assert [e.n for e in events if e.publisher == p] == list(range(want))


async def test_an_inline_publish_carries_the_publishers_trace() -> None:
    seen: list[Any] = []

    class Tracer(Actor):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, Seq):
                from actors import current_trace

                seen.append(current_trace())
            return None

    async with ActorSystem("bus") as system:
        ref = await system.spawn(Tracer)
        await system.subscribe(ref, Seq)
        with trace() as context:
            system.publish(Seq(0, 0))
            assert queued(ref) == 1  # inline
        system.publish(Seq(0, 1))
        await ref.ask(Flush())
        assert seen == [context, None]


STEPS = st.lists(st.sampled_from(["publish", "tell", "yield"]), max_size=40)


@settings(max_examples=60, deadline=None)
@given(outside=STEPS, inside=st.lists(STEPS, max_size=3))
def test_any_interleaving_of_inline_and_queued_publishes_keeps_each_publishers_order(
    outside: list[str], inside: list[list[str]]
) -> None:
    async def main() -> None:
        async with ActorSystem("bus") as system:
            ref, events = await subscriber(system)
            publishers = [await system.spawn(Publisher) for _ in inside]
            for p, steps in enumerate(inside):
                publishers[p].tell(Steps(p, steps))
            mine = await perform(system, len(inside), outside)
            for publisher in publishers:
                await publisher.ask(Flush())
            await settle(system, ref)
            counts = [s.count("publish") + s.count("tell") for s in inside] + [mine]
            assert len(events) == sum(counts)
            for p, count in enumerate(counts):
                assert [e.n for e in events if e.publisher == p] == list(range(count))

    run(main())


class ClosesItsMailbox(Actor):
    """Subscribed, then closes its own mailbox (public ``Mailbox.close``) on request."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Flush):
            self.mailbox.close()
        return None


async def test_an_event_for_a_subscriber_whose_mailbox_is_closed_is_a_dead_letter() -> None:
    async with ActorSystem("bus-closed") as system:
        dead: list[Any] = []
        watcher = await system.spawn(Collector, dead)
        await system.subscribe(watcher, DeadLetter)
        closer = await system.spawn(ClosesItsMailbox)
        await system.subscribe(closer, Seq)
        await closer.ask(Flush())
        system.publish(Seq(0, 1))
        await watcher.ask(Flush())
        letters = [e for e in dead if isinstance(e, DeadLetter) and e.message == Seq(0, 1)]
        assert [(e.actor, e.reason) for e in letters] == [(closer.path, "stopped")]
