"""``AsyncEventBus``: the callback-style facade of the original design, on the actor bus.

Code written against the old ``AsyncEventBus`` (``subscribe(event_type, callback)``,
``await publish(event)``) keeps working. Underneath, one dispatcher actor subscribes to
everything on an actor system's bus and runs the callbacks, so callback subscribers
see what actors publish and actors see what callbacks publish.

A callback's failure is the callback's alone, ``CancelledError`` included (see
``_cancellation``); only a real cancellation of the dispatcher ends it. If the dispatcher
ends for any reason, every publisher still waiting fails with ``EventBusClosed`` and so
does every later ``publish``: nothing waits for a dispatcher that is gone.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from ._actor import Actor
from ._bus import EVERYTHING
from ._cancellation import cancellation_requested
from ._errors import ActorsError
from ._logging import get_logger
from ._ref import ActorRef, current_cell
from ._system import ActorSystem

__all__ = ["AsyncEventBus", "EventBusClosed"]

log = get_logger("actors.events")

Callback = Callable[[Any], Awaitable[None] | None]


class EventBusClosed(ActorsError, RuntimeError):
    """Raised by ``AsyncEventBus.publish`` once the facade cannot run callbacks any
    more: it was closed, or its dispatcher actor stopped (its system shut down, or it
    was stopped or killed). A ``RuntimeError``, as the original bus's closed error was."""


class _Dispatcher(Actor):
    """Runs the facade's callbacks for every event the bus delivers."""

    def __init__(self, facade: AsyncEventBus) -> None:
        self.facade = facade

    async def receive(self, message: Any) -> None:
        await self.facade._dispatch(message)

    # Between them, the two hooks see every way an actor ends: stopped() after a stop
    # or a crash, _killed() after its task was cancelled.
    async def stopped(self) -> None:
        self.facade._dispatcher_ended(self.ref.path, "stopped")

    def _killed(self) -> None:
        self.facade._dispatcher_ended(self.ref.path, "was killed")


class AsyncEventBus:
    """Callback pub/sub for code moving over from the original ``AsyncEventBus``.

    ``subscribe(event_type, callback)`` with a class (subclasses match) or ``"*"``;
    callbacks may be sync or async; ``await publish(event)`` returns once this facade's
    callbacks for the event have run (from inside a callback too: the follow-up event's
    callbacks run before it returns, as in the original design). A callback that raises
    (``CancelledError`` included) is logged and counted in ``callback_errors``, and the
    others still run. Use ``async with AsyncEventBus("session") as bus:`` or ``await
    bus.close()``; publishing after close, or once the dispatcher has stopped, raises
    ``EventBusClosed``, and so does a ``publish`` still waiting when that happens.

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
        # Why publish must fail from now on (closed, or the dispatcher ended); None: open.
        self._unusable: str | None = None
        self.callback_errors = 0
        """How many callback calls raised (``CancelledError`` included), all logged."""

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
        """Publish on the actor bus; return when this facade's callbacks have run.

        Raises ``EventBusClosed`` if the facade is closed or its dispatcher has stopped,
        also while waiting: a publish never outlives the dispatcher that would answer it.
        """
        system = await self._ensure_started()
        dispatcher = self._dispatcher
        assert dispatcher is not None
        if current_cell.get() is dispatcher._cell:
            # Published from one of our callbacks, so the dispatcher is busy running it:
            # waiting for it would deadlock. Run the callbacks here, as the original bus
            # did, and let the dispatcher skip the copy the bus brings back.
            system.publish(event)
            self._skip[id(event)] = self._skip.get(id(event), 0) + 1
            await self._run_callbacks(event)
            return
        system.publish(event)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(id(event), []).append(done)
        await done

    async def close(self) -> None:
        """Stop dispatching (and the facade's own system, if it has one). Idempotent.
        A ``publish`` still waiting raises ``EventBusClosed``."""
        if self._closed:
            return
        self._closed = True
        if self._unusable is None:
            self._unusable = "is closed; publish before close()"
        system, dispatcher = self._system, self._dispatcher
        if system is not None and dispatcher is not None:
            await system.stop(dispatcher)
            if self._owns_system:
                await system.__aexit__(None, None, None)

    def _check_usable(self) -> None:
        if self._unusable is not None:
            raise self._unusable_error()

    def _unusable_error(self) -> EventBusClosed:
        assert self._unusable is not None
        dispatcher = self._dispatcher
        return EventBusClosed(
            f"AsyncEventBus `{self.session_id}` {self._unusable}",
            actor=None if dispatcher is None else dispatcher.path,
        )

    def _dispatcher_ended(self, path: str, how: str) -> None:
        """The dispatcher stopped: fail every waiting publish now, and every later one."""
        if self._unusable is None:
            self._unusable = (
                f"is closed: its dispatcher `{path}` {how}, so no callback will run again; "
                "create a new AsyncEventBus"
            )
        pending, self._pending = self._pending, {}
        self._skip.clear()
        for futures in pending.values():
            for future in futures:
                if not future.done():  # else its publisher was cancelled meanwhile
                    future.set_exception(self._unusable_error())

    async def _ensure_started(self) -> ActorSystem:
        self._check_usable()
        if self._system is None:
            self._system = ActorSystem(f"events-{self.session_id}")
        system = self._system
        if self._owns_system and system._state.value == "unopened":
            await system.__aenter__()
        if self._dispatcher is None:
            self._dispatcher = await system.spawn(_Dispatcher, self)
            await system.subscribe(self._dispatcher, EVERYTHING)
        self._check_usable()  # it may have ended while we waited
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
            except (Exception, asyncio.CancelledError) as error:
                if isinstance(error, asyncio.CancelledError) and cancellation_requested():
                    raise  # the dispatcher itself is cancelled (killed): not the callback's
                # Any other error, or a CancelledError the callback raised on its own (it
                # awaited something another task cancelled): isolated, as the original
                # bus's gather(return_exceptions=True) did.
                self.callback_errors += 1
                log.exception(
                    "event callback failed",
                    session=self.session_id,
                    event_type=type(event).__name__,
                    callback=getattr(callback, "__qualname__", repr(callback)),
                    error_type=type(error).__name__,
                )
