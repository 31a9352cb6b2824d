"""Actor references: the only handle user code holds on an actor.

A ref addresses an actor *slot* (its cell), not one incarnation, so a ref taken before a
supervisor restarts the actor keeps working afterwards. ``tell`` is synchronous and never
blocks; ``ask`` and ``send`` are the suspending variants.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from typing import TYPE_CHECKING, Any, Generic, Protocol

import msgspec

from ._errors import ActorNotFound, AskTimeout, MailboxClosed
from ._mailbox import Envelope, Priority

if TYPE_CHECKING:
    from typing_extensions import TypeVar

    from ._cell import ActorCell

    # What a ref accepts; a bare ``ActorRef`` accepts anything. Contravariant: a ref
    # that takes any ``Shape`` may stand where one that takes ``Circle`` is expected.
    M = TypeVar("M", default=Any, contravariant=True)
else:
    from typing import TypeVar

    M = TypeVar("M", contravariant=True)  # the default only matters to type checkers

__all__ = ["NO_REPLY", "ActorRef"]

# The cell whose task is running: set once by each actor task, read by ``tell`` so the
# receiver's ``self.sender`` names the sending actor (Akka's implicit sender).
current_cell: contextvars.ContextVar[ActorCell | None] = contextvars.ContextVar(
    "actors_current_cell", default=None
)

# The trace context a ``trace()`` block set, for sends from outside any actor (inside
# one, the current message's trace lives on the cell). See ``_trace``.
outside_trace: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "actors_outside_trace", default=None
)


class _Tracing:
    """Whether ``trace()`` was ever used: until then a send from outside an actor skips
    reading ``outside_trace`` (the hot path's saving; it never turns back off, since a
    task may carry a copied context past the end of the block that set it)."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = False


tracing = _Tracing()


