"""What a system measures (``system.metrics()``), its health (``system.health()``),
and how both read for Prometheus.

Counting costs the hot path next to nothing: counters are integers the runtime bumps
where it already does the work; latencies are sampled (one ask, and one block of up to
``THROUGHPUT`` messages handled in a row, in ``sample_latency``: see
``LatencyRecorder``); mailbox depths are read only when someone asks for the metrics.

The Prometheus text comes from ``prometheus_client``'s metric families and exposition
code, fed from a snapshot (no prometheus_client registry, counter or lock on our side).
``prometheus_client`` is the ``[prometheus]`` extra, imported when first rendered: it
brings ``http.server``, ``ssl`` and ``threading``, a fifth of the cost of importing
the runtime otherwise.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from ._extras import require

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from ._system import ActorSystem

_clock = time.perf_counter

__all__ = ["Health", "Histogram", "LatencyRecorder", "MetricsCollector", "SystemMetrics"]

LATENCY_BOUNDS: tuple[float, ...] = (
    1e-6, 2.5e-6, 5e-6,
    1e-5, 2.5e-5, 5e-5,
    1e-4, 2.5e-4, 5e-4,
    1e-3, 2.5e-3, 5e-3,
    1e-2, 2.5e-2, 5e-2,
    0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Bucket upper bounds, seconds: 1 µs (an in-process handler) to 10 s (a slow ask)."""


class Histogram(msgspec.Struct, frozen=True):
    """A latency histogram (seconds), Prometheus style: ``counts[i]`` observations
    were at most ``bounds[i]`` and above the bound before; the last count is above
    every bound."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    sum: float

    @property
    def count(self) -> int:
        return sum(self.counts)

    def quantile(self, q: float) -> float:
        """An upper estimate of the ``q`` quantile: the bound of the bucket it falls in
        (``inf`` above the last bound, ``nan`` with no observations)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be within [0, 1], got {q!r}")
        total = self.count
        if not total:
            return float("nan")
        rank, seen = q * total, 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            seen += count
            if seen >= rank and seen:
                return bound
        return float("inf")


class LatencyRecorder:
    """The mutable side of a ``Histogram`` (internal), sampling one operation in
    ``every`` (1: all, 0: none).

    Reading the clock twice and filing the result costs about 0.3 µs, a tenth of an
    in-process ask: so ``start`` reads the clock for one operation in ``every`` only, and
    ``stop`` files that one as ``every`` observations, which keeps counts, sums and
    quantiles right on average.
    """

    __slots__ = ("countdown", "counts", "every", "sum")

    def __init__(self, every: int = 1) -> None:
        if every < 0:
            raise ValueError(
                f"`sample_latency` must be >= 0 (time one in N; 0: never), got {every!r}"
            )
        self.counts = [0] * (len(LATENCY_BOUNDS) + 1)
        self.sum = 0.0
        self.every = every
        self.countdown = every

    def observe(self, seconds: float, times: int = 1) -> None:
        """Record ``times`` observations of ``seconds`` each."""
        self.counts[bisect.bisect_left(LATENCY_BOUNDS, seconds)] += times
        self.sum += seconds * times

    def start(self) -> float:
        """The clock, if this operation is the one in ``every`` to time; else 0.0."""
        countdown = self.countdown - 1
        if countdown:
            self.countdown = countdown  # with every == 0 it never reaches 0 again
            return 0.0
        self.countdown = self.every
        return _clock()

    def stop(self, started: float, operations: int = 1) -> None:
        """``operations`` ended since ``start`` returned ``started``: file each as their
        mean, times ``every`` (nothing if ``started`` is 0.0: not sampled)."""
        if started and operations:
            self.observe((_clock() - started) / operations, operations * self.every)

    def snapshot(self) -> Histogram:
        return Histogram(LATENCY_BOUNDS, tuple(self.counts), self.sum)


