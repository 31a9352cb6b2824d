"""The extension API for runtime authors: what a supervisor or a transport needs from
the core, beyond what applications use (modelled on ``trio.lowlevel``).

Application code should not need this module. ``actors.supervision`` and
``actors.transport`` are built on it and on the public API only, never on the core's
private modules; a third-party supervisor or transport can do the same. Every name
here is **stable**: it changes only with a deprecation period, like the public API.

What it offers:

- **Cells.** An ``ActorCell`` is one actor slot: its mailbox, its ref, its current
  incarnation (``cell.actor``) and its ``CellState``. A runtime author starts one
  (``await cell.start()``), delivers to it (``cell.deliver``), stops it
  (``await cell.stop(reason)``, ``cell.request_stop``, ``cell.kill``) and, as its
  parent, ends the slot for good (``cell.finalize(reason)``) or puts a fresh instance
  into it (``cell.reincarnate()``). ``spawn_cell`` creates one under a parent.
- **Parents.** Whoever owns cells implements the ``Parent`` protocol: its
  ``child_exited`` decides what an ended incarnation means (finalize, or restart).
- **Reasons.** ``ExitReason``, ``is_normal``, ``describe``; ``DeadLetterReason``.
- **The system.** ``emit`` (runtime events to the event bus), ``count_restart``,
  ``dead_letter``, ``link_to_system``, ``task_group``, ``ask_latency``.
- **Messages in flight.** ``Envelope`` (a message with its sender and trace),
  ``Reply`` (the sender of an asked message), ``offer`` (enqueue into a mailbox),
  ``current_cell``, ``outside_context``, ``trace_of_sender``.
- **Transports.** The ``Transport`` protocol ``ActorSystem(transport=...)`` takes.
- **Limits.** The rules for names, paths and node ids (``MAX_*_BYTES``,
  ``name_problem``, ``path_problem``, ``node_id_problem``, ``check_node_id``): a
  transport checks every one it reads from the wire.
- **Packaging.** ``present_as``, for a package's ``__init__``; ``require_extra``, to
  import an optional dependency with an error naming the extra that provides it;
  ``get_logger``, a library logger under ``actors.`` that follows the application's
  ``logging`` (and structlog, if it configured structlog).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ._cell import ActorCell, CellState, Parent, Reason, describe, stop_children
from ._extras import require as require_extra
from ._limits import (
    MAX_NAME_BYTES,
    MAX_NODE_ID_BYTES,
    MAX_PATH_BYTES,
    MAX_SYSTEM_NAME_BYTES,
    check_node_id,
    name_problem,
    node_id_problem,
    path_problem,
)
from ._logging import get_logger
from ._mailbox import Envelope, Mailbox
from ._messages import DeadLetterReason, ExitReason, is_normal
from ._metrics import LatencyRecorder
from ._public import present_as
from ._ref import ActorRef, Reply, ReplyTarget, outside_context, trace_of_sender
from ._ref import current_cell as _current_cell
from ._spawn import new_cell as spawn_cell
from ._transport import Transport

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = [
    "MAX_NAME_BYTES",
    "MAX_NODE_ID_BYTES",
    "MAX_PATH_BYTES",
    "MAX_SYSTEM_NAME_BYTES",
    "ActorCell",
    "CellState",
    "DeadLetterReason",
    "Envelope",
    "ExitReason",
    "LatencyRecorder",
    "Parent",
    "Reason",
    "Reply",
    "ReplyTarget",
    "Transport",
    "ask_latency",
    "cell_of",
    "check_node_id",
    "count_restart",
    "current_cell",
    "dead_letter",
    "describe",
    "emit",
    "get_logger",
    "link_to_system",
    "is_normal",
    "name_problem",
    "node_id_problem",
    "offer",
    "outside_context",
    "path_problem",
    "present_as",
    "require_extra",
    "spawn_cell",
    "stop_children",
    "task_group",
    "trace_of_sender",
]

offer = Mailbox._offer
"""``offer(mailbox, entry, priority=Priority.NORMAL)``: queue a message (or an
``Envelope``) as a tell does, applying the overflow policy; raises ``MailboxFull`` or
``MailboxClosed``. The very function ``tell`` runs (no extra call per message)."""


def current_cell() -> ActorCell | None:
    """The cell whose actor is running in this task, or ``None`` outside any actor."""
    return _current_cell.get()


def cell_of(ref: ActorRef) -> ActorCell:
    """The cell a local ref addresses (a ref of another node has none: ``TypeError``)."""
    try:
        return ref._cell
    except AttributeError:
        raise TypeError(f"{ref!r} is not the ref of a local actor") from None


def emit(system: ActorSystem, event: Any) -> None:
    """Hand a runtime event (``ActorRestarted``, ``SupervisorEscalated``, ...) to the
    system's listeners, the event bus among them; free when nobody listens."""
    if system._listeners:
        system._emit(event)


def count_restart(system: ActorSystem) -> None:
    """Count one restart in ``system.metrics().restarts``."""
    system._restarts += 1


def dead_letter(
    system: ActorSystem,
    message: Any,
    recipient: str,
    reason: DeadLetterReason,
    sender: str | None = None,
) -> None:
    """Count ``message`` as undeliverable to ``recipient`` (a path or a subject) and
    publish a ``DeadLetter`` event when someone subscribes to them."""
    system._dead_letter(message, recipient, reason, sender)


def link_to_system(system: ActorSystem, cell: ActorCell) -> None:
    """Mark ``cell`` (a top-level supervisor) as one whose failure fails the system:
    ``async with ActorSystem`` then shuts down and raises it."""
    system._guardian_of_trees(cell)


def task_group(system: ActorSystem) -> asyncio.TaskGroup:
    """The running system's task group: a task created there is owned by the system
    and awaited before ``async with ActorSystem`` returns."""
    group = system._task_group
    if group is None:
        raise RuntimeError(f"ActorSystem `{system.name}` is not running")
    return group


def ask_latency(system: ActorSystem) -> LatencyRecorder:
    """The recorder behind ``metrics().ask_latency``, for asks a transport carries."""
    return system._ask_latency
