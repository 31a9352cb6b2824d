"""Ask round trips: sequential latency (p50/p99), 64 in flight (throughput), and one
cross-process row for scale.

Sequential: one caller asks an echo actor, waits for the answer, asks again; every round
trip is timed on its own with ``perf_counter_ns``. This is the latency a request/reply
conversation sees, including waking an idle actor each time. In flight: 64 callers
(tasks; a window of 64 futures for Pykka) ask concurrently, so the actor is never idle
and the figure is the sustained request/reply throughput.

Ours pays for features the bare baseline lacks: each ask arms a timeout (5 s by default)
and the reply goes through a reply handle that ignores late answers. That is the real
cost of the API, so it stays in the figure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import actors

from .baselines import Ask, BareMailbox
from .kits import ASYNC_SYSTEMS, actor_class, kit
from .measure import percentiles_us
from .messages import PING
from .registry import Goal, Metric, Runner, Sizes, Workload, register

SEQUENTIAL = Sizes(full=20_000, quick=5_000)
IN_FLIGHT_ASKS = Sizes(full=128_000, quick=32_000)
SLOW_IN_FLIGHT_ASKS = Sizes(full=25_600, quick=6_400)
"""For the polling design and Pykka, about ten times slower per ask."""
PYKKA_ASKS = Sizes(full=2_000, quick=1_000)
THESPIAN_ASKS = Sizes(full=5_000, quick=2_000)
REMOTE_ASKS = Sizes(full=500, quick=200)
IN_FLIGHT = 64
WARMUP_FRACTION = 10

AskFn = Callable[[Any], Awaitable[Any]]


class Echo:
    """Behaviour: answer every message with itself."""

    async def receive(self, message: Any) -> Any:
        return message


async def _sequential(ask: AskFn, count: int) -> list[int]:
    clock = time.perf_counter_ns
    samples: list[int] = []
    append = samples.append
    for _ in range(count):
        start = clock()
        await ask(PING)
        append(clock() - start)
    return samples


async def _in_flight(ask: AskFn, count: int) -> float:
    per_caller = count // IN_FLIGHT

    async def caller() -> None:
        for _ in range(per_caller):
            await ask(PING)

    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(IN_FLIGHT):
            group.create_task(caller())
    return per_caller * IN_FLIGHT / (time.perf_counter() - start)


async def _measure(
    ask: AskFn, quick: bool, concurrent: bool, in_flight: Sizes = IN_FLIGHT_ASKS
) -> dict[str, float]:
    if concurrent:
        count = in_flight.pick(quick)
        await _in_flight(ask, count // WARMUP_FRACTION)
        return {"rate": await _in_flight(ask, count)}
    count = SEQUENTIAL.pick(quick)
    await _sequential(ask, count // WARMUP_FRACTION)
    return percentiles_us(await _sequential(ask, count))


# ------------------------------------------------------------------ asyncio systems


def _async_runner(name: str, concurrent: bool) -> Runner:
    in_flight = SLOW_IN_FLIGHT_ASKS if name == "polling" else IN_FLIGHT_ASKS

    async def main(quick: bool) -> dict[str, float]:
        async with kit(name).open() as system:
            ref = await system.spawn(actor_class(name, Echo))
            return await _measure(ref.ask, quick, concurrent, in_flight)

    def run(quick: bool) -> Mapping[str, float]:
        return actors.run(main(quick))

    return run


def _mailbox_runner(concurrent: bool) -> Runner:
    """The deque + future alone: a consumer loop answers each request's future."""

    async def main(quick: bool) -> dict[str, float]:
        mailbox = BareMailbox()
        loop = asyncio.get_running_loop()

        async def consume() -> None:
            get = mailbox.get
            while True:
                request = await get()
                request.future.set_result(request.message)

        async def ask(message: Any) -> Any:
            future = loop.create_future()
            mailbox.put(Ask(message, future))
            return await future

        consumer = loop.create_task(consume())
        try:
            return await _measure(ask, quick, concurrent)
        finally:
            consumer.cancel()

    def run(quick: bool) -> Mapping[str, float]:
        return actors.run(main(quick))

    return run


# ------------------------------------------------------------------ peers


