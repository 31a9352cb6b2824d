"""A typed program that mypy --strict must accept (checked by test_typed_refs.py)."""

from __future__ import annotations

import msgspec

from actors import Actor, ActorRef, ActorSystem


class Increment(msgspec.Struct):
    n: int = 1


class Get(msgspec.Struct):
    pass


CounterMsg = Increment | Get


class Counter(Actor[CounterMsg]):
    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: CounterMsg) -> int | None:
        match message:
            case Increment(n):
                self.count += n
            case Get():
                return self.count
        return None


class Untyped(Actor):
    async def receive(self, message: object) -> None:
        return None


def use(ref: ActorRef[CounterMsg]) -> None:
    ref.tell(Increment(2))
    ref.tell(Get())


async def main() -> None:
    async with ActorSystem("typed") as system:
        counter: ActorRef[CounterMsg] = await system.spawn(Counter)
        counter.tell(Increment(5))
        await counter.send(Get())
        total = await counter.ask(Get())
        assert total == 5
        use(counter)
        pool = await system.spawn_pool(Counter, size=2)
        pool.tell(Increment())
        anything = await system.spawn(Untyped)
        anything.tell("a string")  # a bare Actor takes anything
        anything.tell(42)
        found = system.whereis("counter")  # ActorRef (any message): unknown statically
        if found is not None:
            found.tell(object())
