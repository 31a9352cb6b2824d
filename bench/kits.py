"""Our runtime and the three asyncio baselines behind one shape.

A workload is written once as a *behaviour* (a plain class with ``__init__`` and
``async def receive``) and mixed into each system's actor base class here, so ours, bare,
queue and polling run byte-for-byte the same handler and the same driving code. The mixin
costs nothing at run time: ``receive`` is found through the type's attribute cache.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import cache
from typing import Any

from actors import Actor, ActorSystem

from .baselines import BareActor, BareSystem, PollingActor, PollingSystem, QueueActor, QueueSystem

__all__ = ["ASYNC_SYSTEMS", "Kit", "actor_class", "kit"]


@dataclass(frozen=True)
class Kit:
    """How to open one asyncio system and which class its actors derive from."""

    name: str
    open: Callable[[], AbstractAsyncContextManager[Any]]
    base: type


def _ours() -> ActorSystem:
    return ActorSystem("bench")


_KITS = {
    "ours": Kit("ours", _ours, Actor),
    "bare": Kit("bare", BareSystem, BareActor),
    "queue": Kit("queue", QueueSystem, QueueActor),
    "polling": Kit("polling", PollingSystem, PollingActor),
}

ASYNC_SYSTEMS: tuple[str, ...] = tuple(_KITS)


def kit(name: str) -> Kit:
    return _KITS[name]


@cache
def actor_class(system: str, behaviour: type) -> type:
    """``behaviour`` as an actor class of ``system`` (one class per pair, made once)."""
    base = _KITS[system].base
    return type(f"{system.title()}{behaviour.__name__}", (behaviour, base), {})
