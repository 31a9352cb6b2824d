"""The per-incarnation state behind the actor toolkit: behaviours, timers, stash,
receive timeout, and the marker of a draining stop.

An actor that uses none of it has no toolkit: its cell calls ``receive`` directly. The
first use creates one, and from then on the cell calls :meth:`Toolkit.dispatch`, which
unwraps timer messages (dropping those of cancelled timers), obeys a drain marker and
calls the current behaviour. The toolkit ends with its incarnation
(:meth:`Toolkit.close`): timers are cancelled and stashed messages go back to the
mailbox, to a restarted incarnation or, on a stop, to the dead letters.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._messages import ExitReason, ReceiveTimeout
from ._ref import NO_REPLY
from ._stash import Stash
from ._timers import Timer, Timers, _seconds

if TYPE_CHECKING:
    from ._actor import Actor

__all__ = ["DRAIN", "Toolkit", "toolkit_of"]

Handler = Callable[[Any], Awaitable[Any]]


class _Drain:
    """The type of ``DRAIN``, queued at LOW priority by ``system.stop(ref, drain=True)``:
    the actor stops when it reaches it, after what was queued before."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<drain and stop>"


DRAIN = _Drain()
_RECEIVE_TIMEOUT = object()  # the key of the receive-timeout timer (never in Timers)


class Toolkit:
    __slots__ = (
        "_receive_timeout",
        "_timeout_timer",
        "actor",
        "behaviour",
        "cell",
        "stash",
        "timers",
    )

    def __init__(self, actor: Actor) -> None:
        cell = actor._cell
        self.cell = cell
        self.actor = actor
        self.behaviour: Handler = actor.receive
        self.timers = Timers(cell)
        self.stash = Stash()
        self._receive_timeout: float | None = None
        self._timeout_timer: Timer | None = None
        cell.toolkit = self

    async def dispatch(self, message: Any) -> Any:
        """The cell's entry point while the actor uses the toolkit."""
        if message.__class__ is Timer:
            timer: Timer = message
            if timer.key is _RECEIVE_TIMEOUT:
                live = timer.delivered()
            else:
                live = self.timers._delivered(timer)
            if not live:
                return NO_REPLY
            message = self.cell.message = timer.message
        elif message is DRAIN:
            self.cell.request_stop(ExitReason.SHUTDOWN)
            return NO_REPLY
        return await self.behaviour(message)

    # ------------------------------------------------------------------ behaviours

    def become(self, handler: Handler) -> None:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(
                f"become() takes an async callable (`async def handler(message)`), got {handler!r}"
            )
        self.behaviour = handler

    def unbecome(self) -> None:
        self.behaviour = self.actor.receive

    # ------------------------------------------------------------------ receive timeout

    @property
    def receive_timeout(self) -> float | None:
        return self._receive_timeout

    @receive_timeout.setter
    def receive_timeout(self, seconds: float | None) -> None:
        if seconds is not None:
            seconds = _seconds("receive_timeout", seconds)
            if seconds == 0:
                raise ValueError("`receive_timeout` must be > 0 seconds, or None to turn it off")
        self._receive_timeout = seconds
        if self._timeout_timer is not None:
            self._timeout_timer.cancel()  # a queued ReceiveTimeout is dropped too
            self._timeout_timer = None
        cell = self.cell
        if cell.mailbox._wakeup is cell:
            self.idle()  # set from outside a message while idle: count from now

    def idle(self) -> None:
        """The cell has gone idle: start counting the quiet period."""
        seconds = self._receive_timeout
        if seconds is None:
            return
        timer = self._timeout_timer
        if timer is not None and (timer.queued or timer.handle is not None):
            return
        timer = self._timeout_timer = Timer(self.cell, _RECEIVE_TIMEOUT, ReceiveTimeout(), None)
        timer.schedule(seconds)

    def busy(self) -> None:
        """A message arrived at the idle cell: the quiet period is over."""
        timer = self._timeout_timer
        if timer is not None and timer.handle is not None:
            timer.cancel()
            self._timeout_timer = None

    # ------------------------------------------------------------------ end

    def close(self) -> None:
        """The incarnation ended: cancel every timer, give the stash back."""
        cell = self.cell
        cell.toolkit = None
        self.timers.cancel_all()
        if self._timeout_timer is not None:
            self._timeout_timer.cancel()
        self.stash.unstash_all(cell)


def toolkit_of(actor: Actor) -> Toolkit:
    """The toolkit of ``actor``'s incarnation, created on first use (``__init__``
    included: the cell is bound before it runs)."""
    toolkit = actor._cell.toolkit
    if toolkit is None or toolkit.actor is not actor:
        return Toolkit(actor)
    return toolkit
