"""``ActorRef`` (``actors/_ref.py``): tell, ask, send, identity, and what happens when
the actor is busy, full, crashed or gone."""

from __future__ import annotations

import asyncio
import inspect
import math
from typing import Any

import msgspec
import pytest

from actors import (
    NO_REPLY,
    Actor,
    ActorCrashed,
    ActorNotFound,
    ActorRef,
    ActorsError,
    ActorSystem,
    AskTimeout,
    Mailbox,
    MailboxFull,
    Overflow,
)

# ---------------------------------------------------------------------- messages and actors


class Get(msgspec.Struct):
    pass


class Num(msgspec.Struct):
    n: int


class Boom(msgspec.Struct):
    pass


class StopSelf(msgspec.Struct):
    pass


class Ping(msgspec.Struct):
    reply_to: ActorRef
    n: int


class Recorder(Actor):
    def __init__(self) -> None:
        self.log: list[int] = []

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
    """The first message blocks until ``gate`` is set (``entered`` is set when it
    starts), so later messages queue up behind it; ``drained`` is set whenever a
    handled message leaves the mailbox empty."""

    def __init__(self, busy: Busy) -> None:
        super().__init__()
        self.log = busy.log
        self.busy = busy

    async def receive(self, message: Any) -> Any:
        busy = self.busy
        if not busy.entered.is_set():
            busy.entered.set()
            await busy.gate.wait()
        result = await super().receive(message)
        if not len(self.mailbox):
            busy.drained.set()
        return result


