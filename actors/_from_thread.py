"""``system.from_thread``: reaching actors from threads the event loop does not run on
(a synchronous web framework, a GUI, a callback library).

Everything goes through the loop's own thread-safe entry points:
``loop.call_soon_threadsafe`` for ``tell`` and ``publish`` (the send then happens on the
loop, in order), ``asyncio.run_coroutine_threadsafe`` for ``ask`` (the calling thread
blocks on the answer; the loop never does). Calling these on the loop's own thread
would deadlock an ``ask`` and is always a mistake, so it raises.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from ._errors import MailboxFull
from ._mailbox import Priority

if TYPE_CHECKING:
    from ._ref import ActorRef
    from ._system import ActorSystem

__all__ = ["FromThread"]


class FromThread:
    """``tell``, ``ask`` and ``publish`` for code running on another thread."""

    __slots__ = ("_loop", "_system")

    def __init__(self, system: ActorSystem, loop: asyncio.AbstractEventLoop) -> None:
        self._system = system
        self._loop = loop

    def tell(self, ref: ActorRef, message: Any, priority: Priority = Priority.NORMAL) -> None:
        """Send ``message`` to ``ref`` from another thread; returns at once. A full
        bounded mailbox makes it a dead letter (nothing can be raised to this thread
        once the send happens on the loop)."""
        self._check()
        self._loop.call_soon_threadsafe(_tell, ref, message, priority)

    def ask(self, ref: ActorRef, message: Any, *, timeout: float = 5.0) -> Any:
        """Ask ``ref`` and block this thread until the answer (or the error ``ask``
        raises: ``AskTimeout`` after ``timeout`` seconds, ``ActorCrashed``, ...)."""
        self._check()
        future = asyncio.run_coroutine_threadsafe(ref.ask(message, timeout=timeout), self._loop)
        return future.result()

    def publish(self, event: Any, topic: str | None = None) -> None:
        """Publish ``event`` on the system's event bus from another thread. With
        ``strict_events`` an unencodable event raises ``TypeError`` here, at once."""
        self._check()
        self._system._check_event(event)
        self._loop.call_soon_threadsafe(self._system.publish, event, topic)

    def _check(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError(
                "system.from_thread is for other threads; on the event loop's thread use "
                "ref.tell / await ref.ask / system.publish"
            )
        if self._loop.is_closed() or not self._system.running:
            raise RuntimeError(f"ActorSystem `{self._system.name}` is not running")


def _tell(ref: ActorRef, message: Any, priority: Priority) -> None:
    # A refusal is already counted and published as a dead letter by the mailbox.
    with contextlib.suppress(MailboxFull):
        ref.tell(message, priority)
