"""The mailbox: a priority queue with selective receive, bounds and batching.

A mailbox holds *entries* in priority order, FIFO within a level. An entry is the bare
message, or an :class:`Envelope` when the runtime needs to remember who sent it; every
public method unwraps envelopes, so predicates and callers only ever see messages.

Waiting is event-driven. A getter that finds no match registers itself in the getter
table with its predicate and sleeps on a future. A put that queues a message wakes the
*first* registered getter whose predicate accepts it, and only that one: no timed
re-check, no thundering herd. The message stays queued until the woken getter runs and
takes it, which is what makes ``get`` cancellation-safe (see ``_wait_take``).
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import msgspec

from ._errors import MailboxClosed, MailboxFull

__all__ = ["Mailbox", "MailboxStats", "Overflow", "Priority"]

Predicate = Callable[[Any], bool]


class Overflow(enum.Enum):
    """What a bounded mailbox does with a message that finds it full."""

    WAIT = "wait"
    """``put`` waits for room (backpressure); ``put_nowait`` and ``tell`` raise
    :class:`MailboxFull`."""
    DROP_NEWEST = "drop_newest"
    """The incoming message is dropped (counted, and a dead letter for an actor)."""
    DROP_OLDEST = "drop_oldest"
    """The oldest message of the lowest non-empty priority level makes room."""
    FAIL = "fail"
    """Every put raises :class:`MailboxFull`."""


class Priority(enum.IntEnum):
    """Delivery order: lower values first, FIFO within a level.

    ``SYSTEM`` is used by the runtime for signals (``Terminated``, supervision) so they
    overtake user traffic; it is never refused by a bound.
    """

    SYSTEM = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3


class MailboxStats(msgspec.Struct, frozen=True):
    """A snapshot of a mailbox's counters (``Mailbox.stats()``)."""

    size: int
    """Messages queued now."""
    maxsize: int | None
    """The bound, or ``None`` when unbounded."""
    high_water: int
    """The largest ``size`` ever reached."""
    put: int
    """Messages accepted."""
    got: int
    """Messages handed out by ``get``/``get_batch`` (and, in an actor, to ``receive``)."""
    dropped: int
    """Messages discarded by a ``DROP_*`` overflow policy."""
    rejected: int
    """Puts refused with :class:`MailboxFull`."""
    waiting_getters: int
    waiting_putters: int


class Envelope(msgspec.Struct, eq=False, gc=False):
    """A message together with its sender (an actor ref, an ask's reply handle, or
    None) and the trace context it was sent in (a ``TraceContext`` or None).

    Internal: the runtime wraps a message only when there is a sender or a trace to
    remember, so a plain ``tell`` from outside any actor costs no allocation. Every tell
    from inside an actor makes one, so it is a struct: built in C, about 60 ns cheaper
    than a class with ``__slots__`` and a Python ``__init__``. ``eq=False``: two
    envelopes are the same entry only if they are the same object (a mailbox removes
    the entry it found, never an equal one).

    ``gc=False``: envelopes are not tracked by the cyclic garbage collector. Ten actors
    telling one queue tens of thousands of them, and every one tracked made the
    collector run and traverse them all, again and again (a quarter of the CPU of that
    workload). An untracked object in a garbage cycle is never freed, so no cycle may
    pass through an envelope. One could only close through something that holds the
    envelope, reached back from what the envelope holds (its message, its sender: a
    ref leads to a cell and its mailbox, a reply handle to an asker's future):

    - a mailbox: its cell is reachable from the actor tree until ``finalize``, which
      empties the queues in place (``_evict_all``), so a queue that holds an envelope
      is never garbage (a stash goes back into the mailbox before that);
    - a frame kept by a traceback (a crash while handling, a ``MailboxFull`` raised
      through ``tell``, a selective receive's predicate raising): every runtime
      function that holds an envelope drops it before an exception leaves it (the
      ``except BaseException: ... = None; raise`` clauses), so the frames a traceback
      keeps hold none;
    - a suspended frame (the drain loop awaiting a handler): it belongs to a task the
      cell owns while the system runs; the system's exit ends every task.

    tests/unit/test_envelope_gc.py checks that each of these paths leaves nothing
    behind once its objects are dropped.
    """

    message: Any
    sender: Any
    trace: Any = None


