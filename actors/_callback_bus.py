"""``AsyncEventBus``: the callback-style facade of the original design, on the actor bus.

Code written against the old ``AsyncEventBus`` (``subscribe(event_type, callback)``,
``await publish(event)``) keeps working. Underneath, one dispatcher actor subscribes to
everything on an actor system's bus and runs the callbacks, so callback subscribers
see what actors publish and actors see what callbacks publish.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from ._actor import Actor
from ._bus import EVERYTHING
from ._logging import get_logger
from ._ref import ActorRef, current_cell
from ._system import ActorSystem

__all__ = ["AsyncEventBus"]

log = get_logger("actors.events")

Callback = Callable[[Any], Awaitable[None] | None]


class _Dispatcher(Actor):
    """Runs the facade's callbacks for every event the bus delivers."""

    def __init__(self, facade: AsyncEventBus) -> None:
        self.facade = facade

    async def receive(self, message: Any) -> None:
        await self.facade._dispatch(message)


class AsyncEventBus:
    """Callback pub/sub for code moving over from the original ``AsyncEventBus``.

    ``subscribe(event_type, callback)`` with a class (subclasses match) or ``"*"``;
    callbacks may be sync or async; ``await publish(event)`` returns once this facade's
    callbacks for the event have run (from inside a callback too: the follow-up event's
    callbacks run before it returns, as in the original design). A callback that raises
    is logged and the others still run. Use ``async with AsyncEventBus("session") as
    bus:`` or ``await bus.close()``; publishing after close raises ``RuntimeError``.

    Pass ``system=`` to share an existing system's bus with its actors; otherwise the
    facade runs a small ``ActorSystem`` of its own.
    """

    def __init__(self, session_id: str, *, system: ActorSystem | None = None) -> None:
        self.session_id = session_id
        self._system = system
        self._owns_system = system is None
        self._callbacks: dict[Any, list[Callback]] = {}
        self._dispatcher: ActorRef | None = None
        # id(event) -> futures of publish() calls waiting for its callbacks to run
        self._pending: dict[int, list[asyncio.Future[None]]] = {}
        # id(event) -> copies the dispatcher must not run again (already run inline)
        self._skip: dict[int, int] = {}
        self._closed = False

    async def __aenter__(self) -> Self:
        await self._ensure_started()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def subscribe(self, event_type: Any, callback: Callback) -> None:
        """Call ``callback(event)`` for every event of ``event_type`` (or ``"*"``)."""
        if not (isinstance(event_type, type) or event_type == EVERYTHING):
            raise TypeError(f"subscribe to a class or '*', got {event_type!r}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        self._callbacks.setdefault(event_type, []).append(callback)

    def unsubscribe(self, event_type: Any, callback: Callback | None = None) -> None:
        """Remove ``callback`` (or every callback) for ``event_type``."""
        callbacks = self._callbacks.get(event_type, [])
        if callback is None:
            callbacks.clear()
        elif callback in callbacks:
            callbacks.remove(callback)

    async def publish(self, event: Any) -> None:
        """Publish on the actor bus; return when this facade's callbacks have run."""
        if self._closed:
            raise RuntimeError(
                f"AsyncEventBus `{self.session_id}` is closed; publish before close()"
            )
        system = await self._ensure_started()
        dispatcher = self._dispatcher
        if dispatcher is not None and current_cell.get() is dispatcher._cell:
            # Published from one of our callbacks, so the dispatcher is busy running it:
            # waiting for it would deadlock. Run the callbacks here, as the original bus
            # did, and let the dispatcher skip the copy the bus brings back.
            self._skip[id(event)] = self._skip.get(id(event), 0) + 1
            system.publish(event)
            await self._run_callbacks(event)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(id(event), []).append(done)
        system.publish(event)
        await done

    async def close(self) -> None:
        """Stop dispatching (and the facade's own system, if it has one). Idempotent."""
        if self._closed:
            return
        self._closed = True
        system, dispatcher = self._system, self._dispatcher
        if system is not None and dispatcher is not None:
            await system.stop(dispatcher)
            if self._owns_system:
                await system.__aexit__(None, None, None)
        for futures in self._pending.values():
            for future in futures:
                future.cancel()
        self._pending.clear()

    async def _ensure_started(self) -> ActorSystem:
        if self._closed:
            raise RuntimeError(f"AsyncEventBus `{self.session_id}` is closed")
        if self._system is None:
            self._system = ActorSystem(f"events-{self.session_id}")
        system = self._system
        if self._owns_system and system._state.value == "unopened":
            await system.__aenter__()
        if self._dispatcher is None:
            self._dispatcher = await system.spawn(_Dispatcher, self)
            await system.subscribe(self._dispatcher, EVERYTHING)
        return system

    async def _dispatch(self, event: Any) -> None:
        skips = self._skip.get(id(event))
        if skips:
            if skips == 1:
                del self._skip[id(event)]
            else:
                self._skip[id(event)] = skips - 1
            return
        await self._run_callbacks(event)
        waiting = self._pending.get(id(event))
        if waiting:
            future = waiting.pop(0)
            if not waiting:
                del self._pending[id(event)]
            if not future.done():
                future.set_result(None)

    async def _run_callbacks(self, event: Any) -> None:
        callbacks = [
            callback
            for event_type, registered in self._callbacks.items()
            if event_type == EVERYTHING or isinstance(event, event_type)
            for callback in registered
        ]
        for callback in callbacks:
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception(
                    "event callback failed",
                    session=self.session_id,
                    event_type=type(event).__name__,
                    callback=getattr(callback, "__qualname__", repr(callback)),
                )
