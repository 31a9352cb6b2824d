"""Messages and helpers shared by the toolkit tests."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from actors import Actor


class Ping(msgspec.Struct):
    n: int = 0


class Get(msgspec.Struct):
    pass


class Other(msgspec.Struct):
    pass


class Crash(msgspec.Struct):
    pass


class Recorder(Actor):
    """Records what it handles; ``Get`` answers the record."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def receive(self, message: Any) -> Any:
        match message:
            case Get():
                return list(self.seen)
            case _:
                self.seen.append(message)
        return None


def later(delay: float) -> asyncio.Future[None]:
    """A future done ``delay`` seconds from now: an ordering witness for timers (a
    loop timer due later fires later), never a timed assertion."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    loop.call_later(delay, lambda: future.done() or future.set_result(None))
    return future
