"""Who is in the cluster: ``system.cluster``, its members and their events.

The core defines the vocabulary (``Member``, ``MemberStatus``, the ``Member*`` and
``NameConflict`` events) and asks the transport for the members; it never imports the
transport. A system without a transport is a cluster of one: itself, ``up``.
"""

from __future__ import annotations

import enum
import time
from typing import TYPE_CHECKING, ClassVar

import msgspec

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = [
    "Cluster",
    "Member",
    "MemberDown",
    "MemberEvent",
    "MemberReachable",
    "MemberStatus",
    "MemberUnreachable",
    "MemberUp",
    "NameConflict",
]


class MemberStatus(enum.StrEnum):
    """How this node sees another: ``up`` (beating), ``unreachable`` (silent for
    ``heartbeat * misses`` while this node was connected: its watches ended), ``down``
    (said goodbye, or silent for the transport's ``down_after``: its names are free)."""

    UP = "up"
    UNREACHABLE = "unreachable"
    DOWN = "down"


class Member(msgspec.Struct, frozen=True):
    """One node as this node sees it; ``since`` is the ``time.time()`` of its last
    status change."""

    node: str
    status: MemberStatus
    since: float


class MemberEvent(msgspec.Struct, frozen=True):
    """Base of the membership events; ``node`` is the other node's id."""

    node: str


class MemberUp(MemberEvent, frozen=True):
    """A node was heard from for the first time (or again after it was down)."""

    topic: ClassVar[str] = "cluster.member_up"


class MemberUnreachable(MemberEvent, frozen=True):
    """A node went silent while this node was connected: watches of its actors ended
    with ``Terminated(ref, "nodedown")``."""

    topic: ClassVar[str] = "cluster.member_unreachable"


class MemberReachable(MemberEvent, frozen=True):
    """An unreachable node was heard from again (before it was judged down)."""

    topic: ClassVar[str] = "cluster.member_reachable"


class MemberDown(MemberEvent, frozen=True):
    """A node left (goodbye) or stayed silent for ``down_after``: its names are free."""

    topic: ClassVar[str] = "cluster.member_down"


class NameConflict(msgspec.Struct, frozen=True):
    """Two nodes held ``name`` (after a partition); the older claim, ``winner``'s,
    kept it and the actor at ``loser`` (a path on this node) stopped with reason
    ``name_conflict``."""

    topic: ClassVar[str] = "cluster.name_conflict"

    name: str
    winner: str
    loser: str


class Cluster:
    """``system.cluster``: this node's id and its view of the other nodes."""

    def __init__(self, system: ActorSystem) -> None:
        self._system = system
        self._since = time.time()

    @property
    def node(self) -> str:
        """This node's id (``"local"`` without a transport)."""
        transport = self._system.transport
        return "local" if transport is None else transport.node_id

    def members(self) -> list[Member]:
        """Every node known, this one first, then by id."""
        transport = self._system.transport
        if transport is None:
            return [Member("local", MemberStatus.UP, self._since)]
        return transport.members()
