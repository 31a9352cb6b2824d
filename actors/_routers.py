"""In-process routers: ``system.spawn_pool(Worker, *args, size=8, routing=...)``.

A pool is an actor whose children, the *routees*, are ``size`` instances of one worker
class. It forwards each message it gets to one routee (or, for ``"broadcast"`` and
:class:`Broadcast`, to all) keeping the original sender, trace and asker, so a routee's
``return`` answers the ask made to the pool and ``self.sender`` is who sent it.

Routees are supervised by the pool with core means only (the core does not import
``actors.supervision``): a routee that crashes is restarted in place, same ref and
mailbox, its queued messages kept, so the pool's ref and routing stay valid. A routee
that stops normally, or whose restart fails, leaves the pool (logged).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from ._actor import Actor
from ._cell import RUNNING, SUSPENDED, ActorCell, Reason, stop_children
from ._errors import ActorCrashed, MailboxClosed, MailboxFull
from ._logging import get_logger
from ._mailbox import Envelope
from ._messages import ActorRestarted, is_normal
from ._ref import NO_REPLY, Reply
from ._spawn import check_actor_class, new_cell

if TYPE_CHECKING:
    import asyncio
    import random
    from collections.abc import Iterable

    from ._system import ActorSystem

__all__ = ["Broadcast", "ConsistentHash", "Pool", "Routing", "check_pool"]

log = get_logger("actors.routers")


class Broadcast(msgspec.Struct, frozen=True):
    """Send ``message`` to every routee of a pool, whatever its routing."""

    message: Any


class ConsistentHash(msgspec.Struct, frozen=True):
    """Route by ``key(message)``: equal keys always go to the same routee (in this
    process; a restarted routee keeps its place). A Struct, not a dataclass: importing
    ``dataclasses`` would cost every ``import actors`` about a millisecond."""

    key: Callable[[Any], Hashable]


Routing = Literal["round_robin", "random", "smallest_mailbox", "broadcast"] | ConsistentHash
ROUTINGS = ("round_robin", "random", "smallest_mailbox", "broadcast")


def check_pool(worker_class: Any, size: Any, routing: Any) -> None:
    """Refuse a bad pool before anything is spawned."""
    check_actor_class(worker_class)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"a pool's `size` must be an int >= 1, got {size!r}")
    if not (isinstance(routing, ConsistentHash) or routing in ROUTINGS):
        raise ValueError(
            f"`routing` must be one of {', '.join(map(repr, ROUTINGS))} or "
            f"ConsistentHash(key=...), got {routing!r}"
        )


class _Routees:
    """The parent of a pool's routees: restarts a crashed one in place."""

    __slots__ = ("children", "closing", "pool", "system", "task_group")

    def __init__(self, pool: ActorCell) -> None:
        self.pool = pool
        self.system: ActorSystem = pool.system
        self.task_group: asyncio.TaskGroup = pool.task_group
        self.children: dict[ActorCell, ActorCell] | None = {}
        self.closing = False  # the pool is being killed: restart nothing

    @property
    def path(self) -> str:
        return self.pool.path

    def child_exited(self, child: ActorCell, reason: Reason) -> None:
        if is_normal(reason) or self.closing or self.pool.state != RUNNING:
            child.finalize(reason)
            return
        child.state = SUSPENDED
        try:
            child.reincarnate()
        except Exception as exc:
            log.error("routee restart failed", pool=self.path, routee=child.path, exc_info=exc)
            child.finalize(exc)
            return
        self.task_group.create_task(self._restart(child))

    async def _restart(self, child: ActorCell) -> None:
        try:
            await child.start()
        except ActorCrashed as error:
            log.error("routee restart failed", pool=self.path, routee=child.path, error=str(error))
            child.finalize(error.__cause__ or error)
            return
        system = self.system
        system._restarts += 1
        if system._listeners:
            system._emit(ActorRestarted(child.path, 1))


class Pool(Actor):
    """The router actor behind ``system.spawn_pool``; its ref is the pool's ref."""

    def __init__(
        self,
        worker_class: type[Actor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        size: int,
        routing: Routing,
    ) -> None:
        self._worker = (worker_class, args, kwargs)
        self._size = size
        self._routing = routing
        self._routees = _Routees(self._cell)
        self._slots: list[ActorCell] = []  # in start order; a stopped routee keeps its slot
        self._next = 0
        self._random: random.Random | None = None  # made by the first "random" choice

    async def started(self) -> None:
        worker_class, args, kwargs = self._worker
        for index in range(self._size):
            cell = new_cell(
                self.system,
                self._routees,
                worker_class,
                args,
                kwargs,
                name=None,
                mailbox=None,
                label=f"routee-{index}",
                keep_factory=True,
            )
            try:
                await cell.start()
            except ActorCrashed as error:
                cell.finalize(error.__cause__ or error)
                await self.stopped()
                raise
            self._slots.append(cell)

    async def stopped(self) -> None:
        if self._routees.children:
            await stop_children(self._routees.children)

    def _hosted_cells(self) -> Iterable[ActorCell]:
        return list((self._routees.children or {}).values())

    def _killed(self) -> None:
        self._routees.closing = True
        for cell in reversed(self._slots):
            cell.kill()

    async def receive(self, message: Any) -> Any:
        cell = self._cell
        sender = cell.sender
        if isinstance(message, Broadcast) or self._routing == "broadcast":
            if isinstance(message, Broadcast):
                message = message.message
            for each in self._live():
                self._forward(each, message, sender)
            return NO_REPLY
        routee = self._choose(message)
        if routee is None:  # every routee has left the pool
            cell.undeliverable(self._entry(message, sender), "stopped")
        else:
            self._forward(routee, message, sender)
        return NO_REPLY

    def _live(self) -> list[ActorCell]:
        return [cell for cell in self._slots if not cell.mailbox._closed]

    def _choose(self, message: Any) -> ActorCell | None:
        routing = self._routing
        if isinstance(routing, ConsistentHash):
            return self._slots[hash(routing.key(message)) % len(self._slots)]
        live = self._live()
        if not live:
            return None
        if routing == "round_robin":
            self._next = (self._next + 1) % len(live)
            return live[self._next]
        if routing == "random":
            if self._random is None:
                import random  # on first use: `import actors` stays lean

                self._random = random.Random()
            return self._random.choice(live)
        # smallest_mailbox: fewest queued, an idle routee before a busy one.
        return min(live, key=lambda cell: (len(cell.mailbox), cell.mailbox._wakeup is not cell))

    def _entry(self, message: Any, sender: Any) -> Any:
        trace = self._cell.trace
        if sender is None and trace is None:
            return message
        return Envelope(message, sender, trace)

    def _forward(self, routee: ActorCell, message: Any, sender: Any) -> None:
        entry = self._entry(message, sender)
        try:
            routee.mailbox._offer(entry)
        except MailboxClosed:
            routee.undeliverable(entry, "stopped")
        except MailboxFull as error:  # already a dead letter; an asker learns why
            entry = None  # the error's traceback keeps this frame (see Envelope)
            if sender.__class__ is Reply:
                sender.fail(error)
