"""``self.timers``: keyed single and periodic timers owned by one incarnation.

A timer is one ``loop.call_at`` handle, owned by the actor's cell: nothing runs while no
timer is active, and a stop or a restart cancels every handle (``Timers.cancel_all``
through the cell's toolkit). When a timer fires, the :class:`Timer` object itself is
queued in the mailbox; the toolkit's dispatcher unwraps it on delivery and drops it if
the timer was cancelled or replaced meanwhile. That check on delivery is what makes
"a cancelled timer's message is never delivered, even if already queued" hold without
searching the mailbox, and it costs nothing to actors that use no timer: only actors
with a toolkit go through the dispatcher.

Periodic timers run at a fixed rate and *skip* a tick whose previous message is still
queued, so a slow actor gets at most one pending tick per timer, never a pile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from ._errors import MailboxFull
from ._logging import get_logger
from ._mailbox import Priority

if TYPE_CHECKING:
    from ._cell import ActorCell

__all__ = ["Timer", "Timers"]

log = get_logger("actors.timers")


class Timer:
    """One timer; queued as is when it fires, unwrapped by the dispatcher."""

    __slots__ = ("active", "cell", "due", "handle", "interval", "key", "message", "queued")

    def __init__(
        self, cell: ActorCell, key: Hashable, message: Any, interval: float | None
    ) -> None:
        self.cell = cell
        self.key = key
        self.message = message
        self.interval = interval  # None: a single timer
        self.active = True  # False once cancelled, replaced or (single) delivered
        self.queued = False  # its message waits in the mailbox
        self.handle: asyncio.TimerHandle | None = None
        self.due = 0.0

    def __repr__(self) -> str:
        kind = "single" if self.interval is None else f"every {self.interval} s"
        return f"<Timer {self.key!r} {kind}: {type(self.message).__name__}>"

    def schedule(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self.due = loop.time() + delay
        self.handle = loop.call_at(self.due, self._fire)

    def cancel(self) -> None:
        self.active = False
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def _fire(self) -> None:
        self.handle = None
        interval = self.interval
        if interval is not None:
            # Fixed rate: the next tick is due one interval after this one was, or one
            # interval from now if the loop was held up past it.
            loop = asyncio.get_running_loop()
            self.due = max(self.due + interval, loop.time())
            self.handle = loop.call_at(self.due, self._fire)
            if self.queued:
                log.debug("periodic timer tick skipped", actor=self.cell.path, key=self.key)
                return
        self.queued = True
        try:
            self.cell.deliver(self, Priority.NORMAL)
        except MailboxFull:
            # Refused by a full bounded mailbox: already counted as a dead letter.
            self.queued = False

    def delivered(self) -> bool:
        """Its message is about to be handled: True if it still should be."""
        self.queued = False
        if not self.active:
            return False
        if self.interval is None:
            self.active = False
        return True


class Timers:
    """The timers of one actor incarnation: ``self.timers`` inside an actor.

    Keys are any hashable value; starting a key that is active replaces that timer, and
    the replaced timer's message is never delivered, even if it was already queued.
    """

    __slots__ = ("_cell", "_timers")

    def __init__(self, cell: ActorCell) -> None:
        self._cell = cell
        self._timers: dict[Hashable, Timer] = {}

    def start_single(self, key: Hashable, message: Any, delay: float) -> None:
        """Deliver ``message`` once, ``delay`` seconds from now (Erlang's
        ``send_after``)."""
        self._start(key, message, _seconds("delay", delay), None)

    def start_periodic(self, key: Hashable, message: Any, interval: float) -> None:
        """Deliver ``message`` every ``interval`` seconds until cancelled. A tick whose
        previous message is still queued is skipped, so messages never pile up."""
        interval = _seconds("interval", interval)
        if interval == 0:
            raise ValueError("a periodic timer needs an `interval` > 0, got 0")
        self._start(key, message, interval, interval)

    def cancel(self, key: Hashable) -> None:
        """Cancel the timer ``key`` (nothing if there is none); its message is not
        delivered, even if it is already queued."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def is_active(self, key: Hashable) -> bool:
        """True while ``key`` is started and not cancelled; a single timer stays active
        until its message is handled."""
        timer = self._timers.get(key)
        return timer is not None and timer.active

    def cancel_all(self) -> None:
        """Cancel every timer of this actor (a stop or restart does this too)."""
        timers, self._timers = self._timers, {}
        for timer in timers.values():
            timer.cancel()

    def _start(self, key: Hashable, message: Any, delay: float, interval: float | None) -> None:
        self.cancel(key)
        timer = Timer(self._cell, key, message, interval)
        self._timers[key] = timer
        timer.schedule(delay)

    def _delivered(self, timer: Timer) -> bool:
        """The dispatcher's check: True if ``timer``'s message is to be handled."""
        if not timer.delivered():
            return False
        if not timer.active and self._timers.get(timer.key) is timer:
            del self._timers[timer.key]  # a single timer is done once handled
        return True


def _seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"`{name}` must be a number of seconds >= 0, got {value!r}")
    return float(value)
