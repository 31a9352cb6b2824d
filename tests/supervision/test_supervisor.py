"""The ``Supervisor`` actor (``supervision/_supervisor.py``): OTP's ``supervisor``
semantics, ported case by case from ``lib/stdlib/test/supervisor_SUITE.erl``.

Children are ``conftest.Worker``s; what they did is read from the shared ``Journal``
(``started``/``stopped`` entries, in order). A crash is ``ask(Crash())`` failing with
``ActorCrashed``: by the time the asker resumes, the exit is queued at the supervisor, so
the next request to the supervisor (``which_children``...) sees its consequences. A
restarted child is waited for by asking it: the question waits in the kept mailbox until
the new incarnation answers. Nothing sleeps in a loop; the few timed waits are the
subject of their test (spaced crashes, backoff) and are checked loosely.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from actors.supervision import (
    BRUTAL_KILL,
    AutoShutdown,
    Backoff,
    ChildCounts,
    ChildError,
    ChildSpec,
    ChildStartError,
    ChildType,
    Restart,
    RestartIntensityExceeded,
    SpecError,
    Strategy,
    SupervisorRef,
    SupervisorSpec,
)

from actors import ActorCrashed, ActorNotFound, ActorRef, ActorsError, ActorSystem, AskTimeout
from tests.supervision.support import (
    Boom,
    CancelSelf,
    Crash,
    Gate,
    GetArgs,
    Hang,
    Journal,
    Ping,
    Record,
    StopNormally,
    Worker,
    child_ref,
    restarted,
    until_system_fails,
    watch,
    worker,
)

ONE_FOR_ONE = Strategy.ONE_FOR_ONE
ONE_FOR_ALL = Strategy.ONE_FOR_ALL
REST_FOR_ONE = Strategy.REST_FOR_ONE
SIMPLE = Strategy.SIMPLE_ONE_FOR_ONE
GROUP_STRATEGIES = [ONE_FOR_ONE, ONE_FOR_ALL, REST_FOR_ONE]


def tree(strategy: Strategy, *children: ChildSpec, **options: Any) -> SupervisorSpec:
    return SupervisorSpec(strategy=strategy, children=list(children), **options)


async def crash(ref: ActorRef, text: str = "boom") -> None:
    """Make ``ref`` crash while handling an ask (the ask fails with ActorCrashed)."""
    with pytest.raises(ActorCrashed, match=text):
        await ref.ask(Crash(text), timeout=2.0)


async def exit_child(system: ActorSystem, ref: ActorRef, how: str) -> None:
    """End the current incarnation of a child: by itself normally, by a shutdown from
    outside, or by a crash."""
    if how == "normal":
        await ref.ask(StopNormally(), timeout=2.0)
    elif how == "shutdown":
        await system.stop(ref)
    else:
        await crash(ref)


async def child_statuses(sup: SupervisorRef) -> list[tuple[str, str]]:
    """``(id, status)`` of every child, in start order."""
    return [(info.id, info.status) for info in await sup.which_children()]


# ====================================================================== restart types x exits
# OTP: {permanent,transient,temporary}_{normal,shutdown,abnormal}.

MATRIX = [
    (Restart.PERMANENT, "normal", "restarted"),
    (Restart.PERMANENT, "shutdown", "restarted"),
    (Restart.PERMANENT, "crash", "restarted"),
    (Restart.TRANSIENT, "normal", "kept"),
    (Restart.TRANSIENT, "shutdown", "kept"),
    (Restart.TRANSIENT, "crash", "restarted"),
    (Restart.TEMPORARY, "normal", "forgotten"),
    (Restart.TEMPORARY, "shutdown", "forgotten"),
    (Restart.TEMPORARY, "crash", "forgotten"),
]


@pytest.mark.parametrize(
    ("restart", "how", "outcome"),
    MATRIX,
    ids=[f"{restart.value}-{how}-{outcome}" for restart, how, outcome in MATRIX],
)
async def test_child_exit_restart_type_and_exit_kind_decide_restart(
    journal: Journal, restart: Restart, how: str, outcome: str
) -> None:
    async with ActorSystem("matrix") as system:
        sup = await system.spawn_tree(
            tree(ONE_FOR_ONE, worker("c1", journal, restart=restart), max_restarts=2, within=60)
        )
        ref = await child_ref(sup, "c1")
        await exit_child(system, ref, how)
        infos = await sup.which_children()
        counts = await sup.count_children()
        if outcome == "restarted":
            assert [(i.id, i.ref, i.status) for i in infos] == [("c1", ref, "running")]
            assert counts == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
            assert await ref.ask(Ping()) == ("c1", 2)
            assert journal.count("started", "c1") == 2
        elif outcome == "kept":
            assert [(i.id, i.ref, i.status) for i in infos] == [("c1", None, "terminated")]
            assert counts == ChildCounts(specs=1, active=0, supervisors=0, workers=1)
            assert not ref.is_alive()
            assert journal.count("started", "c1") == 1
        else:
            assert infos == []
            assert counts == ChildCounts(specs=0, active=0, supervisors=0, workers=0)
            assert not ref.is_alive()
            assert journal.count("started", "c1") == 1


async def test_child_handler_cancelled_treated_as_crash_and_restarted(journal: Journal) -> None:
    # A handler whose task is cancelled ends its incarnation abnormally (OTP: exit
    # reason `killed` is abnormal, so a permanent child is restarted); the asker gets an
    # error at once instead of waiting for its timeout, and the ref keeps working.
    async with ActorSystem("cancel") as system:
        sup = await system.spawn_tree(
            tree(ONE_FOR_ONE, worker("c1", journal), max_restarts=2, within=60)
        )
        ref = await child_ref(sup, "c1")
        with pytest.raises(ActorsError) as error:
            await ref.ask(CancelSelf(), timeout=1.0)
        assert not isinstance(error.value, AskTimeout)
        assert await child_statuses(sup) == [("c1", "running")]
        assert await ref.ask(Ping(), timeout=1.0) == ("c1", 2)


async def test_transient_child_after_normal_exit_restartable_by_restart_child(
    journal: Journal,
) -> None:
    # OTP transient_shutdown: the spec is kept, restart_child starts it again.
    async with ActorSystem("matrix") as system:
        sup = await system.spawn_tree(
            tree(ONE_FOR_ONE, worker("c1", journal, restart=Restart.TRANSIENT))
        )
        await exit_child(system, await child_ref(sup, "c1"), "shutdown")
        ref = await sup.restart_child("c1")
        assert await ref.ask(Ping()) == ("c1", 2)
        assert await child_statuses(sup) == [("c1", "running")]


async def test_temporary_child_after_exit_start_child_accepts_same_id_again(
    journal: Journal,
) -> None:
    # OTP do_not_save_child_specs_for_temporary_children.
    async with ActorSystem("matrix") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE))
        spec = worker("c3", journal, restart=Restart.TEMPORARY)
        for how in ("normal", "crash", "shutdown"):
            ref = await sup.start_child(spec)
            await exit_child(system, ref, how)
            assert await sup.which_children() == []
        ref = await sup.start_child(spec)
        await sup.terminate_child("c3")
        assert await sup.which_children() == []


async def test_transient_child_after_normal_exit_start_child_already_present(
    journal: Journal,
) -> None:
    # OTP transient_child_spec_saved(normal): {error, already_present}, then restart_child.
    async with ActorSystem("matrix") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE))
        spec = worker("c2", journal, restart=Restart.TRANSIENT)
        await exit_child(system, await sup.start_child(spec), "normal")
        with pytest.raises(ChildError) as error:
            await sup.start_child(spec)
        assert error.value.reason == "already_present"
        await sup.restart_child("c2")
        assert await child_statuses(sup) == [("c2", "running")]


async def test_permanent_child_after_crash_start_child_already_started(
    journal: Journal,
) -> None:
    # OTP permanent_child_spec_saved: restarted by the supervisor, so already_started.
    async with ActorSystem("matrix") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE))
        spec = worker("c1", journal)
        await crash(await sup.start_child(spec))
        with pytest.raises(ChildError) as error:
            await sup.start_child(spec)
        assert error.value.reason == "already_started"


# ====================================================================== strategies: basic


async def test_one_for_one_crashed_child_restarted_alone(journal: Journal) -> None:
    # OTP one_for_one.
    async with ActorSystem("ofo") as system:
        sup = await system.spawn_tree(
            tree(
                ONE_FOR_ONE,
                worker("c1", journal),
                worker("c2", journal),
                worker("c3", journal),
                max_restarts=2,
                within=60,
            )
        )
        c1, c2, c3 = [await child_ref(sup, c) for c in ("c1", "c2", "c3")]
        journal.clear()
        await crash(c2)
        assert await child_statuses(sup) == [
            ("c1", "running"),
            ("c2", "running"),
            ("c3", "running"),
        ]
        assert journal.entries == [("stopped", "c2"), ("started", "c2")]
        assert [await ref.ask(Ping()) for ref in (c1, c2, c3)] == [
            ("c1", 1),
            ("c2", 2),
            ("c3", 1),
        ]
        assert await sup.count_children() == ChildCounts(3, 3, 0, 3)


async def test_one_for_all_crashed_child_restarts_all_in_start_order(journal: Journal) -> None:
    # OTP one_for_all: the others are stopped (newest first), then all start in order.
    async with ActorSystem("ofa") as system:
        sup = await system.spawn_tree(
            tree(
                ONE_FOR_ALL,
                worker("c1", journal),
                worker("c2", journal),
                worker("c3", journal),
                max_restarts=2,
                within=60,
            )
        )
        c1, c2, c3 = [await child_ref(sup, c) for c in ("c1", "c2", "c3")]
        journal.clear()
        await crash(c2)
        assert await child_statuses(sup) == [
            ("c1", "running"),
            ("c2", "running"),
            ("c3", "running"),
        ]
        assert journal.entries == [
            ("stopped", "c2"),
            ("stopped", "c3"),
            ("stopped", "c1"),
            ("started", "c1"),
            ("started", "c2"),
            ("started", "c3"),
        ]
        assert [await ref.ask(Ping()) for ref in (c1, c2, c3)] == [
            ("c1", 2),
            ("c2", 2),
            ("c3", 2),
        ]


async def test_rest_for_one_crashed_child_restarts_it_and_later_children(
    journal: Journal,
) -> None:
    # OTP rest_for_one: children started before the failed one are untouched.
    async with ActorSystem("rfo") as system:
        sup = await system.spawn_tree(
            tree(
                REST_FOR_ONE,
                worker("c1", journal),
                worker("c2", journal),
                worker("c3", journal),
                max_restarts=2,
                within=60,
            )
        )
        c1, c2, c3 = [await child_ref(sup, c) for c in ("c1", "c2", "c3")]
        journal.clear()
        await crash(c2)
        assert await child_statuses(sup) == [
            ("c1", "running"),
            ("c2", "running"),
            ("c3", "running"),
        ]
        assert journal.entries == [
            ("stopped", "c2"),
            ("stopped", "c3"),
            ("started", "c2"),
            ("started", "c3"),
        ]
        assert [await ref.ask(Ping()) for ref in (c1, c2, c3)] == [
            ("c1", 1),
            ("c2", 2),
            ("c3", 2),
        ]


@pytest.mark.parametrize("strategy", [ONE_FOR_ALL, REST_FOR_ONE])
async def test_group_restart_temporary_sibling_terminated_not_restarted(
    journal: Journal, strategy: Strategy
) -> None:
    # OTP temporary_bystander: a temporary child stopped by a group restart is gone for
    # good, and the supervisor does not die trying to restart it.
    async with ActorSystem("bystander") as system:
        sup = await system.spawn_tree(
            tree(
                strategy,
                worker("c1", journal),
                worker("c2", journal, restart=Restart.TEMPORARY),
                max_restarts=2,
                within=60,
            )
        )
        c2 = await child_ref(sup, "c2")
        await exit_child(system, await child_ref(sup, "c1"), "normal")
        assert await child_statuses(sup) == [("c1", "running")]
        assert not c2.is_alive()
        assert journal.count("started", "c2") == 1


async def test_group_restart_group_counts_as_one_restart(journal: Journal) -> None:
    # max_restarts=1: restarting three children at once is one restart, not three.
    async with ActorSystem("ofa") as system:
        sup = await system.spawn_tree(
            tree(
                ONE_FOR_ALL,
                worker("c1", journal),
                worker("c2", journal),
                worker("c3", journal),
                max_restarts=1,
                within=60,
            )
        )
        await crash(await child_ref(sup, "c1"))
        assert await child_statuses(sup) == [
            ("c1", "running"),
            ("c2", "running"),
            ("c3", "running"),
        ]


async def test_one_for_one_restarts_of_different_children_share_intensity(
    journal: Journal,
) -> None:
    # OTP one_for_one, "restart frequency property": the third restart within the
    # period (max 2) makes the supervisor give up, whichever child needed it.
    with pytest.raises(RestartIntensityExceeded, match=r"more than 2 restart\(s\) within 60"):
        async with ActorSystem("ofo") as system:
            sup = await system.spawn_tree(
                tree(
                    ONE_FOR_ONE,
                    worker("c1", journal),
                    worker("c2", journal),
                    max_restarts=2,
                    within=60,
                )
            )
            c1, c2 = await child_ref(sup, "c1"), await child_ref(sup, "c2")
            await crash(c1)
            await crash(c2)
            assert await child_statuses(sup) == [("c1", "running"), ("c2", "running")]
            await crash(c1)
            await until_system_fails()
    assert not sup.is_alive()


# ====================================================================== escalation


@pytest.mark.parametrize("strategy", GROUP_STRATEGIES, ids=lambda s: s.value)
async def test_escalation_stops_children_newest_first_and_fails_system(
    journal: Journal, logs: list[dict[str, Any]], strategy: Strategy
) -> None:
    with pytest.raises(
        RestartIntensityExceeded,
        match=r"^supervisor `esc/top` gave up: more than 0 restart\(s\) within 5.0 s "
        r"\(last: child `c2`\)$",
    ):
        async with ActorSystem("esc") as system:
            sup = await system.spawn_tree(
                tree(
                    strategy,
                    worker("c1", journal),
                    worker("c2", journal),
                    worker("c3", journal),
                    max_restarts=0,
                    name="top",
                )
            )
            journal.clear()
            await crash(await child_ref(sup, "c2"))
            await until_system_fails()
    assert journal.entries == [("stopped", "c2"), ("stopped", "c3"), ("stopped", "c1")]
    assert not sup.is_alive()
    assert [
        (entry["supervisor"], entry["child"], entry["log_level"])
        for entry in logs
        if entry["event"] == "restart intensity exceeded"
    ] == [("esc/top", "c2", "error")]


ESCALATION = [
    # (strategy, child whose restarts fail, starts of c1 in all)
    (ONE_FOR_ONE, "c1", 1),
    (ONE_FOR_ALL, "c2", 5),
    (REST_FOR_ONE, "c2", 2),
]


@pytest.mark.parametrize(
    ("strategy", "failing", "c1_starts"), ESCALATION, ids=[s.value for s, _, _ in ESCALATION]
)
async def test_escalation_restart_that_keeps_failing_exhausts_intensity(
    journal: Journal, strategy: Strategy, failing: str, c1_starts: int
) -> None:
    # OTP {one_for_one,one_for_all,rest_for_one}_escalation: intensity 4, a child whose
    # start fails from now on; c1 crashes. Each failed attempt counts: after 4 failed
    # restarts the 5th exceeds the intensity and the supervisor gives up.
    gate = Gate()
    with pytest.raises(RestartIntensityExceeded, match=r"more than 4 restart\(s\)"):
        async with ActorSystem("esc") as system:
            sup = await system.spawn_tree(
                tree(
                    strategy,
                    worker("c1", journal, gate=gate if failing == "c1" else None),
                    worker("c2", journal, gate=gate if failing == "c2" else None),
                    max_restarts=4,
                    within=60,
                )
            )
            gate.fail()
            await crash(await child_ref(sup, "c1"))
            await until_system_fails()
    assert journal.count("start_failed", failing) == 4
    assert journal.count("started", "c1") == c1_starts
    # Every incarnation that started has stopped: nothing outlives the supervisor.
    for label in ("c1", "c2"):
        assert journal.count("started", label) == journal.count("stopped", label)
    assert not sup.is_alive()


@pytest.mark.parametrize("strategy", GROUP_STRATEGIES, ids=lambda s: s.value)
async def test_escalation_nested_supervisor_restarted_by_parent(
    journal: Journal, strategy: Strategy
) -> None:
    # The inner supervisor gives up; its parent sees a child failure and restarts it
    # (permanent), which starts its children again from its spec.
    async with ActorSystem("nest") as system:
        inner = tree(strategy, worker("c1", journal), worker("c2", journal), max_restarts=0)
        outer = await system.spawn_tree(
            tree(ONE_FOR_ONE, ChildSpec(id="inner", actor=inner), max_restarts=1, within=60)
        )
        inner_ref = await child_ref(outer, "inner")
        assert isinstance(inner_ref, SupervisorRef)
        journal.clear()
        await crash(await child_ref(inner_ref, "c1"))
        # Queued in the inner supervisor's kept mailbox: answered by its next incarnation.
        assert await child_statuses(inner_ref) == [("c1", "running"), ("c2", "running")]
        assert journal.entries == [
            ("stopped", "c1"),
            ("stopped", "c2"),
            ("started", "c1"),
            ("started", "c2"),
        ]
        assert await child_statuses(outer) == [("inner", "running")]


async def test_escalation_nested_supervisor_exhausting_parent_fails_system(
    journal: Journal,
) -> None:
    with pytest.raises(RestartIntensityExceeded, match=r"^supervisor `nest/outer` gave up"):
        async with ActorSystem("nest") as system:
            inner = tree(ONE_FOR_ONE, worker("c1", journal), max_restarts=0)
            outer = await system.spawn_tree(
                tree(ONE_FOR_ONE, ChildSpec(id="inner", actor=inner), name="outer")
            )
            inner_ref = await child_ref(outer, "inner")
            assert isinstance(inner_ref, SupervisorRef)
            await crash(await child_ref(inner_ref, "c1"))
            await crash(await child_ref(inner_ref, "c1"))
            await until_system_fails()
    assert journal.count("started", "c1") == journal.count("stopped", "c1") == 2


# ====================================================================== other child fails restart

OTHER_CHILD = {
    # OTP one_for_all_other_child_fails_restart: the restarted c1 is terminated again
    # and the whole group restarted once c2 can start.
    ONE_FOR_ALL: [
        ("stopped", "c1"),
        ("stopped", "c2"),
        ("started", "c1"),
        ("start_failed", "c2"),
        ("stopped", "c1"),
        ("started", "c1"),
        ("started", "c2"),
    ],
    # OTP rest_for_one_other_child_fails_restart: the retry starts from c2; c1, which
    # started fine, is not restarted again.
    REST_FOR_ONE: [
        ("stopped", "c1"),
        ("stopped", "c2"),
        ("started", "c1"),
        ("start_failed", "c2"),
        ("started", "c2"),
    ],
}


@pytest.mark.parametrize("strategy", [ONE_FOR_ALL, REST_FOR_ONE], ids=lambda s: s.value)
async def test_other_child_fails_restart_retried_until_group_runs(
    journal: Journal, strategy: Strategy
) -> None:
    gate = Gate()
    async with ActorSystem("other") as system:
        sup = await system.spawn_tree(
            tree(
                strategy,
                worker("c1", journal),
                worker("c2", journal, gate=gate),
                max_restarts=3,
                within=60,
            )
        )
        c1, c2 = await child_ref(sup, "c1"), await child_ref(sup, "c2")
        journal.clear()
        gate.fail(1)
        await crash(c1)
        assert await c2.ask(Ping()) == ("c2", 3)  # the third Worker made for c2
        assert await child_statuses(sup) == [("c1", "running"), ("c2", "running")]
        assert journal.entries == OTHER_CHILD[strategy]


@pytest.mark.parametrize("strategy", [ONE_FOR_ALL, REST_FOR_ONE], ids=lambda s: s.value)
async def test_other_child_fails_restart_retry_counts_against_intensity(
    journal: Journal, strategy: Strategy
) -> None:
    # One restart for the crash, one for the retry: over max_restarts=1.
    gate = Gate()
    with pytest.raises(RestartIntensityExceeded, match=r"more than 1 restart\(s\)"):
        async with ActorSystem("other") as system:
            sup = await system.spawn_tree(
                tree(
                    strategy,
                    worker("c1", journal),
                    worker("c2", journal, gate=gate),
                    max_restarts=1,
                    within=60,
                )
            )
            gate.fail(1)
            await crash(await child_ref(sup, "c1"))
            await until_system_fails()
    assert journal.count("start_failed", "c2") == 1


# ====================================================================== intensity in time


async def test_spaced_crashes_further_apart_than_within_never_escalate(
    journal: Journal,
) -> None:
    # OTP multiple_restarts: intensity 1, crashes spaced by more than the period.
    within = 0.05
    async with ActorSystem("spaced") as system:
        sup = await system.spawn_tree(
            tree(ONE_FOR_ONE, worker("c1", journal), max_restarts=1, within=within)
        )
        ref = await child_ref(sup, "c1")
        for n in range(2, 6):
            await crash(ref)
            assert await ref.ask(Ping()) == ("c1", n)
            await asyncio.sleep(within * 3)  # the spacing under test, not a poll
        assert await child_statuses(sup) == [("c1", "running")]
        await sup.terminate_child("c1")
        await sup.delete_child("c1")
        assert await sup.which_children() == []


async def test_failed_restart_attempt_counts_towards_intensity(journal: Journal) -> None:
    # max_restarts=2: crash (restart 1 fails, retry 2 succeeds), crash again (3) -> over.
    # Were failed attempts not counted, the second crash would be only the 2nd restart.
    gate = Gate()
    with pytest.raises(RestartIntensityExceeded, match=r"more than 2 restart\(s\)"):
        async with ActorSystem("failcount") as system:
            sup = await system.spawn_tree(
                tree(ONE_FOR_ONE, worker("c1", journal, gate=gate), max_restarts=2, within=60)
            )
            ref = await child_ref(sup, "c1")
            gate.fail(1)
            await crash(ref)
            assert await ref.ask(Ping()) == ("c1", 3)
            await crash(ref)
            await until_system_fails()
    assert journal.count("start_failed", "c1") == 1


async def test_failing_restart_loop_still_serves_dynamic_api(journal: Journal) -> None:
    # OTP hanging_restart_loop (OTP-9549): while a child's restart keeps failing, the
    # supervisor retries through its mailbox (try_again_restart), so requests already
    # queued are served in between: the child shows as restarting, and terminate_child
    # ends the loop.
    gate = Gate()
    async with ActorSystem("loop") as system:
        sup = await system.spawn_tree(
            tree(ONE_FOR_ONE, worker("c1", journal, gate=gate), max_restarts=1000, within=60)
        )
        gate.fail()
        await crash(await child_ref(sup, "c1"))
        assert await child_statuses(sup) == [("c1", "restarting")]
        assert await sup.count_children() == ChildCounts(1, 0, 0, 1)
        await sup.terminate_child("c1")
        assert await child_statuses(sup) == [("c1", "terminated")]
        gate.open()
        ref = await sup.restart_child("c1")
        assert (await ref.ask(Ping()))[0] == "c1"


# ====================================================================== start and stop order


def nested_tree(journal: Journal) -> SupervisorSpec:
    sub = tree(ONE_FOR_ONE, worker("x", journal), worker("y", journal))
    return tree(
        ONE_FOR_ONE,
        worker("a", journal),
        ChildSpec(id="sub", actor=sub),
        worker("b", journal),
    )


async def test_spawn_tree_starts_in_list_order_system_exit_stops_in_reverse(
    journal: Journal,
) -> None:
    async with ActorSystem("order") as system:
        await system.spawn_tree(nested_tree(journal))
        assert journal.labels("started") == ["a", "x", "y", "b"]
    assert journal.labels("stopped") == ["b", "y", "x", "a"]


async def test_system_stop_supervisor_stops_children_in_reverse(journal: Journal) -> None:
    async with ActorSystem("order") as system:
        sup = await system.spawn_tree(nested_tree(journal))
        reason = await watch(system, sup)
        await system.stop(sup)
        assert journal.labels("stopped") == ["b", "y", "x", "a"]
        assert await asyncio.wait_for(reason, 2.0) == "shutdown"
        assert not sup.is_alive()


async def test_terminate_child_nested_supervisor_stops_its_children_in_reverse(
    journal: Journal,
) -> None:
    async with ActorSystem("order") as system:
        sup = await system.spawn_tree(nested_tree(journal))
        await sup.terminate_child("sub")
        assert journal.labels("stopped") == ["y", "x"]
        assert await child_statuses(sup) == [
            ("a", "running"),
            ("sub", "terminated"),
            ("b", "running"),
        ]
        assert await sup.count_children() == ChildCounts(3, 2, 1, 2)
        await sup.restart_child("sub")
        assert journal.labels("started") == ["a", "x", "y", "b", "x", "y"]


# ====================================================================== failed start


async def test_spawn_tree_child_start_failure_stops_started_in_reverse_names_child(
    journal: Journal,
) -> None:
    gate = Gate()
    gate.fail(1)
    async with ActorSystem("start") as system:
        spec = tree(
            ONE_FOR_ONE,
            worker("a", journal),
            worker("b", journal),
            worker("c", journal, gate=gate),
            worker("d", journal),
            name="top",
        )
        with pytest.raises(
            ChildStartError,
            match=r"^child `c` of `start/top` failed to start: Boom: c refuses to start$",
        ) as error:
            await system.spawn_tree(spec)
        assert error.value.child_id == "c"
        assert isinstance(error.value.__cause__, Boom)
        assert journal.entries == [
            ("started", "a"),
            ("started", "b"),
            ("start_failed", "c"),
            ("stopped", "b"),
            ("stopped", "a"),
        ]
        assert system.whereis("top") is None


async def test_spawn_tree_child_init_error_raises_child_start_error(journal: Journal) -> None:
    async with ActorSystem("start") as system:
        bad = ChildSpec(id="bad", actor=Worker, args=["bad"])  # no journal: __init__ fails
        with pytest.raises(ChildStartError, match=r"^child `bad` of `start/.*TypeError") as error:
            await system.spawn_tree(tree(ONE_FOR_ONE, worker("a", journal), bad))
        assert error.value.child_id == "bad"
        assert isinstance(error.value.__cause__, TypeError)
        assert journal.entries == [("started", "a"), ("stopped", "a")]


async def test_spawn_tree_nested_child_start_failure_names_nested_supervisor(
    journal: Journal,
) -> None:
    gate = Gate()
    gate.fail(1)
    async with ActorSystem("start") as system:
        sub = tree(ONE_FOR_ONE, worker("x", journal), worker("y", journal, gate=gate))
        spec = tree(ONE_FOR_ONE, worker("a", journal), ChildSpec(id="sub", actor=sub))
        with pytest.raises(ChildStartError, match=r"^child `sub` of .* child `y`") as error:
            await system.spawn_tree(spec)
        assert error.value.child_id == "sub"
        cause = error.value.__cause__
        assert isinstance(cause, ChildStartError)
        assert cause.child_id == "y"
        assert journal.entries == [
            ("started", "a"),
            ("started", "x"),
            ("start_failed", "y"),
            ("stopped", "x"),
            ("stopped", "a"),
        ]


async def test_spawn_tree_child_start_failure_releases_child_name(journal: Journal) -> None:
    # The failed child's name must not stay registered, or the tree could never be
    # started again.
    gate = Gate()
    gate.fail(1)
    spec = tree(ONE_FOR_ONE, worker("a", journal), worker("b", journal, gate=gate, name="bee"))
    async with ActorSystem("start") as system:
        with pytest.raises(ChildStartError):
            await system.spawn_tree(spec)
        assert system.whereis("bee") is None
        sup = await system.spawn_tree(spec)
        assert system.whereis("bee") == await child_ref(sup, "b")


async def test_spawn_tree_child_start_failure_leaves_no_actor_counted(
    journal: Journal,
) -> None:
    gate = Gate()
    gate.fail(1)
    async with ActorSystem("start") as system:
        before = system.metrics().actors
        with pytest.raises(ChildStartError):
            await system.spawn_tree(
                tree(ONE_FOR_ONE, worker("a", journal), worker("b", journal, gate=gate))
            )
        assert system.metrics().actors == before


# ====================================================================== dynamic API
# OTP child_adm, extra_return, sup_start_child_returns_error, hanging_restart_loop.


async def test_start_child_new_spec_started_after_static_children(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal)))
        ref = await sup.start_child(worker("c2", journal))
        assert await ref.ask(Ping()) == ("c2", 1)
        assert await child_statuses(sup) == [("c1", "running"), ("c2", "running")]
        infos = await sup.which_children()
        assert infos[1].ref == ref
        assert infos[1].type is ChildType.WORKER
        assert await sup.count_children() == ChildCounts(2, 2, 0, 2)


async def test_start_child_running_id_refused_already_started(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal), name="sup"))
        with pytest.raises(ChildError, match=r"^child `c1` of `adm/sup`: already started$") as e:
            await sup.start_child(worker("c1", journal))
        assert e.value.reason == "already_started"
        assert e.value.actor == "adm/sup"
        assert journal.count("started", "c1") == 1


async def test_start_child_terminated_id_refused_already_present(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal), name="sup"))
        await sup.terminate_child("c1")
        with pytest.raises(ChildError, match=r"^child `c1` of `adm/sup`: already present$") as e:
            await sup.start_child(worker("c1", journal))
        assert e.value.reason == "already_present"


async def test_start_child_start_failure_raises_and_keeps_no_spec(journal: Journal) -> None:
    # OTP sup_start_child_returns_error: the error is returned, the spec is not saved.
    gate = Gate()
    gate.fail(1)
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, name="sup"))
        with pytest.raises(
            ChildStartError, match=r"^child `c1` of `adm/sup` failed to start: Boom"
        ) as error:
            await sup.start_child(worker("c1", journal, gate=gate))
        assert error.value.child_id == "c1"
        assert await sup.which_children() == []
        ref = await sup.start_child(worker("c1", journal, gate=gate))
        assert await ref.ask(Ping()) == ("c1", 2)


async def test_start_child_start_failure_releases_child_name(journal: Journal) -> None:
    gate = Gate()
    gate.fail(1)
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE))
        spec = worker("c1", journal, gate=gate, name="one")
        with pytest.raises(ChildStartError):
            await sup.start_child(spec)
        assert system.whereis("one") is None
        ref = await sup.start_child(spec)
        assert system.whereis("one") == ref


async def test_start_child_nested_supervisor_spec_counted_as_supervisor(
    journal: Journal,
) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal)))
        sub = await sup.start_child(
            ChildSpec(id="sub", actor=tree(ONE_FOR_ONE, worker("x", journal)))
        )
        assert isinstance(sub, SupervisorRef)
        assert await child_statuses(sub) == [("x", "running")]
        assert await sup.count_children() == ChildCounts(2, 2, 1, 1)
        assert [info.type for info in await sup.which_children()] == [
            ChildType.WORKER,
            ChildType.SUPERVISOR,
        ]


async def test_terminate_child_running_child_stopped_spec_kept(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal)))
        ref = await child_ref(sup, "c1")
        reason = await watch(system, ref)
        await sup.terminate_child("c1")
        assert await asyncio.wait_for(reason, 2.0) == "shutdown"
        assert journal.entries == [("started", "c1"), ("stopped", "c1")]
        assert [(i.id, i.ref, i.status) for i in await sup.which_children()] == [
            ("c1", None, "terminated")
        ]
        assert await sup.count_children() == ChildCounts(1, 0, 0, 1)
        with pytest.raises(ActorNotFound):
            await ref.ask(Ping())


async def test_terminate_child_already_terminated_succeeds(journal: Journal) -> None:
    # OTP child_adm: "Like deleting something that does not exist, it will succeed!"
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal)))
        await sup.terminate_child("c1")
        await sup.terminate_child("c1")
        assert await child_statuses(sup) == [("c1", "terminated")]


async def test_terminate_child_unknown_id_refused_not_found(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal), name="sup"))
        with pytest.raises(ChildError, match=r"^child `hej` of `adm/sup`: not found$") as error:
            await sup.terminate_child("hej")
        assert error.value.reason == "not_found"


async def test_terminate_child_by_ref_on_one_for_one_refused_not_found(
    journal: Journal,
) -> None:
    # OTP child_adm: "Terminate with Pid not allowed when not simple_one_for_one".
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal)))
        ref = await child_ref(sup, "c1")
        with pytest.raises(ChildError) as error:
            await sup.terminate_child(ref)
        assert error.value.reason == "not_found"
        assert await child_statuses(sup) == [("c1", "running")]
        assert await ref.ask(Ping()) == ("c1", 1)


async def test_terminate_child_temporary_spec_forgotten(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(
            tree(ONE_FOR_ONE, worker("c1", journal, restart=Restart.TEMPORARY))
        )
        await sup.terminate_child("c1")
        assert await sup.which_children() == []
        with pytest.raises(ChildError) as error:
            await sup.restart_child("c1")
        assert error.value.reason == "not_found"


async def test_restart_child_terminated_child_started_again(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal)))
        await sup.terminate_child("c1")
        ref = await sup.restart_child("c1")
        assert await ref.ask(Ping()) == ("c1", 2)
        assert [(i.id, i.ref, i.status) for i in await sup.which_children()] == [
            ("c1", ref, "running")
        ]
        assert await sup.count_children() == ChildCounts(1, 1, 0, 1)


async def test_restart_child_running_child_refused_running(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal), name="sup"))
        with pytest.raises(ChildError, match=r"^child `c1` of `adm/sup`: is running$") as error:
            await sup.restart_child("c1")
        assert error.value.reason == "running"


async def test_restart_child_unknown_id_refused_not_found(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal)))
        with pytest.raises(ChildError) as error:
            await sup.restart_child("c2")
        assert error.value.reason == "not_found"


async def test_restart_child_start_failure_leaves_child_terminated(journal: Journal) -> None:
    # OTP sup_start_restart_child_returns_error: the error is returned and the child is
    # still [{child1, undefined, worker, []}]: not running, not active.
    gate = Gate()
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal, gate=gate)))
        await sup.terminate_child("c1")
        gate.fail(1)
        with pytest.raises(ChildStartError) as error:
            await sup.restart_child("c1")
        assert error.value.child_id == "c1"
        assert [(i.id, i.ref, i.status) for i in await sup.which_children()] == [
            ("c1", None, "terminated")
        ]
        assert await sup.count_children() == ChildCounts(1, 0, 0, 1)
        ref = await sup.restart_child("c1")
        assert (await ref.ask(Ping()))[0] == "c1"


async def test_delete_child_running_child_refused_running(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal)))
        with pytest.raises(ChildError) as error:
            await sup.delete_child("c1")
        assert error.value.reason == "running"
        assert await child_statuses(sup) == [("c1", "running")]


async def test_delete_child_unknown_id_refused_not_found(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal)))
        with pytest.raises(ChildError) as error:
            await sup.delete_child("hej")
        assert error.value.reason == "not_found"


async def test_delete_child_terminated_child_spec_forgotten(journal: Journal) -> None:
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal)))
        await sup.terminate_child("c1")
        await sup.delete_child("c1")
        assert await sup.which_children() == []
        assert await sup.count_children() == ChildCounts(0, 0, 0, 0)
        with pytest.raises(ChildError) as error:
            await sup.restart_child("c1")
        assert error.value.reason == "not_found"
        ref = await sup.start_child(worker("c1", journal))
        assert await ref.ask(Ping()) == ("c1", 2)


def _slow_restart(journal: Journal) -> SupervisorSpec:
    """A supervisor whose c1, once crashed, stays "restarting" for a long backoff."""
    return tree(
        ONE_FOR_ONE,
        worker("c1", journal),
        worker("c2", journal),
        max_restarts=5,
        within=60,
        backoff=Backoff(min=30.0, max=30.0, jitter=0.0),
        name="sup",
    )


async def test_dynamic_api_restarting_child_refuses_restart_and_delete(
    journal: Journal,
) -> None:
    # OTP hanging_restart_loop: {error, restarting} for restart_child and delete_child.
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(_slow_restart(journal))
        await crash(await child_ref(sup, "c1"))
        assert await child_statuses(sup) == [("c1", "restarting"), ("c2", "running")]
        assert await sup.count_children() == ChildCounts(2, 1, 0, 2)
        with pytest.raises(ChildError, match=r"^child `c1` of `adm/sup`: is restarting$") as e:
            await sup.restart_child("c1")
        assert e.value.reason == "restarting"
        with pytest.raises(ChildError) as e:
            await sup.delete_child("c1")
        assert e.value.reason == "restarting"


async def test_start_child_restarting_id_refused_already_present(journal: Journal) -> None:
    # OTP hanging_restart_loop: start_child of a restarting child's id answers
    # {error, already_present}: its pid is {restarting, _}, not a pid (handle_start_child).
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(_slow_restart(journal))
        await crash(await child_ref(sup, "c1"))
        with pytest.raises(ChildError) as error:
            await sup.start_child(worker("c1", journal))
        assert error.value.reason == "already_present"


async def test_terminate_child_restarting_child_cancels_restart(journal: Journal) -> None:
    # OTP hanging_restart_loop: terminate_child of a restarting child succeeds and
    # leaves it terminated; restart_child then starts it.
    async with ActorSystem("adm") as system:
        sup = await system.spawn_tree(_slow_restart(journal))
        ref = await child_ref(sup, "c1")
        await crash(ref)
        await sup.terminate_child("c1")
        assert await child_statuses(sup) == [("c1", "terminated"), ("c2", "running")]
        assert not ref.is_alive()
        new = await sup.restart_child("c1")
        assert await new.ask(Ping()) == ("c1", 2)
        assert journal.count("started", "c1") == 2


# ====================================================================== simple_one_for_one
# OTP simple_one_for_one, child_adm_simple, simple_one_for_one_extra/_escalation.


def simple(journal: Journal, **options: Any) -> SupervisorSpec:
    template_options = {
        key: options.pop(key) for key in ("restart", "gate", "shutdown") if key in options
    }
    return tree(SIMPLE, worker("w", journal, "base", **template_options), **options)


async def test_simple_one_for_one_starts_no_children_until_asked(journal: Journal) -> None:
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(simple(journal))
        assert await sup.which_children() == []
        assert journal.entries == []


async def test_simple_one_for_one_start_child_appends_extra_args(journal: Journal) -> None:
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(simple(journal))
        first = await sup.start_dynamic_child(7, "x")
        second = await sup.start_dynamic_child()
        assert await first.ask(GetArgs()) == ("base", 7, "x")
        assert await second.ask(GetArgs()) == ("base",)
        infos = await sup.which_children()
        assert [(i.id, i.ref, i.status) for i in infos] == [
            ("w", first, "running"),
            ("w", second, "running"),
        ]


async def test_simple_one_for_one_count_children_counts_template_as_one_spec(
    journal: Journal,
) -> None:
    # OTP child_adm_simple / count_children: specs is always 1 (the template);
    # active and workers count the dynamic children: [1,0,0,0], then [1,2,0,2].
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(simple(journal))
        assert await sup.count_children() == ChildCounts(1, 0, 0, 0)
        await sup.start_dynamic_child()
        await sup.start_dynamic_child()
        assert await sup.count_children() == ChildCounts(1, 2, 0, 2)


async def test_simple_one_for_one_terminate_child_by_ref_removes_it(journal: Journal) -> None:
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(simple(journal))
        first = await sup.start_dynamic_child(1)
        second = await sup.start_dynamic_child(2)
        reason = await watch(system, first)
        await sup.terminate_child(first)
        assert await asyncio.wait_for(reason, 2.0) == "shutdown"
        assert [(i.ref, i.status) for i in await sup.which_children()] == [(second, "running")]
        assert await second.ask(GetArgs()) == ("base", 2)


async def test_simple_one_for_one_terminate_child_unknown_ref_refused_not_found(
    journal: Journal,
) -> None:
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(simple(journal))
        await sup.start_dynamic_child()
        stranger = await system.spawn(Worker, "stranger", journal)
        with pytest.raises(ChildError) as error:
            await sup.terminate_child(stranger)
        assert error.value.reason == "not_found"
        assert await stranger.ask(Ping()) == ("stranger", 1)


async def test_simple_one_for_one_terminate_child_already_terminated_succeeds(
    journal: Journal,
) -> None:
    # OTP child_adm_simple: "Terminate non-existing process is ok".
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(simple(journal))
        ref = await sup.start_dynamic_child()
        await sup.terminate_child(ref)
        await sup.terminate_child(ref)
        assert await sup.which_children() == []


async def test_simple_one_for_one_terminate_child_by_id_refused_simple_one_for_one(
    journal: Journal,
) -> None:
    # OTP: terminate_child(Sup, Id) with an id, not a pid -> {error, simple_one_for_one}.
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(simple(journal))
        await sup.start_dynamic_child()
        with pytest.raises(ChildError) as error:
            await sup.terminate_child("w")
        assert error.value.reason == "simple_one_for_one"
        assert len(await sup.which_children()) == 1


@pytest.mark.parametrize("call", ["restart_child", "delete_child"])
async def test_simple_one_for_one_restart_and_delete_refused(journal: Journal, call: str) -> None:
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(simple(journal, name="pool"))
        await sup.start_dynamic_child()
        with pytest.raises(
            ChildError,
            match=r"^`simple/pool`: not allowed for a simple_one_for_one supervisor$",
        ) as error:
            await getattr(sup, call)("w")
        assert error.value.reason == "simple_one_for_one"


async def test_simple_one_for_one_crashed_child_restarted_with_same_args(
    journal: Journal,
) -> None:
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(simple(journal, max_restarts=2, within=60))
        first = await sup.start_dynamic_child(1)
        second = await sup.start_dynamic_child(2)
        await crash(first)
        assert await first.ask(GetArgs()) == ("base", 1)
        assert [(i.ref, i.status) for i in await sup.which_children()] == [
            (first, "running"),
            (second, "running"),
        ]
        assert await second.ask(Ping()) == ("w", 2)  # the second Worker made, untouched


async def test_simple_one_for_one_temporary_crashed_child_forgotten(journal: Journal) -> None:
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(simple(journal, restart=Restart.TEMPORARY))
        first = await sup.start_dynamic_child(1)
        second = await sup.start_dynamic_child(2)
        await crash(first)
        assert [i.ref for i in await sup.which_children()] == [second]
        assert not first.is_alive()


async def test_simple_one_for_one_escalation_stops_other_children(journal: Journal) -> None:
    # OTP simple_one_for_one_escalation.
    gate = Gate()
    with pytest.raises(RestartIntensityExceeded, match=r"more than 4 restart\(s\)"):
        async with ActorSystem("simple") as system:
            sup = await system.spawn_tree(simple(journal, gate=gate, max_restarts=4, within=60))
            first = await sup.start_dynamic_child(1)
            await sup.start_dynamic_child(2)
            gate.fail()
            await crash(first)
            await until_system_fails()
    assert journal.count("start_failed", "w") == 4
    assert journal.count("started", "w") == journal.count("stopped", "w") == 2


async def test_simple_one_for_one_many_children_stopped_with_supervisor(
    journal: Journal,
) -> None:
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(simple(journal))
        refs = [await sup.start_dynamic_child(n) for n in range(50)]
        await system.stop(sup)
        assert journal.count("stopped", "w") == 50
        assert not any(ref.is_alive() for ref in refs)


# ====================================================================== shutdown


async def test_terminate_child_hanging_stopped_cancelled_after_shutdown_killed(
    journal: Journal,
) -> None:
    # OTP sup_stop_timeout: a child that does not finish within its shutdown time is
    # killed (reason killed); its stopped() is cancelled.
    async with ActorSystem("shut") as system:
        sup = await system.spawn_tree(
            tree(ONE_FOR_ONE, worker("c1", journal, hang_in_stopped=True, shutdown=0.1))
        )
        ref = await child_ref(sup, "c1")
        reason = await watch(system, ref)
        loop = asyncio.get_running_loop()
        begun = loop.time()
        await sup.terminate_child("c1")
        elapsed = loop.time() - begun
        assert await asyncio.wait_for(reason, 2.0) == "killed"
        assert journal.entries == [
            ("started", "c1"),
            ("stopping", "c1"),
            ("stop_cancelled", "c1"),
        ]
        assert 0.05 <= elapsed < 3.0
        assert await child_statuses(sup) == [("c1", "terminated")]


async def test_supervisor_stop_hanging_child_killed_others_shut_down(
    journal: Journal,
) -> None:
    # OTP sup_stop_timeout: child1 exits with shutdown, the hanging child2 is killed.
    async with ActorSystem("shut") as system:
        sup = await system.spawn_tree(
            tree(
                ONE_FOR_ONE,
                worker("c1", journal, shutdown=1.0),
                worker("c2", journal, hang_in_stopped=True, shutdown=0.1),
            )
        )
        reasons = [await watch(system, await child_ref(sup, c)) for c in ("c1", "c2")]
        await system.stop(sup)
        assert [await asyncio.wait_for(r, 2.0) for r in reasons] == ["shutdown", "killed"]
        assert journal.entries[2:] == [
            ("stopping", "c2"),
            ("stop_cancelled", "c2"),
            ("stopped", "c1"),
        ]


async def test_brutal_kill_child_killed_without_running_stopped(journal: Journal) -> None:
    # OTP sup_stop_brutal_kill: child1 (1 s) shut down, child2 (brutal_kill) killed.
    async with ActorSystem("shut") as system:
        sup = await system.spawn_tree(
            tree(
                ONE_FOR_ONE,
                worker("c1", journal, shutdown=1.0),
                worker("c2", journal, shutdown=BRUTAL_KILL),
            )
        )
        reasons = [await watch(system, await child_ref(sup, c)) for c in ("c1", "c2")]
        await system.stop(sup)
        assert [await asyncio.wait_for(r, 2.0) for r in reasons] == ["shutdown", "killed"]
        assert journal.labels("stopped") == ["c1"]


async def test_brutal_kill_busy_child_cancelled_at_once(journal: Journal) -> None:
    async with ActorSystem("shut") as system:
        sup = await system.spawn_tree(
            tree(ONE_FOR_ONE, worker("c1", journal, shutdown=BRUTAL_KILL))
        )
        ref = await child_ref(sup, "c1")
        reason = await watch(system, ref)
        ref.tell(Hang())
        await sup.terminate_child("c1")
        assert await asyncio.wait_for(reason, 2.0) == "killed"
        assert journal.labels("stopped") == []
        assert await child_statuses(sup) == [("c1", "terminated")]


async def test_infinity_shutdown_child_runs_stopped_to_completion(journal: Journal) -> None:
    # OTP sup_stop_infinity: allowed for workers and supervisors; exit reason shutdown.
    async with ActorSystem("shut") as system:
        sub = tree(ONE_FOR_ONE, worker("x", journal))
        sup = await system.spawn_tree(
            tree(
                ONE_FOR_ONE,
                worker("c1", journal, shutdown="infinity"),
                ChildSpec(id="sub", actor=sub, shutdown="infinity"),
            )
        )
        reasons = [await watch(system, await child_ref(sup, c)) for c in ("c1", "sub")]
        await system.stop(sup)
        assert [await asyncio.wait_for(r, 2.0) for r in reasons] == ["shutdown", "shutdown"]
        assert journal.labels("stopped") == ["x", "c1"]


# ====================================================================== significant children


def significant_tree(
    journal: Journal, auto_shutdown: AutoShutdown, *restarts: Restart
) -> SupervisorSpec:
    """``plain`` (permanent), then one significant child ``s<i>`` per restart type."""
    children = [worker("plain", journal)] + [
        worker(f"s{i}", journal, restart=restart, significant=True)
        for i, restart in enumerate(restarts, 1)
    ]
    return tree(ONE_FOR_ONE, *children, auto_shutdown=auto_shutdown, max_restarts=3, within=60)


@pytest.mark.parametrize(
    ("restart", "how"),
    [
        (Restart.TRANSIENT, "normal"),
        (Restart.TRANSIENT, "shutdown"),
        (Restart.TEMPORARY, "normal"),
        (Restart.TEMPORARY, "crash"),
    ],
)
async def test_any_significant_child_exit_shuts_supervisor_down(
    journal: Journal, restart: Restart, how: str
) -> None:
    # OTP do_auto_shutdown: any_significant -> the supervisor stops with reason shutdown;
    # at the top that is a normal end, not a failure of the system.
    async with ActorSystem("sig") as system:
        sup = await system.spawn_tree(
            significant_tree(journal, AutoShutdown.ANY_SIGNIFICANT, restart)
        )
        reason = await watch(system, sup)
        await exit_child(system, await child_ref(sup, "s1"), how)
        assert await asyncio.wait_for(reason, 2.0) == "shutdown"
        assert journal.labels("stopped") == ["s1", "plain"]


async def test_any_significant_transient_crash_restarted_no_shutdown(journal: Journal) -> None:
    async with ActorSystem("sig") as system:
        sup = await system.spawn_tree(
            significant_tree(journal, AutoShutdown.ANY_SIGNIFICANT, Restart.TRANSIENT)
        )
        s1 = await child_ref(sup, "s1")
        await crash(s1)
        assert await s1.ask(Ping()) == ("s1", 2)
        assert await child_statuses(sup) == [("plain", "running"), ("s1", "running")]


async def test_all_significant_shutdown_only_after_last_significant_exits(
    journal: Journal,
) -> None:
    async with ActorSystem("sig") as system:
        sup = await system.spawn_tree(
            significant_tree(
                journal, AutoShutdown.ALL_SIGNIFICANT, Restart.TEMPORARY, Restart.TRANSIENT
            )
        )
        reason = await watch(system, sup)
        await exit_child(system, await child_ref(sup, "s1"), "crash")
        assert await child_statuses(sup) == [("plain", "running"), ("s2", "running")]
        await exit_child(system, await child_ref(sup, "s2"), "normal")
        assert await asyncio.wait_for(reason, 2.0) == "shutdown"
        assert journal.labels("stopped") == ["s1", "s2", "plain"]


@pytest.mark.parametrize(
    "auto_shutdown", [AutoShutdown.ANY_SIGNIFICANT, AutoShutdown.ALL_SIGNIFICANT]
)
async def test_terminate_child_significant_child_never_triggers_auto_shutdown(
    journal: Journal, auto_shutdown: AutoShutdown
) -> None:
    async with ActorSystem("sig") as system:
        sup = await system.spawn_tree(significant_tree(journal, auto_shutdown, Restart.TRANSIENT))
        await sup.terminate_child("s1")
        assert await child_statuses(sup) == [("plain", "running"), ("s1", "terminated")]
        assert sup.is_alive()


async def test_any_significant_non_significant_child_exit_ignored(journal: Journal) -> None:
    # OTP do_auto_shutdown: the exit of a child that is not significant never counts.
    async with ActorSystem("sig") as system:
        sup = await system.spawn_tree(
            tree(
                ONE_FOR_ONE,
                worker("plain", journal),
                worker("t", journal, restart=Restart.TEMPORARY),
                worker("s1", journal, restart=Restart.TRANSIENT, significant=True),
                auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
            )
        )
        await exit_child(system, await child_ref(sup, "t"), "normal")
        assert await child_statuses(sup) == [("plain", "running"), ("s1", "running")]


async def test_auto_shutdown_nested_supervisor_transient_not_restarted_by_parent(
    journal: Journal,
) -> None:
    # The inner supervisor's auto shutdown is a normal exit: a transient parent entry
    # is not restarted, and the outer supervisor keeps running.
    async with ActorSystem("sig") as system:
        inner = significant_tree(journal, AutoShutdown.ANY_SIGNIFICANT, Restart.TRANSIENT)
        outer = await system.spawn_tree(
            tree(
                ONE_FOR_ONE,
                worker("sibling", journal),
                ChildSpec(id="inner", actor=inner, restart=Restart.TRANSIENT),
            )
        )
        inner_ref = await child_ref(outer, "inner")
        assert isinstance(inner_ref, SupervisorRef)
        reason = await watch(system, inner_ref)
        await exit_child(system, await child_ref(inner_ref, "s1"), "normal")
        assert await asyncio.wait_for(reason, 2.0) == "shutdown"
        assert await child_statuses(outer) == [("sibling", "running"), ("inner", "terminated")]


# ====================================================================== nested trees


async def test_tree_inner_escalation_restarts_inner_supervisor_without_dynamic_children(
    journal: Journal,
) -> None:
    # OTP tree: top one_for_all over sup1 [c1, c2] and sup2 []; c3 and c4 are added to
    # sup2 dynamically. c4's crash restarts only c4. c3's restart keeps failing: sup2
    # gives up, the top restarts sup1 and sup2 from their specs (no dynamic children).
    gate = Gate()
    async with ActorSystem("tree") as system:
        sup1 = tree(ONE_FOR_ONE, worker("c1", journal), worker("c2", journal), max_restarts=4)
        sup2 = tree(ONE_FOR_ONE, max_restarts=4, within=60)
        top = await system.spawn_tree(
            tree(
                ONE_FOR_ALL,
                ChildSpec(id="sup1", actor=sup1),
                ChildSpec(id="sup2", actor=sup2),
                max_restarts=4,
                within=60,
            )
        )
        assert await top.count_children() == ChildCounts(2, 2, 2, 0)
        sup1_ref, sup2_ref = await child_ref(top, "sup1"), await child_ref(top, "sup2")
        assert isinstance(sup1_ref, SupervisorRef) and isinstance(sup2_ref, SupervisorRef)
        c3 = await sup2_ref.start_child(worker("c3", journal, gate=gate))
        c4 = await sup2_ref.start_child(worker("c4", journal))
        assert await sup2_ref.count_children() == ChildCounts(2, 2, 0, 2)

        await crash(c4)
        assert await c4.ask(Ping()) == ("c4", 2)
        assert await child_statuses(sup2_ref) == [("c3", "running"), ("c4", "running")]
        assert journal.count("started", "c1") == 1

        gate.fail()
        sup2_restarted = await restarted(system, sup2_ref)
        await crash(c3)
        # c3's failed restarts go to the back of sup2's mailbox (OTP's try_again), so
        # wait for the top to restart sup2 from its spec before asking it.
        await asyncio.wait_for(sup2_restarted, 5.0)
        assert await sup2_ref.which_children() == []
        assert await sup2_ref.count_children() == ChildCounts(0, 0, 0, 0)
        assert await child_statuses(top) == [("sup1", "running"), ("sup2", "running")]
        assert await child_statuses(sup1_ref) == [("c1", "running"), ("c2", "running")]
        assert journal.count("started", "c1") == journal.count("started", "c2") == 2
        assert not c3.is_alive() and not c4.is_alive()


async def test_tree_inner_child_crash_leaves_other_branches_untouched(
    journal: Journal,
) -> None:
    async with ActorSystem("tree") as system:
        left = tree(ONE_FOR_ONE, worker("l1", journal))
        right = tree(REST_FOR_ONE, worker("r1", journal), worker("r2", journal))
        top = await system.spawn_tree(
            tree(ONE_FOR_ONE, ChildSpec(id="left", actor=left), ChildSpec(id="right", actor=right))
        )
        right_ref = await child_ref(top, "right")
        assert isinstance(right_ref, SupervisorRef)
        journal.clear()
        await crash(await child_ref(right_ref, "r1"))
        assert await child_statuses(right_ref) == [("r1", "running"), ("r2", "running")]
        assert journal.entries == [
            ("stopped", "r1"),
            ("stopped", "r2"),
            ("started", "r1"),
            ("started", "r2"),
        ]


# ====================================================================== refs, backoff


async def test_child_ref_survives_restart_and_reaches_new_incarnation(
    journal: Journal,
) -> None:
    async with ActorSystem("refs") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal), name="sup"))
        before = await child_ref(sup, "c1")
        await crash(before)
        after = await child_ref(sup, "c1")
        assert after == before
        assert hash(after) == hash(before)
        assert before.is_alive()
        assert await before.ask(Ping()) == ("c1", 2)
        assert before.path == "refs/sup/c1"


async def test_child_ref_messages_queued_behind_crash_handled_by_next_incarnation(
    journal: Journal,
) -> None:
    async with ActorSystem("refs") as system:
        sup = await system.spawn_tree(tree(ONE_FOR_ONE, worker("c1", journal)))
        ref = await child_ref(sup, "c1")
        ref.tell(Crash())
        for n in range(5):
            ref.tell(Record(n))
        assert await ref.ask(Ping()) == ("c1", 2)
        assert [entry[2] for entry in journal.entries if entry[0] == "record"] == [0, 1, 2, 3, 4]
        assert system.metrics().dead_letters == 0


async def test_backoff_messages_sent_during_delay_delivered_after_restart(
    journal: Journal,
) -> None:
    delay = 0.2
    async with ActorSystem("backoff") as system:
        sup = await system.spawn_tree(
            tree(
                ONE_FOR_ONE,
                worker("c1", journal),
                backoff=Backoff(min=delay, max=delay, jitter=0.0),
            )
        )
        ref = await child_ref(sup, "c1")
        loop = asyncio.get_running_loop()
        dead_before = system.metrics().dead_letters
        begun = loop.time()
        await crash(ref)
        assert await child_statuses(sup) == [("c1", "restarting")]
        for n in range(100):
            ref.tell(Record(n))
        assert await ref.ask(Ping(), timeout=5.0) == ("c1", 2)
        elapsed = loop.time() - begun
        assert elapsed >= delay * 0.5, f"restarted after {elapsed:.3f} s, backoff {delay} s"
        assert [entry[2] for entry in journal.entries if entry[0] == "record"] == list(range(100))
        assert system.metrics().dead_letters == dead_before
        assert await child_statuses(sup) == [("c1", "running")]


async def test_backoff_consecutive_restarts_wait_longer(journal: Journal) -> None:
    async with ActorSystem("backoff") as system:
        sup = await system.spawn_tree(
            tree(
                ONE_FOR_ONE,
                worker("c1", journal),
                max_restarts=10,
                within=60,
                backoff=Backoff(min=0.05, max=1.0, jitter=0.0, reset_after=60.0),
            )
        )
        ref = await child_ref(sup, "c1")
        loop = asyncio.get_running_loop()
        waits = []
        for n in range(2, 5):
            begun = loop.time()
            await crash(ref)
            assert await ref.ask(Ping(), timeout=5.0) == ("c1", n)
            waits.append(loop.time() - begun)
        # 0.05, 0.1, 0.2 s: each at least roughly its delay (loose lower bounds only).
        assert waits[0] >= 0.025 and waits[1] >= 0.05 and waits[2] >= 0.1, waits


async def test_backoff_supervisor_stopped_during_delay_leaves_nothing_behind(
    journal: Journal,
) -> None:
    async with ActorSystem("backoff") as system:
        sup = await system.spawn_tree(_slow_restart(journal))
        ref = await child_ref(sup, "c1")
        await crash(ref)
        pending = asyncio.ensure_future(ref.ask(Ping(), timeout=5.0))
        await system.stop(sup)
        with pytest.raises(ActorNotFound):
            await pending
        assert not ref.is_alive()
        assert journal.labels("stopped") == ["c1", "c2"]


# ====================================================================== scale


async def test_one_for_one_thousand_children_start_and_stop_in_order(journal: Journal) -> None:
    labels = [f"w{i:04}" for i in range(1000)]
    async with ActorSystem("scale") as system:
        sup = await system.spawn_tree(
            tree(ONE_FOR_ONE, *(worker(label, journal) for label in labels))
        )
        assert await sup.count_children() == ChildCounts(1000, 1000, 0, 1000)
        assert journal.labels("started") == labels
        last = await child_ref(sup, labels[-1])
        assert await last.ask(Ping()) == (labels[-1], 1)
    assert journal.labels("stopped") == labels[::-1]
    assert system.metrics().actors == 0


# ---------------------------------------------------------------------- stray input


async def test_supervisor_unexpected_message_ignored_and_keeps_serving(
    journal: Journal, logs: list[dict[str, Any]]
) -> None:
    # OTP logs and ignores an unexpected message; it must not take the tree down.
    async with ActorSystem("stray") as system:
        sup = await system.spawn_tree(SupervisorSpec(children=[worker("w1", journal)]))
        sup.tell("what is this?")
        assert await sup.count_children() == ChildCounts(1, 1, 0, 1)
        assert any(entry["event"] == "supervisor ignored an unexpected message" for entry in logs)


async def test_start_child_significant_under_never_refused_in_caller(journal: Journal) -> None:
    async with ActorSystem("sig") as system:
        sup = await system.spawn_tree(SupervisorSpec(children=[]))
        with pytest.raises(SpecError, match="`significant` children need `auto_shutdown`"):
            await sup.start_child(worker("w", journal, restart=Restart.TRANSIENT, significant=True))
        assert await sup.count_children() == ChildCounts(0, 0, 0, 0)


async def test_simple_one_for_one_start_child_with_spec_refused(journal: Journal) -> None:
    async with ActorSystem("simple") as system:
        sup = await system.spawn_tree(
            SupervisorSpec(strategy=Strategy.SIMPLE_ONE_FOR_ONE, children=[worker("w", journal)])
        )
        with pytest.raises(ChildError, match="not with a ChildSpec") as caught:
            await sup.start_child(worker("other", journal))
        assert caught.value.reason == "simple_one_for_one"
        assert await sup.which_children() == []
