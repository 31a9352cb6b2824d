"""The actor cell: one actor slot's runtime state and its life cycle.

An idle actor holds no task. A message queued for an idle actor creates one *drain task*
(in the task group of the actor's owner: the system, or its supervisor) that handles
messages until the mailbox is empty and then ends. Handlers therefore run in a real task:
``asyncio.current_task()``, ``asyncio.timeout()`` and cancellation behave as usual.

States, and who moves between them::

    STARTING --started() ok--> RUNNING --stop requested / crash--> STOPPING
        |                         ^                                    |
        +--started() raised--+    |  (supervisor restart)              | _exit(): children,
                             v    +----------- SUSPENDED <-------------+ stopped(), then the
                          STOPPED <------------(parent finalizes)------+ parent decides

The cell survives restarts: a supervisor puts a fresh actor instance into the same cell,
with the same mailbox and ref, so refs and queued messages carry over.
"""

from __future__ import annotations

import asyncio
import enum
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ._cancellation import cancellation_requested
from ._errors import ActorCrashed, ActorNotFound, ActorsError, MailboxFull
from ._logging import get_logger
from ._mailbox import _NOTHING, Envelope, Mailbox, Priority, message_of
from ._messages import (
    ActorFailed,
    ActorStarted,
    ActorStopped,
    DeadLetterReason,
    ExitReason,
    Terminated,
)
from ._ref import NO_REPLY, ActorRef, Reply, current_cell
from ._toolkit import DRAIN, Toolkit

if TYPE_CHECKING:
    from ._actor import Actor
    from ._system import ActorSystem

log = get_logger("actors.cell")


class CellState(enum.IntEnum):
    """Where a cell is in its life cycle (see the diagram above)."""

    STARTING = 0
    RUNNING = 1
    STOPPING = 2
    SUSPENDED = 3
    STOPPED = 4

    def __repr__(self) -> str:
        return self.name


# Module names for the hot paths (a global read, not an attribute lookup per message).
STARTING, RUNNING, STOPPING, SUSPENDED, STOPPED = CellState

# The fairness budget: a busy actor cannot starve the others. Every THROUGHPUT messages
# (Akka's dispatcher "throughput") its drain task looks at the clock, and yields to the
# event loop once its turn has lasted TURN seconds. Cheap handlers so run a few hundred
# messages per turn instead of 64 (a yield costs a few microseconds: per 64 messages
# of a trivial handler, a tenth of the time) and a slow one still yields every 64. The
# first turn of an activation is timed from its first look, so a short activation (an
# ask) reads no clock: it may run 128 slow messages before its first yield.
THROUGHPUT = 64
TURN = 0.0001
_clock = time.perf_counter

DEFAULT_SHUTDOWN = 5.0

Reason = ExitReason | BaseException
"""Why an incarnation ended: an ``ExitReason`` (normal, shutdown, killed), or the
exception raised."""


def _is_drain(message: Any) -> bool:
    return message is DRAIN


def describe(reason: Reason) -> str:
    """The reason as ``Terminated.reason`` and the logs carry it: the exit reason's
    value, or ``"<ExceptionType>: <message>"``."""
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}"
    return str(reason)


async def stop_children(children: dict[ActorCell, ActorCell]) -> None:
    """Stop every child, newest first, each within its shutdown time; children that
    appear meanwhile are stopped too."""
    while children:
        # A snapshot: popping from the end of a dict leaves holes that make repeated
        # ``reversed(children)`` quadratic.
        for child in reversed(list(children.values())):
            await child.stop(ExitReason.SHUTDOWN)
            children.pop(child, None)


class Watcher(Protocol):
    """Whoever watches a cell: another cell, or a transport's proxy for a remote one
    (hashable: watchers are kept in an ordered set)."""

    def deliver(self, message: Any, priority: Priority) -> None: ...


