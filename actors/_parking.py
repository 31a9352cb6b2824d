"""Parked drain tasks: a recently busy actor keeps its task between messages.

An idle actor holds no task: a message arriving at it creates a drain task, which ends
when the mailbox is empty. That costs a task creation (a ``Task``, a copied context, a
first step) per activation, which is most of an ask's round trip to an idle actor and of
an event's delivery to a sleeping subscriber. So a drain task that empties its mailbox
*parks* instead of ending: it awaits a future, and the next message resolves that
future, which wakes the task as cheaply as a hand-written actor's loop is woken.

Parked tasks must not pile up: an idle system holds no task and no timer per actor.
They are reclaimed by generations, with one timer per *system*, armed only while
something is parked: every ``PERIOD`` seconds a sweep ends the tasks that have stayed
parked since the sweep before (not woken in between), and moves the rest up a
generation. A task therefore ends between one and two periods after its last message;
when the last parked task has ended, the timer is not re-armed, so a quiet system
returns to no parked task, no timer and no wake-up. An actor busier than once per
period keeps its task; a burst of one-off deliveries parks many tasks for at most two
periods (a few KB each).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._cell import ActorCell

__all__ = ["PERIOD", "Parking"]

PERIOD = 0.02
"""Seconds between two sweeps: a parked task ends 20 to 40 ms after its last message."""


class Parking:
    """The parked drain tasks of one system (internal; see the module docstring)."""

    __slots__ = ("_loop", "_old", "_open", "_timer", "_young")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # The parked cells and the futures their tasks await (here, not in a slot of
        # every cell: an idle actor's memory is the figure to keep small), parked since
        # the last sweep (young) and since the sweep before (old: released at the next).
        self._young: dict[ActorCell, asyncio.Future[bool]] = {}
        self._old: dict[ActorCell, asyncio.Future[bool]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._open = True

    def park(self, cell: ActorCell) -> asyncio.Future[bool] | None:
        """A future for ``cell``'s idle drain task to await: True when it must go on (a
        message came, or the actor must stop), False when it was released (the cell is
        idle with no task already; the task just ends). None while the system shuts
        down: the task ends at once, as it did before parking existed."""
        if not self._open:
            return None
        future = self._young[cell] = self._loop.create_future()
        if self._timer is None:
            self._timer = self._loop.call_later(PERIOD, self._sweep)
        return future

    def wake(self, cell: ActorCell) -> bool:
        """Resume ``cell``'s task if it is parked (a message came, or the actor must
        stop); False if it is not."""
        # ``forget`` inline: this is on every wake of a parked task
        future = self._young.pop(cell, None)
        if future is None:
            future = self._old.pop(cell, None)
            if future is None:
                return False
        cell.mailbox._wakeup = None  # the task runs: no second one may start
        future.set_result(True)
        return True

    def release(self, cell: ActorCell, future: asyncio.Future[bool]) -> None:
        """End ``cell``'s parked task: from now on the cell holds no task, so the next
        message starts a new one (the old one only has its last step left)."""
        cell.task = None
        cell.mailbox._release_storage()
        future.set_result(False)

    def forget(self, cell: ActorCell) -> asyncio.Future[bool] | None:
        """``cell`` is parked no more (woken, or its task was cancelled): its future."""
        future = self._young.pop(cell, None)
        return self._old.pop(cell, None) if future is None else future

    def _sweep(self) -> None:
        old, self._old, self._young = self._old, self._young, {}
        for cell, future in old.items():
            self.release(cell, future)
        self._timer = self._loop.call_later(PERIOD, self._sweep) if self._old else None

    def close(self) -> None:
        """The system shuts down: release every parked task, park no more."""
        self._open = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        parked = {**self._old, **self._young}
        self._old, self._young = {}, {}
        for cell, future in parked.items():
            self.release(cell, future)
