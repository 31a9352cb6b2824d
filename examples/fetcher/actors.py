"""The fetcher's actors.

``RateLimiter`` is a token bucket. A periodic timer refills it; while it is empty the
limiter *becomes* ``throttled`` and *stashes* what arrives; the next refill goes back to
``receive`` and unstashes, so requests keep their order. Requests that pass go to a
pool of ``Fetcher`` routees with the asker's reply handle, and the routee answers the
original ask itself. A fetch that raises crashes its routee: the asker gets
``ActorCrashed`` and the pool restarts the routee in place.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from actors import NO_REPLY, Actor, ActorRef


class Fetch(msgspec.Struct):
    url: str


class Refill(msgspec.Struct):
    pass


class Stats(msgspec.Struct):
    pass


class LimiterStats(msgspec.Struct):
    passed: int
    throttled: int
    refills: int


async def fake_fetch(url: str) -> str:
    """Stands in for an HTTP client; a URL with "broken" in it fails."""
    await asyncio.sleep(0)
    if "broken" in url:
        raise ConnectionError(f"cannot reach {url}")
    return f"<html>{url}</html>"


class Fetcher(Actor[Fetch]):
    async def receive(self, message: Fetch) -> str:
        return await fake_fetch(message.url)  # answers the ask made to the limiter


class RateLimiter(Actor[Fetch | Refill | Stats]):
    """Lets ``burst`` fetches through per window of ``every`` seconds. The window's
    timer runs only while tokens are spent: an idle limiter has no timer at all."""

    def __init__(self, fetchers: ActorRef[Fetch], burst: int, every: float) -> None:
        self.fetchers = fetchers
        self.burst = burst
        self.every = every
        self.tokens = burst
        self.passed = self.throttled = self.refills = 0

    async def receive(self, message: Any) -> Any:
        match message:
            case Fetch():
                if not self.timers.is_active("refill"):
                    self.timers.start_single("refill", Refill(), self.every)
                self.tokens -= 1
                self.passed += 1
                self.fetchers.forward(message)  # the asker stays the sender
                if self.tokens == 0:
                    self.become(self.throttled_state)
                return NO_REPLY
            case Refill():
                self.refill()
            case Stats():
                return LimiterStats(self.passed, self.throttled, self.refills)
            case _:
                return self.unhandled(message)
        return None

    async def throttled_state(self, message: Any) -> Any:
        match message:
            case Fetch():
                self.throttled += 1
                self.stash()  # its asker keeps waiting
                return NO_REPLY
            case Refill():
                self.refill()
                self.unbecome()
                self.unstash_all()  # back at the front, in their order
                return None
        return await self.receive(message)

    def refill(self) -> None:
        self.refills += 1
        self.tokens = self.burst
