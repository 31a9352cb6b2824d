"""Creating an actor: validate, build the cell and the instance, register, start.

One function serves ``system.spawn``, ``Actor.spawn`` and supervisors, so every actor is
born the same way whoever asks for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._actor import Actor
from ._cell import ActorCell, Parent, describe
from ._errors import ActorCrashed
from ._limits import MAX_NAME_BYTES, MAX_PATH_BYTES, check_child_path
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


@functools.lru_cache(maxsize=1024)
def _plain_class_name(class_name: str) -> bool:
    """Whether ``<class_name lowered>-<any number>`` is a valid path segment whose size
    is its length: then an unnamed actor's path needs no check beyond a length sum."""
    if not class_name.isascii() or len(class_name) + 21 > MAX_NAME_BYTES:
        return False
    # Raises, naming the rule, for a class name that cannot start a path segment.
    check_child_path("-", f"{class_name.lower()}-0")
    return True


def _check_unnamed(parent_path: str, actor_class: type[Actor], number: int) -> None:
    """``check_child_path`` for the unnamed actor ``<class>-<number>`` without formatting
    its name (spawn's hot path; the name is formatted only when read)."""
    class_name = actor_class.__name__
    if (
        parent_path.isascii()
        and len(parent_path) + len(class_name) + 22 <= MAX_PATH_BYTES
        and _plain_class_name(class_name)
    ):
        return
    check_child_path(parent_path, f"{class_name.lower()}-{number}")


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
    # Deep trees reach the path limit first, so every spawn checks the whole path.
    cell_name: str | int
    if name is not None:
        system._check_name(name)
        check_child_path(parent.path, name)
        cell_name = name
    elif label:
        check_child_path(parent.path, label)
        cell_name = label
    else:
        cell_name = system._next_id()
        _check_unnamed(parent.path, actor_class, cell_name)
    cell = ActorCell(system, parent, cell_name, mailbox)
    # The instance is made as the factory makes it, without building a factory (a
    # closure and its cells) for the actors that are never restarted.
    actor = cell.actor = actor_class.__new__(actor_class)
    actor._cell = cell
    try:
        actor.__init__(*args, **kwargs)  # type: ignore[misc]
    except Exception as exc:
        mailbox._owner = None
        raise ActorCrashed(
            f"`{cell.path}` failed to start: {describe(exc)}", actor=cell.path
        ) from exc
    if keep_factory:
        cell.factory = make_factory(cell, actor_class, args, kwargs)
    if name is not None:
        cell.rare_part().registered = True
        system._register(name, cell)
    children = parent.children
    if children is None:
        children = parent.children = {}
    children[cell] = cell
    system._alive += 1
    system._spawned += 1
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
