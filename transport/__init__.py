"""Transports: how an ``ActorSystem`` reaches actors in other processes and machines.

``ActorSystem("shop", transport=NatsTransport(servers=[...], types=[...]))``; without a
transport a system is in-process only. ``Transport`` (the protocol a transport
implements) is the core's, re-exported here; this package builds on ``actors`` and
``actors.lowlevel`` only. NATS is the distributed engine: this package writes no cluster protocol
beyond addressing, liveness and watch notices on top of it.
"""

from actors.lowlevel import Transport, require_extra
from actors.lowlevel import present_as as _present_as

# Before the modules that import nats-py: without it, an error naming the extra.
require_extra("nats", "nats", "actors.transport")

from ._codec import Codec, RefAddress  # noqa: E402
from ._errors import (  # noqa: E402
    CodecError,
    InvalidAddress,
    MessageTooLarge,
    TransportError,
    TransportUnavailable,
)
from ._nats import NatsTransport, RemoteRef  # noqa: E402
from ._pool import PoolStats, TransportPool  # noqa: E402

__all__ = [
    "Codec",
    "CodecError",
    "InvalidAddress",
    "MessageTooLarge",
    "NatsTransport",
    "PoolStats",
    "RefAddress",
    "RemoteRef",
    "Transport",
    "TransportError",
    "TransportPool",
    "TransportUnavailable",
]

_present_as("actors.transport", globals(), __all__)
