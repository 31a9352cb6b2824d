"""``AsyncEventBus`` and ``CancelledError`` (issue 18).

A ``CancelledError`` a callback raises on its own (it awaited a future or a task that
something else cancelled) is that callback's failure: logged, counted, the other
callbacks run and ``publish`` returns. A real cancellation (of the publisher, or of the
dispatcher) still propagates. Whatever ends the dispatcher, no publisher is left
waiting: pending and later publishes raise ``EventBusClosed``.

The ``asyncio.timeout`` guards only turn a hang (the bug) into a failure; no assertion
depends on timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from actors import ActorRef, ActorsError, ActorSystem, AsyncEventBus, EventBusClosed

GUARD = 10.0  # seconds before a hang is called a hang


class Ev(msgspec.Struct, frozen=True):
    n: int


async def awaits_cancelled_future(event: Any) -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.cancel()
    await future


async def awaits_cancelled_task(event: Any) -> None:
    task = asyncio.get_running_loop().create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    task.cancel()
    await task


async def raises_cancelled_async(event: Any) -> None:
    raise asyncio.CancelledError("given up")


def raises_cancelled_sync(event: Any) -> None:
    raise asyncio.CancelledError


CANCELLING_CALLBACKS = [
    awaits_cancelled_future,
    awaits_cancelled_task,
    raises_cancelled_async,
    raises_cancelled_sync,
]


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as captured:
        yield captured


async def dispatcher_of(system: ActorSystem) -> ActorRef:
    """The facade's dispatcher: the one actor subscribed to everything."""
    [subscription] = [s for s in await system.subscriptions() if s.to == "*"]
    return subscription.subscriber


def recorder(seen: list[Any]) -> Callable[[Any], None]:
    return seen.append


# ---------------------------------------------------------------------- isolated


@pytest.mark.parametrize("bad", CANCELLING_CALLBACKS, ids=lambda f: f.__name__)
async def test_callback_raising_cancelled_error_isolated_others_run_publish_returns(
    bad: Callable[[Any], Any], logs: list[dict[str, Any]]
) -> None:
    seen: list[Any] = []
    async with AsyncEventBus("s") as bus:
        bus.subscribe(Ev, bad)
        bus.subscribe(Ev, recorder(seen))
        async with asyncio.timeout(GUARD):
            await bus.publish(Ev(1))
            await bus.publish(Ev(2))  # the dispatcher survived
        assert seen == [Ev(1), Ev(2)]
        assert bus.callback_errors == 2
    failures = [entry for entry in logs if entry["event"] == "event callback failed"]
    assert [(e["callback"], e["error_type"]) for e in failures] == [
        (bad.__qualname__, "CancelledError")
    ] * 2
    assert all(e["log_level"] == "error" and e.get("exc_info") for e in failures)
    assert not [entry for entry in logs if entry["event"] == "actor stopped"]


async def test_callback_errors_counts_every_failing_call() -> None:
    def broken(event: Any) -> None:
        raise ValueError("broken")

    async with AsyncEventBus("s") as bus:
        assert bus.callback_errors == 0
        bus.subscribe(Ev, broken)
        bus.subscribe("*", awaits_cancelled_future)
        bus.subscribe(Ev, recorder([]))
        async with asyncio.timeout(GUARD):
            for n in range(3):
                await bus.publish(Ev(n))
        assert bus.callback_errors == 6


async def test_callback_cancelled_error_inside_inline_publish_isolated() -> None:
    """A callback's follow-up publish runs its callbacks inline: same isolation."""
    seen: list[Any] = []
    async with AsyncEventBus("s") as bus:

        async def follow_up(event: Ev) -> None:
            if event.n == 1:
                await bus.publish(Ev(2))
            seen.append(("after follow-up", event))

        bus.subscribe(Ev, follow_up)
        bus.subscribe(Ev, awaits_cancelled_task)
        bus.subscribe(Ev, recorder(seen))
        async with asyncio.timeout(GUARD):
            await bus.publish(Ev(1))
        assert seen == [("after follow-up", Ev(2)), Ev(2), ("after follow-up", Ev(1)), Ev(1)]
        assert bus.callback_errors == 2


# ---------------------------------------------------------------------- real cancellations


async def test_publisher_cancelled_while_waiting_gets_cancelled_error_bus_keeps_working() -> None:
    seen: list[Any] = []
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow(event: Ev) -> None:
        if event.n == 1:
            entered.set()
            await release.wait()
        seen.append(event)

    async with AsyncEventBus("s") as bus:
        bus.subscribe(Ev, slow)
        publisher = asyncio.create_task(bus.publish(Ev(1)))
        async with asyncio.timeout(GUARD):
            await entered.wait()
            publisher.cancel()
            with pytest.raises(asyncio.CancelledError):
                await publisher
            release.set()
            await bus.publish(Ev(2))
        assert seen == [Ev(1), Ev(2)]
        assert bus.callback_errors == 0


