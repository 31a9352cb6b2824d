"""Hand-written asyncio baselines that every ratio in the table is measured against.

Each baseline mirrors the shape of the runtime's API (``async with System() as s``,
``ref = await s.spawn(cls, *args)``, ``ref.tell(m)``, ``await ref.ask(m)``, an actor
with ``async def receive(self, message)`` whose return value answers an ask), so a
workload drives every system through the same lines of code and the difference in the
figures is the difference in the machinery, nothing else.

- **bare**: what a careful engineer writes by hand: one task per actor, draining a
  ``deque`` and sleeping on a single-waiter future when it is empty. No supervision, no
  timeouts, no implicit sender, no dead letters: the floor for a task-per-actor design.
- **mailbox** (``BareMailbox`` alone): that deque + future with no actor around it; a
  workload reads it in a plain loop. The practical limit for a message hand-off in Python.
- **queue**: the same actor loop on ``asyncio.Queue``, the stock tool.
- **polling**: the design this runtime replaces: an agent loop doing
  ``await asyncio.wait_for(queue.get(), timeout=poll_interval)`` forever, so an idle
  agent still wakes every ``poll_interval``.
- ``NaiveMailbox``: the list scan one writes for selective receive without a runtime.
- ``CallbackEventBus``: the original design's ``AsyncEventBus`` (dict of event type ->
  callbacks, ``await publish`` gathering them), for the event bus rows.
- ``RestartingSystem``: bare actors whose loop catches a crash and starts again with a
  fresh instance (a hand-written "restart"), for the supervision rows.

None of these is meant for production; they have no error reporting beyond failing an
ask, and closing them cancels their tasks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

__all__ = [
    "POLL_INTERVAL",
    "Ask",
    "BareActor",
    "BareMailbox",
    "BareSystem",
    "CallbackEventBus",
    "NaiveMailbox",
    "PollingActor",
    "PollingSystem",
    "QueueActor",
    "QueueSystem",
    "RestartingSystem",
    "STOP",
]

POLL_INTERVAL = 0.005
"""The polling design's interval: 5 ms (the old agents used 5 ms to 1 s)."""


class Ask:
    """A request and the future its answer goes to (the baselines' ask envelope)."""

    __slots__ = ("future", "message")

    def __init__(self, message: Any, future: asyncio.Future[Any]) -> None:
        self.message = message
        self.future = future


# --------------------------------------------------------------------------- bare


class BareMailbox:
    """A deque plus at most one waiting reader's future: the cheapest async hand-off.

    Invariant: ``_waiter`` is set only while the reader sleeps on an empty deque; ``put``
    clears it before waking the reader, so each put costs one append and one check.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def get(self) -> Any:
        items = self._items
        while not items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter
        return items.popleft()


class BareActor:
    """Base class of bare actors: define ``async def receive(self, message)``."""

    async def receive(self, message: Any) -> Any:
        raise NotImplementedError


async def _bare_loop(actor: BareActor, mailbox: BareMailbox) -> None:
    """The actor's one task: drain the deque, then sleep until ``put`` wakes it."""
    items = mailbox._items
    receive = actor.receive
    loop = asyncio.get_running_loop()
    while True:
        while items:
            item = items.popleft()
            if item.__class__ is Ask:
                future = item.future
                try:
                    result = await receive(item.message)
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                    continue
                if not future.done():
                    future.set_result(result)
            else:
                # try/except, not contextlib.suppress: no context manager per message.
                try:  # noqa: SIM105
                    await receive(item)
                except Exception:
                    pass  # a bare actor drops the failed message and carries on
        waiter = mailbox._waiter = loop.create_future()
        await waiter