class Parent(Protocol):
    """What a cell needs from whoever owns it: a guardian, an actor, a supervisor."""

    @property
    def path(self) -> str: ...

    system: ActorSystem
    task_group: asyncio.TaskGroup
    children: dict[ActorCell, ActorCell] | None

    def child_exited(self, child: ActorCell, reason: Reason) -> None:
        """An incarnation of ``child`` ended; ``child.finalize(reason)`` it (or, for a
        supervisor, decide whether to restart it instead)."""


class _Rare:
    """The parts of a cell most actors never use: children, watches, a registered name,
    the factory a supervisor keeps, a shutdown time other than the default, the waiters
    of ``stop()``. Made on first use, so an idle actor's cell stays small (an idle
    actor's memory is a goal: DESIGN.md's performance section)."""

    __slots__ = (
        "children",
        "claimed",
        "exit_waiters",
        "factory",
        "registered",
        "shutdown",
        "watchers",
        "watching",
    )

    def __init__(self) -> None:
        self.children: dict[ActorCell, ActorCell] | None = None
        self.claimed = False  # registered cluster-wide through the transport
        self.exit_waiters: list[asyncio.Future[None]] | None = None
        self.factory: Callable[[], Actor] | None = None
        self.registered = False
        self.shutdown: float | None = DEFAULT_SHUTDOWN
        # Ordered sets (dicts with None values): O(1) add and remove, so stopping N
        # watchers or subscribers of one actor costs O(N), and Terminated goes out in
        # the order the watches were made.
        self.watchers: dict[Watcher, None] | None = None
        self.watching: dict[ActorCell, None] | None = None


