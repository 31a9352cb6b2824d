"""The ``Supervisor`` actor: OTP's ``supervisor`` on asyncio.

The supervisor is an ordinary actor. Its children run in a ``TaskGroup`` of its own,
hosted by one task it starts in its parent's task group; nothing of theirs can outlive
it. A child's exit arrives as a ``ChildExited`` message at system priority, so exits,
restarts and the dynamic API (``start_child`` ...) are handled one at a time, in order,
exactly like the messages of a ``gen_server``.

What to do is decided by the pure functions of ``_policy``; this module carries it out.
A restart that fails is not retried in a loop: the child is marked restarting and a
``TryAgain`` goes to the supervisor's own mailbox (OTP's ``try_again_restart``), so a
stop request queued meanwhile is handled first.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Iterable
from typing import Any

import msgspec

from actors import (
    Actor,
    ActorCrashed,
    ActorRef,
    ActorRestarted,
    ActorSystem,
    Mailbox,
    Priority,
    SupervisorEscalated,
)
from actors.lowlevel import (
    ActorCell,
    CellState,
    ExitReason,
    Parent,
    Reason,
    cell_of,
    count_restart,
    describe,
    emit,
    get_logger,
    is_normal,
    link_to_system,
)
from actors.lowlevel import spawn_cell as new_cell

from . import _policy as policy
from ._errors import ChildError, ChildStartError, RestartIntensityExceeded, SpecError
from ._spec import (
    ChildSpec,
    ChildType,
    Restart,
    Strategy,
    SupervisorSpec,
    check_significance,
)

__all__ = ["ChildCounts", "ChildInfo", "Supervisor", "SupervisorRef"]

log = get_logger("actors.supervision")


class ChildInfo(msgspec.Struct, frozen=True):
    """One row of ``which_children()``: ``status`` is ``"running"``, ``"restarting"``
    or ``"terminated"`` (spec kept, not running); ``ref`` is None unless running or
    restarting. Dynamic children of a simple_one_for_one supervisor carry the
    template's id."""

    id: str
    ref: ActorRef | None
    type: ChildType
    status: str


class ChildCounts(msgspec.Struct, frozen=True):
    """``count_children()``: OTP's specs, active, supervisors, workers."""

    specs: int
    active: int
    supervisors: int
    workers: int


# ---------------------------------------------------------------- the supervisor's messages


class ChildExited(msgspec.Struct, frozen=True):
    cell: Any
    reason: Any
    incarnation: int


class TryAgain(msgspec.Struct, frozen=True):
    """Retry restarting ``key`` (a failed restart attempt, OTP try_again_restart)."""

    key: str


class StartAfterBackoff(msgspec.Struct, frozen=True):
    """The backoff delay of a restart is over: start these children (start order)."""

    keys: list[str]


class StartChild(msgspec.Struct, frozen=True):
    spec: ChildSpec


class StartDynamicChild(msgspec.Struct, frozen=True):
    args: tuple[Any, ...]


class TerminateChild(msgspec.Struct, frozen=True):
    target: Any  # a child id, or a ref for simple_one_for_one


class RestartChild(msgspec.Struct, frozen=True):
    id: str


class DeleteChild(msgspec.Struct, frozen=True):
    id: str


class WhichChildren(msgspec.Struct, frozen=True):
    pass


class CountChildren(msgspec.Struct, frozen=True):
    pass