def _pykka_runner(concurrent: bool) -> Runner:
    def run(quick: bool) -> Mapping[str, float]:
        from .peers import PykkaEcho, pykka_stop_all

        count = (SLOW_IN_FLIGHT_ASKS if concurrent else PYKKA_ASKS).pick(quick)
        ref = PykkaEcho.start()
        try:
            if concurrent:
                _pykka_window(ref, count // WARMUP_FRACTION)
                return {"rate": _pykka_window(ref, count)}
            _pykka_sequential(ref, count // WARMUP_FRACTION)
            return percentiles_us(_pykka_sequential(ref, count))
        finally:
            pykka_stop_all()

    return run


def _pykka_sequential(ref: Any, count: int) -> list[int]:
    clock = time.perf_counter_ns
    samples: list[int] = []
    for _ in range(count):
        start = clock()
        ref.ask(PING)
        samples.append(clock() - start)
    return samples


def _pykka_window(ref: Any, count: int) -> float:
    """Keep ``IN_FLIGHT`` asks outstanding: collect the oldest, send a new one."""
    start = time.perf_counter()
    window = [ref.ask(PING, block=False) for _ in range(IN_FLIGHT)]
    for sent in range(IN_FLIGHT, count + IN_FLIGHT):
        window[sent % IN_FLIGHT].get(timeout=60)
        if sent < count:
            window[sent % IN_FLIGHT] = ref.ask(PING, block=False)
    return count / (time.perf_counter() - start)


def _thespian_runner(base: str, sizes: Sizes) -> Runner:
    def run(quick: bool) -> Mapping[str, float]:
        from .peers import ThespianEcho, thespian_system

        count = sizes.pick(quick)
        system = thespian_system(base)
        try:
            echo = system.createActor(ThespianEcho)
            _thespian_sequential(system, echo, count // WARMUP_FRACTION)
            return percentiles_us(_thespian_sequential(system, echo, count))
        finally:
            system.shutdown()

    return run


def _thespian_sequential(system: Any, echo: Any, count: int) -> list[int]:
    clock = time.perf_counter_ns
    samples: list[int] = []
    for _ in range(count):
        start = clock()
        answer = system.ask(echo, PING, 10)
        samples.append(clock() - start)
        if answer != PING:
            raise RuntimeError(f"thespian echo answered {answer!r}")
    return samples


# ------------------------------------------------------------------ registration


_sequential_runners: dict[str, Runner] = {
    name: _async_runner(name, concurrent=False) for name in ASYNC_SYSTEMS
}
_sequential_runners["mailbox"] = _mailbox_runner(concurrent=False)
_sequential_runners["pykka"] = _pykka_runner(concurrent=False)
_sequential_runners["thespian"] = _thespian_runner("simpleSystemBase", THESPIAN_ASKS)

register(
    Workload(
        name="ask_sequential",
        family="ask",
        summary="one caller asks an echo actor, one round trip at a time",
        metrics=(
            Metric(
                key="p50",
                label="ask round trip p50",
                unit="µs",
                better="lower",
                goal=Goal.relative("lower", 1.5, "<= 1.5x bare"),
                digits=1,
                chart=True,
            ),
            Metric(key="p99", label="ask round trip p99", unit="µs", better="lower", digits=1),
        ),
        runners=_sequential_runners,
    )
)

_in_flight_runners: dict[str, Runner] = {
    name: _async_runner(name, concurrent=True) for name in ASYNC_SYSTEMS
}
_in_flight_runners["mailbox"] = _mailbox_runner(concurrent=True)
_in_flight_runners["pykka"] = _pykka_runner(concurrent=True)

register(
    Workload(
        name="ask_in_flight",
        family="ask",
        summary=f"{IN_FLIGHT} callers ask one echo actor concurrently",
        metrics=(
            Metric(
                key="rate",
                label=f"ask, {IN_FLIGHT} in flight",
                unit="asks/s",
                better="higher",
                chart=True,
            ),
        ),
        runners=_in_flight_runners,
        notes=("Thespian's simpleSystemBase runs one blocking ask at a time: no figure.",),
    )
)

register(
    Workload(
        name="ask_cross_process",
        family="ask",
        summary="sequential ask to an actor in another process (Thespian multiprocTCPBase)",
        metrics=(
            Metric(
                key="p50",
                label="ask p50, cross-process (Thespian TCP)",
                unit="µs",
                better="lower",
                digits=1,
            ),
        ),
        runners={"thespian": _thespian_runner("multiprocTCPBase", REMOTE_ASKS)},
        notes=("For scale only: ours crosses processes through NATS, not measured yet.",),
    )
)