async def test_dispatcher_killed_mid_callback_cancellation_propagates_publishers_fail() -> None:
    """A real cancellation of the dispatcher is not a callback error: the callback sees
    it, the callbacks after it do not run, and the waiting publish fails at once."""
    entered = asyncio.Event()
    callback_saw: list[str] = []
    after: list[Any] = []

    async def blocked(event: Any) -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            callback_saw.append("cancelled")
            raise

    async with ActorSystem("shared") as system, AsyncEventBus("s", system=system) as bus:
        bus.subscribe(Ev, blocked)
        bus.subscribe(Ev, recorder(after))
        dispatcher = await dispatcher_of(system)
        publisher = asyncio.create_task(bus.publish(Ev(1)))
        async with asyncio.timeout(GUARD):
            await entered.wait()
            await system.stop(dispatcher, timeout=0)  # cancel its task now
            killed = r"dispatcher `shared/_dispatcher-\d+` was killed"
            with pytest.raises(EventBusClosed, match=killed):
                await publisher
            with pytest.raises(EventBusClosed, match="was killed"):
                await bus.publish(Ev(2))
        assert callback_saw == ["cancelled"]
        assert after == []
        assert bus.callback_errors == 0


async def test_dispatcher_stopped_queued_publish_fails_running_one_completes() -> None:
    entered = asyncio.Event()
    release = asyncio.Event()
    seen: list[Any] = []

    async def slow(event: Ev) -> None:
        if event.n == 1:
            entered.set()
            await release.wait()
        seen.append(event)

    async with ActorSystem("shared") as system, AsyncEventBus("s", system=system) as bus:
        bus.subscribe(Ev, slow)
        dispatcher = await dispatcher_of(system)
        first = asyncio.create_task(bus.publish(Ev(1)))
        async with asyncio.timeout(GUARD):
            await entered.wait()
            second = asyncio.create_task(bus.publish(Ev(2)))
            await system.subscriptions()  # the bus has queued Ev(2) for the dispatcher
            stopping = asyncio.create_task(system.stop(dispatcher))  # after Ev(1)
            await asyncio.sleep(0)
            release.set()
            await first
            stopped = r"dispatcher `shared/_dispatcher-\d+` stopped"
            with pytest.raises(EventBusClosed, match=stopped):
                await second
            await stopping
        assert seen == [Ev(1)]


async def test_publish_after_dispatcher_stopped_raises_at_once() -> None:
    async with ActorSystem("shared") as system, AsyncEventBus("s", system=system) as bus:
        await bus.publish(Ev(1))
        await system.stop(await dispatcher_of(system))
        async with asyncio.timeout(GUARD):
            with pytest.raises(EventBusClosed) as caught:
                await bus.publish(Ev(2))
        error = caught.value
        assert str(error) == (
            f"AsyncEventBus `s` is closed: its dispatcher `{error.actor}` stopped, so no "
            "callback will run again; create a new AsyncEventBus"
        )
        assert error.actor is not None and error.actor.startswith("shared/_dispatcher-")


async def test_publish_after_shared_system_exited_raises_event_bus_closed() -> None:
    system = ActorSystem("shared")
    async with system:
        bus = AsyncEventBus("s", system=system)
        await bus.publish(Ev(1))
    async with asyncio.timeout(GUARD):
        with pytest.raises(EventBusClosed, match=r"dispatcher `shared/_dispatcher-\d+` stopped"):
            await bus.publish(Ev(2))
    await bus.close()


async def test_close_while_publish_waits_fails_it_with_event_bus_closed() -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow(event: Ev) -> None:
        if event.n == 1:
            entered.set()
            await release.wait()

    async with AsyncEventBus("s") as bus:
        bus.subscribe(Ev, slow)
        first = asyncio.create_task(bus.publish(Ev(1)))
        async with asyncio.timeout(GUARD):
            await entered.wait()
            second = asyncio.create_task(bus.publish(Ev(2)))
            await asyncio.sleep(0)
            closing = asyncio.create_task(bus.close())
            await asyncio.sleep(0)
            release.set()
            await closing
            await first
            with pytest.raises(EventBusClosed, match=r"AsyncEventBus `s` is closed"):
                await second


def test_event_bus_closed_is_runtime_error_and_actors_error() -> None:
    assert issubclass(EventBusClosed, RuntimeError)
    assert issubclass(EventBusClosed, ActorsError)
