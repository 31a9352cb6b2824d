"""The NATS transport: remote tell and ask against raw nats-py, on a loopback server.

Every child process starts its own ``nats-server`` on 127.0.0.1 (``tests.natsutil``, the
helper the test suite uses; stopped on the way out, and killed with the child's process
group if the child dies), so ours and raw nats-py each get a fresh server per repeat.
Both run in one process on uvloop, as two *nodes*:

- **ours**: two ``ActorSystem("bench", transport=NatsTransport(...))`` in one process,
  node ``a`` and node ``b`` (each with its data and control connection, heartbeats on).
  The actor lives on ``b`` under a name; ``a`` finds it with ``await a.lookup(name)``,
  which gives a ``RemoteRef`` to its node subject, and sends from a plain task (no
  sender actor: the frame carries only the type, docs/wire.md, and no headers);
- **raw nats-py** (the *bare* column): two ``nats.connect`` clients, ``a`` publishing
  or requesting, ``b`` subscribed or responding.
- **raw NATS floor** (tell only, in the *mailbox* column): the same raw clients
  publishing the same payload bytes *without* headers, the receiver decoding them with
  the one decoder its subject implies. nats-py's header encoding and parsing are a
  large part of the CPU on both sides; code written by hand need not use headers at
  all, so this, not the header baseline, is the floor DESIGN.md states the remote
  tell goal against (>= 80 %).

Both send the same payload (``msgspec`` MessagePack of the small ``Order`` Struct, one
preallocated instance encoded on every send) with the same ``Actor-Type`` header, and
both receiving sides decode it into ``Order`` through the decoder the header names.

*Tell.* Node ``a`` sends N messages, yielding to the loop after every 1,000 as a
producer between two awaits would; the clock stops when the receiver on ``b`` has
handled the N-th (it resolves a future: no polling). Ours: ``RemoteRef.tell`` (encode,
queue for the node's writer task, which publishes) -> subscription callback (decode,
enqueue into the mailbox) -> the actor's ``receive``. Raw: ``await client.publish`` ->
the subscription callback.

*Ask.* Sequential round trips (p50/p99), then 64 callers concurrently (asks/s). Ours:
``await ref.ask(order)`` to an echo actor, whose return value node ``b`` publishes to
``a``'s reply subject. Raw: ``await client.request(...)`` (nats-py's muxed inbox) to a
responder that decodes the request and publishes the answer explicitly, with the
``Actor-Type`` header, to ``msg.reply``; the requester decodes the answer.

*Connections (informational).* Whether a second data connection raises throughput.
Raw: publish throughput from one client against round-robin over two clients, to one
subscriber client. Ours: node ``a1`` (``data_connections=1``) and node ``a2``
(``data_connections=2``) each tell 8 actors on node ``b`` in turn (so the destinations
spread over both of ``a2``'s connections). Each alternates 1, 2, 2, 1 within one
process, after a warm-up of each, so both settings see the same server and machine state.

Logging is silenced in every child (``bench.quiet``). nats-py and the transport are
imported inside the runners, so the other families' children do not pay for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

import actors
from actors import Actor, ActorRef, ActorSystem
from tests.natsutil import NatsServer

from .measure import percentiles_us
from .quiet import silence_logging
from .registry import Goal, Metric, Sizes, Workload, register

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["Order"]

TELLS = Sizes(full=60_000, quick=15_000)
ASKS = Sizes(full=2_000, quick=500)
IN_FLIGHT = 64
IN_FLIGHT_ASKS = Sizes(full=19_200, quick=6_400)
"""A multiple of 64: each caller asks 300 (100 quick) times."""
CONNECTION_TELLS = Sizes(full=30_000, quick=10_000)
REPEATS = Sizes(full=5, quick=1)
"""Quick mode runs each system once: an operation here costs 20 to 40 times an
in-process one, and the quick suite has a one-minute budget."""
CONNECTION_REPEATS = Sizes(full=3, quick=1)
"""Informational row, four rounds alternated inside each process."""
BURST = 1_000
WARMUP_FRACTION = 10
ASK_TIMEOUT = 5.0
DEADLINE = 20.0
"""Seconds a burst may take to arrive before the run fails (lost messages), rather than
waiting for the harness to kill the child."""

SYSTEM = "bench"
NAME = "target"
RAW_COLUMN = "bare"
"""The table column raw nats-py is shown in: the floor this transport is measured against."""
RAW_NOTE = "bare = raw nats-py"
FLOOR_COLUMN = "mailbox"
"""The table column raw nats-py without headers is shown in: the remote tell's floor."""
FLOOR_NOTE = "mailbox = raw NATS floor, no headers"