class BareRef:
    """Handle on a bare actor."""

    __slots__ = ("_mailbox",)

    def __init__(self, mailbox: BareMailbox) -> None:
        self._mailbox = mailbox

    def tell(self, message: Any) -> None:
        self._mailbox.put(message)

    async def ask(self, message: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._mailbox.put(Ask(message, future))
        return await future


class _TaskSystem:
    """What the task-per-actor baselines share: a set of actor tasks, cancelled on exit."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _start(self, loop_coro: Any) -> None:
        self._tasks.add(asyncio.get_running_loop().create_task(loop_coro))


class BareSystem(_TaskSystem):
    """``async with BareSystem() as s: ref = await s.spawn(Cls, *args)``."""

    async def spawn(self, actor_class: Callable[..., BareActor], /, *args: Any) -> BareRef:
        actor = actor_class(*args)
        mailbox = BareMailbox()
        self._start(_bare_loop(actor, mailbox))
        return BareRef(mailbox)


# --------------------------------------------------------------------------- asyncio.Queue


class QueueActor:
    """Base class of ``asyncio.Queue`` actors (and of polling agents)."""

    async def receive(self, message: Any) -> Any:
        raise NotImplementedError


async def _queue_loop(actor: QueueActor, queue: asyncio.Queue[Any]) -> None:
    receive = actor.receive
    get = queue.get
    while True:
        item = await get()
        if item.__class__ is Ask:
            future = item.future
            try:
                result = await receive(item.message)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(result)
        else:
            try:  # noqa: SIM105  (no context manager per message)
                await receive(item)
            except Exception:
                pass


async def _polling_loop(actor: QueueActor, queue: asyncio.Queue[Any], interval: float) -> None:
    """The replaced agent loop: a timed get, again and again, message or not."""
    receive = actor.receive
    get = queue.get
    while True:
        try:
            item = await asyncio.wait_for(get(), timeout=interval)
        except TimeoutError:
            continue
        if item.__class__ is Ask:
            future = item.future
            try:
                result = await receive(item.message)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(result)
        else:
            try:  # noqa: SIM105  (no context manager per message)
                await receive(item)
            except Exception:
                pass


class QueueRef:
    """Handle on an ``asyncio.Queue`` actor or a polling agent."""

    __slots__ = ("_queue",)

    def __init__(self, queue: asyncio.Queue[Any]) -> None:
        self._queue = queue

    def tell(self, message: Any) -> None:
        self._queue.put_nowait(message)

    async def ask(self, message: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Ask(message, future))
        return await future


class QueueSystem(_TaskSystem):
    """Task-per-actor on an unbounded ``asyncio.Queue``."""

    async def spawn(self, actor_class: Callable[..., QueueActor], /, *args: Any) -> QueueRef:
        actor = actor_class(*args)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._start(_queue_loop(actor, queue))
        return QueueRef(queue)


class PollingActor(QueueActor):
    """Base class of polling agents (same contract as ``QueueActor``)."""


class PollingSystem(_TaskSystem):
    """Agents that poll their queue every ``interval`` seconds (default 5 ms)."""

    def __init__(self, interval: float = POLL_INTERVAL) -> None:
        super().__init__()
        self.interval = interval

    async def spawn(self, actor_class: Callable[..., QueueActor], /, *args: Any) -> QueueRef:
        actor = actor_class(*args)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._start(_polling_loop(actor, queue, self.interval))
        return QueueRef(queue)


# --------------------------------------------------------------------------- selective receive


class NaiveMailbox:
    """Selective receive the obvious way: a list, scanned from the front on every get.

    Waiting is a single-waiter future re-armed after each non-matching put, which is
    enough for the benchmark (it only ever gets with a match already queued).
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, message: Any) -> None:
        self._items.append(message)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def get(self, predicate: Callable[[Any], bool]) -> Any:
        while True:
            items = self._items
            for index, message in enumerate(items):
                if predicate(message):
                    del items[index]
                    return message
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter


# --------------------------------------------------------------------------- event bus


Callback = Callable[[Any], Any]


class CallbackEventBus:
    """The original design's ``AsyncEventBus`` (async-architecture-prd.md), minimal.

    A dict of event type -> callbacks plus ``"*"`` for everything; ``await publish``
    runs every matching callback concurrently through ``asyncio.gather`` with errors
    isolated. Two departures, both in its favour or neutral: the event is not stamped
    with a session id, and the wildcard list is concatenated rather than ``extend``-ed
    into the subscriber list (the original grows that list on every publish, a bug).
    """

    __slots__ = ("_subscribers",)

    def __init__(self) -> None:
        self._subscribers: dict[Any, list[Callback]] = {}

    def subscribe(self, event_type: Any, callback: Callback) -> None:
        self._subscribers.setdefault(event_type, []).append(callback)

    async def publish(self, event: Any) -> None:
        subscribers = self._subscribers
        callbacks = subscribers.get(type(event), []) + subscribers.get("*", [])
        if callbacks:
            await asyncio.gather(
                *[self._safe_callback(callback, event) for callback in callbacks],
                return_exceptions=True,
            )

    async def _safe_callback(self, callback: Callback, event: Any) -> None:
        try:
            result = callback(event)
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            pass  # the original logs here; logging is not what is measured


# --------------------------------------------------------------------------- restart by hand


STOP: Any = object()
"""Told to a ``RestartingSystem`` actor: end its loop (a graceful stop)."""


async def _restarting_loop(factory: Callable[[], BareActor], mailbox: BareMailbox) -> None:
    """The bare loop, restarted by hand: a crash drops the failed message, a fresh
    instance is made and the loop goes on with the messages still queued."""
    items = mailbox._items
    loop = asyncio.get_running_loop()
    while True:
        receive = factory().receive
        try:
            while True:
                while items:
                    item = items.popleft()
                    if item.__class__ is Ask:
                        future = item.future
                        try:
                            result = await receive(item.message)
                        except Exception as exc:
                            if not future.done():
                                future.set_exception(exc)
                            raise
                        if not future.done():
                            future.set_result(result)
                    elif item is STOP:
                        return
                    else:
                        await receive(item)
                waiter = mailbox._waiter = loop.create_future()
                await waiter
        except Exception:
            continue  # the "restart": a new instance on the next turn of the outer loop


class RestartingSystem(_TaskSystem):
    """Bare actors with a hand-written restart in a try/except loop (no intensity, no
    strategies, no events): the floor for "crash, restarted, answering again"."""

    async def spawn(self, actor_class: Callable[..., BareActor], /, *args: Any) -> BareRef:
        mailbox = BareMailbox()
        self._start(_restarting_loop(lambda: actor_class(*args), mailbox))
        return BareRef(mailbox)

    async def stop_all(self, refs: list[BareRef]) -> None:
        """Stop every actor gracefully (newest first) and wait until all have ended."""
        for ref in reversed(refs):
            ref.tell(STOP)
        await asyncio.gather(*self._tasks)
        self._tasks.clear()
