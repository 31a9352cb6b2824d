"""Chaos: a supervision tree under random crashes and cancellations.

The tree is a one_for_one supervisor over three workers and a nested rest_for_one
supervisor over three more. A few thousand jobs go to random workers, by ``tell`` or by
``ask``; a job either works, raises, or makes its handler cancel its own task. At the
end every job is reconciled: its handler ran (it is in the ledger) or it is a counted
dead letter, never both, never neither; every ask was answered with a value or an error,
none timed out; and the tree is whole again. The seed is in every assertion message:
``CHAOS_SEED=<seed> pytest tests/supervision/test_chaos.py`` replays a run.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import msgspec
import pytest
from actors.supervision import ChildSpec, Strategy, SupervisorRef, SupervisorSpec

from actors import (
    Actor,
    ActorCrashed,
    ActorRef,
    ActorsError,
    ActorSystem,
    AskTimeout,
    DeadLetter,
)

JOBS = 3000
WEIGHTS = {"work": 88, "crash": 8, "cancel": 4}
SEEDS = [int(os.environ["CHAOS_SEED"])] if "CHAOS_SEED" in os.environ else [1, 20251129]


class Job(msgspec.Struct, frozen=True):
    n: int
    action: str


class Ping(msgspec.Struct, frozen=True):
    pass


class ChaosCrash(Exception):
    pass


class Ledger:
    """Which worker's handler saw each job (shared by every incarnation)."""

    def __init__(self) -> None:
        self.seen: dict[int, str] = {}
        self.duplicates: list[int] = []


class ChaosWorker(Actor):
    def __init__(self, label: str, ledger: Ledger) -> None:
        self.label = label
        self.ledger = ledger

    async def receive(self, message: Any) -> Any:
        match message:
            case Job(n, action):
                if n in self.ledger.seen:
                    self.ledger.duplicates.append(n)
                self.ledger.seen[n] = self.label
                if action == "crash":
                    raise ChaosCrash(f"job {n}")
                if action == "cancel":
                    task = asyncio.current_task()
                    assert task is not None
                    task.cancel()
                    await asyncio.sleep(0)
                return n
            case Ping():
                return self.label
        return None


def chaos_tree(ledger: Ledger) -> SupervisorSpec:
    def child(label: str) -> ChildSpec:
        return ChildSpec(id=label, actor=ChaosWorker, args=[label, ledger])

    many = {"max_restarts": 100_000, "within": 60.0}
    inner = SupervisorSpec(
        strategy=Strategy.REST_FOR_ONE, children=[child("r1"), child("r2"), child("r3")], **many
    )
    return SupervisorSpec(
        strategy=Strategy.ONE_FOR_ONE,
        children=[child("w1"), child("w2"), child("w3"), ChildSpec(id="inner", actor=inner)],
        **many,
    )


async def refs_of(sup: SupervisorRef) -> dict[str, ActorRef]:
    refs = {}
    for info in await sup.which_children():
        assert info.ref is not None
        refs[info.id] = info.ref
    return refs


@pytest.mark.parametrize("seed", SEEDS)
async def test_chaos_random_crashes_and_cancellations_every_job_reconciled(seed: int) -> None:
    rng = random.Random(seed)
    ledger = Ledger()
    dead: dict[int, str] = {}  # job -> dead letter reason
    dead_events: list[DeadLetter] = []

    def on_event(event: Any) -> None:
        if isinstance(event, DeadLetter):
            dead_events.append(event)
            if isinstance(event.message, Job):
                dead[event.message.n] = event.reason

    async with ActorSystem("chaos") as system:
        top = await system.spawn_tree(chaos_tree(ledger))
        assert isinstance(top, SupervisorRef)
        refs = await refs_of(top)
        inner = refs.pop("inner")
        assert isinstance(inner, SupervisorRef)
        refs.update(await refs_of(inner))
        labels = sorted(refs)
        system._listeners.append(on_event)
        dead_letters_before = system.metrics().dead_letters

        actions: dict[int, str] = {}
        asked: dict[int, asyncio.Future[Any]] = {}
        for n in range(JOBS):
            label = rng.choice(labels)
            action = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
            actions[n] = action
            if rng.random() < 0.5:
                refs[label].tell(Job(n, action))
            else:
                asked[n] = asyncio.ensure_future(refs[label].ask(Job(n, action), timeout=2.0))
            if rng.random() < 0.3:
                await asyncio.sleep(0)

        outcomes = dict(
            zip(asked, await asyncio.gather(*asked.values(), return_exceptions=True), strict=True)
        )
        # A last question to every worker: answered once everything queued before it
        # (in the kept mailbox, across restarts) has been handled.
        finals = await asyncio.gather(
            *(refs[label].ask(Ping(), timeout=2.0) for label in labels), return_exceptions=True
        )
        statuses = {i.id: i.status for i in await top.which_children()}
        statuses.update({i.id: i.status for i in await inner.which_children()})
        dead_letters = system.metrics().dead_letters - dead_letters_before
        system._listeners.remove(on_event)

    about = f"seed={seed}"
    problems = []
    timed_out = sorted(n for n, out in outcomes.items() if isinstance(out, AskTimeout))
    if timed_out:
        examples = [(n, actions[n], ledger.seen.get(n)) for n in timed_out[:5]]
        problems.append(f"{len(timed_out)} asks got no answer at all, e.g. {examples}")
    if finals != labels:
        problems.append(f"final pings answered {finals}")
    if set(statuses.values()) != {"running"}:
        problems.append(f"tree not whole again: {statuses}")
    if ledger.duplicates:
        problems.append(f"jobs handled twice: {ledger.duplicates[:10]}")
    both = sorted(set(ledger.seen) & set(dead))
    if both:
        problems.append(f"jobs handled and dead-lettered: {both[:10]}")
    lost = sorted(set(range(JOBS)) - set(ledger.seen) - set(dead))
    if lost:
        problems.append(f"{len(lost)} jobs neither handled nor dead letters: {lost[:10]}")
    if dead_letters != len(dead_events):
        problems.append(f"{dead_letters} dead letters counted, {len(dead_events)} published")
    for n, outcome in sorted(outcomes.items()):
        if isinstance(outcome, AskTimeout):
            continue
        if n in dead:
            ok = isinstance(outcome, ActorsError)
        elif actions[n] == "work":
            ok = outcome == n
        elif actions[n] == "crash":
            ok = isinstance(outcome, ActorCrashed) and isinstance(outcome.__cause__, ChaosCrash)
        else:
            ok = isinstance(outcome, ActorsError)
        if not ok:
            problems.append(f"job {n} ({actions[n]}) answered {outcome!r}")
    # The traffic really was chaotic.
    kinds = {action: sum(1 for a in actions.values() if a == action) for action in WEIGHTS}
    if kinds["crash"] < 100 or kinds["cancel"] < 50:
        problems.append(f"too little chaos: {kinds}")
    assert not problems, f"{about} ({len(dead)} jobs dead-lettered):\n" + "\n".join(problems[:20])