# A raw subject as long as ours (actors.bench.node.b.a.bench.target), so the client and
# the server parse the same number of bytes.
RAW_SUBJECT = "rawnat.bench.node.b.a.bench.target"


class Order(msgspec.Struct, frozen=True):
    """The payload of every remote tell and ask, for ours and for raw nats-py."""

    sku: str
    quantity: int


ORDER = Order("apple", 2)
TYPE_NAME = f"{Order.__module__}:{Order.__qualname__}"
"""What the transport puts in the ``Actor-Type`` header (``transport._codec.type_name``)."""
HEADERS = {"Actor-Type": TYPE_NAME}

_encoder = msgspec.msgpack.Encoder()
_decoders = {TYPE_NAME: msgspec.msgpack.Decoder(Order).decode}


class Tally:
    """Counts arrivals; ``done`` resolves when the count reaches the armed target
    (cumulative over rounds, so a late message of one round cannot end the next)."""

    __slots__ = ("done", "seen", "target")

    def __init__(self) -> None:
        self.seen = 0
        self.target = 0
        self.done: asyncio.Future[None] | None = None

    def arm(self, count: int) -> asyncio.Future[None]:
        self.target += count
        done = self.done = asyncio.get_running_loop().create_future()
        return done

    def hit(self) -> None:
        self.seen += 1
        if self.seen == self.target:
            assert self.done is not None
            self.done.set_result(None)


class Sink(Actor):
    """Ours' receiver: counts the orders it handles."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    async def receive(self, message: Any) -> None:
        self.tally.hit()


class Echo(Actor):
    """Ours' responder: answers every order with itself."""

    async def receive(self, message: Any) -> Any:
        return message


# ------------------------------------------------------------------ processes and nodes


def _in_child(main: Callable[[str, bool], Coroutine[Any, Any, dict[str, float]]]) -> Any:
    """A runner: silence logs, start a loopback server, run ``main(url, quick)``."""

    def run(quick: bool) -> Mapping[str, float]:
        silence_logging()
        with NatsServer(name="bench") as server:
            return actors.run(main(server.url, quick))

    return run


@contextlib.asynccontextmanager
async def _nodes(url: str, actor: type[Actor], *args: Any) -> AsyncIterator[ActorRef]:
    """Nodes ``b`` (running ``actor`` under a name) and ``a``; yields ``a``'s ref to it."""
    from actors.transport import NatsTransport, RemoteRef

    def node(node_id: str) -> ActorSystem:
        return ActorSystem(SYSTEM, transport=NatsTransport([url], types=[Order], node_id=node_id))

    async with node("b") as b, node("a") as a:
        await b.spawn(actor, *args, name=NAME)
        ref = await a.lookup(NAME)
        if not isinstance(ref, RemoteRef):
            raise RuntimeError(f"node a resolved `{NAME}` to {ref!r}, not a remote ref")
        yield ref


@contextlib.asynccontextmanager
async def _clients(url: str, count: int) -> AsyncIterator[list[Client]]:
    import nats

    clients: list[Client] = []
    try:
        for index in range(count):
            clients.append(await nats.connect(url, name=f"raw-{index}"))
        yield clients
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.drain()


