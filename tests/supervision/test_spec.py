"""``ChildSpec``, ``SupervisorSpec`` and ``Backoff`` (``supervision/_spec.py``): OTP's
defaults and the validation errors, their wording pinned (it is part of the contract).

OTP references: ``supervisor:check_flags/1`` / ``check_childspec/2`` (defaults:
one_for_one, intensity 1, period 5; shutdown 5000 for a worker, infinity for a
supervisor) and ``supervisor_SUITE:child_specs/1``, ``sup_flags/1``, ``sup_start_map/1``.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from actors.supervision import (
    BRUTAL_KILL,
    AutoShutdown,
    Backoff,
    ChildSpec,
    ChildType,
    Restart,
    SpecError,
    Strategy,
    Supervisor,
    SupervisorError,
    SupervisorSpec,
)

from actors import ActorsError, Overflow
from tests.supervision.support import Worker

# ---------------------------------------------------------------------- defaults


def test_supervisor_spec_defaults_are_otp_defaults() -> None:
    spec = SupervisorSpec()
    assert spec.strategy is Strategy.ONE_FOR_ONE
    assert spec.max_restarts == 1
    assert spec.within == 5.0
    assert spec.children == []
    assert spec.auto_shutdown is AutoShutdown.NEVER
    assert spec.backoff is None
    assert spec.name is None


def test_child_spec_worker_defaults_permanent_five_second_shutdown() -> None:
    spec = ChildSpec(id="a", actor=Worker)
    assert spec.restart is Restart.PERMANENT
    assert spec.type is ChildType.WORKER
    assert spec.shutdown is None
    assert spec.shutdown_seconds == 5.0
    assert spec.significant is False
    assert spec.args == []
    assert spec.kwargs == {}
    assert spec.name is None
    assert spec.mailbox_size is None
    assert spec.overflow is Overflow.WAIT


def test_child_spec_supervisor_child_defaults_infinity_shutdown() -> None:
    spec = ChildSpec(id="sub", actor=SupervisorSpec())
    assert spec.type is ChildType.SUPERVISOR
    assert spec.shutdown_seconds is None


@pytest.mark.parametrize(
    ("shutdown", "seconds"),
    [
        (2.5, 2.5),
        (1, 1.0),
        (0, 0.0),
        (BRUTAL_KILL, 0.0),
        ("brutal_kill", 0.0),
        ("infinity", None),
        (math.inf, None),
    ],
)
def test_child_spec_shutdown_value_maps_to_seconds(shutdown: Any, seconds: float | None) -> None:
    assert ChildSpec(id="a", actor=Worker, shutdown=shutdown).shutdown_seconds == seconds


def test_child_spec_worker_with_infinity_shutdown_allowed() -> None:
    # OTP sup_stop_infinity: infinity is allowed for workers too.
    assert ChildSpec(id="a", actor=Worker, shutdown="infinity").shutdown_seconds is None


def test_child_spec_args_tuple_stored_as_list() -> None:
    assert ChildSpec(id="a", actor=Worker, args=(1, 2)).args == [1, 2]  # type: ignore[arg-type]


def test_child_spec_actor_string_resolved_to_class() -> None:
    assert ChildSpec(id="a", actor="actors.supervision:Supervisor").actor is Supervisor


def test_child_spec_actor_dict_converted_to_nested_supervisor_spec() -> None:
    spec = ChildSpec(id="sub", actor={"strategy": "rest_for_one", "max_restarts": 4})
    assert spec.actor == SupervisorSpec(strategy=Strategy.REST_FOR_ONE, max_restarts=4)
    assert spec.type is ChildType.SUPERVISOR


def test_child_spec_significant_transient_allowed() -> None:
    spec = ChildSpec(id="a", actor=Worker, restart=Restart.TRANSIENT, significant=True)
    assert spec.significant is True


def test_supervisor_spec_simple_one_for_one_single_template_accepted() -> None:
    spec = SupervisorSpec(
        strategy=Strategy.SIMPLE_ONE_FOR_ONE, children=[ChildSpec(id="t", actor=Worker)]
    )
    assert [child.id for child in spec.children] == ["t"]


def test_backoff_defaults() -> None:
    backoff = Backoff()
    assert (backoff.min, backoff.max, backoff.jitter, backoff.reset_after) == (
        0.1,
        10.0,
        0.1,
        30.0,
    )


def test_spec_error_is_value_error_and_supervisor_error() -> None:
    assert issubclass(SpecError, ValueError)
    assert issubclass(SpecError, SupervisorError)
    assert issubclass(SpecError, ActorsError)


# ---------------------------------------------------------------------- validation errors


def test_supervisor_spec_duplicate_child_ids_rejected() -> None:
    with pytest.raises(SpecError, match=r"^duplicate child id `a`$"):
        SupervisorSpec(
            children=[
                ChildSpec(id="a", actor=Worker),
                ChildSpec(id="b", actor=Worker),
                ChildSpec(id="a", actor=Worker),
            ]
        )


def test_child_spec_significant_permanent_rejected() -> None:
    with pytest.raises(
        SpecError,
        match=r"^child `a`: `significant` cannot be true for a permanent child "
        r"\(use restart 'transient' or 'temporary'\)$",
    ):
        ChildSpec(id="a", actor=Worker, significant=True)


def test_supervisor_spec_significant_child_with_auto_shutdown_never_rejected() -> None:
    # OTP validSignificant/3: {bad_combination, [{auto_shutdown, never}, {significant, true}]}.
    with pytest.raises(SpecError, match=r"(?s)(?=.*`a`)(?=.*significant)(?=.*auto_shutdown)"):
        SupervisorSpec(
            auto_shutdown=AutoShutdown.NEVER,
            children=[ChildSpec(id="a", actor=Worker, restart=Restart.TRANSIENT, significant=True)],
        )


def test_child_spec_bad_restart_value_rejected_naming_field() -> None:
    # OTP child_specs: {invalid_restart_type, prmanent}.
    with pytest.raises(
        SpecError, match=r"^child `a`: Invalid enum value 'prmanent' - at `\$\.restart`$"
    ):
        ChildSpec(id="a", actor=Worker, restart="prmanent")  # type: ignore[arg-type]


def test_supervisor_spec_bad_strategy_value_rejected_naming_field() -> None:
    # OTP sup_flags: {invalid_strategy, none_for_one}.
    with pytest.raises(SpecError, match=r"^Invalid enum value 'none_for_one' - at `\$\.strategy`$"):
        SupervisorSpec(strategy="none_for_one")  # type: ignore[arg-type]


def test_child_spec_negative_shutdown_rejected() -> None:
    # OTP child_specs: {invalid_shutdown, -10}.
    with pytest.raises(
        SpecError, match=r"^child `a`: Expected `float` >= 0.0 - at `\$\.shutdown`$"
    ):
        ChildSpec(id="a", actor=Worker, shutdown=-10)


@pytest.mark.parametrize("shutdown", ["soon", True, "BRUTAL_KILL"])
def test_child_spec_shutdown_of_wrong_kind_rejected(shutdown: Any) -> None:
    with pytest.raises(
        SpecError,
        match=r"^child `a`: (Invalid enum value '.*'|Expected `float \| str \| null`, got `bool`) "
        r"- at `\$\.shutdown`$",
    ):
        ChildSpec(id="a", actor=Worker, shutdown=shutdown)


def test_child_spec_nan_shutdown_rejected() -> None:
    with pytest.raises(
        SpecError, match=r"^child `a`: Expected `float` >= 0.0 - at `\$\.shutdown`$"
    ):
        ChildSpec(id="a", actor=Worker, shutdown=math.nan)


def test_child_spec_unknown_field_rejected() -> None:
    with pytest.raises(TypeError, match=r"Unexpected keyword argument 'silly_flag'"):
        ChildSpec(id="a", actor=Worker, silly_flag=True)  # type: ignore[call-arg]


def test_supervisor_spec_unknown_field_rejected() -> None:
    with pytest.raises(TypeError, match=r"Unexpected keyword argument 'intensity'"):
        SupervisorSpec(intensity=3)  # type: ignore[call-arg]


@pytest.mark.parametrize("count", [0, 2])
def test_supervisor_spec_simple_one_for_one_without_exactly_one_child_rejected(
    count: int,
) -> None:
    # OTP child_specs: {bad_start_spec, []} and {bad_start_spec, [C1, C2]}.
    children = [ChildSpec(id=f"c{i}", actor=Worker) for i in range(count)]
    with pytest.raises(
        SpecError,
        match=rf"^a simple_one_for_one supervisor needs exactly one template child, "
        rf"got {count}$",
    ):
        SupervisorSpec(strategy=Strategy.SIMPLE_ONE_FOR_ONE, children=children)


def test_child_spec_actor_module_missing_rejected() -> None:
    with pytest.raises(
        SpecError,
        match=r"^`actor` 'no_such_pkg.workers:Worker': cannot import module "
        r"`no_such_pkg.workers`: No module named 'no_such_pkg'$",
    ):
        ChildSpec(id="a", actor="no_such_pkg.workers:Worker")


def test_child_spec_actor_class_missing_rejected() -> None:
    with pytest.raises(
        SpecError,
        match=r"^`actor` 'actors.supervision:NoSuchActor': module `actors.supervision` has no ",
    ):
        ChildSpec(id="a", actor="actors.supervision:NoSuchActor")


def test_child_spec_actor_not_an_actor_subclass_rejected() -> None:
    with pytest.raises(SpecError, match=r"^`actor` 'actors.supervision:ChildSpec' is not an Actor"):
        ChildSpec(id="a", actor="actors.supervision:ChildSpec")


@pytest.mark.parametrize(
    "target", ["actors.supervision.Supervisor", ":Supervisor", "actors.supervision:"]
)
def test_child_spec_actor_string_without_module_and_class_rejected(target: str) -> None:
    with pytest.raises(SpecError, match=r"^`actor` must look like 'package.module:Class', got "):
        ChildSpec(id="a", actor=target)


def test_child_spec_actor_of_wrong_type_rejected() -> None:
    with pytest.raises(
        SpecError,
        match=r"^child `a`: `actor` must be an Actor subclass, 'package.module:Class' or a "
        r"SupervisorSpec, got 42$",
    ):
        ChildSpec(id="a", actor=42)


def test_child_spec_empty_id_rejected() -> None:
    with pytest.raises(SpecError, match=r"^child: Expected `str` of length >= 1 - at `\$\.id`$"):
        ChildSpec(id="", actor=Worker)


def test_child_spec_type_contradicting_actor_rejected() -> None:
    with pytest.raises(
        SpecError, match=r"^child `a`: `type` is 'supervisor' but `actor` is a worker$"
    ):
        ChildSpec(id="a", actor=Worker, type=ChildType.SUPERVISOR)


def test_child_spec_zero_mailbox_size_rejected() -> None:
    with pytest.raises(
        SpecError, match=r"^child `a`: Expected `int` >= 1 - at `\$\.mailbox_size`$"
    ):
        ChildSpec(id="a", actor=Worker, mailbox_size=0)


def test_supervisor_spec_negative_max_restarts_rejected() -> None:
    # OTP sup_flags: {invalid_intensity, _}.
    with pytest.raises(SpecError, match=r"^Expected `int` >= 0 - at `\$\.max_restarts`$"):
        SupervisorSpec(max_restarts=-1)


@pytest.mark.parametrize("within", [0, -1.5])
def test_supervisor_spec_non_positive_within_rejected(within: float) -> None:
    # OTP sup_flags: {invalid_period, 0}.
    with pytest.raises(SpecError, match=r"^Expected `float` > 0.0 - at `\$\.within`$"):
        SupervisorSpec(within=within)


def test_backoff_min_above_max_rejected() -> None:
    with pytest.raises(SpecError, match=r"^backoff needs `min` <= `max`, got min=2.0, max=1.0$"):
        Backoff(min=2.0, max=1.0)


def test_backoff_zero_min_rejected() -> None:
    with pytest.raises(SpecError, match=r"^backoff: Expected `float` > 0.0 - at `\$\.min`$"):
        Backoff(min=0)


@pytest.mark.parametrize("jitter", [1.0, -0.1])
def test_backoff_jitter_outside_unit_interval_rejected(jitter: float) -> None:
    with pytest.raises(
        SpecError, match=r"^backoff: Expected `float` (>= 0.0|< 1.0) - at `\$\.jitter`$"
    ):
        Backoff(jitter=jitter)


def test_backoff_non_positive_reset_after_rejected() -> None:
    with pytest.raises(
        SpecError, match=r"^backoff: Expected `float` > 0.0 - at `\$\.reset_after`$"
    ):
        Backoff(reset_after=0)
