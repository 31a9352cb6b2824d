"""``ActorSystem``: the root of a tree of actors, its registry and its task group.

The system owns one ``asyncio.TaskGroup``, entered by ``async with ActorSystem(...)``;
every task of every top-level actor lives in it (supervisors add task groups of their
own below). Leaving the ``async with`` stops every actor, children before parents, and
only returns once the task group is empty: no task of ours outlives the system.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import itertools
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import msgspec

from ._actor import Actor
from ._bus import (
    BUS_REQUESTS,
    BusState,
    EventBus,
    Publish,
    Subscribe,
    Subscription,
    Subscriptions,
    Unsubscribe,
    check_target,
    fan_out,
)
from ._cell import STOPPED, SUSPENDED, ActorCell, Reason, describe, stop_children
from ._cluster import Cluster
from ._deadlines import AskDeadlines
from ._errors import ActorsError
from ._from_thread import FromThread
from ._limits import check_name, check_system_name
from ._logging import get_logger
from ._mailbox import Mailbox, Priority
from ._messages import (
    DeadLetter,
    ExitReason,
    is_normal,
)
from ._metrics import Health, LatencyRecorder, SystemMetrics
from ._parking import Parking
from ._ref import ActorRef, trace_of_sender
from ._routers import Pool, Routing, check_pool
from ._spawn import new_cell, spawn
from ._transport import Transport
from .observer import check_address
from .observer._tracing import spans

__all__ = ["ActorSystem"]

N = TypeVar("N")  # the messages of the actor being spawned

log = get_logger("actors.system")

# Messages the bus takes as requests: publishing one of these as an event wraps it in
# Publish, so it is delivered rather than obeyed.


class TreeSpec(Protocol):
    """Anything ``spawn_tree`` can start (``supervision.SupervisorSpec``)."""

    async def start_tree(self, system: ActorSystem, parent: Any) -> ActorRef: ...


class _State(enum.Enum):
    UNOPENED = "unopened"  # created, ``async with`` not entered yet
    OPENED = "opened"  # running: actors may be spawned
    CLOSING = "closing"  # stopping its actors
    CLOSED = "closed"  # done; cannot be reopened


class Guardian:
    """The root parent of the actors spawned with ``system.spawn``: it never restarts
    them; a failure is logged (and published) and the actor's slot ends."""

    __slots__ = ("children", "path", "system", "task_group", "trees")

    def __init__(self, system: ActorSystem, task_group: asyncio.TaskGroup) -> None:
        self.system = system
        self.path = system.name
        self.task_group = task_group
        self.children: dict[ActorCell, ActorCell] | None = {}
        self.trees: set[int] = set()  # supervision trees whose failure fails the system

    def child_exited(self, child: ActorCell, reason: Reason) -> None:
        system = self.system
        if child is system._bus_cell and not is_normal(reason) and system._state is _State.OPENED:
            # The bus is restarted in place: same ref, its subscriptions kept in BusState.
            log.warning("event bus failed; restarting it", reason=describe(reason))
            child.state = SUSPENDED
            child.reincarnate()
            self.task_group.create_task(child.start())
            return
        child.finalize(reason)
        if id(child) in self.trees:
            self.trees.discard(id(child))
            if isinstance(reason, Exception):
                self.system._fail(reason)

    async def stop_children(self) -> None:
        """Stop every top-level actor, newest first; the event bus (the oldest) last,
        once it has delivered what the others' stopping published."""
        children = self.children
        bus = self.system._bus_cell
        if not children:
            return
        await stop_children({key: cell for key, cell in children.items() if cell is not bus})
        if bus is not None and bus.state != STOPPED and (bus.mailbox or bus.task is not None):
            with contextlib.suppress(ActorsError):
                # Asked after everything else it holds: answered once all is delivered.
                await bus.ref.ask(Subscriptions(), timeout=bus.shutdown or 5.0)
        await stop_children(children)