def _decode(msg: Msg) -> Order:
    return _decoders[msg.headers["Actor-Type"]](msg.data)  # type: ignore[index]


# ------------------------------------------------------------------ tell throughput


def _bursts(count: int) -> list[int]:
    """Burst sizes adding up to ``count``: the sender yields to the loop after each."""
    full, rest = divmod(count, BURST)
    return [BURST] * full + ([rest] if rest else [])


async def _tell_rate(burst: Callable[[int], Awaitable[None]], tally: Tally, count: int) -> float:
    done = tally.arm(count)
    start = time.perf_counter()
    await burst(count)
    try:
        async with asyncio.timeout(DEADLINE):
            await done
    except TimeoutError:
        raise RuntimeError(
            f"the receiver got {tally.seen} of {tally.target} messages in {DEADLINE} s"
        ) from None
    return count / (time.perf_counter() - start)


async def _measure_tells(
    burst: Callable[[int], Awaitable[None]], tally: Tally, count: int
) -> dict[str, float]:
    await _tell_rate(burst, tally, count // WARMUP_FRACTION)
    return {"rate": await _tell_rate(burst, tally, count)}


async def _ours_tell(url: str, quick: bool) -> dict[str, float]:
    tally = Tally()
    async with _nodes(url, Sink, tally) as ref:
        tell = ref.tell

        async def burst(count: int) -> None:
            for size in _bursts(count):
                for _ in range(size):
                    tell(ORDER)
                await asyncio.sleep(0)

        return await _measure_tells(burst, tally, TELLS.pick(quick))


async def _raw_tell(url: str, quick: bool) -> dict[str, float]:
    tally = Tally()
    async with _clients(url, 2) as (a, b):

        async def on_message(msg: Msg) -> None:
            _decode(msg)
            tally.hit()

        await b.subscribe(RAW_SUBJECT, cb=on_message)
        await b.flush()
        publish, encode = a.publish, _encoder.encode

        async def burst(count: int) -> None:
            for size in _bursts(count):
                for _ in range(size):
                    await publish(RAW_SUBJECT, encode(ORDER), headers=HEADERS)
                await asyncio.sleep(0)

        return await _measure_tells(burst, tally, TELLS.pick(quick))


async def _floor_tell(url: str, quick: bool) -> dict[str, float]:
    tally = Tally()
    decode = _decoders[TYPE_NAME]
    async with _clients(url, 2) as (a, b):

        async def on_message(msg: Msg) -> None:
            decode(msg.data)
            tally.hit()

        await b.subscribe(RAW_SUBJECT, cb=on_message)
        await b.flush()
        publish, encode = a.publish, _encoder.encode

        async def burst(count: int) -> None:
            for size in _bursts(count):
                for _ in range(size):
                    await publish(RAW_SUBJECT, encode(ORDER))
                await asyncio.sleep(0)

        return await _measure_tells(burst, tally, TELLS.pick(quick))


# ------------------------------------------------------------------ ask


AskFn = Callable[[], Awaitable[Any]]


async def _sequential(ask: AskFn, count: int) -> list[int]:
    clock = time.perf_counter_ns
    samples: list[int] = []
    append = samples.append
    for _ in range(count):
        start = clock()
        await ask()
        append(clock() - start)
    return samples


async def _in_flight(ask: AskFn, count: int) -> float:
    per_caller = count // IN_FLIGHT

    async def caller() -> None:
        for _ in range(per_caller):
            await ask()

    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(IN_FLIGHT):
            group.create_task(caller())
    return per_caller * IN_FLIGHT / (time.perf_counter() - start)


async def _measure_asks(ask: AskFn, quick: bool, concurrent: bool) -> dict[str, float]:
    answer = await ask()
    if answer != ORDER:
        raise RuntimeError(f"the echo answered {answer!r}")
    if concurrent:
        count = IN_FLIGHT_ASKS.pick(quick)
        await _in_flight(ask, count // WARMUP_FRACTION)
        return {"rate": await _in_flight(ask, count)}
    count = ASKS.pick(quick)
    await _sequential(ask, count // WARMUP_FRACTION)
    return percentiles_us(await _sequential(ask, count))


def _ours_ask(concurrent: bool) -> Callable[[str, bool], Coroutine[Any, Any, dict[str, float]]]:
    async def main(url: str, quick: bool) -> dict[str, float]:
        async with _nodes(url, Echo) as ref:
            ask = ref.ask

            def ask_order() -> Awaitable[Any]:
                return ask(ORDER, timeout=ASK_TIMEOUT)

            return await _measure_asks(ask_order, quick, concurrent)

    return main


def _raw_ask(concurrent: bool) -> Callable[[str, bool], Coroutine[Any, Any, dict[str, float]]]:
    async def main(url: str, quick: bool) -> dict[str, float]:
        async with _clients(url, 2) as (a, b):
            answer, encode = b.publish, _encoder.encode

            async def respond(msg: Msg) -> None:
                await answer(msg.reply, encode(_decode(msg)), headers=HEADERS)

            await b.subscribe(RAW_SUBJECT, cb=respond)
            await b.flush()
            request = a.request

            async def ask_order() -> Order:
                reply = await request(
                    RAW_SUBJECT, encode(ORDER), timeout=ASK_TIMEOUT, headers=HEADERS
                )
                return _decode(reply)

            return await _measure_asks(ask_order, quick, concurrent)

    return main


# ------------------------------------------------------------------ 1 vs 2 connections


async def _one_then_two(
    one: Callable[[int], Awaitable[None]],
    two: Callable[[int], Awaitable[None]],
    tally: Tally,
    count: int,
) -> dict[str, float]:
    """Rates over one and over two connections: a warm-up of each, then 1, 2, 2, 1, so
    both see the same server and machine state; the median of each."""
    bursts = {1: one, 2: two}
    for burst in bursts.values():
        await _tell_rate(burst, tally, count // WARMUP_FRACTION)
    rates: dict[int, list[float]] = {1: [], 2: []}
    for connections in (1, 2, 2, 1):
        rates[connections].append(await _tell_rate(bursts[connections], tally, count))
    return {"one": statistics.median(rates[1]), "two": statistics.median(rates[2])}


async def _raw_connections(url: str, quick: bool) -> dict[str, float]:
    tally = Tally()
    async with _clients(url, 3) as (subscriber, *publishers):

        async def on_message(msg: Msg) -> None:
            _decode(msg)
            tally.hit()

        await subscriber.subscribe(RAW_SUBJECT, cb=on_message)
        await subscriber.flush()
        encode = _encoder.encode

        def over(connections: int) -> Callable[[int], Awaitable[None]]:
            publish = [client.publish for client in publishers[:connections]]
            mask = connections - 1  # 1 or 2 connections: index i & mask

            async def burst(count: int) -> None:
                for size in _bursts(count):
                    for index in range(size):
                        await publish[index & mask](RAW_SUBJECT, encode(ORDER), headers=HEADERS)
                    await asyncio.sleep(0)

            return burst

        return await _one_then_two(over(1), over(2), tally, CONNECTION_TELLS.pick(quick))


async def _ours_connections(url: str, quick: bool) -> dict[str, float]:
    from actors.transport import NatsTransport

    def node(node_id: str, connections: int = 1) -> ActorSystem:
        transport = NatsTransport(
            [url], types=[Order], node_id=node_id, data_connections=connections
        )
        return ActorSystem(SYSTEM, transport=transport)

    tally = Tally()
    targets = [f"{NAME}{i}" for i in range(8)]
    async with node("b") as b, node("a1", 1) as a1, node("a2", 2) as a2:
        for name in targets:
            await b.spawn(Sink, tally, name=name)

        async def over(system: ActorSystem) -> Callable[[int], Awaitable[None]]:
            tells = [(await system.lookup(name)).tell for name in targets]  # type: ignore[union-attr]

            async def burst(count: int) -> None:
                for size in _bursts(count):
                    for index in range(size):
                        tells[index & 7](ORDER)
                    await asyncio.sleep(0)

            return burst

        return await _one_then_two(
            await over(a1), await over(a2), tally, CONNECTION_TELLS.pick(quick)
        )


# ------------------------------------------------------------------ registration


_LAYOUT = (
    "One process, two nodes (ours: two ActorSystems with a NatsTransport each; raw: two "
    "nats-py clients), a fresh loopback nats-server per process.",
    f"The {RAW_COLUMN} column holds raw nats-py with the same payload and Actor-Type header.",
)

register(
    Workload(
        name="nats_tell",
        family="transport",
        summary="remote tell throughput, node a -> actor on node b, over a loopback nats-server",
        metrics=(
            Metric(
                key="rate",
                label=f"remote tell, node a -> b ({RAW_NOTE}; {FLOOR_NOTE})",
                unit="msg/s",
                better="higher",
                goal=Goal.relative(
                    "higher", 0.8, ">= 80 % of the raw NATS floor (mailbox)", FLOOR_COLUMN
                ),
                chart=True,
            ),
        ),
        runners={
            "ours": _in_child(_ours_tell),
            RAW_COLUMN: _in_child(_raw_tell),
            FLOOR_COLUMN: _in_child(_floor_tell),
        },
        max_repeats=REPEATS,
        notes=_LAYOUT,
    )
)

register(
    Workload(
        name="nats_ask_sequential",
        family="transport",
        summary="remote ask to an echo actor on another node, one round trip at a time",
        metrics=(
            Metric(
                key="p50",
                label=f"remote ask round trip p50 ({RAW_NOTE})",
                unit="µs",
                better="lower",
                goal=Goal.relative("lower", 1.1, "<= 1.1x raw nats-py (bare)", RAW_COLUMN),
                digits=1,
                chart=True,
            ),
            Metric(
                key="p99",
                label=f"remote ask round trip p99 ({RAW_NOTE})",
                unit="µs",
                better="lower",
                digits=1,
            ),
        ),
        runners={
            "ours": _in_child(_ours_ask(concurrent=False)),
            RAW_COLUMN: _in_child(_raw_ask(concurrent=False)),
        },
        max_repeats=REPEATS,
        notes=_LAYOUT,
    )
)

register(
    Workload(
        name="nats_ask_in_flight",
        family="transport",
        summary=f"{IN_FLIGHT} callers ask an echo actor on another node concurrently",
        metrics=(
            Metric(
                key="rate",
                label=f"remote asks, {IN_FLIGHT} in flight ({RAW_NOTE})",
                unit="asks/s",
                better="higher",
                goal=Goal.at_least(20_000, ">= 20,000/s"),
                chart=True,
            ),
        ),
        runners={
            "ours": _in_child(_ours_ask(concurrent=True)),
            RAW_COLUMN: _in_child(_raw_ask(concurrent=True)),
        },
        max_repeats=REPEATS,
        notes=_LAYOUT,
    )
)

register(
    Workload(
        name="nats_connections",
        family="transport",
        summary="publish throughput of a node over 1 and over 2 data connections",
        metrics=(
            Metric(
                key="one",
                label=f"tell to 8 remote actors, 1 data connection ({RAW_NOTE})",
                unit="msg/s",
                better="higher",
            ),
            Metric(
                key="two",
                label=f"tell to 8 remote actors, 2 data connections ({RAW_NOTE})",
                unit="msg/s",
                better="higher",
            ),
        ),
        runners={"ours": _in_child(_ours_connections), RAW_COLUMN: _in_child(_raw_connections)},
        max_repeats=CONNECTION_REPEATS,
        notes=(
            "Informational: whether a node gains from several data connections "
            "(NatsTransport(data_connections=N)). Both figures of a column come from the "
            "same process, alternated 1, 2, 2, 1.",
        ),
    )
)
