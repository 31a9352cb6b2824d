"""Child and supervisor specifications: what to start, how to restart it.

Specs are ``msgspec.Struct``s, so one definition serves Python code and spec files
(TOML, YAML, JSON, a dict). Field types and their ``Meta`` constraints are msgspec's to
check, so an error carries the exact path (`` - at `$.children[0].actor.within` ``):
decoding a file checks them on the way in, and ``check_fields`` runs the very same
conversion for a spec built in Python (msgspec does not validate ``__init__``
arguments). ``__post_init__`` adds only what one field alone cannot say (duplicate ids,
``significant`` on a permanent child, a strategy that forbids an option, an ``actor``
named ``"package.module:Class"`` that does not import).
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import functools
import importlib
import math
import re
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, get_type_hints

import msgspec
from msgspec import Meta

from actors import Actor, Overflow

from ._errors import SpecError

if TYPE_CHECKING:
    from actors import ActorSystem
    from actors.lowlevel import Parent

    from ._supervisor import SupervisorRef

__all__ = [
    "BRUTAL_KILL",
    "AutoShutdown",
    "Backoff",
    "ChildSpec",
    "ChildType",
    "Restart",
    "Strategy",
    "SupervisorSpec",
]

BRUTAL_KILL: Final = "brutal_kill"
"""``ChildSpec.shutdown`` value: cancel the child at once, without waiting."""

INFINITY: Final = "infinity"
"""``ChildSpec.shutdown`` value: wait for the child however long it takes."""

DEFAULT_WORKER_SHUTDOWN = 5.0

# Finite numbers only: OTP refuses `infinity` as an intensity or a period, and msgspec
# accepts an infinite float unless bounded (its `lt`/`le` must themselves be finite).
Seconds = Annotated[float, Meta(gt=0, le=sys.float_info.max)]
Fraction = Annotated[float, Meta(ge=0, lt=1)]
Count = Annotated[int, Meta(ge=0)]


class Strategy(enum.Enum):
    """Which children restart when one must (OTP restart strategies)."""

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"
    SIMPLE_ONE_FOR_ONE = "simple_one_for_one"


class Restart(enum.Enum):
    """When a child that exited is restarted."""

    PERMANENT = "permanent"
    """Always."""
    TRANSIENT = "transient"
    """Only after an abnormal exit (a crash; not a normal stop or a shutdown)."""
    TEMPORARY = "temporary"
    """Never; its spec is forgotten once it exits."""


class AutoShutdown(enum.Enum):
    """Whether a supervisor shuts itself down when significant children exit."""

    NEVER = "never"
    ANY_SIGNIFICANT = "any_significant"
    ALL_SIGNIFICANT = "all_significant"


class ChildType(enum.Enum):
    WORKER = "worker"
    SUPERVISOR = "supervisor"


class Backoff(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Exponential delay between consecutive restarts of one child (beyond OTP).

    Restart ``n`` of a child waits ``min * 2**n`` seconds, capped at ``max``, spread by
    +/- ``jitter`` (a fraction of the delay). A child that ran for ``reset_after``
    seconds before exiting starts again from ``min``. Messages sent to the child while
    it waits are kept and delivered after the restart.
    """

    min: Seconds = 0.1
    max: Seconds = 10.0
    jitter: Fraction = 0.1
    reset_after: Seconds = 30.0

    def __post_init__(self) -> None:
        check_fields(self, "backoff: ")
        if not self.min <= self.max:
            raise SpecError(f"backoff needs `min` <= `max`, got min={self.min!r}, max={self.max!r}")


@functools.cache
def _field_types(cls: type[msgspec.Struct]) -> dict[str, Any]:
    # This module's globals: the classes are presented as `actors.supervision`.
    hints = get_type_hints(cls, globalns=globals(), include_extras=True)
    return {name: hints[name] for name in cls.__struct_fields__ if hints[name] is not Any}


def check_fields(spec: msgspec.Struct, owner: str) -> None:
    """Validate every typed field of ``spec`` with msgspec, as decoding a file would,
    and store the converted values (``"permanent"`` becomes ``Restart.PERMANENT``).

    A spec built in Python needs this because msgspec validates decoded data but not
    ``__init__`` arguments; for decoded data it finds nothing new. The error names the
    field and its path, e.g. ``child `db`: Expected `int` >= 1 - at `$.mailbox_size```.
    """
    for name, field_type in _field_types(type(spec)).items():
        value = getattr(spec, name)
        try:
            converted = msgspec.convert(value, field_type)
        except msgspec.ValidationError as exc:
            text, inner = str(exc), ""
            match = _AT.match(text)
            if match:
                text, inner = match.groups()
            raise SpecError(f"{owner}{text} - at `$.{name}{inner}`") from None
        if converted is not value:
            setattr(spec, name, converted)


