"""Telling a cancellation sent to us from a ``CancelledError`` that user code raised.

``task.cancel()`` counts every request in ``task.cancelling()``; ``asyncio.timeout`` and
``asyncio.TaskGroup`` read that count to tell their own cancellation from anyone else's,
and the runtime reads it the same way. A ``CancelledError`` can also escape user code
with no request behind it: the code awaited a future or a task that *something else*
cancelled, or raised the error itself. Treating that as "stop" is what once made one
callback silently kill the ``AsyncEventBus`` dispatcher and hang every publisher; it is
the code's failure and is handled like any other exception.
"""

from __future__ import annotations

import asyncio

__all__ = ["cancellation_requested"]


def cancellation_requested() -> bool:
    """Has the current task been asked to cancel (and not un-asked)?

    Call it where a ``CancelledError`` was caught: True means it is (or may be) a real
    cancellation of this task, which must propagate; False means the code that was
    awaited raised it on its own. Outside a task nobody can tell, so it answers True.
    """
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0
