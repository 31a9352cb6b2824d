"""actors-runtime: an asyncio-native actor runtime.

This module is the public surface of the core; the implementation lives in private
modules (``actors/_*.py``), which may change without notice. ``actors.supervision`` and
``actors.transport`` build on this package and on ``actors.lowlevel`` (the stable
extension API for runtime authors); the core imports neither of them.
"""

from ._actor import Actor
from ._bus import EventBus, Publish, Subscribe, Subscription, Subscriptions, Unsubscribe
from ._callback_bus import AsyncEventBus, EventBusClosed
from ._cluster import (
    Cluster,
    Member,
    MemberDown,
    MemberEvent,
    MemberReachable,
    MemberStatus,
    MemberUnreachable,
    MemberUp,
    NameConflict,
)
from ._errors import (
    ActorCrashed,
    ActorNotFound,
    ActorsError,
    AskTimeout,
    MailboxClosed,
    MailboxFull,
    StashOverflow,
    Unhandled,
)
from ._mailbox import Mailbox, MailboxStats, Overflow, Priority
from ._messages import (
    ActorFailed,
    ActorRestarted,
    ActorStarted,
    ActorStopped,
    DeadLetter,
    DeadLetterReason,
    ExitReason,
    LifecycleEvent,
    ReceiveTimeout,
    SupervisorEscalated,
    Terminated,
    UnhandledMessage,
)
from ._metrics import Health, Histogram, MetricsCollector, SystemMetrics
from ._public import present_as as _present_as
from ._ref import NO_REPLY, ActorRef
from ._routers import Broadcast, ConsistentHash
from ._run import run
from ._system import ActorSystem
from ._timers import Timers
from ._trace import TraceContext, add_actor_context, current_trace, trace

__all__ = [
    "Actor",
    "ActorCrashed",
    "ActorFailed",
    "ActorNotFound",
    "ActorRef",
    "ActorRestarted",
    "ActorsError",
    "ActorStarted",
    "ActorStopped",
    "ActorSystem",
    "add_actor_context",
    "AskTimeout",
    "AsyncEventBus",
    "Broadcast",
    "Cluster",
    "ConsistentHash",
    "current_trace",
    "DeadLetter",
    "DeadLetterReason",
    "EventBus",
    "EventBusClosed",
    "ExitReason",
    "Health",
    "Histogram",
    "LifecycleEvent",
    "Mailbox",
    "MailboxClosed",
    "MailboxFull",
    "MailboxStats",
    "Member",
    "MemberDown",
    "MemberEvent",
    "MemberReachable",
    "MemberStatus",
    "MemberUnreachable",
    "MemberUp",
    "MetricsCollector",
    "NameConflict",
    "NO_REPLY",
    "Overflow",
    "Priority",
    "Publish",
    "ReceiveTimeout",
    "run",
    "StashOverflow",
    "Subscribe",
    "Subscription",
    "Subscriptions",
    "SupervisorEscalated",
    "SystemMetrics",
    "Terminated",
    "Timers",
    "trace",
    "TraceContext",
    "Unhandled",
    "UnhandledMessage",
    "Unsubscribe",
]

_present_as("actors", globals(), __all__)
