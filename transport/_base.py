"""The ``Transport`` protocol, and ``LocalTransport``, the in-process default.

A transport is what an ``ActorSystem`` uses to reach actors it does not host. The
system calls ``start`` after it opened and ``close`` after its actors stopped, and
asks the transport for ``lookup`` (a name anywhere) and ``register`` (claim a name for
the whole cluster). Sends to local refs never involve the transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from actors import ActorRef, ActorSystem
    from actors._cell import ActorCell

__all__ = ["LocalTransport", "Transport"]


@runtime_checkable
class Transport(Protocol):
    """What an ``ActorSystem`` needs from a transport."""

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


class LocalTransport:
    """The in-process transport: every actor is local, names are the system's own.

    What a system uses when none is given; it exists so code written against
    ``Transport`` runs unchanged on one process.
    """

    def __init__(self) -> None:
        self._system: ActorSystem | None = None

    async def start(self, system: ActorSystem) -> None:
        self._system = system

    async def close(self) -> None:
        self._system = None

    async def register(self, name: str, cell: ActorCell) -> None:
        """Names are checked by the system's own registry: nothing more to claim."""

    def unregister(self, name: str, cell: ActorCell) -> None:
        """Nothing to release beyond the system's registry."""

    async def lookup(self, name: str) -> ActorRef | None:
        return None if self._system is None else self._system.whereis(name)

    def forward_event(self, event: Any, topic: str | None) -> None:
        """No other node to tell."""

    async def settle(self) -> None:
        """Nothing is ever pending."""

    def problem(self) -> str | None:
        return None

    def metrics(self) -> dict[str, float]:
        return {}
