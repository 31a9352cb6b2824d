"""Ask timeouts without a timer per ask.

Every ``ask`` has a timeout (5 s by default), and almost every ask is answered long
before it. A loop timer per ask (``call_later`` then ``cancel``) costs about 2 µs of CPU
on uvloop, a third of an in-process ask. So a system keeps its asks' deadlines in
*lines*, one per timeout value: the deadlines of one line are in arrival order, hence
in time order, and one loop timer, armed for the earliest deadline at the head of a
line, expires what is due when it fires. An answered ask leaves its entry behind: it
is dropped when it reaches the head of its line, or by a compaction once answered
entries outnumber pending ones, so a line holds O(pending asks) entries whatever the
order in which they are answered.

The timer is armed when an ask finds none armed, and re-armed (for the new earliest
pending deadline) each time it fires while asks are pending: during steady asking with
the default timeout it fires about once per 5 s, and once the last ask is answered it
fires at most once more, finds nothing pending, and is not re-armed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from ._errors import AskTimeout

if TYPE_CHECKING:
    from ._cell import ActorCell

__all__ = ["AskDeadlines", "Line"]

_SLACK = 16
"""Answered entries a line may hold beyond its pending ones before it is compacted."""


class Line:
    """The deadlines of one timeout value, in time order (internal)."""

    __slots__ = ("entries", "pending")

    def __init__(self) -> None:
        # (deadline, future, cell, message, timeout); the future done = answered.
        self.entries: deque[tuple[float, asyncio.Future[Any], ActorCell, Any, float]] = deque()
        self.pending = 0  # entries whose ask has not finished (the asker decrements)

    def compact(self) -> None:
        """Drop the answered entries: too many of them were left behind the head."""
        self.entries = deque(e for e in self.entries if not e[1].done())

    def expire(self, now: float) -> float | None:
        """Fail the asks due by ``now`` with ``AskTimeout``; the next pending deadline."""
        entries = self.entries
        while entries:
            deadline, future, cell, message, timeout = entries[0]
            if future.done():
                entries.popleft()
            elif deadline <= now:
                entries.popleft()
                future.set_exception(AskTimeout.after(cell.path, message, timeout))
            else:
                return deadline
        return None


class AskDeadlines:
    """The pending asks' timeouts of one system (internal; see the module docstring)."""

    __slots__ = ("_armed_at", "_lines", "_loop", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lines: dict[float, Line] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = 0.0

    def add(
        self, future: asyncio.Future[Any], cell: ActorCell, message: Any, timeout: float
    ) -> Line:
        """Fail ``future`` with ``AskTimeout`` unless it is done within ``timeout``
        seconds. The asker decrements the returned line's ``pending`` once it is done."""
        line = self._lines.get(timeout)
        if line is None:
            line = self._lines[timeout] = Line()
        deadline = self._loop.time() + timeout
        # The line's append inline: one call fewer per ask.
        entries = line.entries
        while entries and entries[0][1].done():
            entries.popleft()  # answered asks at the head: the common case, O(1) each
        if len(entries) > 2 * line.pending + _SLACK:
            line.compact()
            entries = line.entries
        entries.append((deadline, future, cell, message, timeout))
        line.pending += 1
        if self._timer is None or deadline < self._armed_at:
            self._arm(deadline)
        return line

    def withdraw(self, line: Line) -> None:
        """An ask ended without its answer (queuing raised, or the asker was cancelled):
        ``line.pending`` decremented, and with no ask pending at all the timer is
        cancelled, so a failed ask leaves no timer behind. Only on this path: after an
        answer the timer is left to fire once more, which is cheaper than cancelling
        and re-arming it per ask."""
        line.pending -= 1
        self.close()

    def close(self) -> None:
        """Drop the deadlines and the timer, unless some ask is still pending (then
        its timeout still holds: the timer fires, expires it, and is not re-armed)."""
        if any(line.pending for line in self._lines.values()):
            return
        self._lines.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_at = deadline
        self._timer = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self._loop.time()
        earliest: float | None = None
        for timeout, line in list(self._lines.items()):
            deadline = line.expire(now)
            if deadline is None:
                del self._lines[timeout]
            elif earliest is None or deadline < earliest:
                earliest = deadline
        if earliest is not None:
            self._arm(earliest)
