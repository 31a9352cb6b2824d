"""The pipeline's actors: ``Source`` -> ``Worker`` x N -> ``Sink``."""

from __future__ import annotations

import asyncio
import random

import msgspec
import structlog

from actors import Actor

log = structlog.get_logger("pipeline")


class Order(msgspec.Struct, frozen=True):
    """A raw order line as it arrives: "<sku>,<quantity>,<unit price>"."""

    id: int
    line: str


class Priced(msgspec.Struct, frozen=True):
    id: int
    sku: str
    total: float


class Tick(msgspec.Struct, frozen=True):
    pass


class Report(msgspec.Struct, frozen=True):
    pass


class Source(Actor):
    """Emits ``batch`` orders every ``interval`` seconds, round-robin to the workers
    named ``worker-1`` .. ``worker-<workers>``; ``bad_ratio`` of them are malformed."""

    def __init__(
        self, workers: int, batch: int = 50, interval: float = 0.05, bad_ratio: float = 0.02
    ) -> None:
        self.worker_names = [f"worker-{n}" for n in range(1, workers + 1)]
        self.batch = batch
        self.interval = interval
        self.bad_ratio = bad_ratio
        self.rng = random.Random(7)
        self.next_id = 0
        self.timer: asyncio.TimerHandle | None = None

    async def started(self) -> None:
        self.ref.tell(Tick())

    async def stopped(self) -> None:
        # The timer is the source's only resource: it must not fire after a stop.
        if self.timer is not None:
            self.timer.cancel()

    async def receive(self, message: object) -> None:
        match message:
            case Tick():
                workers = [self.system.whereis(name) for name in self.worker_names]
                for _ in range(self.batch):
                    self.next_id += 1
                    worker = workers[self.next_id % len(workers)]
                    if worker is not None:
                        worker.tell(Order(self.next_id, self._line()))
                self.timer = asyncio.get_running_loop().call_later(
                    self.interval, self.ref.tell, Tick()
                )

    def _line(self) -> str:
        if self.rng.random() < self.bad_ratio:
            return "garbage"
        sku = self.rng.choice(["apple", "pear", "plum", "fig"])
        return f"{sku},{self.rng.randint(1, 9)},{self.rng.uniform(0.2, 3.0):.2f}"


class Worker(Actor):
    """Prices an order and passes it to the sink. Malformed input raises, on purpose:
    letting it crash is the supervisor's job to fix."""

    async def receive(self, message: object) -> None:
        match message:
            case Order(id, line):
                sku, quantity, price = line.split(",")  # ValueError on bad input
                sink = self.system.whereis("sink")
                if sink is not None:
                    sink.tell(Priced(id, sku, int(quantity) * float(price)))


class Sink(Actor):
    """Totals what arrives; logs the totals when it stops."""

    def __init__(self) -> None:
        self.orders = 0
        self.revenue = 0.0

    async def receive(self, message: object) -> object:
        match message:
            case Priced(_, _, total):
                self.orders += 1
                self.revenue += total
            case Report():
                return {"orders": self.orders, "revenue": round(self.revenue, 2)}
        return None

    async def stopped(self) -> None:
        log.info("sink totals", orders=self.orders, revenue=round(self.revenue, 2))
