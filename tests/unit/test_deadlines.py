"""The asks' shared timeout timer (``actors/_deadlines.py``), driven directly: expiry,
bounded memory whatever the order answers come in, and no timer left when nothing is
pending. Nothing is timed: expiry is awaited through the asks' futures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors import AskTimeout
from actors._deadlines import AskDeadlines


class FakeCell:
    path = "test/target"


CELL: Any = FakeCell()


async def test_a_pending_ask_expires_with_ask_timeout_naming_actor_and_timeout() -> None:
    loop = asyncio.get_running_loop()
    deadlines = AskDeadlines(loop)
    future: asyncio.Future[Any] = loop.create_future()
    deadlines.add(future, CELL, "question", 0.01)
    with pytest.raises(AskTimeout, match="test/target"):
        await future


async def test_answered_asks_behind_a_pending_one_are_compacted() -> None:
    loop = asyncio.get_running_loop()
    deadlines = AskDeadlines(loop)
    slow: asyncio.Future[Any] = loop.create_future()
    line = deadlines.add(slow, CELL, "slow", 30.0)
    for _ in range(1_000):
        answered: asyncio.Future[Any] = loop.create_future()
        deadlines.add(answered, CELL, "fast", 30.0)
        answered.set_result(None)
        line.pending -= 1  # what ask's finally does once answered
    # The slow ask holds the head: without compaction all 1,000 would stay queued.
    assert len(line.entries) <= 2 * line.pending + 20
    slow.cancel()
    deadlines.withdraw(line)


async def test_withdrawing_the_last_pending_ask_cancels_the_timer() -> None:
    loop = asyncio.get_running_loop()
    armed: list[asyncio.TimerHandle] = []
    call_at = loop.call_at

    def spy(when: float, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        armed.append(call_at(when, *args, **kwargs))
        return armed[-1]

    loop.call_at = spy  # type: ignore[method-assign]
    try:
        deadlines = AskDeadlines(loop)
        first: asyncio.Future[Any] = loop.create_future()
        second: asyncio.Future[Any] = loop.create_future()
        line = deadlines.add(first, CELL, "a", 30.0)
        deadlines.add(second, CELL, "b", 30.0)
        first.cancel()
        deadlines.withdraw(line)
        assert not armed[0].cancelled()  # the second is still pending
        second.cancel()
        deadlines.withdraw(line)
        assert armed[0].cancelled()
    finally:
        del loop.call_at  # type: ignore[method-assign]
