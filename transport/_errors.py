"""The exceptions of the transport layer.

::

    actors.ActorsError
    └── TransportError
        ├── TransportUnavailable   no connection to NATS right now: fails at once
        └── CodecError             a message cannot be encoded or decoded; names the type

Remote asks also raise the core's errors: ``AskTimeout`` (slow or partitioned),
``ActorNotFound`` (no such actor, or its node is gone), ``ActorCrashed`` (it raised).
NATS client exceptions never escape: ``map_nats_errors`` translates them.
"""

from __future__ import annotations

from actors import ActorsError

__all__ = ["CodecError", "TransportError", "TransportUnavailable"]


class TransportError(ActorsError):
    """Base class of the transport errors."""


class TransportUnavailable(TransportError):
    """Raised when the transport has no usable connection (never connected, closed,
    or reconnecting and unable to buffer)."""


class CodecError(TransportError, TypeError):
    """Raised when a message cannot cross the wire: its type is not encodable or not
    registered, or the bytes received do not decode into it."""