class SystemMetrics(msgspec.Struct, frozen=True):
    """A snapshot of an ``ActorSystem``'s counters (``system.metrics()``);
    ``prometheus()`` renders it in the Prometheus text format."""

    system: str
    actors: int
    """Actors alive now."""
    spawned: int
    stopped: int
    failures: int
    """Exceptions raised by actors while starting or handling a message."""
    restarts: int
    """Children restarted by supervisors."""
    dead_letters: int
    messages_handled: int
    """Messages handed to ``receive`` (counted when an actor goes idle or stops)."""
    mailbox_depth: int
    """Messages queued in the mailboxes of all live actors, now."""
    mailbox_depth_max: int
    """The deepest mailbox, now."""
    ask_latency: Histogram
    """Asks made through this system (local and remote), send to answer or error:
    one in ``sample_latency`` timed, counted that many times."""
    handle_latency: Histogram
    """Time in ``receive``: blocks of up to 64 messages an actor handles in a row, one
    block in ``sample_latency`` timed, each message counted as the block's mean (times
    ``sample_latency``)."""
    transport: dict[str, float] = {}
    """The transport's own figures (``NatsTransport``: connections, reconnects...);
    names ending in ``_total`` are counters."""
    unhandled: int = 0
    """Messages actors declined with ``self.unhandled(message)``."""

    def prometheus(self) -> str:
        """This snapshot in the Prometheus text exposition format (version 0.0.4)."""
        exposition = require("prometheus_client.exposition", "prometheus", "Prometheus text")
        text: bytes = exposition.generate_latest(_Families(self))
        return text.decode()


class MetricsCollector:
    """A ``prometheus_client`` collector: ``REGISTRY.register(MetricsCollector(system))``
    has your application's ``/metrics`` include the system's, read at each scrape."""

    def __init__(self, system: ActorSystem) -> None:
        self.system = system

    def collect(self) -> Iterator[Metric]:
        return _families(self.system.metrics())


class Health(msgspec.Struct, frozen=True):
    """``system.health()``: ``live`` while the system runs (restart the process if
    not); ``ready`` when it can also do its work, its transport included (route
    traffic to it only then). ``checks`` says, per part, ``"ok"`` or what is wrong."""

    live: bool
    ready: bool
    checks: dict[str, str]


class _Families:
    """A snapshot posing as a registry for ``generate_latest`` (it only calls
    ``collect``)."""

    def __init__(self, metrics: SystemMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return _families(self.metrics)


_COUNTERS = (
    ("spawned", "actors_spawned", "Actors spawned."),
    ("stopped", "actors_stopped", "Actors stopped."),
    ("failures", "actors_failures", "Exceptions raised by actors (start or message)."),
    ("restarts", "actors_restarts", "Children restarted by supervisors."),
    ("dead_letters", "actors_dead_letters", "Messages that could not be delivered."),
    ("messages_handled", "actors_messages_handled", "Messages handed to receive()."),
    ("unhandled", "actors_unhandled", "Messages actors declined with unhandled()."),
)
_GAUGES = (
    ("actors", "actors_alive", "Actors alive now."),
    ("mailbox_depth", "actors_mailbox_depth", "Messages queued in all mailboxes."),
    ("mailbox_depth_max", "actors_mailbox_depth_max", "Messages queued in the deepest mailbox."),
)
_HISTOGRAMS = (
    ("ask_latency", "actors_ask_duration_seconds", "Ask round trips, send to answer."),
    (
        "handle_latency",
        "actors_handle_duration_seconds",
        "Time in receive() per message (blocks of up to 64 messages timed once).",
    ),
)


def _families(metrics: SystemMetrics) -> Iterator[Metric]:
    core = require("prometheus_client.metrics_core", "prometheus", "Prometheus metrics")
    labels, values = ["system"], [metrics.system]
    for field, name, doc in _COUNTERS:
        counter = core.CounterMetricFamily(name, doc, labels=labels)
        counter.add_metric(values, getattr(metrics, field))
        yield counter
    for field, name, doc in _GAUGES:
        gauge = core.GaugeMetricFamily(name, doc, labels=labels)
        gauge.add_metric(values, getattr(metrics, field))
        yield gauge
    for field, name, doc in _HISTOGRAMS:
        histogram: Histogram = getattr(metrics, field)
        buckets = core.HistogramMetricFamily(name, doc, labels=labels)
        buckets.add_metric(values, _cumulative(histogram), histogram.sum)
        yield buckets
    for key, value in sorted(metrics.transport.items()):
        name = f"actors_transport_{key}"
        doc = f"Transport: {key.replace('_', ' ')}."
        family: Any = (
            core.CounterMetricFamily(name, doc, labels=labels)
            if key.endswith("_total")
            else core.GaugeMetricFamily(name, doc, labels=labels)
        )
        family.add_metric(values, value)
        yield family


def _cumulative(histogram: Histogram) -> list[tuple[str, float]]:
    buckets, seen = [], 0
    for bound, count in zip(histogram.bounds, histogram.counts, strict=False):
        seen += count
        buckets.append((repr(bound), float(seen)))
    buckets.append(("+Inf", float(seen + histogram.counts[-1])))
    return buckets
