"""Tell throughput: one sender to one actor, and ten sender actors to one actor.

The clock runs from the first tell until the receiver has *handled* the last message,
so enqueueing, waking the receiver and dispatching to ``receive`` are all included. The
asyncio senders yield to the loop after every burst of 1,000 tells, as a real producer
between two awaits would; the receiver counts and completes a future at the last one.
Every asyncio system runs the same behaviour class and the same driving code (see
``bench.kits``); the peers run the same logic in their own idiom. The peers and the
polling design send fewer messages because they are an order of magnitude slower (a
rate does not depend on the count once warm-up is excluded).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import actors

from .baselines import BareMailbox
from .kits import ASYNC_SYSTEMS, actor_class, kit
from .messages import PING, Go, Report
from .registry import Goal, Metric, Runner, Sizes, Workload, register

__all__ = ["blast"]

MESSAGES = Sizes(full=300_000, quick=100_000)
PEER_MESSAGES = Sizes(full=30_000, quick=10_000)
BURST = 1_000
SENDERS = 10
WARMUP_FRACTION = 10
"""Each run first sends 1/10 of its messages to a separate actor, untimed."""


async def blast(tell: Callable[[Any], None], count: int) -> None:
    """Call ``tell(PING)`` ``count`` times, yielding to the loop after every burst."""
    bursts, rest = divmod(count, BURST)
    for _ in range(bursts):
        for _ in range(BURST):
            tell(PING)
        await asyncio.sleep(0)
    for _ in range(rest):
        tell(PING)


class Counter:
    """Behaviour: count messages, complete ``done`` at the ``count``-th."""

    def __init__(self, count: int, done: asyncio.Future[None]) -> None:
        self.count = count
        self.seen = 0
        self.done = done

    async def receive(self, message: Any) -> None:
        self.seen += 1
        if self.seen == self.count:
            self.done.set_result(None)


class Sender:
    """Behaviour: on ``Go(target, count)``, blast ``count`` pings at ``target``."""

    async def receive(self, message: Any) -> None:
        await blast(message.target.tell, message.count)


# ------------------------------------------------------------------ asyncio systems


async def _one_round(system: Any, name: str, count: int, senders: int) -> float:
    done = asyncio.get_running_loop().create_future()
    receiver = await system.spawn(actor_class(name, Counter), count, done)
    if senders == 0:
        start = time.perf_counter()
        await blast(receiver.tell, count)
    else:
        refs = [await system.spawn(actor_class(name, Sender)) for _ in range(senders)]
        start = time.perf_counter()
        for ref in refs:
            ref.tell(Go(receiver, count // senders))
    await done
    return count / (time.perf_counter() - start)


async def _tell_async(name: str, count: int, senders: int) -> float:
    async with kit(name).open() as system:
        await _one_round(system, name, count // WARMUP_FRACTION, senders)
        return await _one_round(system, name, count, senders)


def _async_runner(name: str, senders: int) -> Runner:
    sizes = PEER_MESSAGES if name == "polling" else MESSAGES

    def run(quick: bool) -> Mapping[str, float]:
        count = sizes.pick(quick)
        return {"rate": actors.run(_tell_async(name, count, senders))}

    return run


# ------------------------------------------------------------------ the mailbox alone


async def _mailbox_round(count: int, senders: int) -> float:
    mailbox = BareMailbox()

    async def consume() -> None:
        get = mailbox.get
        for _ in range(count):
            await get()

    consumer = asyncio.get_running_loop().create_task(consume())
    await asyncio.sleep(0)  # the consumer is now asleep on the empty mailbox
    start = time.perf_counter()
    if senders == 0:
        await blast(mailbox.put, count)
    else:
        async with asyncio.TaskGroup() as group:
            for _ in range(senders):
                group.create_task(blast(mailbox.put, count // senders))
    await consumer
    return count / (time.perf_counter() - start)


def _mailbox_runner(senders: int) -> Runner:
    async def main(count: int) -> float:
        await _mailbox_round(count // WARMUP_FRACTION, senders)
        return await _mailbox_round(count, senders)

    def run(quick: bool) -> Mapping[str, float]:
        return {"rate": actors.run(main(MESSAGES.pick(quick)))}

    return run


# ------------------------------------------------------------------ peers


def _pykka_round(count: int, senders: int) -> float:
    import pykka

    from .peers import PykkaCounter, PykkaSender

    done: pykka.ThreadingFuture[None] = pykka.ThreadingFuture()
    receiver = PykkaCounter.start(count, done)
    refs = [PykkaSender.start() for _ in range(senders)]
    start = time.perf_counter()
    if senders == 0:
        tell = receiver.tell
        for _ in range(count):
            tell(PING)
    else:
        for ref in refs:
            ref.tell(Go(receiver, count // senders))
    done.get(timeout=60)
    return count / (time.perf_counter() - start)


def _pykka_runner(senders: int) -> Runner:
    def run(quick: bool) -> Mapping[str, float]:
        from .peers import pykka_stop_all

        count = PEER_MESSAGES.pick(quick)
        try:
            _pykka_round(count // WARMUP_FRACTION, senders)
            return {"rate": _pykka_round(count, senders)}
        finally:
            pykka_stop_all()

    return run


def _thespian_round(system: Any, count: int, senders: int) -> float:
    from .peers import ThespianCounter, ThespianSender

    receiver = system.createActor(ThespianCounter)
    refs = [system.createActor(ThespianSender) for _ in range(senders)]
    start = time.perf_counter()
    if senders == 0:
        tell = system.tell
        for _ in range(count):
            tell(receiver, PING)
    else:
        for ref in refs:
            system.tell(ref, Go(receiver, count // senders))
    seen = system.ask(receiver, Report(count), 60)
    elapsed = time.perf_counter() - start
    if seen != count:
        raise RuntimeError(f"thespian counter answered {seen!r}, expected {count}")
    return count / elapsed


def _thespian_runner(senders: int) -> Runner:
    def run(quick: bool) -> Mapping[str, float]:
        from .peers import thespian_system

        count = PEER_MESSAGES.pick(quick)
        system = thespian_system()
        try:
            _thespian_round(system, count // WARMUP_FRACTION, senders)
            return {"rate": _thespian_round(system, count, senders)}
        finally:
            system.shutdown()

    return run


# ------------------------------------------------------------------ registration


def _runners(senders: int) -> dict[str, Runner]:
    runners: dict[str, Runner] = {name: _async_runner(name, senders) for name in ASYNC_SYSTEMS}
    runners["mailbox"] = _mailbox_runner(senders)
    runners["pykka"] = _pykka_runner(senders)
    runners["thespian"] = _thespian_runner(senders)
    return runners


register(
    Workload(
        name="tell_one_to_one",
        family="tell",
        summary="one sender tells one actor; rate until the last message is handled",
        metrics=(
            Metric(
                key="rate",
                label="tell, 1 sender -> 1 actor",
                unit="msg/s",
                better="higher",
                goal=Goal.both(
                    Goal.at_least(1_500_000, ">= 1,500,000/s"),
                    Goal.relative("higher", 1.0, ">= bare"),
                ),
                chart=True,
            ),
        ),
        runners=_runners(0),
    )
)

register(
    Workload(
        name="tell_many_to_one",
        family="tell",
        summary=f"{SENDERS} sender actors tell one actor (the mailbox column: {SENDERS} tasks)",
        metrics=(
            Metric(
                key="rate",
                label=f"tell, {SENDERS} senders -> 1 actor",
                unit="msg/s",
                better="higher",
                goal=Goal.relative("higher", 0.5, ">= 0.5x bare"),
                chart=True,
            ),
        ),
        runners=_runners(SENDERS),
    )
)
