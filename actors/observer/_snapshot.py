"""What the observer page shows, read from the live system without stopping it.

Everything here is a read of state the runtime keeps anyway (cell states, mailbox
lengths, the counters behind ``system.metrics()``, a supervisor's child records through
its ``observer_info()`` hook): no actor is asked anything and none waits, so a connected
browser never slows the actors. It runs only while a browser is connected.

The ``observer_info()`` hook: an actor class may define ``observer_info() -> dict``
(plain JSON values). The page shows it in the actor's details; the keys ``strategy`` and
``intensity`` label a supervisor in the tree, and ``children`` (rows with ``id``,
``path``, ``status``, ``restarts``) gives its children's status and restart counts, a
child slot with no running actor included. ``actors.supervision.Supervisor`` implements
it; the core never imports the supervision package.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .._cell import ActorCell, CellState
from .._cluster import MemberDown, MemberReachable, MemberUnreachable, MemberUp, NameConflict
from .._messages import ActorFailed, ActorRestarted, DeadLetter, UnhandledMessage
from .._metrics import Histogram

if TYPE_CHECKING:
    from .._system import ActorSystem

__all__ = ["Feed", "actor_details", "snapshot"]

FEED_SIZE = 200
"""Feed entries kept (failures, restarts, dead letters), the newest last."""

_STATUS = {
    CellState.STARTING: "running",
    CellState.RUNNING: "running",
    CellState.STOPPING: "stopping",
    CellState.SUSPENDED: "restarting",
    CellState.STOPPED: "stopped",
}
_MEMBER: dict[type, tuple[str, str]] = {
    MemberUp: ("node up", "heard from"),
    MemberUnreachable: ("node unreachable", "silent: watches of its actors ended"),
    MemberReachable: ("node reachable", "heard from again"),
    MemberDown: ("node down", "left, or silent too long: its names are free"),
}
_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


class Feed:
    """The live feed: the runtime events worth a line on the page (failures, restarts,
    dead letters, members changing status, name conflicts), kept in a ring.

    Its ``listen`` is added to the system's event listeners only while a browser is
    connected (see ``_server``), so an unwatched system pays nothing for it; ``seq``
    numbers entries so a stream sends each once.
    """

    def __init__(self) -> None:
        self.entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=FEED_SIZE)
        self.seq = 0

    def listen(self, event: Any) -> bool:
        """File ``event`` if the feed shows it; True if it did."""
        entry: dict[str, Any]
        if isinstance(event, ActorFailed):
            entry = {
                "kind": "failure",
                "actor": event.actor,
                "message_type": event.message_type,
                "reason": f"{event.error_type}: {event.error}",
            }
        elif isinstance(event, DeadLetter | UnhandledMessage):
            entry = {
                "kind": "dead letter" if isinstance(event, DeadLetter) else "unhandled",
                "actor": event.actor,
                "message_type": event.message_type,
                "reason": getattr(event, "reason", "unhandled"),
            }
        elif isinstance(event, ActorRestarted):
            entry = {
                "kind": "restart",
                "actor": event.actor,
                "message_type": None,
                "reason": f"restart #{event.restarts}",
            }
        elif isinstance(event, MemberUp | MemberUnreachable | MemberReachable | MemberDown):
            kind, reason = _MEMBER[type(event)]
            entry = {
                "kind": kind,
                "actor": None,
                "node": event.node,
                "message_type": None,
                "reason": reason,
            }
        elif isinstance(event, NameConflict):
            entry = {
                "kind": "name conflict",
                "actor": event.loser,
                "message_type": None,
                "reason": f"`{event.name}` kept by {event.winner}",
            }
        else:
            return False
        self.seq += 1
        entry["seq"] = self.seq
        entry["time"] = time.time()
        self.entries.append(entry)
        return True

    def since(self, seq: int) -> list[dict[str, Any]]:
        return [entry for entry in self.entries if entry["seq"] > seq]


def snapshot(system: ActorSystem) -> dict[str, Any]:
    """The page's state: the tree, the counters, latency percentiles, health."""
    metrics = system.metrics()
    roots = [] if system._guardian is None else list((system._guardian.children or {}).values())
    health = system.health()
    return {
        "system": system.name,
        "time": time.time(),
        "tree": [_node(cell, None) for cell in roots],
        "counters": {
            "actors": metrics.actors,
            "messages_handled": metrics.messages_handled,
            "failures": metrics.failures,
            "restarts": metrics.restarts,
            "dead_letters": metrics.dead_letters,
            "mailbox_depth": metrics.mailbox_depth,
            "mailbox_depth_max": metrics.mailbox_depth_max,
        },
        "latency": {
            "handle": _percentiles(metrics.handle_latency),
            "ask": _percentiles(metrics.ask_latency),
        },
        "health": {"live": health.live, "ready": health.ready, "checks": health.checks},
    }


