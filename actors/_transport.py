"""The ``Transport`` protocol: what an ``ActorSystem`` needs to reach other processes.

It lives with the core, which types ``ActorSystem(transport=...)`` with it, so that the
core never imports ``actors.transport`` (which implements it, e.g. ``NatsTransport``).
The system calls ``start`` after it opened and ``close`` after its actors stopped, and
asks the transport for ``lookup`` (a name anywhere) and ``register`` (claim a name for
the whole cluster). Sends to local refs never involve the transport.

There is no in-process ``Transport`` object: a system without one (``transport=None``)
is in-process only. A do-nothing default would cost every event publish and every
named spawn a method call where ``is not None`` is a pointer compare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._cell import ActorCell
    from ._cluster import Member
    from ._ref import ActorRef
    from ._system import ActorSystem

__all__ = ["Transport"]


@runtime_checkable
class Transport(Protocol):
    """What an ``ActorSystem`` needs from a transport (stable, for runtime authors;
    re-exported by ``actors.lowlevel`` and ``actors.transport``)."""

    node_id: str  # this node's id in the cluster (``system.cluster.node``)

    async def start(self, system: ActorSystem) -> None:
        """Connect and begin serving the system's actors."""

    async def close(self) -> None:
        """Stop serving and disconnect; idempotent."""

    async def register(self, name: str, cell: ActorCell) -> None:
        """Claim ``name`` cluster-wide for a local actor; raise ``ValueError`` if
        another node holds it."""

    def unregister(self, name: str, cell: ActorCell) -> None:
        """Release ``name`` (the actor stopped); never blocks."""

    async def lookup(self, name: str) -> ActorRef | None:
        """The ref of the actor registered as ``name`` on any node, or ``None``."""

    def forward_event(self, event: Any, topic: str | None) -> None:
        """The event bus published ``event`` here: deliver it to the other nodes' buses
        (once per node, not once per subscriber). Never blocks."""

    async def settle(self) -> None:
        """Wait until names released so far are gone cluster-wide."""

    def problem(self) -> str | None:
        """None while the transport can do its work, else what is wrong (for
        ``system.health()``)."""

    def metrics(self) -> dict[str, float]:
        """The transport's figures for ``system.metrics()``: names ending in ``_total``
        are counters, the others gauges."""

    def members(self) -> list[Member]:
        """Every node this one knows, itself first (``up``), then the others by id,
        each with its status and since when (``system.cluster.members()``)."""
