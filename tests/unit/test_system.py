"""``ActorSystem`` (``actors/_system.py``) and ``actors.run`` (``actors/_run.py``):
lifecycle, registry, stopping, shutdown order, metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

import actors
from actors import Actor, ActorRef, ActorSystem, Terminated

# ---------------------------------------------------------------------- messages and actors


class Get(msgspec.Struct):
    pass


class Hang(msgspec.Struct):
    pass


class WatchIt(msgspec.Struct):
    ref: ActorRef


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


class Stopping(Actor):
    """Records its ``stopped()`` in a shared list under its label; can spawn children."""

    def __init__(self, label: str, log: list[str], children: int = 0) -> None:
        self.label = label
        self.log = log
        self.children = children

    async def started(self) -> None:
        for i in range(self.children):
            await self.spawn(Stopping, f"{self.label}.{i}", self.log)

    async def receive(self, message: Any) -> Any:
        return None

    async def stopped(self) -> None:
        await asyncio.sleep(0)
        self.log.append(self.label)


class Watcher(Actor):
    def __init__(self, seen: list[Terminated], arrived: asyncio.Event) -> None:
        self.seen = seen
        self.arrived = arrived

    async def receive(self, message: Any) -> Any:
        match message:
            case WatchIt(ref):
                self.watch(ref)
            case Terminated():
                self.seen.append(message)
                self.arrived.set()
        return None


# ---------------------------------------------------------------------- lifecycle


async def test_spawn_before_enter_raises_runtime_error_with_hint() -> None:
    system = ActorSystem("early")
    with pytest.raises(
        RuntimeError, match=r"ActorSystem `early` is not running: use `async with ActorSystem"
    ):
        await system.spawn(Echo)


async def test_spawn_after_exit_raises_runtime_error_shut_down() -> None:
    async with ActorSystem("late") as system:
        pass
    with pytest.raises(
        RuntimeError, match=r"ActorSystem `late` is not running: it has been shut down"
    ):
        await system.spawn(Echo)


async def test_enter_twice_while_open_raises_runtime_error() -> None:
    async with ActorSystem("twice") as system:
        with pytest.raises(RuntimeError, match=r"`twice` cannot be entered twice"):
            await system.__aenter__()
        ref = await system.spawn(Echo)  # still usable
        assert await ref.ask(Get(), timeout=1) == Get()


async def test_enter_after_exit_raises_runtime_error() -> None:
    system = ActorSystem("again")
    async with system:
        pass
    with pytest.raises(RuntimeError, match=r"cannot be entered twice"):
        async with system:
            pass


def test_system_name_with_slash_raises_value_error() -> None:
    with pytest.raises(ValueError, match=r"'a/b'"):
        ActorSystem("a/b")


# ---------------------------------------------------------------------- registry


async def test_whereis_registered_name_returns_ref() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Echo, name="echo")
        assert system.whereis("echo") == ref


async def test_whereis_unknown_name_returns_none() -> None:
    async with ActorSystem("test") as system:
        await system.spawn(Echo)
        assert system.whereis("nobody") is None


async def test_spawn_duplicate_name_raises_value_error_naming_name() -> None:
    async with ActorSystem("test") as system:
        first = await system.spawn(Echo, name="only")
        spawned = system.metrics().spawned
        with pytest.raises(ValueError, match=r"name `only` is already registered"):
            await system.spawn(Echo, name="only")
        assert system.whereis("only") == first
        assert system.metrics().spawned == spawned


async def test_whereis_name_freed_after_stop() -> None:
    async with ActorSystem("test") as system:
        old = await system.spawn(Echo, name="reused")
        await system.stop(old)
        assert system.whereis("reused") is None
        new = await system.spawn(Echo, name="reused")
        assert new != old
        assert system.whereis("reused") == new


async def test_registered_lists_names_in_registration_order() -> None:
    async with ActorSystem("test") as system:
        a = await system.spawn(Echo, name="a")
        await system.spawn(Echo)  # unnamed: not registered
        await system.spawn(Echo, name="b")
        assert system.registered() == ["a", "b"]
        await system.stop(a)
        assert system.registered() == ["b"]


# ---------------------------------------------------------------------- stop


async def test_stop_waits_for_stopped_hook() -> None:
    log: list[str] = []
    async with ActorSystem("test") as system:
        ref = await system.spawn(Stopping, "a", log)
        await system.stop(ref)
        assert log == ["a"]
        assert not ref.is_alive()


async def test_stop_handler_never_returns_cancelled_after_timeout_reason_killed() -> None:
    hanging = asyncio.Event()

    class Stuck(Actor):
        async def receive(self, message: Any) -> Any:
            hanging.set()
            await asyncio.Event().wait()  # never returns

    seen: list[Terminated] = []
    arrived = asyncio.Event()
    async with ActorSystem("test") as system:
        stuck = await system.spawn(Stuck)
        watcher = await system.spawn(Watcher, seen, arrived)
        await watcher.ask(WatchIt(stuck), timeout=1)
        stuck.tell(Hang())
        await hanging.wait()
        async with asyncio.timeout(2):  # far below the 5 s default shutdown time
            await system.stop(stuck, timeout=0.05)
        assert not stuck.is_alive()
        await arrived.wait()
        assert seen == [Terminated(stuck, "killed")]
        assert not seen[0].normal


async def test_stop_stopped_hook_never_returns_cancelled_after_timeout() -> None:
    class StuckStop(Actor):
        async def receive(self, message: Any) -> Any:
            return None

        async def stopped(self) -> None:
            await asyncio.Event().wait()

    async with ActorSystem("test") as system:
        ref = await system.spawn(StuckStop)
        async with asyncio.timeout(2):
            await system.stop(ref, timeout=0.05)
        assert not ref.is_alive()


async def test_stop_stopped_hook_raises_still_stops_and_logs() -> None:
    class BadStop(Actor):
        async def receive(self, message: Any) -> Any:
            return None

        async def stopped(self) -> None:
            raise RuntimeError("cleanup failed")

    with capture_logs() as logs:
        async with ActorSystem("test") as system:
            ref = await system.spawn(BadStop, name="bad")
            await system.stop(ref)
            assert not ref.is_alive()
            assert system.whereis("bad") is None
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert [entry["actor"] for entry in errors] == ["test/bad"]
    assert isinstance(errors[0]["exc_info"], RuntimeError)


# ---------------------------------------------------------------------- shutdown


async def test_shutdown_stops_children_before_parents_reverse_spawn_order() -> None:
    log: list[str] = []
    async with ActorSystem("test") as system:
        await system.spawn(Stopping, "a", log)
        await system.spawn(Stopping, "b", log, 2)
        await system.spawn(Stopping, "c", log)
    assert log == ["c", "b.1", "b.0", "b", "a"]


async def test_shutdown_stops_every_actor() -> None:
    refs: list[ActorRef] = []
    async with ActorSystem("test") as system:
        before = system.metrics().spawned  # the runtime's own actors (the event bus)
        for _ in range(50):
            refs.append(await system.spawn(Echo))
    assert not any(ref.is_alive() for ref in refs)
    metrics = system.metrics()
    assert metrics.actors == 0
    assert metrics.stopped == metrics.spawned == before + 50


async def test_shutdown_leaves_only_current_task() -> None:
    log: list[str] = []
    async with ActorSystem("test") as system:
        await system.spawn(Stopping, "a", log, 3)
        ref = await system.spawn(Echo)
        ref.tell(Get())  # a drain task is pending at exit
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_body_exception_still_shuts_down_and_propagates_unchanged() -> None:
    log: list[str] = []
    error = KeyError("body")
    with pytest.raises(KeyError) as info:
        async with ActorSystem("test") as system:
            await system.spawn(Stopping, "a", log)
            raise error
    assert info.value is error
    assert log == ["a"]


async def test_body_exception_still_shuts_down_actors() -> None:
    log: list[str] = []
    with pytest.raises((KeyError, ExceptionGroup)):  # the exact type is the test above's
        async with ActorSystem("test") as system:
            await system.spawn(Stopping, "a", log)
            await system.spawn(Stopping, "b", log)
            raise KeyError("body")
    assert log == ["b", "a"]
    assert system.metrics().actors == 0


async def test_body_cancelled_by_outer_timeout_shuts_down_and_raises_timeout() -> None:
    log: list[str] = []
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            async with ActorSystem("test") as system:
                await system.spawn(Stopping, "a", log)
                await asyncio.Event().wait()
    assert log == ["a"]
    assert system.metrics().actors == 0


# ---------------------------------------------------------------------- metrics


async def test_metrics_counts_spawned_stopped_alive_and_dead_letters() -> None:
    async with ActorSystem("test") as system:
        base = system.metrics()  # the runtime's own actors (the event bus) count too
        assert base.actors == base.spawned
        assert (base.stopped, base.failures, base.dead_letters) == (0, 0, 0)
        refs = [await system.spawn(Echo) for _ in range(3)]
        await system.stop(refs[0])
        refs[0].tell(Get())
        refs[0].tell(Get())
        metrics = system.metrics()
        assert metrics.spawned == base.spawned + 3
        assert metrics.stopped == 1
        assert metrics.actors == base.actors + 2
        assert metrics.dead_letters == 2
        assert metrics.failures == 0
    metrics = system.metrics()
    assert metrics.stopped == metrics.spawned == base.spawned + 3
    assert metrics.actors == 0


async def test_metrics_children_counted() -> None:
    async with ActorSystem("test") as system:
        base = system.metrics()
        await system.spawn(Stopping, "p", [], 4)
        assert system.metrics().actors == base.actors + 5
        assert system.metrics().spawned == base.spawned + 5


async def test_metrics_messages_handled_counts_receive_calls() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Echo)
        for _ in range(10):
            ref.tell(Get())
        await ref.ask(Get(), timeout=1)
        await system.stop(ref)  # the count is settled when the actor goes idle or stops
        assert system.metrics().messages_handled == 11


# ---------------------------------------------------------------------- run


async def _loop_module() -> str:
    async with ActorSystem("run") as system:
        ref = await system.spawn(Echo)
        assert await ref.ask(Get(), timeout=1) == Get()
    return type(asyncio.get_running_loop()).__module__


def test_run_uses_uvloop_by_default() -> None:
    assert actors.run(_loop_module()).startswith("uvloop")


def test_run_uvloop_false_uses_stock_loop() -> None:
    assert actors.run(_loop_module(), uvloop=False).startswith("asyncio")


def test_run_returns_coroutine_result() -> None:
    async def main() -> int:
        return 7

    assert actors.run(main()) == 7
