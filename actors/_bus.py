"""The event bus: an actor that fans events out to subscriber actors.

Publishing is a tell to the bus (``system.publish(event)``), so a publisher never waits
for subscribers and events from one publisher are delivered in order. While the bus is
idle with an empty mailbox, ``system.publish`` does the bus's fan-out in its own call
(``fan_out``): nothing queued can be overtaken, and it saves the hop through the bus.
The bus puts each event straight into the mailboxes of the matching subscribers without
waiting: a slow subscriber's bounded mailbox applies its own overflow policy (counted as
dead letters), a crashing subscriber only crashes itself, and a subscriber that stops is
unsubscribed (the bus watches every subscriber).

A subscription names what it wants:

- a type: the event is an instance of it (subclasses match);
- a topic pattern, NATS style: ``"orders.created"``, ``"orders.*"`` (one token),
  ``"orders.>"`` (one or more tokens); an event's topic is the one given to
  ``publish``, else its class's ``topic`` attribute (the runtime's own events have
  ``actors.started``, ``actors.dead_letter`` ...);
- ``"*"``: everything.

Matching is cached per (event type, topic) and rebuilt when subscriptions change, so a
publish costs one dict lookup plus one mailbox put per subscriber.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import msgspec

from ._actor import Actor
from ._errors import MailboxClosed, MailboxFull
from ._logging import get_logger
from ._mailbox import Envelope
from ._messages import (
    ActorFailed,
    ActorRestarted,
    ActorStarted,
    ActorStopped,
    DeadLetter,
    DeadLetterReason,
    SupervisorEscalated,
    Terminated,
    UnhandledMessage,
)
from ._ref import ActorRef

if TYPE_CHECKING:
    from ._cell import ActorCell
    from ._system import ActorSystem

__all__ = [
    "EventBus",
    "Publish",
    "Subscribe",
    "Subscription",
    "Subscriptions",
    "Unsubscribe",
    "fan_out",
    "topic_matches",
]

log = get_logger("actors.events")

EVERYTHING = "*"

RUNTIME_EVENTS: tuple[type, ...] = (
    ActorStarted,
    ActorStopped,
    ActorFailed,
    ActorRestarted,
    SupervisorEscalated,
    DeadLetter,
    UnhandledMessage,
)
"""The events the runtime publishes about itself (topics ``actors.*``)."""


class Publish(msgspec.Struct, frozen=True):
    """Ask the bus to publish ``event`` (under ``topic``, if given). Any other message
    told to the bus is published as it is, which is what ``system.publish`` does."""

    event: Any
    topic: str | None = None
    remote: bool = False
    """Set by a transport for an event another node published: delivered here only."""


class Subscribe(msgspec.Struct, frozen=True):
    """Subscribe ``subscriber`` to a type, a topic pattern, or ``"*"``; answers None."""

    subscriber: ActorRef
    to: Any


class Unsubscribe(msgspec.Struct, frozen=True):
    """Remove one subscription of ``subscriber`` (``to``), or all of them (``None``)."""

    subscriber: ActorRef
    to: Any = None


class Subscriptions(msgspec.Struct, frozen=True):
    """Ask the bus for its subscriptions: answers a list of :class:`Subscription`."""


class Subscription(msgspec.Struct, frozen=True):
    subscriber: ActorRef
    to: Any


def topic_matches(pattern: str, topic: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` one or more trailing tokens."""
    want = pattern.split(".")
    have = topic.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(want) == len(have)


def check_target(to: Any) -> None:
    """Raise ``TypeError`` unless ``to`` is a type, a topic pattern or ``"*"``."""
    if isinstance(to, type) or (isinstance(to, str) and to):
        return
    raise TypeError(f"subscribe to a type, a topic pattern or '*', got {to!r}")


def _wants_runtime_events(to: Any) -> bool:
    """Does a subscription to ``to`` match any of the runtime's own events?"""
    if isinstance(to, type):
        return any(issubclass(event_type, to) for event_type in RUNTIME_EVENTS)
    return to == EVERYTHING or str(to).startswith(("actors.", "*", ">"))


