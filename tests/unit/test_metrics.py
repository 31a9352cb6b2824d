"""Metrics beyond the counters: restarts, mailbox depths, latency histograms, the
Prometheus text and collector, and the health checks."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import msgspec
import pytest
from actors.supervision import ChildSpec, SupervisorSpec
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from actors import Actor, ActorCrashed, ActorSystem, AskTimeout, Histogram, MetricsCollector
from actors._metrics import LATENCY_BOUNDS, LatencyRecorder


class Work(msgspec.Struct):
    fail: bool = False


class Block(msgspec.Struct):
    """Held until ``release`` is set."""


class Busy(Actor):
    def __init__(self, release: asyncio.Event | None = None) -> None:
        self.release = release

    async def receive(self, message: Any) -> Any:
        match message:
            case Block():
                assert self.release is not None
                await self.release.wait()
            case Work(fail=True):
                raise RuntimeError("failing on purpose")
        return "done"


# ---------------------------------------------------------------------- histograms


def test_an_observation_lands_in_the_first_bucket_whose_bound_it_does_not_exceed() -> None:
    recorder = LatencyRecorder()
    recorder.observe(1e-6)  # exactly a bound: that bucket (Prometheus' `le`)
    recorder.observe(1.1e-6)
    recorder.observe(60.0)  # beyond every bound
    recorder.observe(3e-4, times=3)
    histogram = recorder.snapshot()
    assert histogram.counts[0] == 1
    assert histogram.counts[1] == 1
    assert histogram.counts[LATENCY_BOUNDS.index(5e-4)] == 3
    assert histogram.counts[-1] == 1
    assert histogram.count == 6
    assert histogram.sum == pytest.approx(1e-6 + 1.1e-6 + 60.0 + 9e-4)


def test_quantiles_are_the_bound_of_the_bucket_they_fall_in() -> None:
    recorder = LatencyRecorder()
    for _ in range(90):
        recorder.observe(4e-6)
    for _ in range(10):
        recorder.observe(0.2)
    histogram = recorder.snapshot()
    assert histogram.quantile(0.5) == 5e-6
    assert histogram.quantile(0.9) == 5e-6
    assert histogram.quantile(0.95) == 0.25
    assert histogram.quantile(1.0) == 0.25
    assert math.isnan(LatencyRecorder().snapshot().quantile(0.5))
    with pytest.raises(ValueError, match="within \\[0, 1\\]"):
        histogram.quantile(1.5)


@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=50))
def test_a_quantile_is_never_below_the_true_value(values: list[float]) -> None:
    recorder = LatencyRecorder()
    for value in values:
        recorder.observe(value)
    histogram = recorder.snapshot()
    assert histogram.count == len(values)
    if values:
        ordered = sorted(values)
        assert histogram.quantile(0.5) >= ordered[math.ceil(0.5 * len(values)) - 1]
        assert histogram.quantile(1.0) >= ordered[-1]


# ---------------------------------------------------------------------- the system's


async def test_handle_latency_counts_every_handled_message() -> None:
    async with ActorSystem("m", sample_latency=1) as system:
        refs = [await system.spawn(Busy) for _ in range(3)]
        for i in range(500):
            refs[i % 3].tell(Work(fail=i == 250))  # one crash: that actor stops
        for ref in refs:
            if ref.is_alive():
                await ref.ask(Work())
        await asyncio.gather(*(system.stop(ref) for ref in refs))
        metrics = system.metrics()
    assert metrics.handle_latency.count == metrics.messages_handled > 0
    assert metrics.handle_latency.sum > 0


async def test_ask_latency_counts_every_ask_answered_or_not() -> None:
    async with ActorSystem("m", sample_latency=1) as system:
        release = asyncio.Event()
        ref = await system.spawn(Busy, release)
        for _ in range(5):
            assert await ref.ask(Work()) == "done"
        with pytest.raises(ActorCrashed):
            await ref.ask(Work(fail=True))
        ref = await system.spawn(Busy, release)
        with pytest.raises(AskTimeout):
            await ref.ask(Block(), timeout=0.05)
        release.set()
        histogram = system.metrics().ask_latency
    assert histogram.count == 7
    assert histogram.quantile(1.0) >= 0.05  # the one that timed out


@pytest.mark.parametrize("every", [4, 16])
async def test_sampled_latency_times_one_in_n_and_counts_it_n_times(every: int) -> None:
    async with ActorSystem("m", sample_latency=every) as system:
        ref = await system.spawn(Busy)
        for _ in range(10 * every + 1):
            await ref.ask(Work())
        metrics = system.metrics()
    assert metrics.ask_latency.count == 10 * every
    assert all(count % every == 0 for count in metrics.ask_latency.counts)
    assert metrics.handle_latency.count % every == 0
    assert metrics.handle_latency.count > 0


async def test_sampling_zero_times_nothing() -> None:
    async with ActorSystem("m", sample_latency=0) as system:
        ref = await system.spawn(Busy)
        for _ in range(100):
            await ref.ask(Work())
        metrics = system.metrics()
    assert metrics.ask_latency.count == metrics.handle_latency.count == 0
    assert metrics.messages_handled >= 100


def test_a_negative_sampling_is_refused() -> None:
    with pytest.raises(ValueError, match="`sample_latency` must be >= 0"):
        ActorSystem("m", sample_latency=-1)


async def test_restarts_are_counted() -> None:
    async with ActorSystem("m") as system:
        tree = SupervisorSpec(children=[ChildSpec(id="w", actor=Busy)], max_restarts=10)
        sup = await system.spawn_tree(tree)
        (child,) = [info.ref for info in await sup.which_children()]
        for _ in range(3):
            with pytest.raises(ActorCrashed):
                await child.ask(Work(fail=True))
        assert await child.ask(Work()) == "done"  # restarted (the third time) by now
        assert system.metrics().restarts == 3


async def test_mailbox_depth_counts_queued_messages_in_every_actor_supervised_ones_too() -> None:
    async with ActorSystem("m") as system:
        release = asyncio.Event()
        top = await system.spawn(Busy, release)
        tree = SupervisorSpec(children=[ChildSpec(id="w", actor=Busy, args=[release])])
        sup = await system.spawn_tree(tree)
        (child,) = [info.ref for info in await sup.which_children()]
        assert system.metrics().mailbox_depth == 0
        for ref, queued in ((top, 5), (child, 2)):
            ref.tell(Block())
            for _ in range(queued):
                ref.tell(Work())
        await asyncio.sleep(0)  # both start handling their Block (a drain task each)
        metrics = system.metrics()
        assert (metrics.mailbox_depth, metrics.mailbox_depth_max) == (7, 5)
        release.set()
        await top.ask(Work())
        await child.ask(Work())
        assert system.metrics().mailbox_depth == 0


# ---------------------------------------------------------------------- Prometheus


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_prometheus_text_carries_every_figure() -> None:
    async with ActorSystem("shop", sample_latency=1) as system:
        ref = await system.spawn(Busy)
        for _ in range(3):
            await ref.ask(Work())
        await system.stop(ref)
        metrics = system.metrics()
        samples = _samples(metrics.prometheus())
    shop = (("system", "shop"),)
    assert samples[("actors_alive", shop)] == metrics.actors
    assert samples[("actors_spawned_total", shop)] == metrics.spawned
    assert samples[("actors_messages_handled_total", shop)] == 3
    assert samples[("actors_mailbox_depth", shop)] == 0
    assert samples[("actors_ask_duration_seconds_count", shop)] == 3
    assert samples[("actors_ask_duration_seconds_bucket", (("le", "+Inf"), *shop))] == 3
    assert samples[("actors_handle_duration_seconds_count", shop)] == 3
    buckets = [
        samples[("actors_ask_duration_seconds_bucket", (("le", repr(bound)), *shop))]
        for bound in LATENCY_BOUNDS
    ]
    assert buckets == sorted(buckets)  # cumulative


async def test_the_collector_plugs_into_a_prometheus_client_registry() -> None:
    async with ActorSystem("shop") as system:
        registry = CollectorRegistry()
        registry.register(MetricsCollector(system))
        await system.spawn(Busy)
        samples = _samples(generate_latest(registry).decode())
        assert samples[("actors_alive", (("system", "shop"),))] == system.metrics().actors


def test_a_histogram_is_a_plain_struct() -> None:
    histogram = LatencyRecorder().snapshot()
    assert msgspec.json.decode(msgspec.json.encode(histogram), type=Histogram) == histogram


# ---------------------------------------------------------------------- health


async def test_health_follows_the_life_of_the_system() -> None:
    system = ActorSystem("h")
    before = system.health()
    assert (before.live, before.ready, before.checks) == (False, False, {"system": "unopened"})
    async with system:
        during = system.health()
        assert (during.live, during.ready, during.checks) == (True, True, {"system": "ok"})
    after = system.health()
    assert (after.live, after.ready, after.checks) == (False, False, {"system": "closed"})
