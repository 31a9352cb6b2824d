"""The ``Actor`` base class: what user code subclasses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ._errors import Unhandled
from ._logging import get_logger
from ._mailbox import Mailbox
from ._messages import ExitReason, UnhandledMessage
from ._ref import NO_REPLY, ActorRef, M, Reply
from ._timers import Timers
from ._toolkit import toolkit_of

if TYPE_CHECKING:
    from ._cell import ActorCell
    from ._system import ActorSystem

__all__ = ["Actor"]

log = get_logger("actors.cell")

N = TypeVar("N")


class Actor(Generic[M]):
    """Subclass this and define ``async def receive(self, message)``.

    ``class Counter(Actor[CounterMsg])`` declares the messages it takes: ``spawn``
    then returns an ``ActorRef[CounterMsg]`` and mypy reports a ``tell`` of anything
    else (typing only; a bare ``Actor`` takes anything).

    One message is handled at a time, in mailbox order; the value ``receive`` returns
    answers an ``ask``. ``started()`` runs before the first message (if it raises, the
    spawn fails) and ``stopped()`` after the last, on every stop of a started actor,
    crash included: together they are the actor's ``async with``.

    Inside the actor: ``self.ref`` (``self.ref.path`` is its path), ``self.system``,
    ``self.sender`` (who sent the current message, or ``None``), ``self.mailbox`` (for
    selective receive),
    ``await self.spawn(...)`` (a child, stopped before its parent), ``self.watch(ref)``
    (a :class:`Terminated` arrives when it stops) and ``self.stop()``.

    The toolkit (docs/toolkit.md): ``self.timers``, ``self.receive_timeout``,
    ``self.stash()`` / ``self.unstash_all()``, ``self.become(handler)`` /
    ``self.unbecome()`` and ``return self.unhandled(message)``. An actor that uses none
    of it pays nothing for it.

    Example::

        class Counter(Actor):
            def __init__(self, start: int = 0) -> None:
                self.count = start

            async def receive(self, message):
                match message:
                    case Increment(n):
                        self.count += n
                    case Get():
                        return self.count
    """

    _cell: ActorCell
    stash_capacity: ClassVar[int] = 1000
    """How many messages ``stash()`` may hold; one more raises :class:`StashOverflow`."""
    _has_started_hook: ClassVar[bool] = False
    _has_stopped_hook: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Decided once per class so the runtime can skip creating a task for the hooks
        # most actors do not define.
        cls._has_started_hook = cls.started is not Actor.started
        cls._has_stopped_hook = cls.stopped is not Actor.stopped

    async def receive(self, message: M) -> Any:
        """Handle one message; the return value answers an ask."""
        raise NotImplementedError(f"{type(self).__qualname__} does not define receive()")

    async def started(self) -> None:
        """Called once, in the actor's task, before the first message."""

    async def stopped(self) -> None:
        """Called once, in the actor's task, after the last message (crash included),
        once the actor's children have stopped."""

    def _hosted_cells(self) -> Iterable[ActorCell]:
        """Runtime hook: cells this actor hosts besides its own children (a
        supervisor's children), so the system can walk the whole tree."""
        return ()

    def _killed(self) -> None:
        """Runtime hook: the actor's task was cancelled (no ``stopped()`` ran); release
        what must not outlive it. Supervisors cancel their children here."""

    @property
    def ref(self) -> ActorRef[M]:
        """This actor's own ref."""
        return self._cell.ref

    @property
    def system(self) -> ActorSystem:
        return self._cell.system

    @property
    def sender(self) -> Any:
        """The sender of the current message: an ``ActorRef`` when an actor sent it, the
        ask's reply handle when it was asked (``self.sender.tell(x)`` answers), else
        ``None``."""
        return self._cell.sender

    @property
    def mailbox(self) -> Mailbox:
        """This actor's mailbox; ``await self.mailbox.get(predicate)`` is selective
        receive: it leaves every other message queued, in order."""
        return self._cell.mailbox

    async def spawn(
        self,
        actor_class: type[Actor[N]],
        /,
        *args: Any,
        name: str | None = None,
        mailbox: Mailbox | None = None,
        **kwargs: Any,
    ) -> ActorRef[N]:
        """Start a child actor; it stops (newest first) before this actor stops."""
        from ._spawn import spawn

        cell = await spawn(
            self._cell.system, self._cell, actor_class, args, kwargs, name=name, mailbox=mailbox
        )
        return cell.ref

    def watch(self, ref: ActorRef) -> None:
        """Receive ``Terminated(ref, reason)`` when ``ref`` stops for good (at once, with
        reason ``"noproc"``, if it already has). Watching twice is watching once."""
        ref._watched_by(self._cell)

    def unwatch(self, ref: ActorRef) -> None:
        ref._unwatched_by(self._cell)

    def stop(self) -> None:
        """Stop this actor after the current message (reason ``"normal"``); messages
        still queued become dead letters."""
        self._cell.request_stop(ExitReason.NORMAL)

    # ------------------------------------------------------------------ toolkit

    @property
    def timers(self) -> Timers:
        """This incarnation's keyed timers (``start_single``, ``start_periodic``,
        ``cancel``, ``is_active``, ``cancel_all``); a stop or restart cancels them."""
        return toolkit_of(self).timers

    @property
    def receive_timeout(self) -> float | None:
        """Seconds without a message after which a :class:`ReceiveTimeout` arrives
        (again after each further quiet period); ``None`` (the default) turns it off."""
        toolkit = self._cell.toolkit
        return None if toolkit is None else toolkit.receive_timeout

    @receive_timeout.setter
    def receive_timeout(self, seconds: float | None) -> None:
        toolkit_of(self).receive_timeout = seconds

    def become(self, handler: Callable[[Any], Awaitable[Any]]) -> None:
        """Make ``handler`` (an async callable taking the message) the entry point in
        place of ``receive`` from the next message on, until ``unbecome()`` or another
        ``become``. A restart starts from ``receive`` again."""
        toolkit_of(self).become(handler)

    def unbecome(self) -> None:
        """Go back to ``receive`` as the entry point."""
        toolkit_of(self).unbecome()

    def stash(self) -> None:
        """Set the message being handled aside (its sender and asker kept) until
        ``unstash_all()``. Raises :class:`StashOverflow` past ``stash_capacity``."""
        toolkit_of(self).stash.add(self._cell, self.stash_capacity)

    def unstash_all(self) -> int:
        """Put the stashed messages back at the front of the mailbox (ahead of every
        NORMAL and LOW message; signals and HIGH still go first), in the order they were
        stashed; return how many. A restart does this too; a stop dead-letters them."""
        toolkit = self._cell.toolkit
        return 0 if toolkit is None else toolkit.stash.unstash_all(self._cell)

    def unhandled(self, message: Any) -> Any:
        """Decline ``message``: ``return self.unhandled(message)`` in the fallback case.

        An ask of it fails at once with :class:`Unhandled`; a tell becomes an
        :class:`UnhandledMessage` event (and a warning in the log). Both are counted in
        ``system.metrics().unhandled``.
        """
        cell = self._cell
        system = cell.system
        system._unhandled += 1
        name = type(message).__name__
        sender = cell.sender
        if sender.__class__ is Reply:
            sender.fail(
                Unhandled(
                    f"`{cell.path}` does not handle `{name}`", actor=cell.path, message_type=name
                )
            )
            return NO_REPLY
        sender_path = sender.path if isinstance(sender, ActorRef) else None
        log.warning("unhandled message", actor=cell.path, message_type=name, sender=sender_path)
        if system._listeners:
            system._emit(UnhandledMessage(cell.path, message, sender_path))
        return NO_REPLY