class Busy:
    """What a test holds on a Gated actor."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.drained = asyncio.Event()
        self.log: list[int] = []
        self.ref: ActorRef

    async def release(self) -> list[int]:
        """Open the gate, wait until the queue is handled, return what was handled."""
        self.gate.set()
        async with asyncio.timeout(5):
            await self.drained.wait()
        return self.log


async def busy(
    system: ActorSystem, mailbox: Mailbox | None = None, name: str | None = None
) -> Busy:
    """A Gated actor that is handling ``Num(0)`` now."""
    state = Busy()
    state.ref = await system.spawn(Gated, state, mailbox=mailbox, name=name)
    state.ref.tell(Num(0))
    await state.entered.wait()
    return state


# ---------------------------------------------------------------------- tell


async def test_tell_returns_none_without_yielding() -> None:
    handled: list[int] = []

    class Sink(Actor):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, Num):
                handled.append(message.n)
            return None

    assert not inspect.iscoroutinefunction(ActorRef.tell)
    async with ActorSystem("test") as system:
        ref = await system.spawn(Sink)
        results = {ref.tell(Num(i)) for i in range(1000)}
        assert results == {None}
        assert handled == []  # tell never gave the actor a chance to run
        await ref.ask(Get(), timeout=1)
        assert handled == list(range(1000))


async def test_tell_to_busy_actor_does_not_wait() -> None:
    async with ActorSystem("test") as system:
        actor = await busy(system)
        for i in range(1, 101):
            assert actor.ref.tell(Num(i)) is None
        assert await actor.release() == list(range(101))


# ---------------------------------------------------------------------- ask


def test_ask_default_timeout_is_finite() -> None:
    default = inspect.signature(ActorRef.ask).parameters["timeout"].default
    assert isinstance(default, (int, float))
    assert default > 0 and math.isfinite(default)


async def test_ask_no_answer_raises_ask_timeout_naming_actor_and_message_type() -> None:
    async with ActorSystem("test") as system:
        actor = await busy(system, name="slow")
        with pytest.raises(
            AskTimeout, match=r"^ask of `Get` to `test/slow` timed out after 0\.05 s$"
        ) as info:
            await actor.ref.ask(Get(), timeout=0.05)
        await actor.release()
    error = info.value
    assert isinstance(error, TimeoutError)
    assert isinstance(error, ActorsError)
    assert error.actor == "test/slow"
    assert error.message_type == "Get"


async def test_ask_timeout_late_answer_is_discarded() -> None:
    async with ActorSystem("test") as system:
        actor = await busy(system)
        with pytest.raises(AskTimeout):
            await actor.ref.ask(Num(1), timeout=0.01)
        assert await actor.release() == [0, 1]
        # The late answer went nowhere; the actor keeps serving.
        assert await actor.ref.ask(Get(), timeout=1) == [0, 1]


async def test_ask_stopped_actor_raises_actor_not_found_at_once() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder, name="gone")
        await system.stop(ref)
        async with asyncio.timeout(1):  # never waits for the ask's own timeout
            with pytest.raises(ActorNotFound, match=r"`Get`.*`test/gone`") as info:
                await ref.ask(Get(), timeout=30)
        assert info.value.actor == "test/gone"
        assert info.value.message_type == "Get"


async def test_ask_stopped_actor_counts_dead_letter() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder)
        await system.stop(ref)
        with pytest.raises(ActorNotFound):
            await ref.ask(Get(), timeout=1)
        assert system.metrics().dead_letters == 1


async def test_ask_queued_behind_stop_raises_actor_not_found_not_timeout() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder, name="quitter")
        ref.tell(StopSelf())
        async with asyncio.timeout(1):
            with pytest.raises(ActorNotFound, match=r"`Get`.*`test/quitter`.*stopped"):
                await ref.ask(Get(), timeout=30)


async def test_ask_while_actor_runs_stopped_raises_actor_not_found_not_timeout() -> None:
    in_stopped, release = asyncio.Event(), asyncio.Event()

    class SlowStop(Recorder):
        async def stopped(self) -> None:
            in_stopped.set()
            await release.wait()

    async with ActorSystem("test") as system:
        ref = await system.spawn(SlowStop)
        stopping = asyncio.create_task(system.stop(ref))
        await in_stopped.wait()
        asking = asyncio.create_task(ref.ask(Get(), timeout=30))
        ref.tell(Num(1))
        await asyncio.sleep(0)
        release.set()
        async with asyncio.timeout(1):
            await stopping
            with pytest.raises(ActorNotFound):
                await asking
        assert system.metrics().dead_letters == 2


async def test_ask_crash_raises_actor_crashed_naming_actor_and_message_type() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder, name="fragile")
        with pytest.raises(
            ActorCrashed, match=r"^`test/fragile` crashed handling `Boom`: ValueError: boom$"
        ) as info:
            await ref.ask(Boom(), timeout=1)
    error = info.value
    assert error.actor == "test/fragile"
    assert error.message_type == "Boom"
    assert isinstance(error.__cause__, ValueError)
    assert str(error.__cause__) == "boom"


async def test_ask_many_concurrent_each_gets_own_answer() -> None:
    class Double(Actor):
        async def receive(self, message: Any) -> Any:
            await asyncio.sleep(0)
            return message.n * 2

    async with ActorSystem("test") as system:
        ref = await system.spawn(Double)
        answers = await asyncio.gather(*(ref.ask(Num(i), timeout=5) for i in range(100)))
        assert answers == [i * 2 for i in range(100)]


# ---------------------------------------------------------------------- bounded mailboxes


async def test_send_full_wait_mailbox_waits_for_room() -> None:
    async with ActorSystem("test") as system:
        actor = await busy(system, mailbox=Mailbox(maxsize=2))
        actor.ref.tell(Num(1))
        actor.ref.tell(Num(2))  # full now
        sending = asyncio.create_task(actor.ref.send(Num(3)))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not sending.done()
        actor.gate.set()
        assert await sending is None
        assert await actor.release() == [0, 1, 2, 3]


async def test_tell_full_wait_mailbox_raises_mailbox_full() -> None:
    async with ActorSystem("test") as system:
        actor = await busy(system, mailbox=Mailbox(maxsize=2))
        actor.ref.tell(Num(1))
        actor.ref.tell(Num(2))
        with pytest.raises(
            MailboxFull,
            match=r"^the mailbox of `test/[\w-]+` is full \(2 messages\); `Num` refused "
            r"\(`await ref.send\(...\)` waits for room\)$",
        ) as caught:
            actor.ref.tell(Num(3))
        assert caught.value.actor == actor.ref.path
        assert await actor.release() == [0, 1, 2]


async def test_send_with_room_returns_at_once() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder, mailbox=Mailbox(maxsize=2))
        await ref.send(Num(1))
        assert await ref.ask(Get(), timeout=1) == [1]


async def test_tell_drop_newest_counted_as_dead_letter() -> None:
    async with ActorSystem("test") as system:
        actor = await busy(system, mailbox=Mailbox(maxsize=1, overflow=Overflow.DROP_NEWEST))
        actor.ref.tell(Num(1))
        actor.ref.tell(Num(2))  # dropped
        actor.ref.tell(Num(3))  # dropped
        assert system.metrics().dead_letters == 2
        assert await actor.release() == [0, 1]


async def test_tell_drop_oldest_counted_as_dead_letter() -> None:
    async with ActorSystem("test") as system:
        actor = await busy(system, mailbox=Mailbox(maxsize=1, overflow=Overflow.DROP_OLDEST))
        actor.ref.tell(Num(1))
        actor.ref.tell(Num(2))  # drops Num(1)
        actor.ref.tell(Num(3))  # drops Num(2)
        assert system.metrics().dead_letters == 2
        assert await actor.release() == [0, 3]


async def test_ask_drop_newest_raises_mailbox_full() -> None:
    async with ActorSystem("test") as system:
        actor = await busy(
            system, mailbox=Mailbox(maxsize=1, overflow=Overflow.DROP_NEWEST), name="tiny"
        )
        actor.ref.tell(Num(1))
        async with asyncio.timeout(1):
            with pytest.raises(MailboxFull, match=r"^`Get` to `test/tiny` was dropped") as info:
                await actor.ref.ask(Get(), timeout=30)
        assert info.value.actor == "test/tiny"
        assert info.value.message_type == "Get"
        assert system.metrics().dead_letters == 1
        assert await actor.release() == [0, 1]


async def test_ask_drop_oldest_dropped_later_raises_mailbox_full() -> None:
    async with ActorSystem("test") as system:
        actor = await busy(system, mailbox=Mailbox(maxsize=1, overflow=Overflow.DROP_OLDEST))
        asking = asyncio.create_task(actor.ref.ask(Get(), timeout=30))
        await asyncio.sleep(0)  # the ask is queued now
        actor.ref.tell(Num(1))  # pushes it out
        async with asyncio.timeout(1):
            with pytest.raises(MailboxFull):
                await asking
        assert system.metrics().dead_letters == 1
        assert await actor.release() == [0, 1]


# ---------------------------------------------------------------------- identity


async def test_ref_equal_and_hash_by_actor() -> None:
    class Me(Actor):
        async def receive(self, message: Any) -> Any:
            return self.ref

    async with ActorSystem("test") as system:
        ref = await system.spawn(Me, name="me")
        other = await system.spawn(Me)
        same = system.whereis("me")
        assert same is not None
        assert same == ref
        assert hash(same) == hash(ref)
        assert await ref.ask(Get(), timeout=1) == ref
        assert ref != other
        assert ref != "test/me"
        assert len({ref, same, other}) == 2


async def test_ref_repr_shows_path() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder, name="shown")
        assert ref.path == "test/shown"
        assert ref.name == "shown"
        assert repr(ref) == "ActorRef('test/shown')"


async def test_ref_inside_struct_message_can_be_answered() -> None:
    class Ponger(Actor):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, Ping):
                message.reply_to.tell(Num(message.n + 1))
            return None

    class Pinger(Actor):
        def __init__(self, ponger: ActorRef, done: asyncio.Event) -> None:
            self.ponger = ponger
            self.done = done
            self.log: list[int] = []

        async def receive(self, message: Any) -> Any:
            match message:
                case Get():
                    return self.log
                case Num(n):
                    self.log.append(n)
                    if n < 5:
                        self.ponger.tell(Ping(self.ref, n))
                    else:
                        self.done.set()
                case StopSelf():
                    self.ponger.tell(Ping(self.ref, 0))
            return None

    done = asyncio.Event()
    async with ActorSystem("test") as system:
        ponger = await system.spawn(Ponger)
        pinger = await system.spawn(Pinger, ponger, done)
        ping = Ping(pinger, 1)
        assert ping.reply_to == pinger
        assert ping == Ping(pinger, 1)
        pinger.tell(StopSelf())  # starts the rally: 1, 2, 3, 4, 5
        async with asyncio.timeout(5):
            await done.wait()
        assert await pinger.ask(Get(), timeout=1) == [1, 2, 3, 4, 5]


async def test_ref_after_stop_stays_valid_and_not_alive() -> None:
    async with ActorSystem("test") as system:
        ref = await system.spawn(Recorder, name="old")
        assert ref.is_alive()
        await system.stop(ref)
        assert not ref.is_alive()
        assert ref.path == "test/old"
        assert repr(ref) == "ActorRef('test/old')"
        assert ref.tell(Num(1)) is None  # a dead letter, not an exception
        assert system.metrics().dead_letters == 1


async def test_ask_answered_later_with_no_reply_and_kept_sender() -> None:
    # Erlang's {noreply, State}: keep the asker's handle, answer from a later message.
    class Deferred(Actor):
        def __init__(self) -> None:
            self.waiting: list[Any] = []

        async def receive(self, message: Any) -> Any:
            if message == "question":
                self.waiting.append(self.sender)
                return NO_REPLY
            for asker in self.waiting:
                asker.tell(f"answer after {message}")
            return None

    async with ActorSystem("test") as system:
        ref = await system.spawn(Deferred)
        pending = asyncio.ensure_future(ref.ask("question", timeout=2))
        await asyncio.sleep(0)
        ref.tell("release")
        assert await pending == "answer after release"
