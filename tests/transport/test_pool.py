"""TransportPool: bounded, health-checked, fair, and leak-free under cancellation."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from actors.transport import TransportPool, TransportUnavailable


class Conn:
    _ids = itertools.count(1)

    def __init__(self) -> None:
        self.id = next(self._ids)
        self.healthy = True
        self.closed = False


def make_pool(max_size: int = 2) -> tuple[TransportPool[Conn], list[Conn]]:
    opened: list[Conn] = []

    async def factory() -> Conn:
        conn = Conn()
        opened.append(conn)
        return conn

    async def close(conn: Conn) -> None:
        conn.closed = True

    pool = TransportPool(factory, max_size=max_size, healthy=lambda c: c.healthy, close=close)
    return pool, opened


async def test_pool_reuses_released_connection() -> None:
    pool, opened = make_pool()
    async with pool.connection() as first:
        pass
    async with pool.connection() as second:
        assert second is first
    assert len(opened) == 1
    assert pool.stats().idle == 1


async def test_pool_opens_up_to_max_size_then_waits() -> None:
    pool, opened = make_pool(max_size=2)
    a = await pool.acquire()
    b = await pool.acquire()
    waiter = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)
    assert not waiter.done() and pool.stats().waiting == 1
    await pool.release(a)
    assert await waiter is a
    assert len(opened) == 2
    await pool.release(a)
    await pool.release(b)


async def test_pool_waiters_served_first_come_first_served() -> None:
    pool, _ = make_pool(max_size=1)
    held = await pool.acquire()
    order: list[str] = []

    async def take(label: str) -> None:
        conn = await pool.acquire()
        order.append(label)
        await pool.release(conn)

    first = asyncio.ensure_future(take("first"))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(take("second"))
    await asyncio.sleep(0)
    await pool.release(held)
    await asyncio.gather(first, second)
    assert order == ["first", "second"]


async def test_pool_unhealthy_connection_closed_and_replaced() -> None:
    pool, _ = make_pool()
    conn = await pool.acquire()
    await pool.release(conn)
    conn.healthy = False
    fresh = await pool.acquire()
    assert fresh is not conn and conn.closed
    assert pool.stats().unhealthy == 1
    await pool.release(fresh)


async def test_pool_unhealthy_release_lets_a_waiter_open_a_new_one() -> None:
    pool, opened = make_pool(max_size=1)
    conn = await pool.acquire()
    waiter = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)
    conn.healthy = False
    await pool.release(conn)
    fresh = await waiter
    assert fresh is not conn and conn.closed and len(opened) == 2
    await pool.release(fresh)


async def test_pool_cancelled_waiter_handed_a_connection_gives_it_back() -> None:
    pool, _ = make_pool(max_size=1)
    conn = await pool.acquire()
    waiter = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)
    await pool.release(conn)  # handed to the waiter ...
    waiter.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert pool.stats().idle == 1 and pool.stats().busy == 0
    async with pool.connection() as again:
        assert again is conn


async def test_pool_close_fails_waiters_and_closes_connections() -> None:
    pool, _ = make_pool(max_size=1)
    busy = await pool.acquire()
    waiter = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)
    await pool.close()
    with pytest.raises(TransportUnavailable, match="the pool is closed"):
        await waiter
    assert not busy.closed  # still in use: closed when released
    await pool.release(busy)
    assert busy.closed
    with pytest.raises(TransportUnavailable, match="no connection can be acquired"):
        await pool.acquire()
    await pool.close()  # idempotent


async def test_pool_release_of_foreign_connection_refused() -> None:
    pool, _ = make_pool()
    with pytest.raises(ValueError, match="did not hand out"):
        await pool.release(Conn())


def test_pool_max_size_must_be_positive() -> None:
    async def factory() -> Conn:
        return Conn()

    with pytest.raises(ValueError, match="`max_size` must be >= 1"):
        TransportPool(factory, max_size=0)