class _Failed:
    """A dynamic-API error travelling back to the caller as a value, so that a refused
    request never crashes the supervisor; ``SupervisorRef`` raises it."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class SupervisorRef(ActorRef):
    """The ref of a supervisor: an ``ActorRef`` plus OTP's dynamic API.

    Each method is one ask to the supervisor; errors are raised here, in the caller.
    """

    __slots__ = ()

    async def _call(self, request: Any, timeout: float | None) -> Any:
        result = await self.ask(request, timeout=timeout)
        if isinstance(result, _Failed):
            raise result.error
        return result

    async def start_child(self, spec: ChildSpec, *, timeout: float | None = 5.0) -> ActorRef:
        """Add and start a child after the others (not for simple_one_for_one, whose
        children come from ``start_dynamic_child``). Anything but a ``ChildSpec``
        raises ``SpecError`` here, before it reaches the supervisor."""
        if not isinstance(spec, ChildSpec):
            raise SpecError(
                f"start_child needs a ChildSpec, got {spec!r} (a simple_one_for_one "
                "supervisor starts children with start_dynamic_child(*extra_args))"
            )
        return await self._call(StartChild(spec), timeout)  # type: ignore[no-any-return]

    async def start_dynamic_child(self, *extra_args: Any, timeout: float | None = 5.0) -> ActorRef:
        """simple_one_for_one only: start a child from the template, its args being
        the template's followed by ``extra_args``."""
        return await self._call(StartDynamicChild(extra_args), timeout)  # type: ignore[no-any-return]

    async def terminate_child(self, child: str | ActorRef, *, timeout: float | None = 5.0) -> None:
        """Stop a child (its shutdown time honoured); its spec is kept, unless it is
        temporary or dynamic (simple_one_for_one: pass the child's ref)."""
        await self._call(TerminateChild(child), timeout)

    async def restart_child(self, child_id: str, *, timeout: float | None = 5.0) -> ActorRef:
        """Start again a child that was terminated (its spec kept)."""
        return await self._call(RestartChild(child_id), timeout)  # type: ignore[no-any-return]

    async def delete_child(self, child_id: str, *, timeout: float | None = 5.0) -> None:
        """Forget the spec of a terminated child."""
        await self._call(DeleteChild(child_id), timeout)

    async def which_children(self, *, timeout: float | None = 5.0) -> list[ChildInfo]:
        return await self._call(WhichChildren(), timeout)  # type: ignore[no-any-return]

    async def count_children(self, *, timeout: float | None = 5.0) -> ChildCounts:
        return await self._call(CountChildren(), timeout)  # type: ignore[no-any-return]


class _Child:
    """The supervisor's record of one child slot."""

    __slots__ = (
        "args",
        "attempt",
        "cell",
        "incarnation",
        "key",
        "restarting",
        "restarts",
        "spec",
        "started_at",
        "timer",
    )

    def __init__(self, key: str, spec: ChildSpec, args: tuple[Any, ...]) -> None:
        self.key = key  # the child id; "<template id>-<n>" for dynamic children
        self.spec = spec
        self.args = args  # the args its actor is started with
        self.cell: ActorCell | None = None  # None: terminated (or never started)
        self.restarting = False  # waiting for a (re)start: backoff or a failed attempt
        self.incarnation = 0  # bumped at every start: tells stale exits apart
        self.restarts = 0
        self.attempt = 0  # consecutive restarts, for the backoff
        self.started_at = 0.0
        self.timer: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        return (
            self.cell is not None
            and not self.restarting
            and self.cell.state in (CellState.STARTING, CellState.RUNNING, CellState.STOPPING)
        )

    @property
    def status(self) -> str:
        if self.restarting:
            return "restarting"
        return "running" if self.running else "terminated"


class _Group:
    """The parent of a supervisor's children: owns their task group and routes their
    exits to the supervisor's mailbox."""

    __slots__ = (
        "by_cell",
        "children",
        "closing",
        "path",
        "supervisor",
        "system",
        "task_group",
        "terminating",
    )

    def __init__(
        self,
        supervisor: Supervisor,
        task_group: asyncio.TaskGroup,
        by_cell: dict[int, _Child],
    ) -> None:
        self.supervisor = supervisor
        self.by_cell = by_cell  # the supervisor's records of its children, by id(cell)
        self.system = supervisor.system
        self.path = supervisor.ref.path
        self.task_group = task_group
        self.children: dict[ActorCell, ActorCell] | None = {}
        self.terminating: set[int] = set()  # cells the supervisor is stopping itself
        self.closing = False

    def child_exited(self, child: ActorCell, reason: Reason) -> None:
        child.state = CellState.SUSPENDED
        if id(child) in self.terminating:
            return  # the supervisor stopped it and handles the rest
        if self.closing:
            child.finalize(reason)
            return
        record = self.by_cell.get(id(child))
        incarnation = record.incarnation if record is not None else -1
        cell_of(self.supervisor.ref).deliver(
            ChildExited(child, reason, incarnation), Priority.SYSTEM
        )


