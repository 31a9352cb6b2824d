"""``python -m examples.fetcher``: 20 fetches through a limiter of 5 per 10 ms and a
pool of 3 fetchers; one URL is broken."""

from __future__ import annotations

import asyncio

import actors
from actors import ActorCrashed, ActorSystem

from .actors import Fetch, Fetcher, RateLimiter, Stats


async def main() -> None:
    async with ActorSystem("fetcher") as system:
        fetchers = await system.spawn_pool(Fetcher, size=3, routing="smallest_mailbox")
        limiter = await system.spawn(RateLimiter, fetchers, 5, 0.01, name="limiter")
        urls = [f"https://example.com/{n}" for n in range(19)] + ["https://broken.example"]
        results = await asyncio.gather(
            *(limiter.ask(Fetch(url)) for url in urls), return_exceptions=True
        )
        pages = [result for result in results if isinstance(result, str)]
        failed = [result for result in results if isinstance(result, ActorCrashed)]
        for error in failed:
            print(f"failed: {error}")
        stats = await limiter.ask(Stats())
        # Still serving after the broken URL crashed a routee (restarted in place).
        after = await limiter.ask(Fetch("https://example.com/after"))
        await system.stop(limiter, drain=True)
        print(f"fetched {len(pages)} of {len(urls)}; failed {len(failed)}")
        print(f"in order: {pages == [f'<html>{url}</html>' for url in urls[:-1]]}")
        print(f"throttled: {stats.throttled > 0}; refills: {stats.refills}")
        print(f"after the crash: {after}")
        print(f"restarts: {system.metrics().restarts}")


if __name__ == "__main__":
    actors.run(main())