class _NoReply:
    """The type of ``NO_REPLY``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "actors.NO_REPLY"


NO_REPLY: Any = _NoReply()
"""Return this from ``receive`` to answer an ask later, through ``self.sender`` kept
for the purpose (Erlang's ``{noreply, State}``): the asker waits until then, or until
its timeout."""

_NORMAL = Priority.NORMAL
_current = current_cell.get
_outside_trace = outside_trace.get


def outside_context() -> Any:
    """The trace context of a send from outside any actor (None: no trace)."""
    return _outside_trace() if tracing.active else None


def trace_of_sender() -> Any:
    """The trace context a send made here carries (None: no trace)."""
    sender = _current()
    return outside_context() if sender is None else sender.trace


def _wrap(message: Any) -> Any:
    """``message`` with its implicit sender and trace, when there are any (``tell``
    does the same inline: it is the hot path)."""
    sender = _current()
    if sender is not None:
        return Envelope(message, sender.ref, sender.trace)
    context = outside_context()
    return message if context is None else Envelope(message, None, context)


class ActorRef(Generic[M]):
    """A location-transparent handle on an actor.

    Obtained from ``spawn``, ``whereis``, ``self.ref`` or ``self.sender``; compare refs
    with ``==``; they are hashable and may travel inside messages.

    ``ActorRef[M]`` is the ref of an actor that takes messages of type ``M``
    (``spawn`` of a ``class Counter(Actor[CounterMsg])`` returns
    ``ActorRef[CounterMsg]``), so mypy reports a ``tell`` of anything else. Typing
    only: nothing is checked at run time.
    """

    __slots__ = ("_cell", "_mailbox")

    def __init__(self, cell: ActorCell) -> None:
        self._cell = cell
        self._mailbox = cell.mailbox  # the hot path's one hop (a cell keeps its mailbox)

    @property
    def path(self) -> str:
        """The actor's path, ``"<system>/<name>"`` or ``"<parent path>/<name>"``."""
        return self._cell.path

    @property
    def name(self) -> str:
        return self._cell.name

    def is_alive(self) -> bool:
        """False once the actor has stopped for good (a restart does not count)."""
        return not self._cell.mailbox._closed

    def __repr__(self) -> str:
        return f"ActorRef({self._cell.path!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and other._cell is self._cell

    def __hash__(self) -> int:
        return id(self._cell)

    def _watched_by(self, watcher: ActorCell) -> None:
        """Runtime hook: ``watcher`` watches this actor (remote refs override it)."""
        watcher.watch(self._cell)

    def _unwatched_by(self, watcher: ActorCell) -> None:
        watcher.unwatch(self._cell)

    def tell(self, message: M, priority: Priority = _NORMAL) -> None:
        """Send ``message`` and return at once: never blocks, never awaits.

        A message to a stopped actor becomes a ``DeadLetter``. A full bounded mailbox
        applies its overflow policy; under ``WAIT`` or ``FAIL`` this raises
        :class:`MailboxFull` (use :meth:`send` to wait for room instead).
        """
        # ``message`` is rebound to its envelope in place (no extra local on the hot
        # path), hence the ignores: the entry is no longer an ``M``.
        sender = _current()
        if sender is not None:
            message = Envelope(message, sender.ref, sender.trace)  # type: ignore[assignment]
        elif tracing.active:
            context = _outside_trace()
            if context is not None:
                message = Envelope(message, None, context)  # type: ignore[assignment]
        mailbox = self._mailbox
        if priority is _NORMAL and not mailbox._guarded:
            # Mailbox._offer's common case, inline: the method call is a fifth of a tell.
            queue = mailbox._normal
            if queue is None:
                queue = mailbox._normal = deque()
            queue.append(message)  # the high-water mark is noted by the drain loop
            wakeup = mailbox._wakeup
            if wakeup is not None:
                mailbox._wakeup = None
                wakeup._mailbox_ready()
            return
        try:
            mailbox._offer(message, priority)
        except MailboxClosed:
            self._cell.undeliverable(message, "stopped")
        except BaseException:
            message = None  # type: ignore[assignment]  # no envelope in a traceback (see Envelope)
            raise

    def forward(self, message: M, priority: Priority = _NORMAL) -> None:
        """``tell`` on behalf of the current message's sender: inside an actor, the
        receiver's ``self.sender`` is who sent the message being handled (an ask's
        reply handle included), so it answers the original asker. Outside an actor it
        is ``tell``."""
        current = _current()
        if current is None or (current.sender is None and current.trace is None):
            self.tell(message, priority)
            return
        entry = Envelope(message, current.sender, current.trace)
        try:
            self._mailbox._offer(entry, priority)
        except MailboxClosed:
            self._cell.undeliverable(entry, "stopped")
        except BaseException:
            entry = None  # type: ignore[assignment]  # no envelope in a traceback (see Envelope)
            raise

    async def send(self, message: M, priority: Priority = _NORMAL) -> None:
        """Send ``message``, waiting for room if the actor's mailbox is bounded and full
        (policy ``WAIT``): the backpressure-aware ``tell``."""
        message = _wrap(message)
        try:
            await self._cell.mailbox.put(message, priority)
        except MailboxClosed:
            self._cell.undeliverable(message, "stopped")
        except BaseException:
            message = None  # type: ignore[assignment]  # no envelope in a traceback (see Envelope)
            raise

    async def ask(
        self,
        message: M,
        *,
        timeout: float | None = 5.0,
        priority: Priority = _NORMAL,
        wait_for_room: bool = False,
    ) -> Any:
        """Send ``message`` and wait for the answer: the return value of the actor's
        ``receive`` (or whatever it passes to ``self.sender.tell``).

        ``priority`` places the question in the mailbox as ``tell``'s does. A bounded
        mailbox that is full raises :class:`MailboxFull`, unless ``wait_for_room``: the
        ask then waits for room as ``send`` does (policy ``WAIT``), within ``timeout``.

        Raises :class:`ActorNotFound` at once if the actor is stopped, or if it stops
        before handling the message; :class:`ActorCrashed` (the actor's exception as
        ``__cause__``) if handling raised; :class:`AskTimeout` after ``timeout`` seconds.
        ``timeout=None`` arms no timer of the ask's own: the caller's
        ``asyncio.timeout()`` (or cancellation) governs.
        """
        if wait_for_room:
            return await self._ask_when_room(message, timeout, priority)
        cell = self._cell
        if cell.mailbox._closed:
            cell.undeliverable(message, "stopped")
            raise _stopped(cell, message)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        latency = cell.system._ask_latency
        started = latency.start()
        # The deadline is set before the message is queued, and the finally clause
        # cancels the future if queuing raises: no answer is left without an asker.
        # No timer per ask: the system's AskDeadlines expires it (see _deadlines).
        line = (
            None
            if timeout is None
            else cell.system._ask_deadlines.add(future, cell, message, timeout)
        )
        try:
            # ``trace_of_sender`` inline: one call fewer per ask
            asker = _current()
            cell.mailbox._offer(
                Envelope(
                    message,
                    Reply(future),
                    outside_context() if asker is None else asker.trace,
                ),
                priority,
            )
            return await future
        finally:
            if not future.done():
                future.cancel()
                if line is not None:
                    cell.system._ask_deadlines.withdraw(line)
            elif line is not None:
                line.pending -= 1
            if started:  # sampled (see LatencyRecorder): one ask in ``every``
                latency.stop(started)

    async def _ask_when_room(self, message: Any, timeout: float | None, priority: Priority) -> Any:
        """``ask(..., wait_for_room=True)``: one deadline for the room and the answer."""
        cell = self._cell
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        future = loop.create_future()
        try:
            async with asyncio.timeout_at(deadline):
                # No local holds the envelope: a traceback's frame must keep none (see
                # Envelope).
                await cell.mailbox.put(
                    Envelope(message, Reply(future), trace_of_sender()), priority
                )
        except TimeoutError:
            assert timeout is not None
            raise AskTimeout.after(cell.path, message, timeout) from None
        except MailboxClosed:
            cell.undeliverable(message, "stopped")
            raise _stopped(cell, message) from None
        if deadline is None or timeout is None:
            return await future
        timer = loop.call_at(deadline, _expire, future, cell, message, timeout)
        try:
            return await future
        finally:
            timer.cancel()


def _stopped(cell: ActorCell, message: Any) -> ActorNotFound:
    """The error of an ask to a stopped actor."""
    name = type(message).__name__
    return ActorNotFound(
        f"ask of `{name}` to `{cell.path}`: the actor is stopped",
        actor=cell.path,
        message_type=name,
    )


def _expire(future: asyncio.Future[Any], cell: ActorCell, message: Any, timeout: float) -> None:
    if not future.done():
        future.set_exception(AskTimeout.after(cell.path, message, timeout))


class ReplyTarget(Protocol):
    """Where an answer goes: the asker's future, or (remote asks) an object with the
    same three methods that sends the answer back over the wire."""

    def done(self) -> bool: ...

    def set_result(self, result: Any, /) -> None: ...

    def set_exception(self, exception: BaseException, /) -> None: ...


class Reply(msgspec.Struct, eq=False):
    """The ``self.sender`` of a message that was asked: telling it answers the ask.

    Only the first answer counts; later ones (and answers after the asker gave up) are
    discarded.

    A struct, as ``Envelope`` is, for the same reason: one is made per ask, and built
    in C it costs about 60 ns less than a class with a Python ``__init__``.
    """

    _future: ReplyTarget

    def __repr__(self) -> str:
        return "<Reply to an ask>"

    def tell(self, message: Any, priority: Priority = _NORMAL) -> None:
        """Answer the ask with ``message``."""
        if not self._future.done():
            self._future.set_result(message)

    def fail(self, error: BaseException) -> None:
        """Fail the ask with ``error`` (used by the runtime)."""
        if not self._future.done():
            self._future.set_exception(error)
