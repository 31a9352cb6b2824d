"""``actors.lowlevel``, the extension API for runtime authors, and the names for states
and reasons (``CellState``, ``ExitReason``, ``DeadLetterReason``)."""

from __future__ import annotations

from typing import Any

import actors.transport
import msgspec

import actors
from actors import (
    Actor,
    ActorStopped,
    ActorSystem,
    DeadLetter,
    DeadLetterReason,
    ExitReason,
    Terminated,
    lowlevel,
)
from actors.testkit import TestProbe


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


class Watcher(Actor):
    def __init__(self, probe: Any) -> None:
        self.probe = probe

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Terminated):
            self.probe.tell(message)
            return None
        self.watch(message)
        return None


async def test_a_cell_repr_names_its_state() -> None:
    async with ActorSystem("lowlevel") as system:
        ref = await system.spawn(Echo, name="echo")
        cell = lowlevel.cell_of(ref)
        assert cell.state is lowlevel.CellState.RUNNING
        assert "state=RUNNING" in repr(cell)
        await system.stop(ref)
        assert "state=STOPPED" in repr(cell)


async def test_exit_reasons_are_one_enum_whose_values_are_the_wire_strings() -> None:
    assert [reason.value for reason in ExitReason] == [
        "normal",
        "shutdown",
        "killed",
        "noproc",
        "nodedown",
        "name_conflict",
    ]
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(ExitReason.NODEDOWN)) == "nodedown"
    async with ActorSystem("reasons") as system:
        probe = await TestProbe.spawn(system)
        watcher = await system.spawn(Watcher, probe.ref)
        target = await system.spawn(Echo)
        watcher.tell(target)
        await watcher.ask(target)  # the watch is in place once this is answered
        await system.stop(target)
        terminated = await probe.expect(Terminated)
        assert terminated.reason == ExitReason.SHUTDOWN
        assert terminated.normal


def test_stopped_events_say_whether_the_stop_was_normal() -> None:
    assert ActorStopped("s/a", ExitReason.NORMAL).normal
    assert not ActorStopped("s/a", ExitReason.KILLED).normal
    assert not ActorStopped("s/a", "ValueError: boom").normal


async def test_dead_letters_carry_a_dead_letter_reason() -> None:
    assert DeadLetterReason.TRANSPORT_UNAVAILABLE == "transport_unavailable"
    async with ActorSystem("dead") as system:
        probe = await TestProbe.spawn(system)
        await system.subscribe(probe.ref, DeadLetter)
        ref = await system.spawn(Echo)
        await system.stop(ref)
        ref.tell("late")
        dead = await probe.expect(DeadLetter)
        assert dead.reason == DeadLetterReason.STOPPED


async def test_the_system_counters_and_events_are_reachable_through_lowlevel() -> None:
    async with ActorSystem("counters") as system:
        probe = await TestProbe.spawn(system)
        await system.subscribe(probe.ref, actors.ActorRestarted)
        lowlevel.count_restart(system)
        lowlevel.emit(system, actors.ActorRestarted("counters/x", 1))
        assert (await probe.expect(actors.ActorRestarted)).restarts == 1
        assert system.metrics().restarts == 1
        assert lowlevel.task_group(system) is not None


def test_the_transport_protocol_is_the_cores_and_there_is_no_local_transport() -> None:
    assert actors.transport.Transport is lowlevel.Transport
    assert not hasattr(actors.transport, "LocalTransport")
    assert not hasattr(ActorSystem, "guardian")


def test_every_lowlevel_name_is_documented() -> None:
    undocumented = [
        name
        for name in lowlevel.__all__
        if callable(getattr(lowlevel, name)) and not getattr(lowlevel, name).__doc__
    ]
    assert undocumented == []