def message_of(entry: Any) -> Any:
    return entry.message if entry.__class__ is Envelope else entry


class MailboxOwner(Protocol):
    """What an actor cell provides to the mailbox it owns (internal)."""

    def _mailbox_ready(self) -> None:
        """A message was queued while the owner was idle (its ``_wakeup`` was set)."""

    def _mailbox_delivered(self, entry: Any) -> Any:
        """An entry leaves through ``get``; return the message to hand out."""

    def _mailbox_discarded(self, entry: Any, reason: str) -> None:
        """An entry left without delivery: ``dropped``, ``mailbox_full`` or ``removed``."""


class _Putter:
    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: asyncio.Future[None] | None = None


class _Rare:
    """The part of a mailbox most never use: the bound and its policy, the putters
    waiting for room, and the counters of messages that left without a get.

    Made for a bounded mailbox, or by its first eviction: an idle actor's unbounded
    mailbox does without it (40 bytes less per actor).
    """

    __slots__ = ("dropped", "evicted", "maxsize", "overflow", "putters", "rejected")

    def __init__(self, maxsize: int | None, overflow: Overflow) -> None:
        self.maxsize = maxsize
        self.overflow = overflow
        self.putters: deque[_Putter] | None = None
        self.dropped = self.rejected = self.evicted = 0


class _Getter:
    __slots__ = ("future", "predicate")

    def __init__(self, future: asyncio.Future[None], predicate: Predicate | None) -> None:
        self.future = future
        self.predicate = predicate


_NOTHING: Any = object()
_NORMAL = Priority.NORMAL
_SYSTEM = Priority.SYSTEM


