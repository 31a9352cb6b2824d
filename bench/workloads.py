"""Loads every workload family, in table order.

Extension point: a new family is a module that calls ``registry.register`` at import
time; add its import below (after the families whose rows should come first). The event
bus and supervision families described in ``bench.registry`` go here once those parts
of the runtime exist.
"""

from __future__ import annotations

from . import ask, idle, memory, selective, spawn, tell  # noqa: F401  (registration)
from .registry import WORKLOADS, Workload

__all__ = ["all_workloads"]


def all_workloads() -> list[Workload]:
    """Every registered workload, in registration order."""
    return list(WORKLOADS.values())
