"""The ``Actor`` contract (``actors/_actor.py``, ``actors/_cell.py``): hooks, context,
selective receive, children, watching, failure and ordering."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from actors import (
    Actor,
    ActorCrashed,
    ActorNotFound,
    ActorRef,
    ActorSystem,
    Priority,
    Terminated,
)

# ---------------------------------------------------------------------- messages


class Get(msgspec.Struct):
    pass


class Num(msgspec.Struct):
    n: int


class Boom(msgspec.Struct):
    pass


class StopSelf(msgspec.Struct):
    pass


class Wanted(msgspec.Struct):
    pass


class Watch(msgspec.Struct):
    ref: ActorRef


class Unwatch(msgspec.Struct):
    ref: ActorRef


class Forward(msgspec.Struct):
    target: ActorRef
    message: Any


# ---------------------------------------------------------------------- actors


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


class Recorder(Actor):
    """Appends every ``Num`` to ``log``; ``Get`` answers the log; ``Boom`` raises;
    ``StopSelf`` stops."""

    def __init__(self, log: list[Any] | None = None) -> None:
        self.log = [] if log is None else log

    async def receive(self, message: Any) -> Any:
        match message:
            case Num(n):
                self.log.append(n)
            case Get():
                return list(self.log)
            case Boom():
                raise ValueError("boom")
            case StopSelf():
                self.stop()
        return None


class Gated(Recorder):
    """Like Recorder, but the first message blocks until ``gate`` is set (and sets
    ``entered`` when it starts), so later messages queue up behind it."""

    def __init__(self, log: list[Any], entered: asyncio.Event, gate: asyncio.Event) -> None:
        super().__init__(log)
        self.entered = entered
        self.gate = gate

    async def receive(self, message: Any) -> Any:
        if not self.entered.is_set():
            self.entered.set()
            await self.gate.wait()
        return await super().receive(message)


class Watcher(Actor):
    """Watches/unwatches on request and records every ``Terminated``."""

    def __init__(self) -> None:
        self.seen: list[Terminated] = []
        self.arrived = asyncio.Event()

    async def receive(self, message: Any) -> Any:
        match message:
            case Watch(ref):
                self.watch(ref)
            case Unwatch(ref):
                self.unwatch(ref)
            case Terminated():
                self.seen.append(message)
                self.arrived.set()
            case Get():
                return list(self.seen)
        return None


class Stopping(Actor):
    """Records its ``stopped()`` in a shared list under its label."""

    def __init__(self, label: str, log: list[str]) -> None:
        self.label = label
        self.log = log

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Boom):
            raise ValueError("boom")
        return None

    async def stopped(self) -> None:
        await asyncio.sleep(0)
        self.log.append(self.label)


class ParentWithChild(Stopping):
    """Spawns one ``Stopping`` child in ``started()``."""

    async def started(self) -> None:
        self.child = await self.spawn(Stopping, f"{self.label}.child", self.log)


# ---------------------------------------------------------------------- receive


async def test_receive_return_value_answers_ask() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Echo)
        assert await ref.ask(Num(3), timeout=1) == Num(3)


async def test_receive_returning_none_answers_ask_with_none() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder)
        assert await ref.ask(Num(1), timeout=1) is None


# ---------------------------------------------------------------------- started()


async def test_started_runs_before_first_message_even_one_sent_during_started() -> None:
    events: list[str] = []

    class Early(Actor):
        async def started(self) -> None:
            self.ref.tell(Num(1))  # queued while starting
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            events.append("started")

        async def receive(self, message: Any) -> Any:
            events.append("receive")

    async with ActorSystem("test") as system:
        ref = await system.spawn(Early)
        await ref.ask(Get(), timeout=1)
    assert events == ["started", "receive", "receive"]


async def test_started_runs_in_actor_task_not_spawner_task() -> None:
    tasks: dict[str, asyncio.Task[Any] | None] = {}

    class WhereAmI(Actor):
        async def started(self) -> None:
            tasks["started"] = asyncio.current_task()

        async def receive(self, message: Any) -> Any:
            tasks["receive"] = asyncio.current_task()

    async with ActorSystem("test") as system:
        spawner = asyncio.current_task()
        ref = await system.spawn(WhereAmI)
        await ref.ask(Get(), timeout=1)
    assert tasks["started"] is not None
    assert tasks["started"] is not spawner
    assert tasks["receive"] is not None
    assert tasks["receive"] is not spawner


async def test_spawn_started_awaits_returns_after_started_finished() -> None:
    class Slow(Actor):
        done = False

        async def started(self) -> None:
            for _ in range(5):
                await asyncio.sleep(0)
            Slow.done = True

        async def receive(self, message: Any) -> Any:
            return None

    async with ActorSystem("test") as system:
        await system.spawn(Slow)
        assert Slow.done


async def test_spawn_started_raises_actor_crashed_with_cause_and_actor_gone() -> None:
    original = ValueError("bad start")

    class BadStart(Actor):
        async def started(self) -> None:
            raise original

        async def receive(self, message: Any) -> Any:
            return None

    async with ActorSystem("test") as system:
        with pytest.raises(ActorCrashed, match=r"`test/bad` failed to start") as info:
            await system.spawn(BadStart, name="bad")
        assert info.value.__cause__ is original
        assert info.value.actor == "test/bad"
        assert system.whereis("bad") is None
        assert "bad" not in system.registered()
        ref = await system.spawn(Echo, name="bad")  # the name is free again
        assert await ref.ask(Num(1), timeout=1) == Num(1)


async def test_spawn_init_raises_actor_crashed_with_cause_and_name_free() -> None:
    class BadInit(Actor):
        def __init__(self) -> None:
            raise KeyError("init")

        async def receive(self, message: Any) -> Any:
            return None

    async with ActorSystem("test") as system:
        with pytest.raises(ActorCrashed, match=r"`test/bad` failed to start") as info:
            await system.spawn(BadInit, name="bad")
        assert isinstance(info.value.__cause__, KeyError)
        assert system.whereis("bad") is None
        assert await system.spawn(Echo, name="bad") == system.whereis("bad")


async def test_spawn_args_and_kwargs_reach_init() -> None:
    class Args(Actor):
        def __init__(self, a: int, *, b: str) -> None:
            self.value = (a, b)

        async def receive(self, message: Any) -> Any:
            return self.value

    async with ActorSystem("test") as system:
        ref = await system.spawn(Args, 1, b="two")
        assert await ref.ask(Get(), timeout=1) == (1, "two")


# ---------------------------------------------------------------------- stopped()


async def test_stopped_runs_on_stop() -> None:
    log: list[str] = []
    async with ActorSystem("test") as system:
        ref = await system.spawn(Stopping, "a", log)
        await system.stop(ref)
        assert log == ["a"]


async def test_stopped_runs_after_crash() -> None:
    log: list[str] = []
    async with ActorSystem("test") as system:
        ref = await system.spawn(Stopping, "a", log)
        with pytest.raises(ActorCrashed):
            await ref.ask(Boom(), timeout=1)
        await system.stop(ref)  # waits for the crashed actor's exit to finish
        assert log == ["a"]


async def test_stopped_runs_after_children_stopped_on_stop() -> None:
    log: list[str] = []
    async with ActorSystem("test") as system:
        ref = await system.spawn(ParentWithChild, "parent", log)
        await system.stop(ref)
        assert log == ["parent.child", "parent"]


async def test_stopped_runs_after_children_stopped_on_crash() -> None:
    log: list[str] = []
    async with ActorSystem("test") as system:
        ref = await system.spawn(ParentWithChild, "parent", log)
        with pytest.raises(ActorCrashed):
            await ref.ask(Boom(), timeout=1)
        await system.stop(ref)
        assert log == ["parent.child", "parent"]


async def test_stopped_runs_once_per_actor() -> None:
    log: list[str] = []
    async with ActorSystem("test") as system:
        ref = await system.spawn(Stopping, "a", log)
        await system.stop(ref)
        await system.stop(ref)
    assert log == ["a"]


# ---------------------------------------------------------------------- context


async def test_self_ref_system_path_match_spawn() -> None:
    class Context(Actor):
        async def receive(self, message: Any) -> Any:
            return (self.ref, self.system, self.ref.path)

    async with ActorSystem("test") as system:
        ref = await system.spawn(Context, name="ctx")
        self_ref, self_system, path = await ref.ask(Get(), timeout=1)
        assert self_ref == ref
        assert self_system is system
        assert path == "test/ctx" == ref.path


async def test_self_path_of_child_is_under_parent_path() -> None:
    class Parent(Actor):
        async def receive(self, message: Any) -> Any:
            child = await self.spawn(Echo, name="kid")
            return child.path

    async with ActorSystem("test") as system:
        ref = await system.spawn(Parent, name="mom")
        assert await ref.ask(Get(), timeout=1) == "test/mom/kid"


async def test_self_sender_tell_from_actor_is_sending_actor_ref() -> None:
    class Relay(Actor):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, Forward):
                message.target.tell(message.message)
            return None

    class SenderLog(Actor):
        def __init__(self) -> None:
            self.senders: list[Any] = []

        async def receive(self, message: Any) -> Any:
            if isinstance(message, Get):
                return self.senders
            self.senders.append(self.sender)
            return None

    async with ActorSystem("test") as system:
        relay = await system.spawn(Relay)
        target = await system.spawn(SenderLog)
        await relay.ask(Forward(target, Num(1)), timeout=1)
        assert await target.ask(Get(), timeout=1) == [relay]


async def test_self_sender_tell_from_outside_is_none() -> None:
    class SenderLog(Actor):
        def __init__(self) -> None:
            self.senders: list[Any] = []

        async def receive(self, message: Any) -> Any:
            if isinstance(message, Get):
                return self.senders
            self.senders.append(self.sender)
            return None

    async with ActorSystem("test") as system:
        ref = await system.spawn(SenderLog)
        ref.tell(Num(1))
        assert await ref.ask(Get(), timeout=1) == [None]


async def test_self_sender_tell_answers_ask() -> None:
    class Answerer(Actor):
        async def receive(self, message: Any) -> Any:
            self.sender.tell(42)
            return None  # only the first answer counts

    async with ActorSystem("test") as system:
        ref = await system.spawn(Answerer)
        assert await ref.ask(Get(), timeout=1) == 42


# ---------------------------------------------------------------------- selective receive


class Selective(Actor):
    """On ``Num(0)`` waits for ``Wanted`` by selective receive; every other ``Num`` is
    logged; ``Get`` answers the log."""

    def __init__(self, waiting: asyncio.Event) -> None:
        self.log: list[Any] = []
        self.waiting = waiting

    async def receive(self, message: Any) -> Any:
        match message:
            case Num(0):
                self.waiting.set()
                try:
                    got = await self.mailbox.get(lambda m: isinstance(m, Wanted), timeout=1)
                except TimeoutError:
                    self.log.append("timeout")
                else:
                    self.log.append(type(got).__name__)
            case Num(n):
                self.log.append(n)
            case Get():
                return self.log
        return None


async def test_selective_receive_queued_match_leaves_others_in_order() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Selective, asyncio.Event())
        for message in (Num(0), Num(1), Num(2), Wanted(), Num(3)):
            ref.tell(message)
        assert await ref.ask(Get(), timeout=1) == ["Wanted", 1, 2, 3]


async def test_selective_receive_waiting_match_leaves_others_in_order() -> None:
    waiting = asyncio.Event()
    async with ActorSystem("test") as system:
        ref = await system.spawn(Selective, waiting)
        ref.tell(Num(0))
        await waiting.wait()  # the handler now sleeps in mailbox.get
        for message in (Num(1), Num(2), Wanted(), Num(3)):
            ref.tell(message)
        assert await ref.ask(Get(), timeout=1) == ["Wanted", 1, 2, 3]


async def test_selective_receive_timeout_takes_nothing() -> None:
    class ShortWait(Selective):
        async def receive(self, message: Any) -> Any:
            if message == Num(0):
                try:
                    await self.mailbox.get(lambda m: isinstance(m, Wanted), timeout=0.01)
                except TimeoutError:
                    self.log.append("timeout")
                return None
            return await super().receive(message)

    async with ActorSystem("test") as system:
        ref = await system.spawn(ShortWait, asyncio.Event())
        for message in (Num(0), Num(1), Num(2)):
            ref.tell(message)
        assert await ref.ask(Get(), timeout=1) == ["timeout", 1, 2]


# ---------------------------------------------------------------------- children


async def test_spawn_child_stopped_before_parent() -> None:
    log: list[str] = []
    async with ActorSystem("test") as system:
        await system.spawn(ParentWithChild, "parent", log)
    assert log == ["parent.child", "parent"]


async def test_spawn_children_stopped_newest_first() -> None:
    log: list[str] = []

    class Many(Stopping):
        async def started(self) -> None:
            for i in range(3):
                await self.spawn(Stopping, f"child{i}", self.log)

    async with ActorSystem("test") as system:
        ref = await system.spawn(Many, "parent", log)
        await system.stop(ref)
        assert log == ["child2", "child1", "child0", "parent"]


# ---------------------------------------------------------------------- watch


async def _watched(system: ActorSystem, target: ActorRef) -> tuple[ActorRef, Watcher]:
    holder: list[Watcher] = []

    class Probe(Watcher):
        def __init__(self) -> None:
            super().__init__()
            holder.append(self)

    watcher = await system.spawn(Probe)
    await watcher.ask(Watch(target), timeout=1)
    return watcher, holder[0]


async def test_watch_target_stops_itself_terminated_reason_normal() -> None:
    async with ActorSystem("test") as system:
        target = await system.spawn(Recorder)
        _, probe = await _watched(system, target)
        target.tell(StopSelf())
        await probe.arrived.wait()
        assert probe.seen == [Terminated(target, "normal")]
        assert probe.seen[0].normal


async def test_watch_target_stopped_by_system_terminated_reason_shutdown() -> None:
    async with ActorSystem("test") as system:
        target = await system.spawn(Recorder)
        _, probe = await _watched(system, target)
        await system.stop(target)
        await probe.arrived.wait()
        assert probe.seen == [Terminated(target, "shutdown")]


async def test_watch_target_crashes_terminated_reason_names_exception() -> None:
    async with ActorSystem("test") as system:
        target = await system.spawn(Recorder)
        _, probe = await _watched(system, target)
        target.tell(Boom())
        await probe.arrived.wait()
        assert probe.seen == [Terminated(target, "ValueError: boom")]
        assert not probe.seen[0].normal


async def test_watch_already_stopped_terminated_reason_noproc() -> None:
    async with ActorSystem("test") as system:
        target = await system.spawn(Recorder)
        await system.stop(target)
        _, probe = await _watched(system, target)
        await probe.arrived.wait()
        assert probe.seen == [Terminated(target, "noproc")]


async def test_watch_twice_delivers_once() -> None:
    async with ActorSystem("test") as system:
        target = await system.spawn(Recorder)
        watcher, _ = await _watched(system, target)
        await watcher.ask(Watch(target), timeout=1)
        await system.stop(target)
        assert await watcher.ask(Get(), timeout=1) == [Terminated(target, "shutdown")]


async def test_unwatch_stops_delivery() -> None:
    async with ActorSystem("test") as system:
        target = await system.spawn(Recorder)
        watcher, _ = await _watched(system, target)
        await watcher.ask(Unwatch(target), timeout=1)
        await system.stop(target)
        assert await watcher.ask(Get(), timeout=1) == []


async def test_watcher_stopped_first_gets_nothing_and_no_dead_letter() -> None:
    async with ActorSystem("test") as system:
        target = await system.spawn(Recorder)
        watcher, _ = await _watched(system, target)
        await system.stop(watcher)
        dead_letters = system.metrics().dead_letters
        await system.stop(target)
        assert system.metrics().dead_letters == dead_letters


# ---------------------------------------------------------------------- failure


async def test_handler_exception_stops_actor_later_tells_dead_letters() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder)
        with pytest.raises(ActorCrashed):
            await ref.ask(Boom(), timeout=1)
        assert not ref.is_alive()
        before = system.metrics().dead_letters
        ref.tell(Num(1))
        ref.tell(Num(2))
        assert system.metrics().dead_letters == before + 2


async def test_handler_exception_stops_actor_later_asks_actor_not_found_at_once() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder)
        ref.tell(Boom())
        with pytest.raises(ActorNotFound):
            await ref.ask(Get(), timeout=1)  # queued behind the crash
        async with asyncio.timeout(1):  # "at once": never waits for the ask timeout
            with pytest.raises(ActorNotFound):
                await ref.ask(Get(), timeout=30)


async def test_handler_exception_counted_in_metrics_failures() -> None:
    async with ActorSystem("test") as system:
        first = await system.spawn(Recorder)
        second = await system.spawn(Recorder)
        assert system.metrics().failures == 0
        for ref in (first, second):
            with pytest.raises(ActorCrashed):
                await ref.ask(Boom(), timeout=1)
        assert system.metrics().failures == 2


async def test_handler_exception_logged_with_actor_and_message_type() -> None:
    with capture_logs() as logs:
        async with ActorSystem("test") as system:
            ref = await system.spawn(Recorder, name="fragile")
            with pytest.raises(ActorCrashed):
                await ref.ask(Boom(), timeout=1)
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["actor"] == "test/fragile"
    assert errors[0]["message_type"] == "Boom"
    assert errors[0]["error"].startswith("ValueError")
    assert "exc_info" not in errors[0]  # one line; the traceback is at debug level
    tracebacks = [entry for entry in logs if entry["event"] == "actor failed: traceback"]
    assert [entry["log_level"] for entry in tracebacks] == ["debug"]
    assert isinstance(tracebacks[0]["exc_info"], ValueError)


async def test_handler_exception_earlier_messages_handled_later_ones_not() -> None:
    log: list[int] = []
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder, log)
        ref.tell(Num(1))
        ref.tell(Num(2))
        ref.tell(Boom())
        ref.tell(Num(3))
        with pytest.raises(ActorNotFound):
            await ref.ask(Get(), timeout=1)
    assert log == [1, 2]


async def test_handler_stopping_itself_still_answers_current_ask() -> None:
    class LastWord(Actor):
        async def receive(self, message: Any) -> Any:
            self.stop()
            return "bye"

    async with ActorSystem("test") as system:
        ref = await system.spawn(LastWord)
        assert await ref.ask(Get(), timeout=1) == "bye"
        with pytest.raises(ActorNotFound):
            await ref.ask(Get(), timeout=1)


# ---------------------------------------------------------------------- ordering


async def test_actor_handles_one_message_at_a_time_even_when_handlers_await() -> None:
    class Busy(Actor):
        def __init__(self) -> None:
            self.active = 0
            self.most = 0

        async def receive(self, message: Any) -> Any:
            if isinstance(message, Get):
                return self.most
            self.active += 1
            self.most = max(self.most, self.active)
            for _ in range(3):
                await asyncio.sleep(0)
            self.active -= 1
            return None

    async with ActorSystem("test") as system:
        ref = await system.spawn(Busy)
        for i in range(20):
            ref.tell(Num(i))
        asks = [asyncio.create_task(ref.ask(Num(i), timeout=5)) for i in range(20)]
        await asyncio.gather(*asks)
        assert await ref.ask(Get(), timeout=1) == 1


async def test_messages_from_outside_handled_in_send_order() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder)
        for i in range(1000):
            ref.tell(Num(i))
        assert await ref.ask(Get(), timeout=5) == list(range(1000))


async def test_messages_from_one_actor_handled_in_send_order() -> None:
    class Burst(Actor):
        async def receive(self, message: Any) -> Any:
            for i in range(1000):
                message.target.tell(Num(i))
            return None

    async with ActorSystem("test") as system:
        sink = await system.spawn(Recorder)
        burst = await system.spawn(Burst)
        await burst.ask(Forward(sink, None), timeout=1)
        assert await sink.ask(Get(), timeout=5) == list(range(1000))


async def test_priority_high_tell_overtakes_queued_normal() -> None:
    log: list[int] = []
    entered, gate = asyncio.Event(), asyncio.Event()
    async with ActorSystem("test") as system:
        ref = await system.spawn(Gated, log, entered, gate)
        ref.tell(Num(0))
        await entered.wait()  # Num(0) is being handled; the rest queue up
        ref.tell(Num(1))
        ref.tell(Num(2))
        ref.tell(Num(10), Priority.HIGH)
        ref.tell(Num(11), Priority.HIGH)
        ref.tell(Num(3))
        gate.set()
        assert await ref.ask(Get(), timeout=1) == [0, 10, 11, 1, 2, 3]


# ---------------------------------------------------------------------- bad classes


async def test_spawn_class_without_receive_type_error_names_class() -> None:
    class NoReceive(Actor):
        pass

    async with ActorSystem("test") as system:
        before = system.metrics().spawned
        with pytest.raises(TypeError, match=r"NoReceive"):
            await system.spawn(NoReceive)
        assert system.metrics().spawned == before


async def test_spawn_non_actor_class_type_error_names_class() -> None:
    class NotAnActor:
        async def receive(self, message: Any) -> Any:
            return None

    async with ActorSystem("test") as system:
        before = system.metrics().spawned
        with pytest.raises(TypeError, match=r"NotAnActor"):
            await system.spawn(NotAnActor)  # type: ignore[arg-type]
        assert system.metrics().spawned == before


async def test_actor_attribute_named_path_or_name_is_the_users_own() -> None:
    # Base-class properties must not shadow everyday attribute names in subclasses.
    class Files(Actor):
        def __init__(self, path: str, name: str) -> None:
            self.path = path
            self.name = name

        async def receive(self, message: Any) -> Any:
            return (self.path, self.name)

    async with ActorSystem("test") as system:
        ref = await system.spawn(Files, "/tmp/data", "reader")
        assert await ref.ask(Get(), timeout=1) == ("/tmp/data", "reader")


async def test_spawner_cancelled_while_actor_starts_actor_still_starts() -> None:
    # The spawn's wait is cancelled; the actor's own task must not trip over it.
    gate = asyncio.Event()

    class SlowStart(Actor):
        async def started(self) -> None:
            await gate.wait()

        async def receive(self, message: Any) -> Any:
            return "up"

    async with ActorSystem("test") as system:
        spawning = asyncio.ensure_future(system.spawn(SlowStart, name="slow"))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        spawning.cancel()
        with pytest.raises(asyncio.CancelledError):
            await spawning
        gate.set()
        ref = system.whereis("slow")
        assert ref is not None
        assert await ref.ask("ping", timeout=1) == "up"