def actor_details(system: ActorSystem, path: str, feed: Feed) -> dict[str, Any] | None:
    """One actor's details (None if no live actor has that path)."""
    cell = next((c for c in system._cells() if c.path == path), None)
    if cell is None:
        return None
    stats = cell.mailbox.stats()
    info = _info(cell)
    info.pop("children", None)
    return {
        "path": path,
        "class": type(cell.actor).__qualname__,
        "module": type(cell.actor).__module__,
        "status": _STATUS[cell.state],
        "mailbox": {
            "size": stats.size,
            "maxsize": stats.maxsize,
            "high_water": stats.high_water,
            "received": stats.put,
            "handled": stats.got,
            "dropped": stats.dropped,
            "rejected": stats.rejected,
        },
        # A local watcher is a cell; a transport's proxy for remote ones says who they are.
        "watched_by": [getattr(w, "path", None) or repr(w) for w in cell.watchers or ()],
        "watching": [target.path for target in cell.watching or ()],
        "recent_failures": [
            e for e in feed.entries if e["actor"] == path and e["kind"] == "failure"
        ][-10:],
        "info": info,
    }


def _node(cell: ActorCell, row: dict[str, Any] | None) -> dict[str, Any]:
    info = _info(cell)
    rows = {r.get("path"): r for r in info.get("children", ()) if isinstance(r, dict)}
    children = [_node(child, rows.pop(child.path, None)) for child in _children(cell)]
    # Slots the supervisor keeps with no running actor (terminated, or between restarts).
    children += [_empty_slot(cell.path, r) for r in rows.values()]
    status = _STATUS[cell.state]
    if row is not None and row.get("status") == "restarting":
        status = "restarting"
    node: dict[str, Any] = {
        "path": cell.path,
        "name": cell.name,
        "class": type(cell.actor).__qualname__,
        "status": status,
        "restarts": 0 if row is None else row.get("restarts", 0),
        "mailbox": len(cell.mailbox),
        "children": children,
    }
    if "strategy" in info:
        node["supervisor"] = {"strategy": info["strategy"], "intensity": info.get("intensity")}
    return node


def _empty_slot(parent: str, row: dict[str, Any]) -> dict[str, Any]:
    status = row.get("status", "stopped")
    return {
        "path": row.get("path") or f"{parent}/{row.get('id')}",
        "name": str(row.get("id")),
        "class": None,
        "status": "stopped" if status == "terminated" else status,
        "restarts": row.get("restarts", 0),
        "mailbox": 0,
        "children": [],
    }


def _children(cell: ActorCell) -> Iterator[ActorCell]:
    if cell.children:
        yield from list(cell.children.values())
    yield from cell.actor._hosted_cells()


def _info(cell: ActorCell) -> dict[str, Any]:
    hook = getattr(cell.actor, "observer_info", None)
    if hook is None:
        return {}
    info = hook()
    if not isinstance(info, dict):
        raise TypeError(
            f"{type(cell.actor).__qualname__}.observer_info() must return a dict, "
            f"got {type(info).__name__}"
        )
    return dict(info)


def _percentiles(histogram: Histogram) -> dict[str, float | None]:
    """Upper bounds of the quantiles, seconds (None: nothing observed, or past the
    last bucket); ``count`` observations in all."""
    result: dict[str, float | None] = {"count": float(histogram.count)}
    for label, q in _QUANTILES:
        value = histogram.quantile(q)
        result[label] = value if value == value and value != float("inf") else None
    return result