class ActorSystem:
    """A running set of actors: ``async with ActorSystem("demo") as system: ...``.

    Prefer ``actors.run(main())`` to start the event loop: it picks uvloop when
    installed. Everything works on the stock asyncio loop too.

    ``transport``: how actors on other processes are reached (a ``Transport``, e.g.
    ``actors.transport.NatsTransport``; none: this process only). ``strict_events``:
    refuse to publish events msgspec cannot encode. ``sample_latency``: the latency
    histograms of ``metrics()`` time one ask and one block of handled messages in this
    many (1: all, 0: none). ``observe``: ``(host, port)`` to serve the observer page,
    ``/metrics`` and ``/health/*`` from (the ``[observer]`` extra; port 0: a free one,
    see ``observer_url``). ``tracing``: an OpenTelemetry ``TracerProvider`` (or True
    for the global one; the ``[otel]`` extra) to record a span per handled message.
    """

    def __init__(
        self,
        name: str = "system",
        *,
        transport: Transport | None = None,
        strict_events: bool = False,
        sample_latency: int = 16,
        observe: tuple[str, int] | None = None,
        tracing: Any = None,
    ) -> None:
        check_system_name(name)
        self.name = name
        self._transport = transport
        self.strict_events = strict_events
        self._bus_state = BusState()
        self._bus_cell: ActorCell | None = None
        self._state = _State.UNOPENED
        self._task_group: asyncio.TaskGroup | None = None
        self._guardian: Guardian | None = None
        # Set by __aenter__: they need the running loop.
        self._parking: Parking
        self._ask_deadlines: AskDeadlines
        self._names: dict[str, ActorCell] = {}
        self._ids = itertools.count(1)
        self._listeners: list[Callable[[Any], None]] = []
        self._host_task: asyncio.Task[Any] | None = None
        self._failure: BaseException | None = None
        self._alive = self._spawned = self._stopped = self._failures = self._dead_letters = 0
        self._handled = self._restarts = self._unhandled = 0
        # Timing everything would cost asks about 10 % (see LatencyRecorder).
        self._ask_latency = LatencyRecorder(sample_latency)
        self._handle_latency = LatencyRecorder(sample_latency)
        self._observe = None if observe is None else check_address(observe)
        self._observer: Any = None  # the observer server while running (actors.observer)
        # Read by each drain task once: None costs the hot path nothing (actors.observer).
        self._spans: Any = None if tracing is None or tracing is False else spans(tracing)

    def __repr__(self) -> str:
        return f"<ActorSystem {self.name!r} {self._state.value}>"

    async def __aenter__(self) -> Self:
        if self._state is not _State.UNOPENED:
            raise RuntimeError(
                f"ActorSystem `{self.name}` cannot be entered twice; create a new one"
            )
        task_group = asyncio.TaskGroup()
        await task_group.__aenter__()
        self._host_task = asyncio.current_task()
        self._task_group = task_group
        self._guardian = Guardian(self, task_group)
        self._parking = Parking(asyncio.get_running_loop())
        self._ask_deadlines = AskDeadlines(asyncio.get_running_loop())
        self._state = _State.OPENED
        bus = new_cell(
            self,
            self._guardian,
            EventBus,
            (self._bus_state, self.strict_events),
            {},
            name=None,
            label="event-bus",
            mailbox=None,
            keep_factory=True,
        )
        await bus.start()
        self._bus_cell = bus
        try:
            if self._transport is not None:
                await self._transport.start(self)
            if self._observe is not None:
                # Imported here: aiohttp costs `import actors` nothing unless observed.
                from .observer._server import Observer

                self._observer = Observer(self, *self._observe)
                await self._observer.start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._task_group is not None and self._guardian is not None
        failure = self._failure
        if failure is not None and exc_type is asyncio.CancelledError:
            # We cancelled the body to fail fast (see _fail): shut down, then raise why.
            assert self._host_task is not None
            self._host_task.uncancel()
        else:
            failure = None
        self._state = _State.CLOSING
        self._parking.close()
        try:
            observer, self._observer = self._observer, None
            if observer is not None:
                await observer.close()
            await self._guardian.stop_children()
            if self._transport is not None:
                await self._transport.close()
        finally:
            self._state = _State.CLOSED
            # Every actor has stopped, so this only confirms the group is empty. The
            # body's exception is not passed in: TaskGroup would wrap it in an
            # ExceptionGroup, and it must propagate unchanged.
            await self._task_group.__aexit__(None, None, None)
            self._ask_deadlines.close()
        if failure is not None:
            raise failure
        return None

    # ------------------------------------------------------------------ public API

    async def spawn(
        self,
        actor_class: type[Actor[N]],
        /,
        *args: Any,
        name: str | None = None,
        mailbox: Mailbox | None = None,
        **kwargs: Any,
    ) -> ActorRef[N]:
        """Create a top-level actor and return its ref once ``started()`` has finished.

        ``args`` and ``kwargs`` go to the actor's ``__init__``. A ``name`` registers the
        actor (``whereis``); names are unique in the system. Raises ``ActorCrashed``
        (the actor's exception as ``__cause__``) if ``__init__`` or ``started()`` raised.
        """
        cell = await spawn(
            self, self._opened(), actor_class, args, kwargs, name=name, mailbox=mailbox
        )
        return cell.ref

    async def spawn_pool(
        self,
        worker_class: type[Actor[N]],
        /,
        *args: Any,
        size: int = 8,
        routing: Routing = "round_robin",
        name: str | None = None,
        **kwargs: Any,
    ) -> ActorRef[N]:
        """Start ``size`` instances of ``worker_class`` (each with ``args`` and
        ``kwargs``) behind one ref that routes each message to one of them:
        ``"round_robin"``, ``"random"``, ``"smallest_mailbox"``, ``"broadcast"`` (to
        all) or ``ConsistentHash(key=callable)``; ``Broadcast(message)`` reaches every
        routee whatever the routing. Asks are answered by the routee that handles them.
        A routee that crashes is restarted in place (the pool's ref stays valid).
        """
        check_pool(worker_class, size, routing)
        return await self.spawn(Pool, worker_class, args, kwargs, size, routing, name=name)

    async def spawn_tree(self, spec: TreeSpec) -> ActorRef:
        """Start a supervision tree (a ``supervision.SupervisorSpec``) under the root
        and return its supervisor's ref."""
        return await spec.start_tree(self, self._opened())

    @property
    def event_bus(self) -> ActorRef:
        """The ref of the system's :class:`EventBus` actor."""
        self._opened()
        assert self._bus_cell is not None
        return self._bus_cell.ref

    def publish(self, event: Any, topic: str | None = None) -> None:
        """Publish ``event`` on the event bus (a tell: returns at once). ``topic``
        overrides the event class's ``topic`` attribute.

        With ``ActorSystem(..., strict_events=True)`` an event msgspec cannot encode
        (so could never cross a transport) raises ``TypeError`` naming its type.
        """
        self._check_event(event)
        self._opened()
        bus = self._bus_cell
        assert bus is not None
        if bus.mailbox._wakeup is bus:
            # The bus is running, idle and its mailbox empty (the cell's invariant), so
            # no event queued in it can be overtaken, and its handler never suspends:
            # fanning out here is what the bus would do next, one hop sooner.
            try:
                fan_out(self, self._bus_state, event, topic, trace_of_sender())
            except Exception:
                # As when the bus fails handling an event: logged, and the publisher
                # is not the one to pay for it.
                log.exception("event bus failed", event_type=type(event).__qualname__)
        elif topic is None and not isinstance(event, BUS_REQUESTS):
            bus.ref.tell(event)
        else:
            bus.ref.tell(Publish(event, topic))

    def _check_event(self, event: Any) -> None:
        if self.strict_events:
            try:
                msgspec.msgpack.encode(event)
            except (TypeError, msgspec.EncodeError) as exc:
                raise TypeError(
                    f"event of type `{type(event).__qualname__}` cannot be encoded: {exc}"
                ) from exc

    @property
    def observer_url(self) -> str | None:
        """Where the observer page is served (``observe=``), None when it is not."""
        return None if self._observer is None else str(self._observer.url)

    @property
    def running(self) -> bool:
        """True between entering and leaving ``async with`` (actors may be spawned)."""
        return self._state is _State.OPENED

    @property
    def from_thread(self) -> FromThread:
        """``tell``, ``ask`` (blocking the calling thread) and ``publish`` for code on
        another thread; they raise on the event loop's own thread."""
        self._opened()
        assert self._host_task is not None
        return FromThread(self, self._host_task.get_loop())

    async def subscribe(self, subscriber: ActorRef, to: Any, *, timeout: float = 5.0) -> None:
        """Subscribe an actor to events: a type (subclasses match), a topic pattern
        (``"orders.*"``, ``"orders.>"``) or ``"*"`` (everything). Active on return.
        Raises ``TypeError`` for anything else."""
        check_target(to)
        await self.event_bus.ask(Subscribe(subscriber, to), timeout=timeout)

    async def unsubscribe(
        self, subscriber: ActorRef, to: Any = None, *, timeout: float = 5.0
    ) -> None:
        """Remove one subscription (``to``) or all subscriptions of ``subscriber``."""
        await self.event_bus.ask(Unsubscribe(subscriber, to), timeout=timeout)

    async def subscriptions(self, *, timeout: float = 5.0) -> list[Subscription]:
        result: list[Subscription] = await self.event_bus.ask(Subscriptions(), timeout=timeout)
        return result

    def whereis(self, name: str) -> ActorRef | None:
        """The ref of the live actor registered as ``name``, or ``None``."""
        cell = self._names.get(name)
        return None if cell is None else cell.ref

    async def lookup(self, name: str) -> ActorRef | None:
        """The ref of the actor registered as ``name`` on this node or, with a
        transport, on any node of the cluster; ``None`` if there is none."""
        local = self.whereis(name)
        if local is not None or self._transport is None:
            return local
        found: ActorRef | None = await self._transport.lookup(name)
        return found

    @functools.cached_property
    def cluster(self) -> Cluster:
        """This node's id and its view of the cluster's members (see docs/distributed.md)."""
        return Cluster(self)

    @property
    def transport(self) -> Transport | None:
        """The transport given to the system, or ``None`` (in-process only)."""
        return self._transport

    def registered(self) -> list[str]:
        """The names registered now, in registration order."""
        return list(self._names)

    async def stop(
        self, ref: ActorRef, *, timeout: float | None = None, drain: bool = False
    ) -> None:
        """Stop ``ref`` (reason ``"shutdown"``) and wait until it has stopped: after the
        message it is handling, its children, then ``stopped()``. After ``timeout``
        seconds (default: the actor's shutdown time, 5 s) its task is cancelled.

        ``drain=True`` handles what is queued first (and anything of higher priority
        than LOW that arrives meanwhile; later LOW messages become dead letters), waiting
        for room in a full bounded mailbox; ``timeout`` then bounds the whole of it
        (None: no limit), after which the actor's task is cancelled."""
        if drain:
            await ref._cell.drain_and_stop(timeout)
        else:
            await ref._cell.stop(ExitReason.SHUTDOWN, timeout)
        if self._transport is not None:
            await self._transport.settle()  # its name is released cluster-wide too

    def metrics(self) -> SystemMetrics:
        """A snapshot of the system's counters, mailbox depths (read now: this walks
        every live actor) and latency histograms; ``.prometheus()`` renders it.

        The depths stay a walk on purpose: about 0.35 µs per actor, paid once per
        scrape, where an incremental gauge would bump a shared counter on every put and
        every get of every message, and the deepest mailbox cannot be kept that way
        without a heap updated on each of them too."""
        depth = deepest = 0
        for cell in self._cells():
            queued = len(cell.mailbox)
            depth += queued
            deepest = max(deepest, queued)
        transport = self._transport
        return SystemMetrics(
            system=self.name,
            actors=self._alive,
            spawned=self._spawned,
            stopped=self._stopped,
            failures=self._failures,
            restarts=self._restarts,
            dead_letters=self._dead_letters,
            messages_handled=self._handled,
            mailbox_depth=depth,
            mailbox_depth_max=deepest,
            ask_latency=self._ask_latency.snapshot(),
            handle_latency=self._handle_latency.snapshot(),
            transport={} if transport is None else transport.metrics(),
            unhandled=self._unhandled,
        )

    def health(self) -> Health:
        """Liveness and readiness, for a probe endpoint: ``live`` while the system runs
        (not yet shut down, no supervision tree escalated to it), ``ready`` when its
        transport can reach the cluster too."""
        checks = {"system": "ok" if self._state is _State.OPENED else self._state.value}
        if self._failure is not None:
            checks["system"] = f"failed: {describe(self._failure)}"
        live = checks["system"] == "ok"
        if self._transport is not None:
            problem = self._transport.problem()
            checks["transport"] = "ok" if problem is None else problem
        ready = live and all(value == "ok" for value in checks.values())
        return Health(live=live, ready=ready, checks=checks)

    def _cells(self) -> Iterator[ActorCell]:
        """Every live actor cell, parents before children."""
        guardian = self._guardian
        if guardian is None or not guardian.children:
            return
        stack = list(guardian.children.values())
        while stack:
            cell = stack.pop()
            yield cell
            if cell.children:
                stack.extend(cell.children.values())
            stack.extend(cell.actor._hosted_cells())

    # ------------------------------------------------------------------ runtime hooks

    def _opened(self) -> Guardian:
        if self._state is not _State.OPENED or self._guardian is None:
            hint = (
                "use `async with ActorSystem(...) as system:`"
                if self._state is _State.UNOPENED
                else "it has been shut down"
            )
            raise RuntimeError(f"ActorSystem `{self.name}` is not running: {hint}")
        return self._guardian

    def _fail(self, error: BaseException) -> None:
        """A supervision tree escalated to the top: fail fast. The body of the
        ``async with`` is cancelled and ``__aexit__`` raises ``error`` after shutdown."""
        if self._failure is None and self._state is _State.OPENED:
            log.error("supervision tree failed; shutting the system down", error=describe(error))
            self._failure = error
            if self._host_task is not None:
                self._host_task.cancel()

    def _guardian_of_trees(self, cell: ActorCell) -> None:
        """Mark a top-level supervisor: its failure fails the system."""
        self._opened().trees.add(id(cell))

    def _next_id(self) -> int:
        return next(self._ids)

    def _check_name(self, name: str) -> None:
        check_name(name)
        if name in self._names:
            raise ValueError(
                f"name `{name}` is already registered in system `{self.name}` "
                f"(by `{self._names[name].path}`)"
            )

    def _register(self, name: str, cell: ActorCell) -> None:
        self._names[name] = cell

    def _unregister(self, name: str, cell: ActorCell) -> None:
        if self._names.get(name) is cell:
            del self._names[name]

    def _actor_stopped(self, cell: ActorCell, reason: Reason) -> None:
        self._alive -= 1
        self._stopped += 1
        if not is_normal(reason):
            log.info("actor stopped", actor=cell.path, reason=describe(reason))

    def _dead_letter(self, message: Any, recipient: str, reason: str, sender: str | None) -> None:
        self._dead_letters += 1
        # A DeadLetter event that cannot be delivered is counted, never re-published:
        # that would loop forever on a full subscriber.
        if self._listeners and type(message) is not DeadLetter:
            self._emit(DeadLetter(recipient, message, reason, sender))
        else:
            log.debug(
                "dead letter",
                actor=recipient,
                message_type=type(message).__name__,
                reason=reason,
            )

    def _bus_subscriptions_changed(self) -> None:
        """Forward runtime events to the bus only while someone subscribes to them, so
        an unobserved system pays nothing per spawn, stop or dead letter."""
        forward = self._forward_to_bus
        wanted = self._bus_state.runtime_subscriptions > 0
        if wanted and forward not in self._listeners:
            self._listeners.append(forward)
        elif not wanted and forward in self._listeners:
            self._listeners.remove(forward)

    def _forward_to_bus(self, event: Any) -> None:
        bus = self._bus_cell
        if bus is not None and not bus.mailbox._closed:
            bus.mailbox._offer(event, Priority.NORMAL)

    def _emit(self, event: Any) -> None:
        """Hand a runtime event to every listener (the event bus subscribes here)."""
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed", event_type=type(event).__name__)
