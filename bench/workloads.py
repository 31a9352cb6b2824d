"""Loads every workload family, in table order.

Extension point: a family is a module that calls ``registry.register`` at import time.
To add one, write the module and put its name in ``FAMILIES`` where its rows should
appear (``bench.transport`` is a recent example).
"""

from __future__ import annotations

import importlib

from .registry import WORKLOADS, Workload

__all__ = ["FAMILIES", "WORKLOADS", "all_workloads"]

FAMILIES: tuple[str, ...] = (
    "tell",
    "ask",
    "spawn",
    "memory",
    "idle",
    "selective",
    "eventbus",
    "supervision",
    "teardown",
    "transport",
    "startup",
)

for _family in FAMILIES:
    importlib.import_module(f"{__package__}.{_family}")


def all_workloads() -> list[Workload]:
    """Every registered workload, in registration (table) order."""
    return list(WORKLOADS.values())
