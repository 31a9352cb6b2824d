"""Transports: how an ``ActorSystem`` reaches actors in other processes and machines.

``ActorSystem("shop", transport=NatsTransport(servers=[...], types=[...]))``; without a
transport a system is in-process only. ``Transport`` (the protocol a transport
implements) is the core's, re-exported here; this package builds on ``actors`` and
``actors.lowlevel`` only. NATS is the distributed engine: this package writes no cluster protocol
beyond addressing, liveness and watch notices on top of it.
"""

from actors.lowlevel import Transport
from actors.lowlevel import present_as as _present_as

from ._codec import Codec, RefAddress
from ._errors import CodecError, TransportError, TransportUnavailable
from ._nats import NatsTransport, RemoteRef
from ._pool import PoolStats, TransportPool

__all__ = [
    "Codec",
    "CodecError",
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