class Supervisor(Actor):
    """Supervises children as its ``SupervisorSpec`` says. Start one with
    ``system.spawn_tree(spec)`` (or as a child with ``ChildSpec(actor=SupervisorSpec)``)."""

    def __init__(self, spec: SupervisorSpec) -> None:
        self.spec = spec
        self._children: list[_Child] = []  # start order
        self._by_key: dict[str, _Child] = {}
        self._by_cell: dict[int, _Child] = {}
        self._restarts: deque[float] = deque()  # restart times, newest first (intensity)
        self._dynamic = 0
        self._rng = random.Random()
        self._group: _Group | None = None
        self._host: asyncio.Task[None] | None = None
        self._release: asyncio.Future[None] | None = None

    def observer_info(self) -> dict[str, Any]:
        """What the observer page shows of this supervisor (the ``observer_info`` hook,
        see docs/observability.md): its strategy and intensity, and per child slot its
        status and restart count, read from the records it keeps anyway."""
        spec = self.spec
        return {
            "strategy": spec.strategy.value,
            "intensity": f"{spec.max_restarts} in {spec.within:g} s",
            "children": [
                {
                    "id": child.key,
                    "path": None if child.cell is None else child.cell.path,
                    "status": child.status,
                    "restarts": child.restarts,
                }
                for child in self._children
            ],
        }

    # ------------------------------------------------------------------ life cycle

    async def started(self) -> None:
        await self._open_group()
        if self.spec.strategy is Strategy.SIMPLE_ONE_FOR_ONE:
            return
        for spec in self.spec.children:
            child = self._add(spec.id, spec, tuple(spec.args))
            try:
                await self._start(child)
            except ChildStartError:
                self._remove(child)
                await self._terminate_all()
                await self._close_group()
                raise

    async def stopped(self) -> None:
        await self._terminate_all()
        await self._close_group()

    def _hosted_cells(self) -> Iterable[ActorCell]:
        group = self._group
        return () if group is None or not group.children else list(group.children.values())

    def _killed(self) -> None:
        group = self._group
        if group is not None:
            group.closing = True
            for child in reversed(self._children):
                if child.timer is not None:
                    child.timer.cancel()
                if child.cell is not None:
                    child.cell.kill()
        if self._host is not None:
            self._host.cancel()

    async def _open_group(self) -> None:
        """Start the host task whose TaskGroup will own every child task."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[asyncio.TaskGroup] = loop.create_future()
        self._release = loop.create_future()
        self._host = cell_of(self.ref).task_group.create_task(
            self._host_group(ready, self._release)
        )
        self._group = _Group(self, await ready, self._by_cell)

    async def _host_group(
        self, ready: asyncio.Future[asyncio.TaskGroup], release: asyncio.Future[None]
    ) -> None:
        async with asyncio.TaskGroup() as task_group:
            if ready.done():  # the supervisor was cancelled while starting
                return
            ready.set_result(task_group)
            await release

    async def _close_group(self) -> None:
        if self._group is not None:
            self._group.closing = True
        if self._release is not None and not self._release.done():
            self._release.set_result(None)
        if self._host is not None:
            await self._host

    # ------------------------------------------------------------------ requests

    async def receive(self, message: Any) -> Any:
        simple = self.spec.strategy is Strategy.SIMPLE_ONE_FOR_ONE
        match message:
            case ChildExited(cell, reason, incarnation):
                await self._child_exited(cell, reason, incarnation)
            case TryAgain(key):
                child = self._by_key.get(key)
                if child is not None and child.restarting:
                    await self._restart(child)
            case StartAfterBackoff(keys):
                members = [self._by_key[k] for k in keys if k in self._by_key]
                await self._start_members([c for c in members if c.restarting])
            # The dynamic API: requests simple_one_for_one refuses come first (OTP).
            case RestartChild() | DeleteChild() if simple:
                return _Failed(
                    self._error(
                        "simple_one_for_one", "not allowed for a simple_one_for_one supervisor"
                    )
                )
            case StartChild(spec):
                return await self._start_child(spec)
            case StartDynamicChild(args):
                return await self._start_dynamic_child(args)
            case TerminateChild(target):
                return await self._terminate_child(target)
            case RestartChild(child_id):
                return await self._restart_child(child_id)
            case DeleteChild(child_id):
                return self._delete_child(child_id)
            case WhichChildren():
                return [
                    ChildInfo(
                        c.spec.id,
                        c.cell.ref if c.cell is not None and c.status != "terminated" else None,
                        c.spec.type or ChildType.WORKER,
                        c.status,
                    )
                    for c in self._children
                ]
            case CountChildren():
                supervisors = sum(1 for c in self._children if c.spec.type is ChildType.SUPERVISOR)
                return ChildCounts(
                    # simple_one_for_one has one spec, the template, however many run
                    specs=1 if simple else len(self._children),
                    active=sum(1 for c in self._children if c.running),
                    supervisors=supervisors,
                    workers=len(self._children) - supervisors,
                )
            case _:
                # OTP logs and ignores unexpected messages: a stray tell must not take
                # the tree down.
                log.warning(
                    "supervisor ignored an unexpected message",
                    supervisor=self.ref.path,
                    message_type=type(message).__name__,
                )
        return None

    def _error(self, reason: str, text: str, key: str | None = None) -> ChildError:
        about = f"child `{key}` of " if key is not None else ""
        return ChildError(f"{about}`{self.ref.path}`: {text}", reason=reason, actor=self.ref.path)

    # A request that reaches the supervisor malformed (a tell or ask of a hand-made
    # message) is refused with an error reply: it never crashes the supervisor.

    async def _start_child(self, spec: Any) -> Any:
        if not isinstance(spec, ChildSpec):
            return _Failed(SpecError(f"start_child needs a ChildSpec, got {spec!r}"))
        if self.spec.strategy is Strategy.SIMPLE_ONE_FOR_ONE:
            return _Failed(
                self._error(
                    "simple_one_for_one",
                    "dynamic children are started with start_dynamic_child(*extra_args), "
                    "not with a ChildSpec",
                )
            )
        existing = self._by_key.get(spec.id)
        if existing is not None:
            if existing.running:
                return _Failed(self._error("already_started", "already started", spec.id))
            # Terminated or restarting: the spec is there, the child is not (OTP).
            return _Failed(self._error("already_present", "already present", spec.id))
        try:
            check_significance(spec, self.spec.auto_shutdown)
        except SpecError as error:
            return _Failed(error)
        return await self._start_new(self._add(spec.id, spec, tuple(spec.args)))

    async def _start_dynamic_child(self, args: Any) -> Any:
        if self.spec.strategy is not Strategy.SIMPLE_ONE_FOR_ONE:
            return _Failed(
                self._error(
                    "not_simple_one_for_one",
                    "start_dynamic_child is for simple_one_for_one supervisors; "
                    "use start_child(ChildSpec(...))",
                )
            )
        if not isinstance(args, (tuple, list)):
            return _Failed(SpecError(f"start_dynamic_child needs a tuple of args, got {args!r}"))
        template = self.spec.children[0]
        self._dynamic += 1
        key = f"{template.id}-{self._dynamic}"
        return await self._start_new(self._add(key, template, (*template.args, *args)))

    async def _start_new(self, child: _Child) -> Any:
        """Start a child just added: its ref, or the start error (no slot kept)."""
        try:
            cell = await self._start(child)
        except ChildStartError as error:
            self._remove(child)
            return _Failed(error)
        return cell.ref

    async def _terminate_child(self, target: Any) -> Any:
        if self.spec.strategy is Strategy.SIMPLE_ONE_FOR_ONE:
            if not isinstance(target, ActorRef):
                return _Failed(
                    self._error(
                        "simple_one_for_one", "dynamic children are terminated by ref, not by id"
                    )
                )
            child = self._by_cell.get(id(cell_of(target)))
            if child is None:
                if cell_of(target).parent is self._group:
                    return None  # ours, already gone: terminating it again is fine (OTP)
                return _Failed(self._error("not_found", f"no dynamic child {target!r}"))
            await self._terminate(child, keep_slot=False)
            self._remove(child)
            return None
        child = self._by_key.get(target) if isinstance(target, str) else None
        if child is None:
            return _Failed(self._error("not_found", "not found", str(target)))
        await self._terminate(child, keep_slot=False)
        if child.spec.restart is Restart.TEMPORARY:
            self._remove(child)
        return None

    def _stopped_child(self, child_id: str) -> _Child | _Failed:
        """The child ``child_id`` if it is terminated: what restart_child and
        delete_child need (OTP's not_found / restarting / running errors otherwise)."""
        child = self._by_key.get(child_id) if isinstance(child_id, str) else None
        if child is None:
            return _Failed(self._error("not_found", "not found", str(child_id)))
        if child.restarting:
            return _Failed(self._error("restarting", "is restarting", child_id))
        if child.running:
            return _Failed(self._error("running", "is running", child_id))
        return child

    async def _restart_child(self, child_id: str) -> Any:
        child = self._stopped_child(child_id)
        if isinstance(child, _Failed):
            return child
        try:
            cell = await self._start(child)
        except ChildStartError as error:
            return _Failed(error)
        return cell.ref

    def _delete_child(self, child_id: str) -> Any:
        child = self._stopped_child(child_id)
        if isinstance(child, _Failed):
            return child
        # A child left terminated by a failed group restart still holds its kept cell.
        self._finalize_slot(child, ExitReason.SHUTDOWN)
        self._remove(child)
        return None

    # ------------------------------------------------------------------ exits and restarts

    async def _child_exited(self, cell: ActorCell, reason: Reason, incarnation: int) -> None:
        child = self._by_cell.get(id(cell))
        if child is None or child.cell is not cell or child.incarnation != incarnation:
            if cell.state == CellState.SUSPENDED and (child is None or child.cell is not cell):
                cell.finalize(reason)
            return  # an exit from an incarnation we already dealt with
        if policy.should_restart(child.spec.restart, is_normal(reason)):
            await self._restart(child)
            return
        # Not restarted: the slot ends. Temporary children are forgotten (OTP).
        cell.finalize(reason)
        child.cell = None
        self._by_cell.pop(id(cell), None)
        if child.spec.restart is Restart.TEMPORARY:
            self._remove(child)
        if child.spec.significant:
            left = sum(1 for c in self._children if c.spec.significant and c.running)
            if policy.should_auto_shutdown(self.spec.auto_shutdown, left):
                log.info("auto shutdown", supervisor=self.ref.path, child=child.key)
                cell_of(self.ref).request_stop(ExitReason.SHUTDOWN)

    async def _restart(self, child: _Child) -> None:
        """Restart ``child`` (and its strategy group), or give up if over intensity."""
        spec = self.spec
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._restarts = policy.add_restart(self._restarts, now, spec.within)
        if policy.intensity_exceeded(self._restarts, spec.max_restarts):
            text = (
                f"supervisor `{self.ref.path}` gave up: more than {spec.max_restarts} "
                f"restart(s) within {spec.within} s (last: child `{child.key}`)"
            )
            log.error("restart intensity exceeded", supervisor=self.ref.path, child=child.key)
            emit(self.system, SupervisorEscalated(self.ref.path, text))
            raise RestartIntensityExceeded(text, actor=self.ref.path)
        keys = policy.restart_group(spec.strategy, [c.key for c in self._children], child.key)
        members = [self._by_key[k] for k in keys]
        for member in reversed(members):
            if member is not child and member.running:
                await self._terminate(member, keep_slot=True)
        # Temporary siblings are terminated for good, not restarted (OTP).
        for member in members:
            if member is not child and member.spec.restart is Restart.TEMPORARY:
                self._finalize_slot(member, ExitReason.SHUTDOWN)
                self._remove(member)
        members = [m for m in members if m.key in self._by_key]
        for member in members:
            member.restarting = True
        if child.started_at and now - child.started_at >= self._reset_after():
            child.attempt = 0
        delay = policy.backoff_delay(spec.backoff, child.attempt, self._rng)
        child.attempt += 1
        if delay > 0:
            child.timer = loop.call_later(
                delay,
                self._cell.deliver,
                StartAfterBackoff([m.key for m in members]),
                Priority.SYSTEM,
            )
            return
        await self._start_members(members)

    def _reset_after(self) -> float:
        backoff = self.spec.backoff
        return backoff.reset_after if backoff is not None else 0.0

    async def _start_members(self, members: list[_Child]) -> None:
        for index, member in enumerate(members):
            member.timer = None
            try:
                cell = await self._start(member)
            except ChildStartError:
                # As OTP: the child that failed is restarting; the ones after it in
                # the group are terminated (restartable, deletable) until its retry
                # restarts the group from it.
                for rest in members[index + 1 :]:
                    rest.restarting = False
                member.restarting = True
                # At the back of the mailbox, as OTP's try_again_restart cast: requests
                # already queued (a terminate_child, a shutdown) go first.
                cell_of(self.ref).deliver(TryAgain(member.key), Priority.NORMAL)
                return
            member.restarts += 1
            count_restart(self.system)
            emit(self.system, ActorRestarted(cell.path, member.restarts))

    # ------------------------------------------------------------------ starting, stopping

    def _add(self, key: str, spec: ChildSpec, args: tuple[Any, ...]) -> _Child:
        child = _Child(key, spec, args)
        self._children.append(child)
        self._by_key[key] = child
        return child

    def _remove(self, child: _Child) -> None:
        if child.timer is not None:
            child.timer.cancel()
        if self._by_key.get(child.key) is child:
            del self._by_key[child.key]
            self._children.remove(child)
        if child.cell is not None:
            self._by_cell.pop(id(child.cell), None)

    async def _start(self, child: _Child) -> ActorCell:
        """Start a child's slot: a new cell, or a new incarnation in its kept cell.

        If a new cell fails to start it is finalized (the child is then terminated);
        a kept cell whose restart fails stays suspended, its messages kept, for the
        next attempt.
        """
        assert self._group is not None
        spec = child.spec
        cell = child.cell
        fresh = cell is None or cell.state == CellState.STOPPED
        try:
            if fresh:
                cell = _new_child_cell(self.system, self._group, spec, child.key, child.args)
                child.cell = cell
                self._by_cell[id(cell)] = child
            else:
                assert cell is not None
                cell.reincarnate()
            child.incarnation += 1
            await cell.start()
        except ActorCrashed as crash:
            cause = crash.__cause__ or crash
            raise self._start_error(child, cause, fresh) from cause
        except Exception as exc:  # the actor's __init__ raised
            raise self._start_error(child, exc, fresh) from exc
        child.restarting = False
        child.started_at = asyncio.get_running_loop().time()
        if spec.restart is Restart.TEMPORARY:
            # Never restarted, so its start arguments are not kept (OTP): a supervisor
            # of many short-lived workers must not hold what they were started with.
            child.args = ()
            if spec.args or spec.kwargs:
                child.spec = msgspec.structs.replace(spec, args=[], kwargs={})
        return cell

    def _start_error(self, child: _Child, cause: BaseException, fresh: bool) -> ChildStartError:
        log.error(
            "child failed to start",
            supervisor=self.ref.path,
            child=child.key,
            error=describe(cause),
        )
        if fresh and child.cell is not None:
            child.cell.finalize(cause)
            self._by_cell.pop(id(child.cell), None)
            child.cell = None
        return ChildStartError(
            f"child `{child.key}` of `{self.ref.path}` failed to start: {describe(cause)}",
            child_id=child.key,
            actor=self.ref.path,
        )

    async def _terminate(self, child: _Child, *, keep_slot: bool) -> None:
        """Stop a running child within its shutdown time. ``keep_slot`` keeps its cell
        (ref and queued messages) for a restart; otherwise the slot ends."""
        if child.timer is not None:
            child.timer.cancel()
            child.timer = None
        cell = child.cell
        if cell is None:
            child.restarting = False
            return
        assert self._group is not None
        if cell.state not in (CellState.SUSPENDED, CellState.STOPPED):
            self._group.terminating.add(id(cell))
            try:
                await cell.stop(ExitReason.SHUTDOWN)
            finally:
                self._group.terminating.discard(id(cell))
        if not keep_slot:
            self._finalize_slot(child, cell.stop_reason)

    def _finalize_slot(self, child: _Child, reason: Reason) -> None:
        cell = child.cell
        if cell is not None:
            cell.finalize(reason)
            self._by_cell.pop(id(cell), None)
        child.cell = None
        child.restarting = False

    async def _terminate_all(self) -> None:
        """Stop every child, newest first (supervisor shutdown or escalation)."""
        for child in reversed(list(self._children)):
            await self._terminate(child, keep_slot=False)


def _new_child_cell(
    system: ActorSystem, group: _Group, spec: ChildSpec, key: str, args: tuple[Any, ...]
) -> ActorCell:
    mailbox = Mailbox(spec.mailbox_size, spec.overflow)
    if isinstance(spec.actor, SupervisorSpec):
        cell = new_cell(
            system,
            group,
            Supervisor,
            (spec.actor,),
            {},
            name=spec.name,
            label=key,
            mailbox=mailbox,
            keep_factory=True,
        )
        cell.ref = SupervisorRef(cell)
    else:
        cell = new_cell(
            system,
            group,
            spec.actor,
            args,
            dict(spec.kwargs),
            name=spec.name,
            label=key,
            mailbox=mailbox,
            # The factory holds the start arguments; only a restart needs it.
            keep_factory=spec.restart is not Restart.TEMPORARY,
        )
    cell.shutdown = spec.shutdown_seconds
    return cell


async def start_supervisor(
    system: ActorSystem, parent: Parent, spec: SupervisorSpec, *, escalate_to_system: bool
) -> SupervisorRef:
    """Start a supervisor for ``spec`` under ``parent``; raise ``ChildStartError`` if a
    child fails to start (the ones started are stopped first)."""
    cell = new_cell(
        system, parent, Supervisor, (spec,), {}, name=spec.name, label=None, mailbox=None
    )
    ref = SupervisorRef(cell)
    cell.ref = ref
    cell.shutdown = None
    if escalate_to_system:
        link_to_system(system, cell)
    try:
        await cell.start()
    except ActorCrashed as crash:
        cell.finalize(crash.__cause__ or crash)
        if isinstance(crash.__cause__, ChildStartError):
            raise crash.__cause__ from crash.__cause__.__cause__
        raise
    return ref