# The module prefixes a spec being loaded may import actors from (None: any module);
# set by ``load_spec(allow=...)`` for the decoding, which imports as it goes.
_allowed: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "allowed_actor_modules", default=None
)


@contextlib.contextmanager
def allowed_modules(allow: Sequence[str] | None) -> Iterator[None]:
    """Within: ``import_actor`` imports only modules under one of ``allow``'s prefixes
    (``"myapp."`` or ``"myapp"``: the package ``myapp`` and its submodules)."""
    if allow is not None:
        if isinstance(allow, str) or not all(isinstance(p, str) and p for p in allow):
            raise TypeError(
                f"`allow` must be a sequence of module prefixes like ('myapp.',), got {allow!r}"
            )
        allow = tuple(prefix.rstrip(".") for prefix in allow)
    token = _allowed.set(allow)
    try:
        yield
    finally:
        _allowed.reset(token)


def _is_allowed(module_name: str, allowed: tuple[str, ...]) -> bool:
    return any(module_name == p or module_name.startswith(p + ".") for p in allowed)


def import_actor(target: str) -> type[Actor]:
    """Resolve ``"package.module:Class"`` to an Actor subclass, with a clear error.

    Importing runs the module's top-level code: under ``load_spec(allow=...)`` a module
    outside the allowed prefixes is refused before it is imported."""
    module_name, sep, qualname = target.partition(":")
    if not sep or not module_name or not qualname:
        raise SpecError(f"`actor` must look like 'package.module:Class', got {target!r}")
    allowed = _allowed.get()
    if allowed is not None and not _is_allowed(module_name, allowed):
        raise SpecError(
            f"`actor` {target!r}: module `{module_name}` is not under the allowed prefixes "
            f"{', '.join(allowed)}; it was not imported (a spec file is code: allow only "
            "the packages it may run)"
        )
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(f"`actor` {target!r}: cannot import module `{module_name}`: {exc}") from exc
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SpecError(
                f"`actor` {target!r}: module `{module_name}` has no `{qualname}`"
            ) from None
    if not (isinstance(obj, type) and issubclass(obj, Actor)):
        raise SpecError(f"`actor` {target!r} is not an Actor subclass")
    return obj


_NESTED = re.compile(r"^nested supervisor: (.*) - in `actor(.*)` - at `\$(.*)`$", re.DOTALL)
_AT = re.compile(r"^(.*) - at `\$(.*)`$", re.DOTALL)


def nested_error(text: str) -> str:
    """Reword an error from inside a nested supervisor spec so its location survives:
    msgspec appends this child's own location (`` - at `$.children[1]` ``) after it,
    and ``merge_location`` joins the two into one path."""
    match = _NESTED.match(text)
    if match:
        message, deeper, outer = match.groups()
        return f"nested supervisor: {message} - in `actor{outer}.actor{deeper}`"
    match = _AT.match(text)
    if match:
        message, path = match.groups()
        return f"nested supervisor: {message} - in `actor{path}`"
    return f"nested supervisor: {text}"


def merge_location(text: str) -> str:
    """The final form of a nested error: one path, e.g.
    `` - at `$.children[1].actor.children[0].restart` ``."""
    match = _NESTED.match(text)
    if match:
        message, inner, outer = match.groups()
        return f"{message} - at `${outer}.actor{inner}`"
    return text


def check_significance(child: ChildSpec, auto_shutdown: AutoShutdown) -> None:
    """OTP's bad_combination: significant children need an auto_shutdown policy."""
    if child.significant and auto_shutdown is AutoShutdown.NEVER:
        raise SpecError(
            f"child `{child.id}`: `significant` children need `auto_shutdown` "
            "'any_significant' or 'all_significant', not 'never'"
        )


class ChildSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One child of a supervisor.

    ``actor`` is an ``Actor`` subclass, a ``"package.module:Class"`` string (spec files),
    or a nested :class:`SupervisorSpec`. ``args``/``kwargs`` go to the actor's
    ``__init__``. ``shutdown`` is the seconds a child gets to finish ``stopped()`` before
    it is cancelled: a float, ``BRUTAL_KILL`` or ``"infinity"``; by default 5 s for a
    worker and infinity for a supervisor. ``name`` registers the child in the system
    (``whereis``); ``mailbox_size`` and ``overflow`` bound its mailbox.
    """

    id: Annotated[str, Meta(min_length=1)]
    actor: Any
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    restart: Restart = Restart.PERMANENT
    shutdown: Annotated[float, Meta(ge=0)] | Literal["brutal_kill", "infinity"] | None = None
    type: ChildType | None = None
    significant: bool = False
    name: str | None = None
    mailbox_size: Annotated[int, Meta(ge=1)] | None = None
    overflow: Overflow = Overflow.WAIT

    def __post_init__(self) -> None:
        check_fields(
            self, f"child `{self.id}`: " if self.id and isinstance(self.id, str) else "child: "
        )
        actor = self.actor
        if isinstance(actor, str):
            self.actor = import_actor(actor)
        elif isinstance(actor, dict):
            try:
                self.actor = msgspec.convert(actor, SupervisorSpec)
            except msgspec.ValidationError as exc:
                raise SpecError(nested_error(str(exc))) from None
        elif not (
            isinstance(actor, SupervisorSpec)
            or (isinstance(actor, type) and issubclass(actor, Actor))
        ):
            raise SpecError(
                f"child `{self.id}`: `actor` must be an Actor subclass, "
                f"'package.module:Class' or a SupervisorSpec, got {actor!r}"
            )
        kind = ChildType.SUPERVISOR if isinstance(self.actor, SupervisorSpec) else ChildType.WORKER
        if self.type is None:
            self.type = kind
        elif self.type is not kind:
            raise SpecError(
                f"child `{self.id}`: `type` is {self.type.value!r} but `actor` is a {kind.value}"
            )
        if self.significant and self.restart is Restart.PERMANENT:
            raise SpecError(
                f"child `{self.id}`: `significant` cannot be true for a permanent child "
                "(use restart 'transient' or 'temporary')"
            )

    @property
    def shutdown_seconds(self) -> float | None:
        """The shutdown time as seconds (0 = brutal kill, None = no limit)."""
        shutdown = self.shutdown
        if shutdown is None:
            return None if self.type is ChildType.SUPERVISOR else DEFAULT_WORKER_SHUTDOWN
        if shutdown == BRUTAL_KILL:
            return 0.0
        if shutdown == INFINITY or shutdown == math.inf:
            return None
        return float(shutdown)


class SupervisorSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A supervisor: its strategy, its restart intensity and its children.

    More than ``max_restarts`` restarts within ``within`` seconds make it give up: it
    stops all its children (newest first) and fails, which its parent sees as a child
    failure. ``auto_shutdown`` reacts to significant children exiting by themselves.
    ``backoff`` (optional) spaces consecutive restarts of a child. For
    ``simple_one_for_one``, ``children`` holds exactly one template child. ``name``
    registers the supervisor in the system.
    """

    strategy: Strategy = Strategy.ONE_FOR_ONE
    max_restarts: Count = 1
    within: Seconds = 5.0
    children: list[ChildSpec] = []
    auto_shutdown: AutoShutdown = AutoShutdown.NEVER
    backoff: Backoff | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        check_fields(self, "")
        seen: set[str] = set()
        for child in self.children:
            if child.id in seen:
                raise SpecError(f"duplicate child id `{child.id}`")
            seen.add(child.id)
            check_significance(child, self.auto_shutdown)
        if self.strategy is Strategy.SIMPLE_ONE_FOR_ONE:
            if len(self.children) != 1:
                raise SpecError(
                    "a simple_one_for_one supervisor needs exactly one template child, "
                    f"got {len(self.children)}"
                )
            if self.auto_shutdown is not AutoShutdown.NEVER:
                # OTP's bad_combination: its dynamic children cannot be significant.
                raise SpecError(
                    "a simple_one_for_one supervisor cannot have `auto_shutdown` "
                    f"{self.auto_shutdown.value!r}; use 'never'"
                )

    async def start_tree(self, system: ActorSystem, parent: Parent) -> SupervisorRef:
        """Start this tree under ``parent`` (``ActorSystem.spawn_tree`` calls this)."""
        from ._supervisor import start_supervisor

        return await start_supervisor(system, parent, self, escalate_to_system=True)
