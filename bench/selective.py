"""Selective receive: find the one matching message behind 1,000 that do not match.

``await mailbox.get(predicate)`` must scan past a backlog it leaves in place, in order.
The mailbox holds 1,000 non-matching messages; each round queues one matching message at
the back and times the ``get`` that finds and removes it, so every get scans the whole
backlog. The bare column here is the naive alternative: a list scanned from the front.
Both are awaited the same way and call the same predicate.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import msgspec

import actors

from .baselines import NaiveMailbox
from .measure import percentiles_us
from .registry import Metric, Runner, Sizes, Workload, register

BACKLOG = 1_000
GETS = Sizes(full=3_000, quick=1_000)
WARMUP_FRACTION = 10


class Noise(msgspec.Struct, frozen=True):
    n: int


class Wanted(msgspec.Struct, frozen=True):
    n: int


def wanted(message: Any) -> bool:
    return isinstance(message, Wanted)


async def _rounds(mailbox: Any, count: int) -> list[int]:
    clock = time.perf_counter_ns
    samples: list[int] = []
    for n in range(count):
        mailbox.put_nowait(Wanted(n))
        start = clock()
        message = await mailbox.get(wanted)
        samples.append(clock() - start)
        if message.n != n:
            raise RuntimeError(f"selective get returned {message!r}, expected Wanted({n})")
    return samples


def _runner(make: type) -> Runner:
    async def main(count: int) -> dict[str, float]:
        mailbox = make()
        for n in range(BACKLOG):
            mailbox.put_nowait(Noise(n))
        await _rounds(mailbox, count // WARMUP_FRACTION)
        return percentiles_us(await _rounds(mailbox, count))

    def run(quick: bool) -> Mapping[str, float]:
        return actors.run(main(GETS.pick(quick)))

    return run


register(
    Workload(
        name="selective_receive",
        family="mailbox",
        summary=f"get(predicate) finds a match behind {BACKLOG:,} non-matching messages",
        metrics=(
            Metric(
                key="p50",
                label=f"selective get behind {BACKLOG:,} (bare = list scan)",
                unit="µs",
                better="lower",
                digits=1,
                chart=True,
            ),
        ),
        runners={"ours": _runner(actors.Mailbox), "bare": _runner(NaiveMailbox)},
    )
)
