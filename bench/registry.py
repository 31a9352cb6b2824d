"""The registry of workloads: what the suite runs, and the one place to add more.

A *workload* is one experiment (say, "tell, one sender to one actor"). It names the
*metrics* it reports (each becomes a row of the table) and, for every *system* it runs on,
a *runner*: a plain function executed in a fresh child process (see ``bench.worker``) that
returns ``{metric key: value}``. Keeping runners as plain functions with no shared state
is what lets the harness give every system its own process per repeat.

Extension point
---------------
To add a family, write a module that calls ``register`` and list it in
``bench.workloads.FAMILIES``; nothing else changes (harness, table, JSON and chart are
generic). The most recent ones:

- ``bench/eventbus.py``: publish to one subscriber, p50 latency (goal <= 10 µs); fan-out
  to 1,000 subscribers in a burst and one event at a time, deliveries/s (goal >= bare);
- ``bench/supervision.py``: crash -> restarted -> answering again, p50/p99 (goal p50 <=
  30 µs); start and stop a 1,000-child supervisor (< 100 ms);
- ``bench/transport.py``: over a loopback ``nats-server`` each child starts, remote tell
  (goal >= 80 % of raw nats-py publishing the same bytes without headers), remote ask p50
  (goal <= 1.1x a raw request), 64 asks in flight (goal >= 20,000/s), and raw publish
  over 1 vs 2 connections.

Goals are built with ``Goal.at_most``, ``Goal.at_least``, ``Goal.relative`` (a factor of
another column's median) and ``Goal.both``.

A family may show another kind of system in an existing column when its row label says
so (the event bus's callback bus in *polling*, raw nats-py in *bare*). There are no
placeholder rows for what is not measured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "COLUMNS",
    "PEERS",
    "WORKLOADS",
    "Goal",
    "Metric",
    "Runner",
    "Sizes",
    "Workload",
    "register",
]

# Table columns, in order. A workload maps a subset of them to runners.
COLUMNS: tuple[str, ...] = (
    "ours",
    "bare",
    "mailbox",
    "queue",
    "polling",
    "pykka",
    "thespian",
)

SYSTEM_NOTES: Mapping[str, str] = {
    "ours": "actors-runtime (uvloop)",
    "bare": "hand-written task-per-actor on a deque + single-waiter future (uvloop)",
    "mailbox": "that deque + future mailbox alone, no actor around it (uvloop)",
    "queue": "task-per-actor on asyncio.Queue (uvloop)",
    "polling": "the replaced design: wait_for(queue.get(), timeout=5 ms) in a loop (uvloop)",
    "pykka": "Pykka ThreadingActor (one thread per actor)",
    "thespian": "Thespian simpleSystemBase (multiprocTCPBase in the cross-process row)",
}

# The columns that count as *peers* (other actor libraries) for "ours / best peer".
PEERS: tuple[str, ...] = ("pykka", "thespian")

Runner = Callable[[bool], Mapping[str, float]]
"""``runner(quick) -> {metric key: value}``; runs in its own process."""

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Sizes:
    """A workload parameter with a full-mode and a quick-mode value."""

    full: int
    quick: int

    def pick(self, quick: bool) -> int:
        return self.quick if quick else self.full


@dataclass(frozen=True)
class Goal:
    """A design goal checked against the medians of one metric.

    ``check`` receives ``{column: median}`` (only the columns that produced a value) and
    returns whether the goal is met, or None when it cannot be decided (ours missing).
    The text is printed verbatim in the table; the thresholds come from DESIGN.md and
    are never tuned to the results.
    """

    text: str
    check: Callable[[Mapping[str, float]], bool | None]

    @classmethod
    def at_most(cls, limit: float, text: str) -> Goal:
        """Ours' median is at most ``limit``."""
        return cls(text, lambda m: None if "ours" not in m else m["ours"] <= limit)

    @classmethod
    def at_least(cls, limit: float, text: str) -> Goal:
        """Ours' median is at least ``limit``."""
        return cls(text, lambda m: None if "ours" not in m else m["ours"] >= limit)

    @classmethod
    def relative(cls, better: Better, factor: float, text: str, column: str = "bare") -> Goal:
        """Ours' median is within ``factor`` times ``column``'s: at most that for a
        ``"lower"`` row, at least that for a ``"higher"`` one."""

        def check(medians: Mapping[str, float]) -> bool | None:
            if "ours" not in medians or column not in medians:
                return None
            bound = factor * medians[column]
            return medians["ours"] <= bound if better == "lower" else medians["ours"] >= bound

        return cls(text, check)

    @classmethod
    def both(cls, first: Goal, second: Goal) -> Goal:
        """Both goals; undecided when either is."""

        def check(medians: Mapping[str, float]) -> bool | None:
            a, b = first.check(medians), second.check(medians)
            return None if a is None or b is None else a and b

        return cls(f"{first.text} and {second.text}", check)


@dataclass(frozen=True)
class Metric:
    """One row of the table: a value every runner of the workload returns under ``key``."""

    key: str
    label: str
    unit: str
    better: Better
    goal: Goal | None = None
    digits: int = 0
    """Decimals shown in the table."""
    chart: bool = False
    """Whether the ratios of this row go into ``ratios.png``."""
    ratios: bool = True
    """False where a ratio would compare two readings at the noise floor (idle CPU)."""


@dataclass(frozen=True)
class Workload:
    """One experiment, run once per (repeat, system) in a fresh process."""

    name: str
    family: str
    summary: str
    metrics: tuple[Metric, ...]
    runners: Mapping[str, Runner]
    full_only: bool = False
    """Skipped by ``--quick`` (the 1M-actor memory run)."""
    max_repeats: Sizes | None = None
    """Cap on repeats (full, quick) for workloads whose figure barely varies but whose
    runs cost seconds each (memory, idle)."""
    slow_systems: frozenset[str] = frozenset()
    """Systems whose single run costs many seconds (Pykka starting 10,000 threads): run
    once, in full mode only, so the row still shows them without eating the budget."""
    timeout: float = 60.0
    """Seconds one child process may take before it is killed and marked failed."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        unknown = set(self.runners) - set(COLUMNS)
        if unknown:
            raise ValueError(f"workload `{self.name}`: unknown systems {sorted(unknown)}")


WORKLOADS: dict[str, Workload] = {}
"""Every registered workload by name, in registration (= table) order."""


def register(workload: Workload) -> Workload:
    """Add a workload to the suite; its name must be unique."""
    if workload.name in WORKLOADS:
        raise ValueError(f"workload `{workload.name}` is registered twice")
    WORKLOADS[workload.name] = workload
    return workload
