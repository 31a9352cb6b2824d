"""Loads every workload family, in table order.

Extension point: a family is a module that calls ``registry.register`` at import time.
To add one (say the NATS family described in ``bench.registry``), write the module and
put its name in ``FAMILIES`` where its rows should appear.
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
)

for _family in FAMILIES:
    importlib.import_module(f"{__package__}.{_family}")


def all_workloads() -> list[Workload]:
    """Every registered workload, in registration (table) order."""
    return list(WORKLOADS.values())