class BusState:
    """The subscriptions, kept outside the bus actor so they survive its restart.

    Every change is O(1) (or O(subscriptions of that subscriber)): a bus with ten
    thousand subscribers that come and go must not slow down quadratically.
    """

    __slots__ = ("by_cell", "cache", "runtime_subscriptions", "subscriptions")

    def __init__(self) -> None:
        # (id(cell), target) -> (cell, target), in subscription order; a target is a
        # type, a topic pattern, or "*". Invariant: a pair appears at most once.
        self.subscriptions: dict[tuple[int, Any], tuple[ActorCell, Any]] = {}
        # id(cell) -> its targets, so a stopped subscriber is dropped without a scan.
        self.by_cell: dict[int, list[Any]] = {}
        # How many subscriptions match runtime events: forwarding them only pays off
        # while this is non-zero.
        self.runtime_subscriptions = 0
        # (event type, topic) -> the subscriber cells it goes to, each once, in order.
        self.cache: dict[tuple[type, str | None], tuple[ActorCell, ...]] = {}

    def add(self, cell: ActorCell, to: Any) -> bool:
        """Subscribe; False if ``cell`` was already subscribed to ``to``."""
        key = (id(cell), to)
        if key in self.subscriptions:
            return False
        self.subscriptions[key] = (cell, to)
        self.by_cell.setdefault(id(cell), []).append(to)
        self.runtime_subscriptions += _wants_runtime_events(to)
        self.cache.clear()
        return True

    def remove(self, cell: ActorCell, to: Any = None) -> bool:
        """Drop one subscription (``to``) or all of ``cell``'s; True if any was."""
        targets = self.by_cell.get(id(cell))
        if not targets:
            return False
        dropped = list(targets) if to is None else [t for t in targets if t == to]
        for target in dropped:
            del self.subscriptions[(id(cell), target)]
            targets.remove(target)
            self.runtime_subscriptions -= _wants_runtime_events(target)
        if not targets:
            del self.by_cell[id(cell)]
        if dropped:
            self.cache.clear()
        return bool(dropped)

    def subscribed(self, cell: ActorCell) -> bool:
        return id(cell) in self.by_cell

    def matching(self, event_type: type, topic: str | None) -> tuple[ActorCell, ...]:
        key = (event_type, topic)
        found = self.cache.get(key)
        if found is None:
            cells: dict[int, ActorCell] = {}
            for cell, to in self.subscriptions.values():
                if id(cell) in cells:
                    continue
                if isinstance(to, type):
                    hit = issubclass(event_type, to)
                elif to == EVERYTHING:
                    hit = True
                else:
                    hit = topic is not None and topic_matches(to, topic)
                if hit:
                    cells[id(cell)] = cell
            found = self.cache[key] = tuple(cells.values())
        return found


BUS_REQUESTS: tuple[type, ...] = (Publish, Subscribe, Unsubscribe, Subscriptions, Terminated)
"""What the bus handles as a request; anything else told to it is an event to publish."""


def fan_out(
    system: ActorSystem,
    state: BusState,
    event: Any,
    topic: str | None,
    context: Any,
    remote: bool = False,
) -> None:
    """Put ``event`` into every matching subscriber's mailbox, without waiting; with a
    transport, also send it once to every other node (which fans it out there).

    The bus does this for every event it handles; ``system.publish`` does it in the
    publisher's call while the bus is idle with an empty mailbox (see there). Nothing in
    it suspends, so the two never interleave.
    """
    transport = system._transport
    if transport is not None and not remote:
        transport.forward_event(event, topic)
    event_type = type(event)
    if topic is None:
        topic = getattr(event_type, "topic", None)
        if topic.__class__ is not str:
            topic = None  # e.g. a Struct *field* named topic, not a class topic
    # Subscribers handle the event in the trace it was published in.
    entry = event if context is None else Envelope(event, None, context)
    for cell in state.matching(event_type, topic):
        mailbox = cell.mailbox
        if not mailbox._guarded:
            # Mailbox._offer's common case, inline as in ``tell``: one call fewer per
            # subscriber.
            queue = mailbox._normal
            if queue is None:
                queue = mailbox._normal = deque()
            queue.append(entry)  # the high-water mark is noted by the drain loop
            wakeup = mailbox._wakeup
            if wakeup is not None:
                mailbox._wakeup = None
                wakeup._mailbox_ready()
            continue
        try:
            mailbox._offer(entry)
        except MailboxFull:
            continue  # counted as a dead letter by the subscriber's mailbox
        except MailboxClosed:
            # The subscriber is stopping (its Terminated is on its way to the bus) or
            # closed its own mailbox: the event will never be handled there.
            cell.undeliverable(entry, DeadLetterReason.STOPPED)


class EventBus(Actor):
    """The system's event bus (``system.event_bus``); see the module docstring."""

    def __init__(self, state: BusState, strict: bool = False) -> None:
        self.state = state
        self.strict = strict

    async def receive(self, message: Any) -> Any:
        if not isinstance(message, BUS_REQUESTS):
            # ``system.publish(event)``, the common case: one check, not five patterns.
            self.publish(message, None)
            return None
        match message:
            case Subscribe(subscriber, to):
                try:
                    check_target(to)
                except TypeError as error:
                    # A bad request must not take the bus down for everyone.
                    log.error("subscription refused", subscriber=subscriber.path, error=str(error))
                    return None
                cell = subscriber._cell
                if self.state.add(cell, to):
                    self._cell.watch(cell)
                    self.system._bus_subscriptions_changed()
                return None
            case Unsubscribe(subscriber, to):
                self._drop(subscriber._cell, to)
                return None
            case Subscriptions():
                return [
                    Subscription(cell.ref, to) for cell, to in self.state.subscriptions.values()
                ]
            case Terminated(ref, _):
                self._drop(ref._cell, None)
                return None
            case Publish(event, topic, remote):
                self.publish(event, topic, remote)
                return None
            case _:
                self.publish(message, None)
                return None

    def publish(self, event: Any, topic: str | None, remote: bool = False) -> None:
        """Deliver ``event`` in the trace it was published in (the message's, which is
        the publisher's)."""
        fan_out(self.system, self.state, event, topic, self._cell.trace, remote)

    def _drop(self, cell: ActorCell, to: Any) -> None:
        if self.state.remove(cell, to):
            if not self.state.subscribed(cell):
                self._cell.unwatch(cell)
            self.system._bus_subscriptions_changed()