class ActorCell:
    """One actor slot. Internal; user code sees ``ActorRef`` and ``Actor``."""

    __slots__ = (
        "__weakref__",  # a transport exports cells by name in a WeakValueDictionary
        "_name",
        "actor",
        "mailbox",
        "message",
        "parent",
        "rare",
        "ref",
        "sender",
        "state",
        "stop_reason",
        "system",
        "task",
        "task_group",
        "toolkit",
        "trace",
    )

    # Invariants:
    # - ``task`` is the cell's one running task (start, drain or exit), None when idle;
    #   a recently busy actor's drain task may be parked (see _parking).
    # - ``mailbox._wakeup is self`` exactly when state is RUNNING and the actor is idle
    #   (``task`` None, or parked): the next queued message then calls
    #   ``_mailbox_ready`` to wake the parked task or start a drain task.
    # - ``children`` is in spawn order; children stop newest first, before their parent.
    # - ``rare`` is None until one of its parts is first set (see _Rare).
    # - ``_name`` is the name, or the number of an unnamed actor, whose name
    #   ``<class>-<n>`` is only formatted when read (most never are).

    def __init__(
        self,
        system: ActorSystem,
        parent: Parent,
        name: str | int,
        mailbox: Mailbox,
    ) -> None:
        self.system = system
        self.parent = parent
        self.task_group = parent.task_group
        self._name = name
        self.rare: _Rare | None = None
        self.mailbox = mailbox
        mailbox._owner = self
        self.ref = ActorRef(self)
        self.state = STARTING
        self.task: asyncio.Task[None] | None = None
        self.actor: Actor = None  # type: ignore[assignment]  # set right after by the spawner
        self.sender: Any = None
        self.trace: Any = None  # the current message's TraceContext (see _trace)
        self.message: Any = None  # the message being handled (for log lines)
        self.stop_reason: Reason = ExitReason.NORMAL
        # Set once the actor uses timers, stash, behaviours or a receive timeout (see
        # _toolkit); its dispatcher is then the entry point in place of ``receive``.
        self.toolkit: Toolkit | None = None

    def handle(self, message: Any) -> Any:
        """The entry point's awaitable for ``message``: ``actor.receive``, or the
        toolkit's dispatcher while the actor uses it."""
        toolkit = self.toolkit
        return self.actor.receive(message) if toolkit is None else toolkit.dispatch(message)

    @property
    def name(self) -> str:
        name = self._name
        if name.__class__ is int:
            return f"{type(self.actor).__name__.lower()}-{name}"
        return name  # type: ignore[return-value]

    @property
    def path(self) -> str:
        return f"{self.parent.path}/{self.name}"

    # The rarely used parts (see _Rare), read as attributes.

    def rare_part(self) -> _Rare:
        rare = self.rare
        if rare is None:
            rare = self.rare = _Rare()
        return rare

    @property
    def children(self) -> dict[ActorCell, ActorCell] | None:
        """The children, in spawn order (a dict of each to itself: O(1) removal)."""
        rare = self.rare
        return None if rare is None else rare.children

    @children.setter
    def children(self, children: dict[ActorCell, ActorCell] | None) -> None:
        self.rare_part().children = children

    @property
    def registered(self) -> bool:
        rare = self.rare
        return rare is not None and rare.registered

    @property
    def claimed(self) -> bool:
        rare = self.rare
        return rare is not None and rare.claimed

    @property
    def factory(self) -> Callable[[], Actor] | None:
        rare = self.rare
        return None if rare is None else rare.factory

    @factory.setter
    def factory(self, factory: Callable[[], Actor] | None) -> None:
        self.rare_part().factory = factory

    @property
    def shutdown(self) -> float | None:
        """Seconds ``stop()`` waits before cancelling (None: no limit)."""
        rare = self.rare
        return DEFAULT_SHUTDOWN if rare is None else rare.shutdown

    @shutdown.setter
    def shutdown(self, seconds: float | None) -> None:
        self.rare_part().shutdown = seconds

    @property
    def watchers(self) -> dict[Watcher, None] | None:
        rare = self.rare
        return None if rare is None else rare.watchers

    @property
    def watching(self) -> dict[ActorCell, None] | None:
        rare = self.rare
        return None if rare is None else rare.watching

    def __repr__(self) -> str:
        return f"<ActorCell {self.path} state={self.state.name}>"

    # ------------------------------------------------------------------ starting

    def reincarnate(self) -> None:
        """Put a fresh actor instance into this slot (a supervisor restart): same ref,
        same mailbox and queued messages. Raises what the actor's ``__init__`` raises."""
        assert self.factory is not None and self.state == SUSPENDED
        self.state = STARTING
        self.stop_reason = ExitReason.NORMAL
        self.sender = self.trace = self.message = None
        self._close_toolkit()
        try:
            self.actor = self.factory()
        except BaseException:
            self.state = SUSPENDED
            raise
        if self.mailbox.peek(_is_drain) is not None:
            Toolkit(self.actor)  # a draining stop is queued: the new incarnation obeys it

    async def start(self) -> None:
        """Run ``started()`` in the actor's own task; raise ActorCrashed if it fails,
        leaving the cell SUSPENDED for the caller to finalize or retry."""
        if self.registered and not self.claimed and self.system._transport is not None:
            await self._claim_name()
        if not self.actor._has_started_hook:
            self._became_running()
            if self.mailbox:
                self.task = self.task_group.create_task(self._run())
            else:
                self.mailbox._wakeup = self
                if self.toolkit is not None:
                    self.toolkit.idle()
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = self.task_group.create_task(self._run(done))
        await done

    async def _claim_name(self) -> None:
        """Register the name cluster-wide (a transport is configured)."""
        transport = self.system._transport
        assert transport is not None
        try:
            await transport.register(self.name, self)
        except ValueError as exc:
            self.state = SUSPENDED
            error = ActorCrashed(f"`{self.path}` failed to start: {exc}", actor=self.path)
            error.__cause__ = exc
            raise error from exc
        self.rare_part().claimed = True

    def _became_running(self) -> None:
        self.state = RUNNING
        system = self.system
        if system._listeners:
            system._emit(ActorStarted(self.path, type(self.actor).__qualname__))

    def _mailbox_ready(self) -> None:
        if self.toolkit is not None:
            self.toolkit.busy()
        if self.task is None or not self.system._parking.wake(self):
            self.task = self.task_group.create_task(self._run())

    # ------------------------------------------------------------------ running

    async def _run(self, started: asyncio.Future[None] | None = None) -> None:
        current_cell.set(self)
        try:
            if started is not None and not await self._run_started(started):
                return
            reason = await self._drain()
            if reason is None:
                return
            await self._exit(reason)
        except asyncio.CancelledError:
            self._killed()
            raise

    async def _run_started(self, started: asyncio.Future[None]) -> bool:
        try:
            await self.actor.started()
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError) and cancellation_requested():
                raise
            self._report_failure(exc, None)
            error = ActorCrashed(f"`{self.path}` failed to start: {describe(exc)}", actor=self.path)
            error.__cause__ = exc
            await self._stop_children()
            self.task = None
            # Whoever started the cell decides: a spawn finalizes it, a supervisor keeps
            # the slot and retries the restart.
            self.state = SUSPENDED
            if not started.done():  # the spawner may have been cancelled meanwhile
                started.set_exception(error)
            return False
        stopping = self.state == STOPPING
        self._became_running()
        if stopping:
            self.state = STOPPING
        if not started.done():
            started.set_result(None)
        return True

    async def _drain(self) -> Reason | None:
        """Handle queued messages until the mailbox is empty (return None: now idle) or
        the actor must stop (return the reason)."""
        mailbox = self.mailbox
        reply_class = Reply
        envelope_class = Envelope
        budget = THROUGHPUT
        turn_started = 0.0  # the clock at the turn's first look (0.0: not looked yet)
        got_before = mailbox._got
        system = self.system
        parking = system._parking
        latency = system._handle_latency  # timed per block of messages, sampled
        spans = system._spans  # OpenTelemetry, when enabled (actors.observer._tracing)
        block_started = latency.start()
        # The mailbox's high-water mark is noted here, before each pop (``tell`` leaves
        # it to us, see Mailbox); ``high_water`` is a copy that may lag, never lead.
        high_water = mailbox._high_water
        while self.state is RUNNING:
            if mailbox._other_count:
                entry = mailbox._pop_next()
            else:
                queue = mailbox._normal
                if queue:
                    if len(queue) > high_water:
                        mailbox._note_size()
                        high_water = mailbox._high_water
                    entry = queue.popleft()
                else:
                    entry = _NOTHING
            if entry is _NOTHING:
                if block_started:  # sampled (see LatencyRecorder): one call in ``every``
                    latency.stop(block_started, THROUGHPUT - budget)
                self.sender = self.trace = self.message = None
                system._handled += mailbox._got - got_before
                mailbox._wakeup = self
                if self.toolkit is not None:
                    self.toolkit.idle()
                # Parked (see _parking), the mailbox keeps its buffers until released.
                parked = parking.park(self)
                if parked is None:  # the system shuts down: end now
                    mailbox._release_storage()
                    self.task = None
                    return None
                try:
                    woken = await parked
                except asyncio.CancelledError:
                    if self._park_cancelled(parked):
                        raise
                    return None
                if not woken:
                    return None  # released: the cell is idle and no longer ours
                got_before = mailbox._got
                budget = THROUGHPUT
                turn_started = 0.0
                block_started = latency.start()
                continue
            mailbox._got += 1
            if mailbox._guarded:  # bounded, say: a put may be waiting for this room
                mailbox._wake_putter()
            if entry.__class__ is envelope_class:
                message = self.message = entry.message
                sender = self.sender = entry.sender
                self.trace = entry.trace
            else:
                message = self.message = entry
                sender = self.sender = self.trace = None
            try:
                # ``handle`` inlined: no call and no bound method kept per idle cell
                if spans is not None:
                    result = await spans.handle(self, message)
                elif self.toolkit is None:
                    result = await self.actor.receive(message)
                else:
                    result = await self.toolkit.dispatch(message)
            except (Exception, asyncio.CancelledError) as exc:
                entry = None  # no envelope in a traceback's frame (see Envelope)
                if isinstance(exc, asyncio.CancelledError) and cancellation_requested():
                    # stop/kill, or our owner's cancellation: not the actor's failure
                    if sender.__class__ is reply_class:
                        sender.fail(
                            ActorCrashed(
                                f"`{self.path}` was cancelled handling `{type(message).__name__}`",
                                actor=self.path,
                                message_type=type(message).__name__,
                            )
                        )
                    raise
                # Any other exception, or a CancelledError the handler raised on its own
                # (it awaited something another task cancelled): a crash.
                if sender.__class__ is reply_class:
                    error = ActorCrashed(
                        f"`{self.path}` crashed handling `{type(message).__name__}`: "
                        f"{describe(exc)}",
                        actor=self.path,
                        message_type=type(message).__name__,
                    )
                    error.__cause__ = exc
                    sender.fail(error)
                latency.stop(block_started, THROUGHPUT - budget + 1)
                system._handled += mailbox._got - got_before
                self._report_failure(exc, message)
                return exc
            if sender.__class__ is reply_class and result is not NO_REPLY:
                answer = sender._future  # Reply.tell inline: one call fewer per ask
                if not answer.done():
                    answer.set_result(result)
            budget -= 1
            if not budget:
                latency.stop(block_started, THROUGHPUT)
                budget = THROUGHPUT
                now = _clock()
                if not turn_started:
                    turn_started = now
                elif now - turn_started >= TURN:
                    await asyncio.sleep(0)
                    turn_started = _clock()  # a flood goes on: time its turns from the start
                block_started = latency.start()
        latency.stop(block_started, THROUGHPUT - budget)
        system._handled += mailbox._got - got_before
        return self.stop_reason

    def _park_cancelled(self, parked: asyncio.Future[bool]) -> bool:
        """The parked task was cancelled: True if it must end as killed (it was still
        this cell's task), False if it had been released already (not its to kill)."""
        if self.system._parking.forget(self) is parked:
            self.mailbox._wakeup = None  # busy again until it ends, as any kill
            return True
        return not (parked.done() and not parked.result())

    def _report_failure(self, exc: BaseException, message: Any) -> None:
        message_type = None if message is None else type(message).__name__
        # One line per crash at error level, the traceback at debug level: a burst of
        # crashes stays readable (OTP's crash reports are filtered alike).
        log.error("actor failed", actor=self.path, message_type=message_type, error=describe(exc))
        log.debug("actor failed: traceback", actor=self.path, exc_info=exc)
        system = self.system
        system._failures += 1
        if system._listeners:
            system._emit(
                ActorFailed(
                    self.path,
                    error_type=type(exc).__name__,
                    error=str(exc),
                    traceback="".join(traceback.format_exception(exc, limit=-5)),
                    message_type=message_type,
                )
            )

    # ------------------------------------------------------------------ stopping

    def request_stop(self, reason: Reason) -> None:
        """Ask the current incarnation to stop after the message it is handling."""
        state = self.state
        if state == STARTING or (state == RUNNING and self.task is not None):
            self.state = STOPPING
            self.stop_reason = reason
            self.system._parking.wake(self)  # if parked, to see that it must stop
        elif state == RUNNING:
            self.state = STOPPING
            self.stop_reason = reason
            self.mailbox._wakeup = None
            if self.children or self.actor._has_stopped_hook:
                self.task = self.task_group.create_task(self._run_exit(reason))
            else:
                self._exited(reason)
        elif state == SUSPENDED:
            self.finalize(reason)

    async def _run_exit(self, reason: Reason) -> None:
        current_cell.set(self)
        try:
            await self._exit(reason)
        except asyncio.CancelledError:
            self._killed()
            raise

    async def stop(
        self, reason: Reason = ExitReason.SHUTDOWN, timeout: float | None = None
    ) -> None:
        """Stop this incarnation and wait for it to end; after ``timeout`` seconds (the
        cell's ``shutdown`` if None; 0 = at once) cancel its task instead."""
        if self.state == STOPPED:
            return
        if (
            self.state == RUNNING
            and self.task is None
            and not self.children
            and not self.actor._has_stopped_hook
        ):
            self.request_stop(reason)  # nothing to wait for: ends synchronously
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._add_exit_waiter(waiter)
        if timeout is None:
            timeout = self.shutdown
        if timeout is not None and timeout <= 0:
            self.kill()
        else:
            self.request_stop(reason)
        if waiter.done():
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(waiter)
        except TimeoutError:
            self.kill()
            await waiter

    def kill(self) -> None:
        """Cancel the cell's task now (BRUTAL_KILL); with no task, end it at once."""
        task = self.task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        elif self.state != STOPPED:
            self._killed()

    def _killed(self) -> None:
        """Synchronous end after cancellation: kill the children; the parent decides
        (a supervisor may restart the slot; anyone else finalizes it)."""
        if self.state == STOPPED:
            return
        for child in reversed(list((self.children or {}).values())):
            child.kill()
        self.actor._killed()
        self._exited(ExitReason.KILLED)

    async def _stop_children(self) -> None:
        if self.children:
            await stop_children(self.children)

    async def _exit(self, reason: Reason) -> None:
        """End this incarnation: children first (newest first), then ``stopped()``."""
        self.state = STOPPING
        await self._stop_children()
        if self.actor._has_stopped_hook:
            try:
                await self.actor.stopped()
            except Exception as exc:
                log.error("stopped() raised", actor=self.path, exc_info=exc)
        self._exited(reason)

    def _close_toolkit(self) -> None:
        if self.toolkit is not None:
            self.toolkit.close()

    async def drain_and_stop(self, timeout: float | None) -> None:
        """Stop once the messages queued now are handled (``system.stop(ref,
        drain=True)``): a marker queued at LOW priority stops the actor when reached,
        whichever incarnation reaches it (a restart meanwhile keeps draining). After
        ``timeout`` seconds (None: no limit) its task is cancelled, as ``stop`` does."""
        if self.state not in (STARTING, RUNNING):
            await self.stop(ExitReason.SHUTDOWN, timeout)
            return
        loop = asyncio.get_running_loop()
        if self.toolkit is None:
            Toolkit(self.actor)  # its dispatcher recognizes the marker
        try:
            async with asyncio.timeout(timeout):
                await self.mailbox.put(DRAIN, Priority.LOW)
                while self.state != STOPPED and self.mailbox.peek(_is_drain) is not None:
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._add_exit_waiter(waiter)
                    await asyncio.shield(waiter)
        except TimeoutError:
            await self.stop(ExitReason.SHUTDOWN, 0)
            return
        await self.stop(ExitReason.SHUTDOWN)

    def _exited(self, reason: Reason) -> None:
        self._close_toolkit()
        self.task = None
        self.stop_reason = reason  # how this incarnation ended, for whoever finalizes
        self.sender = self.trace = self.message = None
        self._release_exit_waiters()
        self.parent.child_exited(self, reason)

    def _add_exit_waiter(self, waiter: asyncio.Future[None]) -> None:
        rare = self.rare_part()
        if rare.exit_waiters is None:
            rare.exit_waiters = []
        rare.exit_waiters.append(waiter)

    def _release_exit_waiters(self) -> None:
        """Wake whoever awaits ``stop()``: the incarnation (or the slot) has ended."""
        rare = self.rare
        if rare is None:
            return
        waiters, rare.exit_waiters = rare.exit_waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def child_exited(self, child: ActorCell, reason: Reason) -> None:
        child.finalize(reason)

    def finalize(self, reason: Reason) -> None:
        """The slot ends for good: dead-letter what is queued, tell the watchers.

        A parent calls it from ``child_exited`` when it will not restart the child
        (idempotent: a stopped cell stays stopped)."""
        if self.state == STOPPED:
            return
        self.state = STOPPED
        self._close_toolkit()
        mailbox = self.mailbox
        mailbox.close()
        for entry in mailbox._evict_all():
            self.undeliverable(entry, DeadLetterReason.STOPPED)
        siblings = self.parent.children
        if siblings is not None:
            siblings.pop(self, None)
        system = self.system
        rare = self.rare
        watchers = None
        if rare is not None:
            if rare.registered:
                system._unregister(self.name, self)
                if rare.claimed and system._transport is not None:
                    system._transport.unregister(self.name, self)
            for target in rare.watching or ():
                target.remove_watcher(self)
            rare.watching = None
            watchers, rare.watchers = rare.watchers, None
        if watchers:
            terminated = Terminated(self.ref, describe(reason))
            for watcher in watchers:
                watcher.deliver(terminated, Priority.SYSTEM)
        system._actor_stopped(self, reason)
        if system._listeners:
            system._emit(ActorStopped(self.path, describe(reason)))
        self._release_exit_waiters()

    # ------------------------------------------------------------------ delivery

    def deliver(self, message: Any, priority: Priority) -> None:
        """A runtime send (no implicit sender); dead-letters if the cell is stopped."""
        if self.mailbox._closed:
            self.undeliverable(message, DeadLetterReason.STOPPED)
        else:
            self.mailbox._offer(message, priority)

    def undeliverable(self, entry: Any, reason: str) -> None:
        """An entry that will never be handled: fail its ask (unless the asker already
        got ``MailboxFull`` raised), count a dead letter."""
        sender = entry.sender if entry.__class__ is Envelope else None
        message = message_of(entry)
        if sender.__class__ is Reply and reason != DeadLetterReason.MAILBOX_FULL:
            name = type(message).__name__
            error: ActorsError
            if reason == DeadLetterReason.DROPPED:
                error = MailboxFull(
                    f"`{name}` to `{self.path}` was dropped: the mailbox is full",
                    actor=self.path,
                    message_type=name,
                )
            else:
                error = ActorNotFound(
                    f"`{name}` to `{self.path}`: the actor stopped before handling it",
                    actor=self.path,
                    message_type=name,
                )
            sender.fail(error)
        sender_path = sender.path if isinstance(sender, ActorRef) else None
        self.system._dead_letter(message, self.path, reason, sender_path)

    # MailboxOwner protocol ------------------------------------------------------

    def _mailbox_delivered(self, entry: Any) -> Any:
        if entry.__class__ is Envelope:
            self.sender = entry.sender
            self.trace = entry.trace
            self.message = entry.message
            return entry.message
        self.sender = self.trace = None
        self.message = entry
        return entry

    def _mailbox_discarded(self, entry: Any, reason: str) -> None:
        if reason == "removed":
            sender = entry.sender if entry.__class__ is Envelope else None
            if sender.__class__ is Reply:
                name = type(message_of(entry)).__name__
                sender.fail(
                    ActorsError(
                        f"`{name}` was removed from the mailbox of `{self.path}` unhandled",
                        actor=self.path,
                        message_type=name,
                    )
                )
        else:
            self.undeliverable(entry, reason)

    # ------------------------------------------------------------------ watching

    def watch(self, target: ActorCell) -> None:
        if target.state == STOPPED:
            self.deliver(Terminated(target.ref, ExitReason.NOPROC), Priority.SYSTEM)
            return
        if target.add_watcher(self):
            rare = self.rare_part()
            if rare.watching is None:
                rare.watching = {}
            rare.watching[target] = None

    def unwatch(self, target: ActorCell) -> None:
        target.remove_watcher(self)
        watching = self.watching
        if watching is not None:
            watching.pop(target, None)

    def add_watcher(self, watcher: Watcher) -> bool:
        """Have ``watcher`` told (``deliver(Terminated)``) when this slot ends; False
        if it already was."""
        rare = self.rare_part()
        if rare.watchers is None:
            rare.watchers = {}
        elif watcher in rare.watchers:
            return False
        rare.watchers[watcher] = None
        return True

    def remove_watcher(self, watcher: Watcher) -> None:
        watchers = self.watchers
        if watchers is not None:
            watchers.pop(watcher, None)
