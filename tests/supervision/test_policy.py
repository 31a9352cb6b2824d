"""The restart decisions (``supervision/_policy.py``), called directly: restart types x
exits, the intensity window (against a brute-force model, with hypothesis), restart
groups per strategy, auto-shutdown, and backoff delays.

The window follows OTP's ``supervisor:add_restart/3``: with ``Threshold = Now - Period``
it keeps every restart ``R >= Threshold``, so a restart exactly ``within`` seconds old
still counts; only restarts *older* than ``within`` are forgotten (DESIGN.md says the
same: "restarts older than `within` seconds are forgotten").
"""

from __future__ import annotations

import random
from collections import deque

import pytest
from actors.supervision import AutoShutdown, Backoff, Restart, Strategy
from actors.supervision._policy import (
    add_restart,
    backoff_delay,
    intensity_exceeded,
    restart_group,
    should_auto_shutdown,
    should_restart,
)
from hypothesis import given
from hypothesis import strategies as st

# ---------------------------------------------------------------------- restart types


@pytest.mark.parametrize(
    ("restart", "normal_exit", "expected"),
    [
        (Restart.PERMANENT, True, True),
        (Restart.PERMANENT, False, True),
        (Restart.TRANSIENT, True, False),
        (Restart.TRANSIENT, False, True),
        (Restart.TEMPORARY, True, False),
        (Restart.TEMPORARY, False, False),
    ],
)
def test_should_restart_restart_type_and_exit_kind_follow_otp_table(
    restart: Restart, normal_exit: bool, expected: bool
) -> None:
    assert should_restart(restart, normal_exit) is expected


# ---------------------------------------------------------------------- intensity window


def test_add_restart_empty_history_holds_only_now() -> None:
    assert add_restart(deque(), 10.0, 5.0) == deque([10.0])


def test_add_restart_recent_restarts_kept_newest_first() -> None:
    assert add_restart(deque([9.0, 7.0]), 10.0, 5.0) == deque([10.0, 9.0, 7.0])


def test_add_restart_restarts_older_than_within_forgotten() -> None:
    assert add_restart(deque([9.0, 4.0, 1.0]), 10.0, 5.0) == deque([10.0, 9.0])


def test_add_restart_restart_exactly_within_old_still_counts() -> None:
    # OTP add_restart/3 keeps R >= Now - Period: 5.0 is not older than 5 s at 10.0.
    assert add_restart(deque([5.0]), 10.0, 5.0) == deque([10.0, 5.0])


def test_intensity_exceeded_count_above_max_restarts_gives_up() -> None:
    assert not intensity_exceeded([3.0], 1)
    assert intensity_exceeded([3.0, 2.0], 1)
    assert not intensity_exceeded([3.0, 2.0, 1.0], 3)
    assert intensity_exceeded([4.0, 3.0, 2.0, 1.0], 3)


def test_intensity_exceeded_max_restarts_zero_first_restart_gives_up() -> None:
    assert intensity_exceeded(add_restart(deque(), 1.0, 5.0), 0)


def test_add_restart_default_intensity_second_restart_within_five_seconds_gives_up() -> None:
    history = add_restart(deque(), 100.0, 5.0)
    assert not intensity_exceeded(history, 1)
    history = add_restart(history, 104.0, 5.0)
    assert intensity_exceeded(history, 1)


def test_add_restart_trims_the_history_in_place_from_its_old_end() -> None:
    # A restart must not rebuild a history of hundreds of entries (a generous window):
    # the same deque comes back, the forgotten restarts popped from its old end.
    history = deque([9.0, 8.0, 4.0, 1.0])
    assert add_restart(history, 10.0, 5.0) is history
    assert history == deque([10.0, 9.0, 8.0])


def test_add_restart_spaced_restarts_never_give_up() -> None:
    history: deque[float] = deque()
    for now in (0.0, 6.0, 12.0, 18.0, 24.0):
        history = add_restart(history, now, 5.0)
        assert history == deque([now])
        assert not intensity_exceeded(history, 1)


# Times and windows are whole seconds held in floats, so every subtraction is exact:
# the model and the implementation cannot disagree through rounding, and restarts land
# exactly on the window's edge often.
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=40),
    within=st.integers(min_value=1, max_value=10),
    max_restarts=st.integers(min_value=0, max_value=6),
)
def test_add_restart_intensity_window_matches_brute_force_model(
    gaps: list[int], within: int, max_restarts: int
) -> None:
    history: deque[float] = deque()
    times: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        times.append(now)
        history = add_restart(history, now, float(within))
        # The model: every restart so far that is not older than `within`, newest first.
        window = [t for t in reversed(times) if now - t <= within]
        assert list(history) == window, f"now={now} within={within} times={times}"
        exceeded = intensity_exceeded(history, max_restarts)
        assert exceeded is (len(window) > max_restarts)
        if exceeded:
            break  # the supervisor gives up here; nothing is added after


