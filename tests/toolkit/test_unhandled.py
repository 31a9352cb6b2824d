"""``self.unhandled(message)``: an ask fails at once with ``Unhandled``, a tell becomes an
``UnhandledMessage`` event; both counted."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from actors import Actor, ActorRef, ActorSystem, Unhandled, UnhandledMessage

from .support import Get, Other, Ping, Recorder


class Picky(Actor):
    async def receive(self, message: Any) -> Any:
        match message:
            case Ping(n):
                return n
            case _:
                return self.unhandled(message)


async def test_ask_of_an_unhandled_message_fails_at_once_naming_actor_and_type() -> None:
    async with ActorSystem("t") as system:
        picky = await system.spawn(Picky, name="picky")
        with pytest.raises(Unhandled) as caught:
            await picky.ask(Other(), timeout=None)
        assert caught.value.actor == "t/picky"
        assert caught.value.message_type == "Other"
        assert "`t/picky` does not handle `Other`" in str(caught.value)
        assert await picky.ask(Ping(3)) == 3  # the actor is fine afterwards
        assert system.metrics().unhandled == 1


async def test_tell_of_an_unhandled_message_is_published_logged_and_counted() -> None:
    async with ActorSystem("t") as system:
        listener = await system.spawn(Recorder)
        await system.subscribe(listener, UnhandledMessage)
        picky = await system.spawn(Picky, name="picky")
        with capture_logs() as logs:
            picky.tell(Other())
            assert await picky.ask(Ping(1)) == 1
        await system.subscriptions()  # the bus has delivered what it got
        seen = await listener.ask(Get())
        assert seen == [UnhandledMessage("t/picky", Other(), None)]
        assert seen[0].message_type == "Other"
        assert any(line["event"] == "unhandled message" for line in logs)
        assert system.metrics().unhandled == 1
        assert 'actors_unhandled_total{system="t"} 1' in system.metrics().prometheus()


async def test_unhandled_message_names_the_sending_actor() -> None:
    class Sender(Actor):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, ActorRef):
                message.tell(Other())

    async with ActorSystem("t") as system:
        listener = await system.spawn(Recorder)
        await system.subscribe(listener, "actors.unhandled")
        picky = await system.spawn(Picky, name="picky")
        sender = await system.spawn(Sender, name="sender")
        sender.tell(picky)
        await sender.ask(Ping())
        await picky.ask(Ping())
        await system.subscriptions()  # the bus has delivered what it got
        seen = await listener.ask(Get())
        assert [event.sender for event in seen] == ["t/sender"]
