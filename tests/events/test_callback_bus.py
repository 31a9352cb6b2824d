"""``AsyncEventBus`` (``actors/_callback_bus.py``): the callback facade of the original
design, on top of the actor bus.

``await bus.publish(event)`` returns once this facade's callbacks ran, so most tests
need no waiting at all; where an actor is involved, the bus and the actor are flushed
with ask round-trips, or a callback resolves a future.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from actors import Actor, ActorStarted, ActorSystem, AsyncEventBus, Subscription

# ---------------------------------------------------------------------- events and actors


class OrderEvent(msgspec.Struct, frozen=True):
    order_id: int


class OrderCreated(OrderEvent, frozen=True):
    pass


class PaymentReceived(msgspec.Struct, frozen=True):
    amount: int


class Flush(msgspec.Struct):
    """Answered once everything queued before it was handled."""


class Announce(msgspec.Struct):
    """Tells a ``Member`` to publish ``event`` from inside the actor."""

    event: Any


class Member(Actor):
    """An actor on the shared system: records what the bus delivers, publishes on
    ``Announce``."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        match message:
            case Flush():
                return len(self.seen)
            case Announce(event):
                self.system.publish(event)
            case _:
                self.seen.append(message)
        return None


class Recorder:
    """Sync and async callbacks that record ``(name, event)`` in one shared list."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def sync(self, name: str) -> Any:
        def callback(event: Any) -> None:
            self.calls.append((name, event))

        callback.__qualname__ = f"sync_{name}"
        return callback

    def async_(self, name: str) -> Any:
        async def callback(event: Any) -> None:
            for _ in range(3):  # suspend a few times before recording
                await asyncio.sleep(0)
            self.calls.append((name, event))

        callback.__qualname__ = f"async_{name}"
        return callback


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as captured:
        yield captured


# ---------------------------------------------------------------------- callbacks


async def test_facade_sync_callback_called_before_publish_returns(recorder: Recorder) -> None:
    async with AsyncEventBus("s1") as bus:
        bus.subscribe(OrderEvent, recorder.sync("a"))
        await bus.publish(OrderEvent(1))
        assert recorder.calls == [("a", OrderEvent(1))]


async def test_facade_async_callback_awaited_before_publish_returns(recorder: Recorder) -> None:
    async with AsyncEventBus("s1") as bus:
        bus.subscribe(OrderEvent, recorder.async_("a"))
        await bus.publish(OrderEvent(1))
        assert recorder.calls == [("a", OrderEvent(1))]
        await bus.publish(OrderEvent(2))
        assert recorder.calls == [("a", OrderEvent(1)), ("a", OrderEvent(2))]


async def test_facade_sync_and_async_callbacks_all_run_in_subscription_order(
    recorder: Recorder,
) -> None:
    async with AsyncEventBus("s1") as bus:
        bus.subscribe(OrderEvent, recorder.async_("a"))
        bus.subscribe(OrderEvent, recorder.sync("b"))
        bus.subscribe(OrderEvent, recorder.async_("c"))
        await bus.publish(OrderEvent(1))
        assert recorder.calls == [("a", OrderEvent(1)), ("b", OrderEvent(1)), ("c", OrderEvent(1))]


async def test_facade_base_class_subscription_subclass_event_matches(recorder: Recorder) -> None:
    async with AsyncEventBus("s1") as bus:
        bus.subscribe(OrderEvent, recorder.sync("base"))
        bus.subscribe(OrderCreated, recorder.sync("sub"))
        await bus.publish(OrderCreated(1))
        await bus.publish(OrderEvent(2))
        await bus.publish(PaymentReceived(3))
        assert recorder.calls == [
            ("base", OrderCreated(1)),
            ("sub", OrderCreated(1)),
            ("base", OrderEvent(2)),
        ]


async def test_facade_wildcard_callback_gets_every_event(recorder: Recorder) -> None:
    async with AsyncEventBus("s1") as bus:
        bus.subscribe("*", recorder.sync("all"))
        await bus.publish(OrderCreated(1))
        await bus.publish(PaymentReceived(2))
        await bus.publish("plain text")
        assert recorder.calls == [
            ("all", OrderCreated(1)),
            ("all", PaymentReceived(2)),
            ("all", "plain text"),
        ]


async def test_facade_publish_no_callbacks_returns() -> None:
    async with AsyncEventBus("s1") as bus:
        async with asyncio.timeout(2.0):
            await bus.publish(OrderEvent(1))


async def test_facade_concurrent_publishes_each_returns_after_its_callbacks(
    recorder: Recorder,
) -> None:
    async with AsyncEventBus("s1") as bus:
        bus.subscribe(OrderEvent, recorder.async_("a"))
        events = [OrderEvent(n) for n in range(20)]
        same = OrderEvent(99)

        async def publish(event: Any) -> None:
            await bus.publish(event)
            assert ("a", event) in recorder.calls

        async with asyncio.timeout(2.0), asyncio.TaskGroup() as group:
            for event in [*events, same, same]:  # one object published twice at once
                group.create_task(publish(event))
        assert sorted(e.order_id for _, e in recorder.calls) == [*range(20), 99, 99]


async def test_facade_callback_error_logged_others_still_run(
    recorder: Recorder, logs: list[dict[str, Any]]
) -> None:
    def broken(event: Any) -> None:
        raise ValueError("callback broke")

    async def broken_async(event: Any) -> None:
        await asyncio.sleep(0)
        raise KeyError("async callback broke")

    async with AsyncEventBus("s1") as bus:
        bus.subscribe(OrderEvent, broken)
        bus.subscribe(OrderEvent, recorder.sync("after_sync_error"))
        bus.subscribe("*", broken_async)
        bus.subscribe("*", recorder.async_("after_async_error"))
        await bus.publish(OrderCreated(1))
        assert recorder.calls == [
            ("after_sync_error", OrderCreated(1)),
            ("after_async_error", OrderCreated(1)),
        ]
        # The dispatcher survived: the next event goes through as well.
        await bus.publish(OrderEvent(2))
        assert recorder.calls[-1] == ("after_async_error", OrderEvent(2))
    failures = [entry for entry in logs if entry["event"] == "event callback failed"]
    assert [(e["callback"], e["event_type"]) for e in failures[:2]] == [
        (broken.__qualname__, "OrderCreated"),
        (broken_async.__qualname__, "OrderCreated"),
    ]
    assert all(e["log_level"] == "error" and e["session"] == "s1" for e in failures)
    assert all(e.get("exc_info") for e in failures)
    assert len(failures) == 4


async def test_facade_unsubscribe_callback_not_called_again(recorder: Recorder) -> None:
    async with AsyncEventBus("s1") as bus:
        first, second = recorder.sync("first"), recorder.sync("second")
        bus.subscribe(OrderEvent, first)
        bus.subscribe(OrderEvent, second)
        await bus.publish(OrderEvent(1))
        bus.unsubscribe(OrderEvent, first)
        await bus.publish(OrderEvent(2))
        assert recorder.calls == [
            ("first", OrderEvent(1)),
            ("second", OrderEvent(1)),
            ("second", OrderEvent(2)),
        ]


async def test_facade_unsubscribe_without_callback_removes_all_of_type(
    recorder: Recorder,
) -> None:
    async with AsyncEventBus("s1") as bus:
        bus.subscribe(OrderEvent, recorder.sync("a"))
        bus.subscribe(OrderEvent, recorder.async_("b"))
        bus.subscribe("*", recorder.sync("all"))
        bus.unsubscribe(OrderEvent)
        bus.unsubscribe(PaymentReceived)  # never subscribed: nothing happens
        bus.unsubscribe("*", recorder.sync("not subscribed"))
        await bus.publish(OrderEvent(1))
        assert recorder.calls == [("all", OrderEvent(1))]


@pytest.mark.parametrize(
    ("event_type", "callback", "message"),
    [
        ("orders.*", print, r"subscribe to a class or '\*', got 'orders\.\*'"),
        (OrderEvent(1), print, r"subscribe to a class or '\*', got OrderEvent"),
        (OrderEvent, "not callable", r"callback must be callable, got 'not callable'"),
    ],
)
async def test_facade_subscribe_invalid_arguments_raise_type_error(
    event_type: Any, callback: Any, message: str
) -> None:
    async with AsyncEventBus("s1") as bus:
        with pytest.raises(TypeError, match=message):
            bus.subscribe(event_type, callback)


async def test_facade_callback_publishes_follow_up_event_both_handled(
    recorder: Recorder,
) -> None:
    """The original ``AsyncEventBus`` ran callbacks in the publisher's task, so a
    callback could ``await bus.publish(...)`` a follow-up event; migrated code does that."""
    async with AsyncEventBus("s1") as bus:

        async def on_order(event: OrderEvent) -> None:
            await bus.publish(PaymentReceived(event.order_id * 10))

        bus.subscribe(OrderEvent, on_order)
        bus.subscribe(PaymentReceived, recorder.sync("payment"))
        async with asyncio.timeout(1.0):
            await bus.publish(OrderEvent(1))
        assert recorder.calls == [("payment", PaymentReceived(10))]


# ---------------------------------------------------------------------- closing


async def test_facade_publish_after_close_raises_runtime_error() -> None:
    async with AsyncEventBus("s1") as bus:
        await bus.publish(OrderEvent(1))
    with pytest.raises(RuntimeError, match=r"AsyncEventBus `s1` is closed; publish before close"):
        await bus.publish(OrderEvent(2))


async def test_facade_publish_after_close_never_started_raises_runtime_error() -> None:
    bus = AsyncEventBus("s2")
    await bus.close()
    with pytest.raises(RuntimeError, match=r"AsyncEventBus `s2` is closed"):
        await bus.publish(OrderEvent(1))


async def test_facade_close_twice_is_noop() -> None:
    bus = AsyncEventBus("s1")
    async with bus:
        await bus.publish(OrderEvent(1))
        await bus.close()
        await bus.close()
    await bus.close()


async def test_facade_close_on_shared_system_stops_dispatching_system_keeps_running(
    recorder: Recorder,
) -> None:
    async with ActorSystem("shared") as system:
        seen: list[Any] = []
        member = await system.spawn(Member, seen)
        await system.subscribe(member, OrderEvent)
        bus = AsyncEventBus("s1", system=system)
        async with bus:
            bus.subscribe(OrderEvent, recorder.sync("facade"))
            await bus.publish(OrderEvent(1))
        assert await system.subscriptions() == [Subscription(member, OrderEvent)]
        system.publish(OrderEvent(2))
        await system.subscriptions()
        await member.ask(Flush())
        assert seen == [OrderEvent(1), OrderEvent(2)]
        assert recorder.calls == [("facade", OrderEvent(1))]


# ---------------------------------------------------------------------- a shared system


async def test_facade_shared_system_callbacks_see_events_actors_publish() -> None:
    async with ActorSystem("shared") as system, AsyncEventBus("s1", system=system) as bus:
        received: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        bus.subscribe(PaymentReceived, received.set_result)
        member = await system.spawn(Member, [])
        member.tell(Announce(PaymentReceived(5)))
        async with asyncio.timeout(2.0):
            assert await received == PaymentReceived(5)


async def test_facade_shared_system_actors_see_events_facade_publishes() -> None:
    async with ActorSystem("shared") as system, AsyncEventBus("s1", system=system) as bus:
        seen: list[Any] = []
        member = await system.spawn(Member, seen)
        await system.subscribe(member, OrderEvent)
        await bus.publish(OrderCreated(1))
        await bus.publish(PaymentReceived(2))
        await system.subscriptions()
        await member.ask(Flush())
        assert seen == [OrderCreated(1)]


async def test_facade_shared_system_callback_sees_runtime_events() -> None:
    async with ActorSystem("shared") as system, AsyncEventBus("s1", system=system) as bus:
        started: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        bus.subscribe(ActorStarted, started.set_result)
        await system.spawn(Member, [], name="member")
        async with asyncio.timeout(2.0):
            assert await started == ActorStarted("shared/member", "Member")


async def test_facade_two_facades_one_system_each_sees_the_others_events(
    recorder: Recorder,
) -> None:
    async with (
        ActorSystem("shared") as system,
        AsyncEventBus("left", system=system) as left,
        AsyncEventBus("right", system=system) as right,
    ):
        right_got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        left.subscribe(OrderEvent, recorder.sync("left"))
        right.subscribe(OrderEvent, right_got.set_result)
        await left.publish(OrderEvent(1))
        assert recorder.calls == [("left", OrderEvent(1))]
        async with asyncio.timeout(2.0):
            assert await right_got == OrderEvent(1)
