"""The restart decisions, as pure functions: no clock, no task, no actor.

The ``Supervisor`` actor asks these questions and carries out the answers; tests call
them directly. Each mirrors a function of OTP's ``supervisor.erl``: ``should_restart``
is ``do_restart/3``, ``add_restart``/``intensity_exceeded`` are ``add_restart/3`` and
``/1``, ``restart_group`` is the per-strategy clause of ``restart/3``, and
``should_auto_shutdown`` is ``do_auto_shutdown/2``.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence

from ._spec import AutoShutdown, Backoff, Restart, Strategy

__all__ = [
    "add_restart",
    "backoff_delay",
    "intensity_exceeded",
    "restart_group",
    "should_auto_shutdown",
    "should_restart",
]


def should_restart(restart: Restart, normal_exit: bool) -> bool:
    """Restart a child that exited, given its restart type and whether the exit was
    normal (a normal stop or a shutdown)? Permanent: always; transient: only after an
    abnormal exit; temporary: never."""
    if restart is Restart.PERMANENT:
        return True
    if restart is Restart.TRANSIENT:
        return not normal_exit
    return False


def add_restart(history: deque[float], now: float, within: float) -> deque[float]:
    """The restart history after one more restart at ``now``, updated in place and
    returned: restarts older than ``within`` seconds are forgotten (one exactly
    ``within`` old still counts, as in OTP). Newest first, like OTP's list.

    Restart times never decrease (the loop's monotonic clock), so the forgotten ones
    are at the old end: trimming there costs O(forgotten), not a rebuild of the whole
    history per restart, which a generous window (``within`` holding hundreds of
    restarts) would make the dominant cost of a restart."""
    threshold = now - within
    while history and history[-1] < threshold:
        history.pop()
    history.appendleft(now)
    return history


def intensity_exceeded(history: Sequence[float], max_restarts: int) -> bool:
    """True when the history (from ``add_restart``) holds more than ``max_restarts``
    restarts: the supervisor must give up."""
    return len(history) > max_restarts


def restart_group(strategy: Strategy, order: Sequence[str], failed: str) -> list[str]:
    """The children (ids, in start order) to terminate and restart when ``failed``
    must be restarted: just it (one_for_one, simple_one_for_one), everyone
    (one_for_all), or it and every child started after it (rest_for_one)."""
    if strategy is Strategy.ONE_FOR_ALL:
        return list(order)
    if strategy is Strategy.REST_FOR_ONE:
        return list(order[order.index(failed) :])
    return [failed]


def should_auto_shutdown(auto_shutdown: AutoShutdown, significant_left_running: int) -> bool:
    """After a significant child exited by itself and was not restarted, must the
    supervisor shut down? ``significant_left_running`` counts the significant children
    still running."""
    if auto_shutdown is AutoShutdown.ANY_SIGNIFICANT:
        return True
    if auto_shutdown is AutoShutdown.ALL_SIGNIFICANT:
        return significant_left_running == 0
    return False


def backoff_delay(backoff: Backoff | None, attempt: int, rng: random.Random) -> float:
    """Seconds to wait before restart number ``attempt`` (0-based) of one child:
    ``min * 2**attempt`` capped at ``max``, spread by +/- ``jitter`` (a fraction)."""
    if backoff is None:
        return 0.0
    base = min(backoff.max, backoff.min * (2.0 ** min(attempt, 64)))
    if backoff.jitter:
        base *= 1.0 + rng.uniform(-backoff.jitter, backoff.jitter)
    return max(0.0, min(base, backoff.max))
