"""One node of the cluster example: ``python -m examples.cluster.node store|shop URL``."""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Any

import msgspec
import structlog
from actors.transport import NatsTransport

from actors import Actor, ActorNotFound, ActorRef, ActorSystem, Terminated, run, trace

log = structlog.get_logger("cluster")


class Reserve(msgspec.Struct, frozen=True):
    sku: str
    quantity: int


class Reserved(msgspec.Struct, frozen=True):
    sku: str
    ok: bool
    left: int


class Tick(msgspec.Struct, frozen=True):
    pass


TYPES = [Reserve, Reserved]


class Inventory(Actor):
    """Stock by SKU; answers each reservation."""

    def __init__(self) -> None:
        self.stock = {"apple": 500, "pear": 300, "fig": 100}

    async def receive(self, message: Any) -> Reserved | None:
        match message:
            case Reserve(sku, quantity):
                left = self.stock.get(sku, 0)
                ok = left >= quantity
                if ok:
                    self.stock[sku] = left - quantity
                # This line carries the trace_id of the shopper's request (another
                # process): the ask brought it in its traceparent header.
                log.info("reservation", sku=sku, quantity=quantity, ok=ok)
                return Reserved(sku, ok, self.stock.get(sku, 0))
        return None


class Shopper(Actor):
    """Reserves random items every ``interval`` seconds from the (remote) inventory.
    It learns that the inventory is gone either way: an ask that finds no responders,
    or the ``Terminated`` its watch delivers when the store's heartbeats stop."""

    def __init__(self, inventory: ActorRef, done: asyncio.Event, interval: float = 0.2) -> None:
        self.inventory = inventory
        self.done = done
        self.interval = interval
        self.rng = random.Random()
        self.timer: asyncio.TimerHandle | None = None
        self.reserved = 0

    async def started(self) -> None:
        self.watch(self.inventory)
        self.ref.tell(Tick())

    async def stopped(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.done.set()

    async def receive(self, message: Any) -> None:
        match message:
            case Tick():
                sku = self.rng.choice(["apple", "pear", "fig"])
                with trace():  # each reservation is a request of its own: a new trace
                    try:
                        answer = await self.inventory.ask(
                            Reserve(sku, self.rng.randint(1, 5)), timeout=2
                        )
                    except ActorNotFound as error:
                        # No responders: the inventory's node is gone, at once.
                        log.warning("inventory unreachable", error=str(error))
                        self.stop()
                        return
                    self.reserved += answer.ok
                    log.info("reserved", sku=answer.sku, ok=answer.ok, left=answer.left)
                self.timer = asyncio.get_running_loop().call_later(
                    self.interval, self.ref.tell, Tick()
                )
            case Terminated(ref, reason) if ref == self.inventory:
                log.warning("inventory is gone", reason=reason, reservations=self.reserved)
                self.stop()


async def main(role: str, url: str) -> None:
    transport = NatsTransport([url], types=TYPES, heartbeat=0.5, misses=3)
    async with ActorSystem("cluster", transport=transport) as system:
        if role == "store":
            await system.spawn(Inventory, name="inventory")
            print("ready", flush=True)
            await asyncio.Event().wait()  # until killed
        inventory = await system.lookup("inventory")
        if inventory is None:
            raise SystemExit("no inventory registered in the cluster")
        done = asyncio.Event()
        await system.spawn(Shopper, inventory, done)
        print("ready", flush=True)
        await done.wait()


if __name__ == "__main__":
    run(main(sys.argv[1], sys.argv[2]), configure_logging=True)
