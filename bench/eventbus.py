"""The event bus: publish to one subscriber (latency), fan-out to 1,000 (deliveries/s).

*Publish latency.* One subscriber actor is subscribed to ``Probe``; each round makes a
future and a ``Probe`` carrying it (untimed), then times ``publish(probe)`` until the
subscriber's ``receive`` has resolved that future and the publisher has resumed. For ours
that is ``system.publish`` (a tell to the bus actor), the bus handing the event to the
subscriber's mailbox, and the subscriber handling it: two actor hops, as in real use.

*Fan-out.* 1,000 subscriber actors count ``Tick`` events; the publisher publishes a burst
of them and the clock stops when every subscriber has counted the whole burst (the last
subscriber to reach its count resolves a future: no polling). The figure is deliveries
per second (events x subscribers / time).

*Trickle fan-out.* The same 1,000 subscribers, but one event at a time: the publisher
publishes an event and waits until every subscriber has handled it before publishing
the next, so each event finds every subscriber asleep on an empty mailbox. This is what
waking a sleeping actor costs, 1,000 times per event.

Baselines, in the same process shape:

- **bare**: no bus at all, the publisher puts the event directly into the bare actor's
  mailbox (for the fan-out, into each of 1,000 bare actors): what a bus-less
  task-per-actor design costs;
- **callback bus (original design)**, in the *polling* column: the ``AsyncEventBus`` of
  the original design (``bench.baselines.CallbackEventBus``), whose ``await publish``
  gathers the subscribers' callbacks. The callbacks are the same behaviour objects'
  ``receive`` methods, so the handlers are byte-for-byte the same.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

import actors

from .baselines import CallbackEventBus
from .kits import actor_class, kit
from .measure import percentiles_us
from .quiet import silence_logging
from .registry import Goal, Metric, Sizes, Workload, register

__all__ = ["Probe", "Tick"]

PUBLISHES = Sizes(full=20_000, quick=5_000)
SUBSCRIBERS = 1_000
FANOUT_EVENTS = Sizes(full=1_000, quick=300)
"""Events per fan-out burst: x 1,000 subscribers = deliveries."""
TRICKLE_EVENTS = Sizes(full=300, quick=100)
"""Events published one at a time for the trickle fan-out: x 1,000 = deliveries."""
CALLBACK_FANOUT_EVENTS = Sizes(full=200, quick=60)
"""The callback bus makes a task per callback per event, several times slower."""
WARMUP_FRACTION = 10

CALLBACK_COLUMN = "polling"
"""The table column the callback bus is shown in (the design this runtime replaces)."""
CALLBACK_NOTE = "polling = original callback bus"


class Probe(msgspec.Struct, frozen=True):
    """A latency probe: the subscriber resolves ``done``."""

    done: Any


class Tick(msgspec.Struct, frozen=True):
    """A fan-out event."""


TICK = Tick()


class Resolver:
    """Behaviour: resolve the future a ``Probe`` carries."""

    async def receive(self, message: Any) -> None:
        message.done.set_result(None)


class Latch:
    """Shared by the fan-out subscribers: ``done`` resolves when ``remaining`` of them
    have each counted ``target`` events (counts are cumulative over rounds)."""

    __slots__ = ("done", "remaining", "target")

    def __init__(self) -> None:
        self.target = 0
        self.remaining = 0
        self.done: asyncio.Future[None] | None = None

    def arm(self, target: int, subscribers: int) -> asyncio.Future[None]:
        self.target = target
        self.remaining = subscribers
        done = self.done = asyncio.get_running_loop().create_future()
        return done


class TickCounter:
    """Behaviour: count events; the last subscriber to reach the target resolves it."""

    def __init__(self, latch: Latch) -> None:
        self.latch = latch
        self.seen = 0

    async def receive(self, message: Any) -> None:
        self.seen += 1
        latch = self.latch
        if self.seen == latch.target:
            latch.remaining -= 1
            if not latch.remaining:
                assert latch.done is not None
                latch.done.set_result(None)


# ------------------------------------------------------------------ publish latency


async def _latency(publish: Callable[[Any], Awaitable[None] | None], count: int) -> list[int]:
    """Time ``count`` publish -> handled round trips; ``publish`` may be sync or async."""
    loop = asyncio.get_running_loop()
    clock = time.perf_counter_ns
    samples: list[int] = []
    append = samples.append
    for _ in range(count):
        done = loop.create_future()
        probe = Probe(done)
        start = clock()
        pending = publish(probe)
        if pending is not None:
            await pending
        await done
        append(clock() - start)
    return samples


async def _measure_latency(publish: Callable[[Any], Any], count: int) -> dict[str, float]:
    await _latency(publish, count // WARMUP_FRACTION)
    return percentiles_us(await _latency(publish, count))


def _ours_latency(quick: bool) -> Mapping[str, float]:
    silence_logging()

    async def main() -> dict[str, float]:
        async with kit("ours").open() as system:
            subscriber = await system.spawn(actor_class("ours", Resolver))
            await system.subscribe(subscriber, Probe)
            return await _measure_latency(system.publish, PUBLISHES.pick(quick))

    return actors.run(main())


def _bare_latency(quick: bool) -> Mapping[str, float]:
    silence_logging()

    async def main() -> dict[str, float]:
        async with kit("bare").open() as system:
            subscriber = await system.spawn(actor_class("bare", Resolver))
            return await _measure_latency(subscriber.tell, PUBLISHES.pick(quick))

    return actors.run(main())


def _callback_latency(quick: bool) -> Mapping[str, float]:
    silence_logging()

    async def main() -> dict[str, float]:
        bus = CallbackEventBus()
        bus.subscribe(Probe, Resolver().receive)
        return await _measure_latency(bus.publish, PUBLISHES.pick(quick))

    return actors.run(main())


# ------------------------------------------------------------------ fan-out


async def _fanout_round(
    publish: Callable[[], Awaitable[None]], latch: Latch, events: int, subscribers: int
) -> float:
    done = latch.arm(latch.target + events, subscribers)
    start = time.perf_counter()
    for _ in range(events):
        await publish()
    await done
    return events * subscribers / (time.perf_counter() - start)


async def _trickle_round(
    publish: Callable[[], Awaitable[None]], latch: Latch, events: int, subscribers: int
) -> float:
    start = time.perf_counter()
    for _ in range(events):
        done = latch.arm(latch.target + 1, subscribers)
        await publish()
        await done
    return events * subscribers / (time.perf_counter() - start)


async def _measure_fanout(
    publish: Callable[[], Awaitable[None]], latch: Latch, events: int, trickle: int
) -> dict[str, float]:
    await _fanout_round(publish, latch, events // WARMUP_FRACTION, SUBSCRIBERS)
    rate = await _fanout_round(publish, latch, events, SUBSCRIBERS)
    await _trickle_round(publish, latch, trickle // WARMUP_FRACTION, SUBSCRIBERS)
    return {"rate": rate, "trickle": await _trickle_round(publish, latch, trickle, SUBSCRIBERS)}


def _ours_fanout(quick: bool) -> Mapping[str, float]:
    silence_logging()

    async def main() -> dict[str, float]:
        latch = Latch()
        cls = actor_class("ours", TickCounter)
        async with kit("ours").open() as system:
            for _ in range(SUBSCRIBERS):
                await system.subscribe(await system.spawn(cls, latch), Tick)
            publish = system.publish

            async def publish_one() -> None:
                publish(TICK)  # a tell to the bus: the publisher never waits

            return await _measure_fanout(
                publish_one, latch, FANOUT_EVENTS.pick(quick), TRICKLE_EVENTS.pick(quick)
            )

    return actors.run(main())


def _bare_fanout(quick: bool) -> Mapping[str, float]:
    silence_logging()

    async def main() -> dict[str, float]:
        latch = Latch()
        cls = actor_class("bare", TickCounter)
        async with kit("bare").open() as system:
            tells = [(await system.spawn(cls, latch)).tell for _ in range(SUBSCRIBERS)]

            async def publish_one() -> None:
                for tell in tells:  # like ours' publisher, the burst is sent unbroken
                    tell(TICK)

            return await _measure_fanout(
                publish_one, latch, FANOUT_EVENTS.pick(quick), TRICKLE_EVENTS.pick(quick)
            )

    return actors.run(main())


def _callback_fanout(quick: bool) -> Mapping[str, float]:
    silence_logging()

    async def main() -> dict[str, float]:
        latch = Latch()
        bus = CallbackEventBus()
        for _ in range(SUBSCRIBERS):
            bus.subscribe(Tick, TickCounter(latch).receive)

        async def publish_one() -> None:
            await bus.publish(TICK)

        return await _measure_fanout(
            publish_one, latch, CALLBACK_FANOUT_EVENTS.pick(quick), TRICKLE_EVENTS.pick(quick)
        )

    return actors.run(main())


# ------------------------------------------------------------------ registration


register(
    Workload(
        name="bus_publish",
        family="eventbus",
        summary="publish an event to one subscriber actor, one at a time, until handled",
        metrics=(
            Metric(
                key="p50",
                label=f"publish p50 ({CALLBACK_NOTE})",
                unit="µs",
                better="lower",
                goal=Goal.at_most(10.0, "<= 10 µs"),
                digits=1,
                chart=True,
            ),
            Metric(
                key="p99",
                label=f"publish p99 ({CALLBACK_NOTE})",
                unit="µs",
                better="lower",
                digits=1,
            ),
        ),
        runners={"ours": _ours_latency, "bare": _bare_latency, CALLBACK_COLUMN: _callback_latency},
        notes=(
            "bare: a direct put to one bare actor (no bus).",
            f"The {CALLBACK_COLUMN} column holds the original design's callback "
            "AsyncEventBus (await publish gathers the callbacks).",
        ),
    )
)

register(
    Workload(
        name="bus_fanout",
        family="eventbus",
        summary=f"publish events to {SUBSCRIBERS:,} subscriber actors, in a burst and one "
        "at a time",
        metrics=(
            Metric(
                key="rate",
                label=f"fan-out to {SUBSCRIBERS:,} ({CALLBACK_NOTE})",
                unit="deliveries/s",
                better="higher",
                goal=Goal.relative("higher", 1.0, ">= bare"),
                chart=True,
            ),
            Metric(
                key="trickle",
                label=f"fan-out to {SUBSCRIBERS:,}, one event at a time ({CALLBACK_NOTE})",
                unit="deliveries/s",
                better="higher",
                goal=Goal.relative("higher", 1.0, ">= bare"),
                chart=True,
            ),
        ),
        runners={"ours": _ours_fanout, "bare": _bare_fanout, CALLBACK_COLUMN: _callback_fanout},
        notes=(
            f"bare: the publisher puts each event into {SUBSCRIBERS:,} bare actors itself.",
            f"The {CALLBACK_COLUMN} column holds the original design's callback "
            f"AsyncEventBus with {SUBSCRIBERS:,} callbacks.",
        ),
    )
)
