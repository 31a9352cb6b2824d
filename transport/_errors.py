"""The exceptions of the transport layer.

::

    actors.ActorsError
    └── TransportError
        ├── TransportUnavailable   no connection to NATS right now: fails at once
        └── CodecError             a message cannot be encoded or decoded; names the type
            ├── MessageTooLarge    bigger than the server's max_payload: never sent
            └── InvalidAddress     an address from the wire breaks the limits

Remote asks also raise the core's errors: ``AskTimeout`` (slow or partitioned),
``ActorNotFound`` (no such actor, or its node is gone), ``ActorCrashed`` (it raised).
NATS client exceptions never escape: ``map_nats_errors`` translates them.
"""

from __future__ import annotations

from actors import ActorsError

__all__ = [
    "CodecError",
    "InvalidAddress",
    "MessageTooLarge",
    "TransportError",
    "TransportUnavailable",
]


class TransportError(ActorsError):
    """Base class of the transport errors."""


class TransportUnavailable(TransportError):
    """Raised when the transport has no usable connection (never connected, closed,
    or reconnecting and unable to buffer)."""


class CodecError(TransportError, TypeError):
    """Raised when a message cannot cross the wire: its type is not encodable or not
    registered, or the bytes received do not decode into it."""


class MessageTooLarge(CodecError):
    """Raised when a message (or an answer) is larger than the NATS server accepts
    (its ``max_payload``, 1 MB by default): raised in the sender before anything is
    sent, and by an ask whose answer did not fit. Send less, or a reference to the data
    (an object store key), or raise the server's ``max_payload``."""


class InvalidAddress(CodecError):
    """Raised when an actor address read from the wire (a node id, a path, a system
    name) breaks the limits of docs/distributed.md: it is never used to publish."""
