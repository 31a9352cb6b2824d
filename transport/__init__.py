"""Transports: how an ``ActorSystem`` reaches actors in other processes and machines.

``ActorSystem("shop", transport=NatsTransport(servers=[...], types=[...]))``; without a
transport a system is in-process only (``LocalTransport`` is that default, made
explicit). NATS is the distributed engine: this package writes no cluster protocol
beyond addressing, liveness and watch notices on top of it.
"""

import msgspec

from ._base import LocalTransport, Transport
from ._codec import Codec, RefAddress
from ._errors import CodecError, TransportError, TransportUnavailable
from ._nats import NatsTransport, RemoteRef
from ._pool import PoolStats, TransportPool

__all__ = [
    "Codec",
    "CodecError",
    "LocalTransport",
    "NatsTransport",
    "PoolStats",
    "RefAddress",
    "RemoteRef",
    "Transport",
    "TransportError",
    "TransportPool",
    "TransportUnavailable",
]

# Reprs and tracebacks say `transport.X` (Struct type info is built before the rename:
# msgspec resolves annotations in the namespace of ``__module__``).
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("transport._"):
        if isinstance(_obj, type) and issubclass(_obj, msgspec.Struct):
            msgspec.json.Decoder(_obj)
        _obj.__module__ = "transport"
del _name, _obj
