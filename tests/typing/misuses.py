"""Misuses mypy must report, one per line marked ``# error``, and only those
(checked by test_typed_refs.py; this file is never run)."""

from __future__ import annotations

from typed_ok import Counter, CounterMsg, Increment

from actors import ActorRef, ActorSystem


async def misuse(system: ActorSystem, ref: ActorRef[CounterMsg]) -> None:
    counter = await system.spawn(Counter)
    counter.tell("not a counter message")  # error
    counter.tell(Increment("5"))  # error
    await counter.ask(42)  # error
    await counter.send(None)  # error
    ref.tell(b"bytes")  # error
    pool = await system.spawn_pool(Counter, size=2)
    pool.tell(3.5)  # error
    wrong: ActorRef[int] = counter  # error
    wrong.tell(1)
