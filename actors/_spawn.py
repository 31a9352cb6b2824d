"""Creating an actor: validate, build the cell and the instance, register, start.

One function serves ``system.spawn``, ``Actor.spawn`` and supervisors, so every actor is
born the same way whoever asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._actor import Actor
from ._cell import ActorCell, Parent, describe
from ._errors import ActorCrashed
from ._limits import check_child_path
from ._mailbox import Mailbox

if TYPE_CHECKING:
    from ._system import ActorSystem


def check_actor_class(actor_class: Any) -> type[Actor]:
    if not (isinstance(actor_class, type) and issubclass(actor_class, Actor)):
        raise TypeError(f"expected an Actor subclass, got {actor_class!r}")
    if actor_class.receive is Actor.receive:
        raise TypeError(f"`{actor_class.__qualname__}` does not define `async def receive`")
    return actor_class


def make_factory(
    cell: ActorCell, actor_class: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Callable[[], Actor]:
    """A factory for fresh instances bound to ``cell`` (so ``__init__`` may use
    ``self.ref``); supervisors keep it to restart the actor."""

    def factory() -> Actor:
        actor = actor_class.__new__(actor_class)
        actor._cell = cell
        actor.__init__(*args, **kwargs)  # type: ignore[misc]
        return actor

    return factory


def new_cell(
    system: ActorSystem,
    parent: Parent,
    actor_class: type[Actor],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    name: str | None,
    mailbox: Mailbox | None,
    label: str | None = None,
    keep_factory: bool = False,
) -> ActorCell:
    """Build, instantiate and attach a cell; the caller then awaits ``cell.start()``.

    ``name`` registers the actor (and names it in its path); an unregistered actor is
    called ``label`` (a supervisor uses the child id) or ``<class>-<n>``.
    """
    check_actor_class(actor_class)
    if mailbox is None:
        mailbox = Mailbox()
    elif not isinstance(mailbox, Mailbox):
        raise TypeError(f"`mailbox` must be a Mailbox, got {mailbox!r}")
    elif mailbox._owner is not None or mailbox.closed:
        raise ValueError("`mailbox` is already used by another actor; give each actor its own")
    registered = name is not None
    if name is None:
        name = label or f"{actor_class.__name__.lower()}-{system._next_id()}"
    else:
        system._check_name(name)
    check_child_path(parent.path, name)  # deep trees reach the path limit first
    cell = ActorCell(system, parent, name, mailbox, registered=registered)
    factory = make_factory(cell, actor_class, args, kwargs)
    try:
        cell.actor = factory()
    except Exception as exc:
        mailbox._owner = None
        raise ActorCrashed(
            f"`{cell.path}` failed to start: {describe(exc)}", actor=cell.path
        ) from exc
    if keep_factory:
        cell.factory = factory
    if registered:
        system._register(name, cell)
    if parent.children is None:
        parent.children = {}
    parent.children[id(cell)] = cell
    system._actor_spawned()
    return cell


async def spawn(
    system: ActorSystem,
    parent: Parent,
    actor_class: type[Actor],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    name: str | None,
    mailbox: Mailbox | None,
) -> ActorCell:
    cell = new_cell(system, parent, actor_class, args, kwargs, name=name, mailbox=mailbox)
    try:
        await cell.start()
    except ActorCrashed as error:
        cell.finalize(error.__cause__ or error)
        raise
    return cell