class Mailbox:
    """A priority mailbox with selective receive, bounds and batching.

    ``Mailbox(maxsize=None, overflow=Overflow.WAIT)``. Puts never block unless the
    mailbox is bounded, full, and the policy is ``WAIT``. Gets take the first message
    that matches an optional predicate, in priority-then-arrival order, and leave every
    other message exactly where it was.

    Example: wait up to 2 s for the reply to request 7, leaving everything else queued::

        reply = await mailbox.get(lambda m: isinstance(m, Reply) and m.id == 7, timeout=2)
    """

    __slots__ = (
        "_closed",
        "_getters",
        "_got",
        "_guarded",
        "_high_water",
        "_normal",
        "_other",
        "_other_count",
        "_owner",
        "_rare",
        "_wakeup",
    )

    # Invariants:
    # - NORMAL entries live in ``_normal``; the other levels in ``_other[level]``, and
    #   ``_other_count`` is how many entries those hold (0 means "only _normal").
    # - Empty deques may be released (set to None) to keep idle mailboxes small.
    # - A getter is in ``_getters`` while it sleeps and no longer once woken: a put wakes
    #   at most one getter, and only one whose predicate accepts the message.
    # - ``_rare`` is None while the mailbox is unbounded and nothing was ever evicted;
    #   a bounded mailbox has it from the start, so ``_guarded`` (bounded, closed, or
    #   a getter waiting) tells the hot paths whether there can be putters at all.
    # - The high-water mark is ``max(_high_water, len(self))``: a put may leave the
    #   mark to be noted by whatever next shrinks the mailbox (``_note_size``, and the
    #   drain loop before each pop): the largest size is always the size just before
    #   some shrink, or the size now. So ``tell``'s hot path does not touch it.
    # - ``_guarded`` is True exactly when the mailbox is bounded or closed or
    #   ``_getters`` is non-empty (``_reguard`` after a getter leaves).
    # - ``_rare.putters`` holds the ``put`` calls waiting for room, oldest first; each
    #   stays in it until its put returns, and only the head is ever woken.

    def __init__(self, maxsize: int | None = None, overflow: Overflow = Overflow.WAIT) -> None:
        if maxsize is not None and (not isinstance(maxsize, int) or maxsize < 1):
            raise ValueError(f"`maxsize` must be a positive int or None, got {maxsize!r}")
        if not isinstance(overflow, Overflow):
            raise TypeError(f"`overflow` must be an Overflow, got {overflow!r}")
        self._normal: deque[Any] | None = None
        self._other: list[deque[Any] | None] | None = None
        self._other_count = 0
        # An unbounded mailbox keeps no policy: with nothing to overflow, WAIT is moot.
        self._rare = None if maxsize is None else _Rare(maxsize, overflow)
        self._getters: list[_Getter] | None = None  # made by the first waiting get
        self._closed = False
        # True when a put needs the guarded path: the mailbox is bounded or closed, or
        # a getter waits (one flag for the hot path to test; see ``_reguard``).
        self._guarded = maxsize is not None
        self._owner: MailboxOwner | None = None
        self._wakeup: MailboxOwner | None = None
        # put (accepted) is not counted on the hot path: it is got + queued + evicted,
        # where evicted counts entries that left without a get (drop-oldest, remove,
        # clear, an actor's leftovers when it stops).
        self._got = self._high_water = 0

    def __repr__(self) -> str:
        maxsize = self.maxsize
        bound = "unbounded" if maxsize is None else f"maxsize={maxsize}"
        state = " closed" if self._closed else ""
        return f"<Mailbox size={len(self)} {bound} {self.overflow.name}{state}>"

    def __len__(self) -> int:
        normal = self._normal
        return (len(normal) if normal is not None else 0) + self._other_count

    @property
    def maxsize(self) -> int | None:
        rare = self._rare
        return None if rare is None else rare.maxsize

    @property
    def overflow(self) -> Overflow:
        rare = self._rare
        return Overflow.WAIT if rare is None else rare.overflow

    def _rare_part(self) -> _Rare:
        """The rarely used part, made on first need (an eviction from an unbounded
        mailbox)."""
        rare = self._rare
        if rare is None:
            rare = self._rare = _Rare(None, Overflow.WAIT)
        return rare

    def _putters(self) -> deque[_Putter] | None:
        """The puts waiting for room (only a bounded mailbox has any)."""
        rare = self._rare
        return None if rare is None else rare.putters

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ putting

    def put_nowait(self, message: Any, priority: Priority = _NORMAL) -> None:
        """Queue ``message`` without waiting.

        Raises :class:`MailboxClosed` after ``close()``, and :class:`MailboxFull` when
        the mailbox is full and its policy is ``WAIT`` or ``FAIL``. Under ``DROP_*``
        policies a message is dropped instead (counted in ``stats().dropped``).
        """
        self._offer(message, priority)

    async def put(self, message: Any, priority: Priority = _NORMAL) -> None:
        """Queue ``message``, waiting for room if the mailbox is bounded, full, and its
        policy is ``WAIT``. Waiting putters are served strictly in arrival order: a
        later put never takes the room freed for an earlier one.

        Cancellation while waiting leaves the mailbox unchanged (the message was never
        queued) and passes any room it was offered on to the next waiter.
        """
        rare = self._rare
        try:
            if (
                rare is not None
                and rare.overflow is Overflow.WAIT
                and priority != _SYSTEM
                and not self._closed
                and (self._is_full() or rare.putters)
            ):
                await self._wait_for_room()
            self._offer(message, priority)
        except BaseException:
            message = None  # no envelope in a traceback's frame (see Envelope)
            raise

    async def _wait_for_room(self) -> None:
        """Queue up behind earlier putters and return when it is our turn and there is
        room (or the mailbox closed: the caller's put then raises).

        A putter stays at its place in ``_putters`` until it returns, so room freed for
        it is reserved: only the head is woken, and a woken head that finds the room
        refilled (a SYSTEM message ignores the bound) simply waits again, still first.
        """
        rare = self._rare_part()
        putters = rare.putters
        if putters is None:
            putters = rare.putters = deque()
        putter = _Putter()
        putters.append(putter)
        loop = asyncio.get_running_loop()
        try:
            while not self._closed and (putters[0] is not putter or self._is_full()):
                putter.future = loop.create_future()
                await putter.future
        finally:
            putters.remove(putter)
            if putters and not self._is_full():
                self._wake_putter()

    def _is_full(self) -> bool:
        maxsize = self.maxsize
        return maxsize is not None and len(self) >= maxsize

    def _offer(self, entry: Any, priority: Priority = _NORMAL) -> None:
        """Queue an entry (message or Envelope), applying the overflow policy.

        Every tell goes through here. The common case (NORMAL priority into an open,
        unbounded mailbox, no getter waiting) costs one flag test; the rest is in
        ``_offer_guarded``. ``ActorRef.tell`` and the bus's ``fan_out`` repeat that
        common case inline (a call is a fifth of a tell): a change to it changes all
        three.
        """
        if priority is _NORMAL and not self._guarded:
            queue = self._normal
            if queue is None:
                queue = self._normal = deque()
            queue.append(entry)
            size = len(queue) + self._other_count
            if size > self._high_water:
                self._high_water = size
        else:
            try:
                if not self._offer_guarded(entry, priority):
                    return
            except BaseException:
                entry = None  # no envelope in a traceback's frame (see Envelope)
                raise
            if self._getters:
                self._wake_getter(message_of(entry))
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup._mailbox_ready()

    def _offer_guarded(self, entry: Any, priority: Priority) -> bool:
        """Queue into a closed or bounded mailbox, or at another priority; False if the
        entry was dropped by the overflow policy."""
        try:
            if self._closed:
                name = type(message_of(entry)).__name__
                raise MailboxClosed(f"put of `{name}` to a closed mailbox", message_type=name)
            priority = Priority(priority)
            maxsize = self.maxsize
            if (
                maxsize is not None
                and priority is not _SYSTEM
                and len(self) >= maxsize
                and not self._make_room(entry)
            ):
                return False
            if priority is _NORMAL:
                queue = self._normal
                if queue is None:
                    queue = self._normal = deque()
            else:
                other = self._other
                if other is None:
                    other = self._other = [None, None, None, None]
                queue = other[priority]
                if queue is None:
                    queue = other[priority] = deque()
                self._other_count += 1
            queue.append(entry)
            size = len(self)
            if size > self._high_water:
                self._high_water = size
            return True
        except BaseException:
            entry = None  # no envelope in a traceback's frame (see Envelope)
            raise

    def _make_room(self, entry: Any) -> bool:
        """Apply the overflow policy to a full mailbox; True if ``entry`` may go in."""
        try:
            rare = self._rare_part()
            policy = rare.overflow
            if policy is Overflow.DROP_NEWEST:
                self._discard(entry, "dropped")
                return False
            if policy is Overflow.DROP_OLDEST:
                system_queue = self._other[_SYSTEM] if self._other is not None else None
                for queue in reversed(list(self._queues())):
                    if queue and queue is not system_queue:  # signals are never dropped
                        rare.evicted += 1
                        self._discard(self._pop_from(queue), "dropped")
                        return True
                self._discard(entry, "dropped")  # only signals queued: nothing older to drop
                return False
            rare.rejected += 1
            owner = self._owner
            if owner is not None:
                owner._mailbox_discarded(entry, "mailbox_full")
            name = type(message_of(entry)).__name__
            path = getattr(owner, "path", None)
            where = f" of `{path}`" if path else ""
            hint = ""
            if policy is Overflow.WAIT:
                hint = " (`await ref.send(...)` waits for room)" if path else " (`await put` waits)"
            raise MailboxFull(
                f"the mailbox{where} is full ({rare.maxsize} messages); `{name}` refused{hint}",
                actor=path,
                message_type=name,
            )
        except BaseException:
            entry = None  # no envelope in a traceback's frame (see Envelope)
            raise

    def _discard(self, entry: Any, reason: str) -> None:
        self._rare_part().dropped += 1
        owner = self._owner
        if owner is not None:
            owner._mailbox_discarded(entry, reason)

    # ------------------------------------------------------------------ getting

    async def get(self, predicate: Predicate | None = None, timeout: float | None = None) -> Any:
        """Take the first message accepted by ``predicate`` (any message if ``None``),
        in priority-then-arrival order, waiting for one to arrive if needed.

        Messages the predicate rejects keep their place and order. ``timeout`` is one
        total deadline in seconds; when it passes, ``TimeoutError`` is raised and nothing
        was taken. Cancellation likewise takes nothing and reorders nothing. Raises
        :class:`MailboxClosed` once the mailbox is closed and holds no match. An
        exception raised by the predicate propagates to this caller.
        """
        entry = self._take(predicate)
        if entry is _NOTHING:
            if self._closed:
                raise MailboxClosed("get from a closed mailbox with no matching message")
            if timeout is None:
                entry = await self._wait_take(predicate)
            else:
                async with asyncio.timeout(timeout):
                    entry = await self._wait_take(predicate)
        return self._deliver(entry)

    async def get_batch(
        self,
        predicate: Predicate | None = None,
        *,
        max_messages: int = 100,
        timeout: float | None = None,
        min_messages: int = 1,
    ) -> list[Any]:
        """Take up to ``max_messages`` matching messages, returning as soon as at least
        ``min_messages`` are available, or when ``timeout`` passes with whatever matched
        (possibly ``[]``). Never raises on timeout.

        Messages are taken only at the moment of return, so a cancelled ``get_batch``
        takes nothing. Raises :class:`MailboxClosed` if the mailbox is closed and holds
        no match.
        """
        if max_messages < 1 or min_messages < 0 or min_messages > max_messages:
            raise ValueError(
                f"need 0 <= min_messages <= max_messages and max_messages >= 1, "
                f"got min_messages={min_messages}, max_messages={max_messages}"
            )
        if self._count(predicate, min_messages) < min_messages and not self._closed:
            try:
                async with asyncio.timeout(timeout):
                    while True:
                        await self._wait_match(predicate)
                        if self._count(predicate, min_messages) >= min_messages:
                            break
                        # Not enough yet: the message we were woken for may be what a
                        # getter behind us wants, so pass the wake-up on before sleeping.
                        self._rewake()
            except (TimeoutError, MailboxClosed):
                pass  # return what matched, if anything
        batch: list[Any] = []
        while len(batch) < max_messages:
            entry = self._take(predicate)
            if entry is _NOTHING:
                break
            batch.append(self._deliver(entry))
        if not batch and self._closed:
            raise MailboxClosed("get_batch from a closed mailbox with no matching message")
        return batch

    def _deliver(self, entry: Any) -> Any:
        self._got += 1
        owner = self._owner
        if owner is not None:
            return owner._mailbox_delivered(entry)
        return message_of(entry)

    async def _wait_take(self, predicate: Predicate | None) -> Any:
        """Sleep until a matching entry can be taken, then take it.

        Cancellation safety: a put only *wakes* a getter; the message stays queued until
        the getter runs. If the getter is cancelled after being woken, nothing was taken,
        and the wake-up is passed on to another getter that a queued message matches, so
        no sleeper is left behind a message it wants.
        """
        while True:
            await self._wait_match(predicate)
            entry = self._take(predicate)
            if entry is not _NOTHING:
                return entry
            if self._closed:
                raise MailboxClosed("get from a closed mailbox with no matching message")
            # Someone else took the message we were woken for; sleep again.

    async def _wait_match(self, predicate: Predicate | None) -> None:
        """Sleep until a put wakes us with a message ``predicate`` accepts (or close)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        getter = _Getter(future, predicate)
        if self._getters is None:
            self._getters = []
        self._getters.append(getter)
        self._guarded = True
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled() and future.exception() is None:
                self._rewake()
            elif self._getters is not None and getter in self._getters:
                self._getters.remove(getter)
                self._reguard()
            raise

    def _wake_getter(self, message: Any) -> None:
        getters = self._getters
        if getters is None:
            return
        for index, getter in enumerate(getters):
            if getter.future.done():
                # Its task is being cancelled: never hand it a wake-up (it could not
                # take the message). It removes itself from the table when it runs.
                continue
            predicate = getter.predicate
            try:
                accepted = predicate is None or predicate(message)
            except Exception as exc:
                # The predicate is the getter's code: its error belongs to the getter,
                # never to the sender that happened to trigger it.
                del getters[index]
                self._reguard()
                getter.future.set_exception(exc)
                self._wake_getter(message)
                return
            if accepted:
                del getters[index]
                self._reguard()
                getter.future.set_result(None)
                return

    def _reguard(self) -> None:
        """A getter left the table: the hot path may skip the guarded one again."""
        self._guarded = self._closed or self.maxsize is not None or bool(self._getters)

    def _rewake(self) -> None:
        for entry in list(self._entries()):
            if not self._getters:
                return
            self._wake_getter(message_of(entry))

    # ------------------------------------------------------------------ storage

    def _queues(self) -> Iterator[deque[Any]]:
        """The non-released level deques, highest priority first."""
        other = self._other
        if other is not None and self._other_count:
            for level in (Priority.SYSTEM, Priority.HIGH):
                queue = other[level]
                if queue:
                    yield queue
        if self._normal is not None:
            yield self._normal
        if other is not None and self._other_count:
            queue = other[Priority.LOW]
            if queue:
                yield queue

    def _entries(self) -> Iterator[Any]:
        for queue in self._queues():
            yield from queue

    def _note_size(self) -> None:
        """Note the size for the high-water mark before the mailbox shrinks (see
        ``_high_water``)."""
        size = len(self)
        if size > self._high_water:
            self._high_water = size

    def _pop_from(self, queue: deque[Any], index: int = 0) -> Any:
        self._note_size()
        if index == 0:
            entry = queue.popleft()
        else:
            entry = queue[index]
            del queue[index]
        if queue is not self._normal:
            self._other_count -= 1
        return entry

    def _take(self, predicate: Predicate | None) -> Any:
        """Remove and return the first matching entry, or ``_NOTHING``."""
        if predicate is None:
            entry = self._pop_next()
        else:
            entry = _NOTHING
            try:
                for queue in self._queues():
                    for index, candidate in enumerate(queue):
                        if predicate(message_of(candidate)):
                            entry = self._pop_from(queue, index)
                            break
                    if entry is not _NOTHING:
                        break
            except BaseException:
                candidate = None  # no envelope in a traceback's frame (see Envelope)
                raise
        if entry is not _NOTHING and self._guarded:
            self._wake_putter()
        return entry

    def _pop_next(self) -> Any:
        """Remove and return the first entry in priority order, or ``_NOTHING``.

        The actor's drain loop calls this once per message: keep it short.
        """
        if self._other_count:
            for queue in self._queues():
                if queue:
                    return self._pop_from(queue)
        normal = self._normal
        if normal:
            self._note_size()
            return normal.popleft()
        return _NOTHING

    def _count(self, predicate: Predicate | None, enough: int) -> int:
        """How many entries match, counting no further than ``enough``."""
        if predicate is None:
            return len(self)
        count = 0
        try:
            for entry in self._entries():
                if count >= enough:
                    break
                if predicate(message_of(entry)):
                    count += 1
        except BaseException:
            entry = None  # no envelope in a traceback's frame (see Envelope)
            raise
        return count

    def _wake_putter(self) -> None:
        """Room was freed: wake the first waiting putter (it keeps its place)."""
        putters = self._putters()
        if putters:
            future = putters[0].future
            if future is not None and not future.done():
                future.set_result(None)

    def _release_storage(self) -> None:
        """Drop empty deques so an idle mailbox holds no buffers (about 760 bytes each)."""
        if self._normal is not None and not self._normal:
            self._normal = None
        if self._other is not None and not self._other_count:
            self._other = None

    # ------------------------------------------------------------------ inspection

    def peek(self, predicate: Predicate | None = None) -> Any:
        """Return the first matching message without removing it, or ``None``."""
        try:
            for entry in self._entries():
                message = message_of(entry)
                if predicate is None or predicate(message):
                    return message
        except BaseException:
            entry = None  # no envelope in a traceback's frame (see Envelope)
            raise
        return None

    def remove(self, predicate: Predicate) -> list[Any]:
        """Remove every message ``predicate`` accepts and return them, in order."""
        queues = list(self._queues())
        # Judge everything first: a predicate that raises must leave the mailbox as is.
        verdicts: list[list[bool]] = []
        try:
            for queue in queues:
                verdict: list[bool] = []
                for entry in queue:
                    verdict.append(bool(predicate(message_of(entry))))
                verdicts.append(verdict)
        except BaseException:
            entry = None  # no envelope in a traceback's frame (see Envelope)
            raise
        removed: list[Any] = []
        self._note_size()
        for queue, verdict in zip(queues, verdicts, strict=True):
            if not any(verdict):
                continue
            kept = [entry for entry, drop in zip(queue, verdict, strict=True) if not drop]
            removed.extend(entry for entry, drop in zip(queue, verdict, strict=True) if drop)
            self._rare_part().evicted += len(queue) - len(kept)
            if queue is not self._normal:
                self._other_count -= len(queue) - len(kept)
            queue.clear()
            queue.extend(kept)
        return self._removed(removed)

    def clear(self) -> list[Any]:
        """Remove every message and return them, in priority-then-arrival order."""
        return self._removed(self._evict_all())

    def _evict_all(self) -> list[Any]:
        """Take every entry out, in order, without delivering them. The queues are
        emptied in place: one a traceback's frame still holds keeps no envelope (see
        Envelope)."""
        self._note_size()
        entries = list(self._entries())
        for queue in self._queues():
            queue.clear()
        self._normal = None
        self._other = None
        self._other_count = 0
        if entries:
            self._rare_part().evicted += len(entries)
        return entries

    def _removed(self, entries: list[Any]) -> list[Any]:
        owner = self._owner
        for entry in entries:
            if owner is not None:
                owner._mailbox_discarded(entry, "removed")
            if self._guarded:
                self._wake_putter()
        return [message_of(entry) for entry in entries]

    def stats(self) -> MailboxStats:
        """A frozen snapshot of the mailbox's counters."""
        rare = self._rare or _Rare(None, Overflow.WAIT)
        return MailboxStats(
            size=len(self),
            maxsize=rare.maxsize,
            high_water=max(self._high_water, len(self)),
            put=self._got + len(self) + rare.evicted,
            got=self._got,
            dropped=rare.dropped,
            rejected=rare.rejected,
            waiting_getters=len(self._getters or ()),
            waiting_putters=len(rare.putters or ()),
        )

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Refuse further puts. Idempotent.

        Queued messages can still be taken; a getter with no matching message left wakes
        with :class:`MailboxClosed`, and so does every waiting putter.
        """
        if self._closed:
            return
        self._closed = True
        self._guarded = True
        self._wakeup = None
        getters, self._getters = self._getters or [], None
        for getter in getters:
            if not getter.future.done():  # not one being cancelled
                getter.future.set_exception(MailboxClosed("the mailbox was closed while waiting"))
        for putter in self._putters() or ():
            if putter.future is not None and not putter.future.done():
                putter.future.set_result(None)  # it sees the mailbox closed, put raises
