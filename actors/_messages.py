"""Messages the runtime itself sends: ``Terminated`` to watchers, and the events it
publishes about actors (started, stopped, failed, restarted, escalated, dead letters).

They are ``msgspec.Struct``s so they can cross a transport like any user message. Actors
are named by path (a string) rather than by ref, except in ``Terminated``, whose ``ref``
is the ref you watched, so it can be compared with the refs you hold.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import msgspec

from ._ref import ActorRef

__all__ = [
    "ActorFailed",
    "ActorRestarted",
    "ActorStarted",
    "ActorStopped",
    "DeadLetter",
    "DeadLetterReason",
    "ExitReason",
    "LifecycleEvent",
    "SupervisorEscalated",
    "ReceiveTimeout",
    "Terminated",
    "UnhandledMessage",
]


class _WireString(enum.StrEnum):
    """A string enum whose repr is its value, as it arrives from the wire: a reason
    reads the same whether it was made here (a member) or decoded (a plain string)."""

    def __repr__(self) -> str:
        return repr(self.value)


class ExitReason(_WireString):
    """Why an actor stopped, when it did not crash (a crash's reason is the exception,
    described as ``"<ExceptionType>: <message>"``). The value is the string carried by
    ``Terminated.reason`` and ``ActorStopped.reason``, on the wire too."""

    NORMAL = "normal"  # it stopped itself
    SHUTDOWN = "shutdown"  # it was stopped
    KILLED = "killed"  # cancelled after its shutdown time ran out
    NOPROC = "noproc"  # it was already gone when watched
    NODEDOWN = "nodedown"  # its node went silent or left the cluster
    NAME_CONFLICT = "name_conflict"  # another node's older claim on its name won


class DeadLetterReason(_WireString):
    """Why a message could not be delivered (``DeadLetter.reason``)."""

    STOPPED = "stopped"  # the recipient stopped
    UNKNOWN = "unknown"  # no such actor on the receiving node
    MAILBOX_FULL = "mailbox_full"  # the sender was told (MailboxFull raised)
    DROPPED = "dropped"  # by the mailbox's overflow policy
    UNDECODABLE = "undecodable"  # bytes that do not decode into an accepted type
    TRANSPORT_UNAVAILABLE = "transport_unavailable"  # no connection to send it on
    INVALID_ADDRESS = "invalid_address"  # a node id, path or name from the wire broke the limits


def is_normal(reason: object) -> bool:
    """Whether an actor ended normally (stopped itself, or was stopped): the one
    definition supervisors, watchers and the logs share."""
    return reason == ExitReason.NORMAL or reason == ExitReason.SHUTDOWN


class Terminated(msgspec.Struct, frozen=True):
    """Delivered to every actor that watched ``ref`` when it stops for good.

    ``reason`` is an :class:`ExitReason` value (``"normal"``, ``"shutdown"``,
    ``"killed"``, ``"noproc"``, ``"nodedown"``, ``"name_conflict"``), or
    ``"<ExceptionType>: <message>"`` after a crash.
    """

    ref: ActorRef
    reason: str

    @property
    def normal(self) -> bool:
        """True for a normal stop or a shutdown, False after a crash or a kill."""
        return is_normal(self.reason)


class LifecycleEvent(msgspec.Struct, frozen=True):
    """Base of the events the runtime publishes about actors; ``actor`` is a path."""

    actor: str


class ActorStarted(LifecycleEvent, frozen=True):
    """An actor finished ``started()`` and takes messages."""

    topic: ClassVar[str] = "actors.started"

    actor_class: str


class ActorStopped(LifecycleEvent, frozen=True):
    """An actor stopped for good; ``reason`` as in :class:`Terminated`."""

    topic: ClassVar[str] = "actors.stopped"

    reason: str

    @property
    def normal(self) -> bool:
        """True for a normal stop or a shutdown, False after a crash or a kill."""
        return is_normal(self.reason)


class ActorFailed(LifecycleEvent, frozen=True):
    """An actor raised while starting or handling a message."""

    topic: ClassVar[str] = "actors.failed"

    error_type: str
    error: str
    traceback: str
    message_type: str | None = None


class ActorRestarted(LifecycleEvent, frozen=True):
    """A supervisor restarted a child; ``restarts`` counts them for this child."""

    topic: ClassVar[str] = "actors.restarted"

    restarts: int


class SupervisorEscalated(LifecycleEvent, frozen=True):
    """A supervisor exceeded its restart intensity and gave up, failing itself."""

    topic: ClassVar[str] = "actors.escalated"

    reason: str


class DeadLetter(LifecycleEvent, frozen=True):
    """A message that could not be delivered.

    ``actor`` is the intended recipient's path; ``reason`` is a
    :class:`DeadLetterReason` value: ``"stopped"``, ``"unknown"`` (no such actor on the
    receiving node), ``"mailbox_full"``, ``"dropped"`` (by an overflow policy), and with
    a transport ``"undecodable"`` or ``"transport_unavailable"``.
    """

    topic: ClassVar[str] = "actors.dead_letter"

    message: Any
    reason: str
    sender: str | None = None

    @property
    def message_type(self) -> str:
        return type(self.message).__name__


class UnhandledMessage(LifecycleEvent, frozen=True):
    """An actor did not handle a told message (``self.unhandled(message)``); an asked
    one fails its asker with :class:`Unhandled` instead."""

    topic: ClassVar[str] = "actors.unhandled"

    message: Any
    sender: str | None = None

    @property
    def message_type(self) -> str:
        return type(self.message).__name__


class ReceiveTimeout(msgspec.Struct, frozen=True):
    """Delivered to an actor that set ``self.receive_timeout`` and got no message for
    that long; it comes again after each further quiet period until turned off."""
