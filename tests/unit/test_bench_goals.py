"""The goals `make bench` checks are DESIGN.md's, and they decide the way the rows read."""

from bench.registry import Goal
from bench.workloads import all_workloads


def test_relative_goal_reads_the_row_direction() -> None:
    faster = Goal.relative("higher", 0.5, ">= 0.5x bare")
    assert faster.check({"ours": 60.0, "bare": 100.0}) is True
    assert faster.check({"ours": 40.0, "bare": 100.0}) is False
    slower = Goal.relative("lower", 1.1, "<= 1.1x raw", column="raw")
    assert slower.check({"ours": 105.0, "raw": 100.0}) is True
    assert slower.check({"ours": 120.0, "raw": 100.0}) is False


def test_a_goal_without_its_columns_is_undecided() -> None:
    assert Goal.relative("higher", 1.0, ">= bare").check({"ours": 1.0}) is None
    assert Goal.at_most(10.0, "<= 10").check({"bare": 1.0}) is None
    both = Goal.both(Goal.at_least(1.0, ">= 1"), Goal.relative("higher", 1.0, ">= bare"))
    assert both.check({"ours": 2.0}) is None
    assert both.check({"ours": 2.0, "bare": 3.0}) is False
    assert both.check({"ours": 4.0, "bare": 3.0}) is True
    assert both.text == ">= 1 and >= bare"


def test_the_table_states_design_goals() -> None:
    goals = {
        metric.label: metric.goal.text
        for workload in all_workloads()
        for metric in workload.metrics
        if metric.goal is not None
    }
    assert goals["tell, 1 sender -> 1 actor"] == ">= 1,500,000/s and >= bare"
    assert goals["ask round trip p50"] == "<= 1.5x bare"
    assert goals["spawn"] == ">= 2x bare"
    assert goals["memory per idle actor, 100k actors"] == "<= 600 B"
    assert any(text == "<= 30 µs" for label, text in goals.items() if label.startswith("crash"))
    assert any(text == "<= 10 µs" for label, text in goals.items() if label.startswith("publish"))
    assert any(
        text == "<= 1.1x raw nats-py (bare)"
        for label, text in goals.items()
        if label.startswith("remote ask round trip p50")
    )