# ---------------------------------------------------------------------- restart groups

ORDER = ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("strategy", "failed", "expected"),
    [
        (Strategy.ONE_FOR_ONE, "b", ["b"]),
        (Strategy.SIMPLE_ONE_FOR_ONE, "b", ["b"]),
        (Strategy.ONE_FOR_ALL, "b", ["a", "b", "c", "d"]),
        (Strategy.ONE_FOR_ALL, "d", ["a", "b", "c", "d"]),
        (Strategy.REST_FOR_ONE, "a", ["a", "b", "c", "d"]),
        (Strategy.REST_FOR_ONE, "b", ["b", "c", "d"]),
        (Strategy.REST_FOR_ONE, "d", ["d"]),
    ],
)
def test_restart_group_strategy_selects_children_in_start_order(
    strategy: Strategy, failed: str, expected: list[str]
) -> None:
    assert restart_group(strategy, ORDER, failed) == expected


def test_restart_group_result_does_not_alias_the_order() -> None:
    group = restart_group(Strategy.ONE_FOR_ALL, ORDER, "a")
    group.append("z")
    assert ORDER == ["a", "b", "c", "d"]


@given(
    size=st.integers(min_value=1, max_value=30),
    data=st.data(),
)
def test_restart_group_rest_for_one_is_suffix_from_failed_child(
    size: int, data: st.DataObject
) -> None:
    order = [f"c{i}" for i in range(size)]
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    assert restart_group(Strategy.REST_FOR_ONE, order, order[index]) == order[index:]


# ---------------------------------------------------------------------- auto shutdown


@pytest.mark.parametrize(
    ("auto_shutdown", "left_running", "expected"),
    [
        (AutoShutdown.NEVER, 0, False),
        (AutoShutdown.NEVER, 3, False),
        (AutoShutdown.ANY_SIGNIFICANT, 0, True),
        (AutoShutdown.ANY_SIGNIFICANT, 2, True),
        (AutoShutdown.ALL_SIGNIFICANT, 0, True),
        (AutoShutdown.ALL_SIGNIFICANT, 1, False),
    ],
)
def test_should_auto_shutdown_setting_and_significant_left_decide(
    auto_shutdown: AutoShutdown, left_running: int, expected: bool
) -> None:
    assert should_auto_shutdown(auto_shutdown, left_running) is expected


# ---------------------------------------------------------------------- backoff


def test_backoff_delay_no_backoff_restarts_at_once() -> None:
    assert backoff_delay(None, 0, random.Random(1)) == 0.0
    assert backoff_delay(None, 50, random.Random(1)) == 0.0


def test_backoff_delay_without_jitter_doubles_up_to_max() -> None:
    backoff = Backoff(min=0.1, max=1.0, jitter=0.0)
    rng = random.Random(1)
    delays = [backoff_delay(backoff, attempt, rng) for attempt in range(6)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_backoff_delay_huge_attempt_capped_at_max_without_overflow() -> None:
    backoff = Backoff(min=0.5, max=7.0, jitter=0.0)
    assert backoff_delay(backoff, 10_000, random.Random(1)) == 7.0


def test_backoff_delay_same_seed_same_delays() -> None:
    backoff = Backoff(min=0.1, max=5.0, jitter=0.5)
    first = [backoff_delay(backoff, n, random.Random(42)) for n in range(8)]
    second = [backoff_delay(backoff, n, random.Random(42)) for n in range(8)]
    assert first == second


@given(
    low=st.floats(min_value=0.001, max_value=10.0),
    factor=st.floats(min_value=1.0, max_value=100.0),
    jitter=st.floats(min_value=0.0, max_value=0.99),
    attempt=st.integers(min_value=0, max_value=200),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_delay_within_jitter_bounds_and_never_above_max(
    low: float, factor: float, jitter: float, attempt: int, seed: int
) -> None:
    backoff = Backoff(min=low, max=low * factor, jitter=jitter)
    delay = backoff_delay(backoff, attempt, random.Random(seed))
    base = min(backoff.max, backoff.min * 2.0**attempt)
    assert 0.0 <= delay <= backoff.max
    assert base * (1 - jitter) * (1 - 1e-9) <= delay <= base * (1 + jitter) * (1 + 1e-9)
