"""``self.become(handler)`` / ``self.unbecome()``: the entry point switches from the
next message on; a restart starts from ``receive``."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from actors.supervision import ChildSpec, SupervisorSpec

from actors import Actor, ActorSystem

from .support import Crash, Get, Ping


class Open(msgspec.Struct):
    pass


class Close(msgspec.Struct):
    pass


class Door(Actor):
    """``receive`` is the closed state; ``opened`` the open one."""

    async def receive(self, message: Any) -> Any:
        match message:
            case Open():
                self.become(self.opened)
                return "opening"
            case Get():
                return "closed"
            case Crash():
                raise RuntimeError("boom")
        return None

    async def opened(self, message: Any) -> Any:
        match message:
            case Close():
                self.unbecome()
                return "closing"
            case Get():
                return "open"
            case Crash():
                raise RuntimeError("boom")
        return None


async def test_become_switches_from_the_next_message_and_unbecome_returns() -> None:
    async with ActorSystem("t") as system:
        door = await system.spawn(Door)
        assert await door.ask(Get()) == "closed"
        door.tell(Open())
        # Queued behind Open in the same drain: already handled by the new behaviour.
        assert await door.ask(Get()) == "open"
        assert await door.ask(Close()) == "closing"
        assert await door.ask(Get()) == "closed"


async def test_a_restart_starts_from_receive() -> None:
    spec = SupervisorSpec(children=[ChildSpec(id="door", actor=Door, name="door")], max_restarts=5)
    async with ActorSystem("t") as system:
        await system.spawn_tree(spec)
        door = system.whereis("door")
        assert door is not None
        assert await door.ask(Open()) == "opening"
        assert await door.ask(Get()) == "open"
        door.tell(Crash())
        assert await door.ask(Get()) == "closed"


async def test_become_refuses_what_is_not_an_async_callable() -> None:
    class Bad(Actor):
        async def receive(self, message: Any) -> Any:
            def sync_handler(message: Any) -> None:
                return None

            self.become(sync_handler)  # type: ignore[arg-type]

    async with ActorSystem("t") as system:
        bad = await system.spawn(Bad)
        with pytest.raises(Exception) as caught:
            await bad.ask(Ping())
        assert isinstance(caught.value.__cause__, TypeError)
        assert "become() takes an async callable" in str(caught.value.__cause__)


async def test_become_in_init_is_the_first_entry_point() -> None:
    class Early(Actor):
        def __init__(self) -> None:
            self.become(self.other)

        async def receive(self, message: Any) -> Any:
            return "receive"

        async def other(self, message: Any) -> Any:
            return "other"

    async with ActorSystem("t") as system:
        early = await system.spawn(Early)
        assert await early.ask(Ping()) == "other"
