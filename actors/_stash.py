"""``self.stash()`` / ``self.unstash_all()``: set messages aside until the actor is
ready for them (a connection that is not open yet, a lease not yet held).

A stashed message keeps its sender and trace, and an asked one keeps its asker: the
ask is answered when the message is handled again, not when it is stashed. The stash is
bounded (``Actor.stash_capacity``) so an actor cannot hide an unbounded queue in it.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from ._errors import StashOverflow
from ._mailbox import Envelope
from ._ref import Reply

if TYPE_CHECKING:
    from ._cell import ActorCell

__all__ = ["Stash"]


class _Answered:
    """The reply target of a stashed ask's old handle: answers to it are discarded, so
    ``receive`` returning after ``stash()`` does not answer the ask."""

    __slots__ = ()

    def done(self) -> bool:
        return True

    def set_result(self, result: Any, /) -> None:
        pass

    def set_exception(self, exception: BaseException, /) -> None:
        pass


_ANSWERED = _Answered()


class Stash:
    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: deque[Any] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, cell: ActorCell, capacity: int) -> None:
        """Stash the message ``cell`` is handling."""
        message = cell.message
        if message is None:
            raise RuntimeError(
                f"`{cell.path}`: stash() sets aside the message being handled; "
                "call it from receive (or a behaviour)"
            )
        if len(self._entries) >= capacity:
            raise StashOverflow(
                f"`{cell.path}` cannot stash `{type(message).__name__}`: its stash holds "
                f"{capacity} messages (raise `stash_capacity` or unstash sooner)",
                actor=cell.path,
                message_type=type(message).__name__,
            )
        sender = cell.sender
        if sender.__class__ is Reply:
            # The new handle answers the ask; the drain loop's one goes nowhere.
            answer = Reply(sender._future)
            sender._future = _ANSWERED
            sender = answer
        if sender is None and cell.trace is None:
            self._entries.append(message)
        else:
            self._entries.append(Envelope(message, sender, cell.trace))
        cell.message = None  # stashed once: a second stash() of it is an error

    def unstash_all(self, cell: ActorCell) -> int:
        """Put every stashed message back at the front of the mailbox's NORMAL level,
        in stash order; return how many."""
        entries, self._entries = self._entries, deque()
        if entries:
            mailbox = cell.mailbox
            queue = mailbox._normal
            if queue is None:
                queue = mailbox._normal = deque()
            entries.reverse()
            queue.extendleft(entries)
        return len(entries)
