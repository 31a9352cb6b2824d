"""actors-runtime: an asyncio-native actor runtime.

This module is the public surface of the core; the implementation lives in private
modules (``actors/_*.py``), which may change without notice. ``supervision`` and
``transport`` build on this package; it imports neither.
"""

import msgspec

from ._actor import Actor
from ._bus import EventBus, Publish, Subscribe, Subscription, Subscriptions, Unsubscribe
from ._callback_bus import AsyncEventBus
from ._errors import (
    ActorCrashed,
    ActorNotFound,
    ActorsError,
    AskTimeout,
    MailboxClosed,
    MailboxFull,
)
from ._mailbox import Mailbox, MailboxStats, Overflow, Priority
from ._messages import (
    ActorFailed,
    ActorRestarted,
    ActorStarted,
    ActorStopped,
    DeadLetter,
    LifecycleEvent,
    SupervisorEscalated,
    Terminated,
)
from ._ref import ActorRef
from ._run import run
from ._system import ActorSystem, SystemMetrics

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
    "AskTimeout",
    "AsyncEventBus",
    "DeadLetter",
    "EventBus",
    "LifecycleEvent",
    "Mailbox",
    "MailboxClosed",
    "MailboxFull",
    "MailboxStats",
    "Overflow",
    "Priority",
    "Publish",
    "run",
    "Subscribe",
    "Subscription",
    "Subscriptions",
    "SupervisorEscalated",
    "SystemMetrics",
    "Terminated",
    "Unsubscribe",
]

# Reprs and tracebacks say `actors.X`, not the private module. msgspec resolves a
# Struct's annotations in the namespace of its ``__module__``, so each Struct's type
# information is built (and cached by msgspec) before the rename.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("actors._"):
        if isinstance(_obj, type) and issubclass(_obj, msgspec.Struct):
            msgspec.json.Decoder(_obj)
        _obj.__module__ = "actors"
del _name, _obj
