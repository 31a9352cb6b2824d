"""``self.stash()`` / ``self.unstash_all()``: stashed messages come back at the front of
the mailbox in their order, asks answered when they are handled; bounded."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from actors.supervision import ChildSpec, SupervisorSpec

from actors import Actor, ActorCrashed, ActorNotFound, ActorSystem, DeadLetter, StashOverflow

from .support import Crash, Get, Ping, Recorder


class Ready(msgspec.Struct):
    pass


class Gate(Actor):
    """Stashes ``Ping`` until ``Ready``; records the order it handles them."""

    stash_capacity = 3

    def __init__(self) -> None:
        self.ready = False
        self.seen: list[int] = []

    async def receive(self, message: Any) -> Any:
        match message:
            case Ready():
                self.ready = True
                return self.unstash_all()
            case Ping(n) if not self.ready:
                self.stash()
                return "stashed"  # not the answer: the ask waits for the real one
            case Ping(n):
                self.seen.append(n)
                return n * 10
            case Get():
                return list(self.seen)
            case Crash():
                raise RuntimeError("boom")
        return None


async def test_unstash_puts_messages_back_at_the_front_in_order() -> None:
    async with ActorSystem("t") as system:
        gate = await system.spawn(Gate)
        for n in (1, 2, 3):
            gate.tell(Ping(n))
        gate.tell(Ready())
        gate.tell(Ping(4))  # queued before the unstash: handled after the stashed ones
        assert await gate.ask(Get()) == [1, 2, 3, 4]


async def test_a_stashed_ask_is_answered_when_handled_again() -> None:
    async with ActorSystem("t") as system:
        gate = await system.spawn(Gate)
        pending = [asyncio.create_task(gate.ask(Ping(n))) for n in (1, 2)]
        await asyncio.sleep(0)  # both asks are queued
        assert await gate.ask(Ready()) == 2
        assert [await task for task in pending] == [10, 20]


async def test_stash_overflow_names_the_actor_and_the_capacity() -> None:
    async with ActorSystem("t") as system:
        gate = await system.spawn(Gate, name="gate")
        for n in (1, 2, 3):
            gate.tell(Ping(n))
        with pytest.raises(ActorCrashed) as caught:
            await gate.ask(Ping(4))
        error = caught.value.__cause__
        assert isinstance(error, StashOverflow)
        assert error.actor == "t/gate"
        assert "holds 3 messages" in str(error)


async def test_stashed_messages_survive_a_restart() -> None:
    spec = SupervisorSpec(children=[ChildSpec(id="gate", actor=Gate, name="gate")], max_restarts=5)
    async with ActorSystem("t") as system:
        await system.spawn_tree(spec)
        gate = system.whereis("gate")
        assert gate is not None
        gate.tell(Ping(1))
        gate.tell(Ping(2))
        gate.tell(Crash())
        # The new incarnation is not ready: it stashes them again, in order.
        gate.tell(Ready())
        assert await gate.ask(Get()) == [1, 2]


async def test_stashed_messages_become_dead_letters_on_stop_and_their_asks_fail() -> None:
    async with ActorSystem("t") as system:
        listener = await system.spawn(Recorder)
        await system.subscribe(listener, DeadLetter)
        gate = await system.spawn(Gate, name="gate")
        gate.tell(Ping(1))
        asked = asyncio.create_task(gate.ask(Ping(2)))
        await gate.ask(Get())
        await system.stop(gate)
        with pytest.raises(ActorNotFound):
            await asked
        await system.subscriptions()  # the bus has delivered what it got
        letters = await listener.ask(Get())
        assert [(letter.message, letter.reason) for letter in letters] == [
            (Ping(1), "stopped"),
            (Ping(2), "stopped"),
        ]


async def test_stash_outside_a_message_is_an_error() -> None:
    class Early(Actor):
        async def started(self) -> None:
            self.stash()

        async def receive(self, message: Any) -> Any:
            return None

    async with ActorSystem("t") as system:
        with pytest.raises(ActorCrashed) as caught:
            await system.spawn(Early)
        assert "stash() sets aside the message being handled" in str(caught.value)
