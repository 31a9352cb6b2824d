"""``TransportPool``: a bounded pool of connections with health checks and fair waiting.

The pool of the original design (``AsyncTransportPool``), kept to its contract:
``acquire`` hands out a healthy idle connection, else opens a new one while under
``max_size``, else waits; ``release`` returns it (an unhealthy one is closed instead);
``close`` refuses new acquires, wakes waiters with ``TransportUnavailable`` and closes
every connection, idle ones at once and busy ones as they come back.

Waiting is first come, first served: a released connection goes straight to the oldest
waiter, never to a newcomer. A waiter cancelled after it was handed a connection gives
it back, so no connection leaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

import msgspec

from actors.lowlevel import get_logger

from ._errors import TransportUnavailable

__all__ = ["PoolStats", "TransportPool"]

log = get_logger("actors.transport")

C = TypeVar("C")


class PoolStats(msgspec.Struct, frozen=True):
    """A snapshot of a pool (``TransportPool.stats()``)."""

    size: int
    """Open connections, idle and busy."""
    idle: int
    busy: int
    waiting: int
    """Acquirers waiting for a connection."""
    created: int
    closed: int
    unhealthy: int
    """Connections found unhealthy (on acquire or release) and closed."""


class TransportPool(Generic[C]):
    """``TransportPool(factory, max_size=4, healthy=..., close=...)``.

    ``factory()`` opens a connection (awaitable); ``healthy(conn)`` says whether it may
    be used (sync or async; default: always); ``close(conn)`` closes one (awaitable).
    Use ``async with pool.connection() as conn:`` to acquire and release.
    """

    def __init__(
        self,
        factory: Callable[[], Awaitable[C]],
        *,
        max_size: int = 4,
        healthy: Callable[[C], bool | Awaitable[bool]] | None = None,
        close: Callable[[C], Awaitable[None]] | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"`max_size` must be >= 1, got {max_size!r}")
        self._factory = factory
        self._healthy = healthy
        self._close_one = close
        self.max_size = max_size
        self._idle: deque[C] = deque()  # oldest released first
        self._busy: list[C] = []
        self._opening = 0  # factory calls in progress (they count towards max_size)
        self._waiters: deque[asyncio.Future[C]] = deque()
        self._closing = False
        self._created = self._closed = self._unhealthy = 0

    def stats(self) -> PoolStats:
        return PoolStats(
            size=len(self._idle) + len(self._busy),
            idle=len(self._idle),
            busy=len(self._busy),
            waiting=sum(1 for waiter in self._waiters if not waiter.done()),
            created=self._created,
            closed=self._closed,
            unhealthy=self._unhealthy,
        )

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[C]:
        conn = await self.acquire()
        try:
            yield conn
        finally:
            await self.release(conn)

    async def acquire(self) -> C:
        """A healthy connection for exclusive use until ``release``."""
        while True:
            self._check_open()
            while self._idle:
                conn = self._idle.popleft()
                if await self._is_healthy(conn):
                    self._busy.append(conn)
                    return conn
                await self._discard(conn)
            if len(self._busy) + self._opening < self.max_size:
                return await self._open()
            try:
                conn = await self._wait()
            except _Retry:
                continue  # a connection was closed: there is room to open one
            if await self._is_healthy(conn):
                return conn  # handed over by release(): already counted busy
            self._busy.remove(conn)
            await self._discard(conn)

    async def release(self, conn: C) -> None:
        """Give ``conn`` back: to the oldest waiter, to the idle set, or closed if the
        pool is closing or the connection is unhealthy."""
        if conn not in self._busy:
            raise ValueError("release() of a connection this pool did not hand out")
        if self._closing or not await self._is_healthy(conn):
            self._busy.remove(conn)
            await self._discard(conn)
            self._wake_one_for_capacity()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)  # stays in _busy, now the waiter's
                return
        self._busy.remove(conn)
        self._idle.append(conn)

    async def close(self) -> None:
        """Refuse new acquires, fail waiters, close idle connections now and busy ones
        when released. Idempotent."""
        if self._closing:
            return
        self._closing = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(TransportUnavailable("the pool is closed"))
        while self._idle:
            await self._discard(self._idle.popleft())

    # ------------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._closing:
            raise TransportUnavailable("the pool is closed; no connection can be acquired")

    async def _open(self) -> C:
        self._opening += 1
        try:
            conn = await self._factory()
        finally:
            self._opening -= 1
        self._created += 1
        if self._closing:
            await self._discard(conn)
            self._check_open()
        self._busy.append(conn)
        return conn

    async def _wait(self) -> C:
        waiter: asyncio.Future[C] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a connection as we were cancelled: pass it on, never leak it.
                await self.release(waiter.result())
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _wake_one_for_capacity(self) -> None:
        """A connection was closed: the oldest waiter may now open a new one."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(_Retry())
                return

    async def _is_healthy(self, conn: C) -> bool:
        if self._healthy is None:
            return True
        verdict = self._healthy(conn)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)

    async def _discard(self, conn: C) -> None:
        if not self._closing:
            self._unhealthy += 1
        self._closed += 1
        if self._close_one is not None:
            try:
                await self._close_one(conn)
            except Exception as exc:
                log.warning("closing a pooled connection failed", error=repr(exc))


class _Retry(Exception):
    """Internal: wakes a waiter so it retries acquire (capacity was freed)."""
