"""``actors.testkit.TestProbe``: what a test can expect of the messages actors send it,
and how each expectation fails."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from actors import Actor, ActorRef, ActorSystem
from actors.testkit import TestProbe


class Job(msgspec.Struct):
    n: int


class Done(msgspec.Struct):
    n: int


class Worker(Actor):
    """Reports every ``Job`` to ``report_to`` as ``Done``; asks it about ``Job(-1)``."""

    def __init__(self, report_to: ActorRef) -> None:
        self.report_to = report_to

    async def receive(self, message: Any) -> Any:
        match message:
            case Job(n) if n < 0:
                return await self.report_to.ask(Job(n), timeout=3.0)
            case Job(n):
                self.report_to.tell(Done(n))
        return None


async def test_expect_takes_the_next_message_by_type_value_or_predicate() -> None:
    async with ActorSystem("t") as system:
        probe = await TestProbe.spawn(system)
        worker = await system.spawn(Worker, probe.ref)
        for n in (1, 2, 3):
            worker.tell(Job(n))
        assert await probe.expect(Done) == Done(1)
        assert await probe.expect(Done(2)) == Done(2)
        assert await probe.expect(lambda m: m.n == 3) == Done(3)
        assert probe.sender == worker
        await probe.expect_no_message(0.05)


async def test_a_wrong_message_fails_naming_what_was_expected_and_what_came() -> None:
    async with ActorSystem("t") as system:
        probe = await TestProbe.spawn(system)
        probe.ref.tell(Done(1))
        with pytest.raises(AssertionError, match=r"expected a `Job`, got Done\(n=1\)"):
            await probe.expect(Job)


async def test_nothing_within_the_timeout_fails() -> None:
    async with ActorSystem("t") as system:
        probe = await TestProbe.spawn(system)
        with pytest.raises(AssertionError, match=r"expected a `Done` within 0.05 s, got nothing"):
            await probe.expect(Done, timeout=0.05)
        probe.ref.tell(Done(1))
        with pytest.raises(AssertionError, match=r"expected no message within 0.05 s, got Done"):
            await probe.expect_no_message(0.05)


async def test_receive_n_and_fish() -> None:
    async with ActorSystem("t") as system:
        probe = await TestProbe.spawn(system)
        for n in range(5):
            probe.ref.tell(Done(n))
        assert await probe.receive_n(2) == [Done(0), Done(1)]
        assert await probe.fish(Done(4)) == Done(4)  # 2 and 3 skipped
        await probe.expect_no_message(0.05)
        probe.ref.tell(Done(9))
        with pytest.raises(AssertionError, match=r"no Job\(n=1\) within 0.05 s; skipped \[Done"):
            await probe.fish(Job(1), timeout=0.05)
        with pytest.raises(AssertionError, match=r"message 2 of 2 within"):
            probe.ref.tell(Done(10))
            await probe.receive_n(2, timeout=0.05)


async def test_an_ask_to_the_probe_waits_for_its_reply() -> None:
    async with ActorSystem("t") as system:
        probe = await TestProbe.spawn(system)
        worker = await system.spawn(Worker, probe.ref)
        pending = asyncio.ensure_future(worker.ask(Job(-1)))
        assert await probe.expect(Job(-1)) == Job(-1)
        probe.reply("seen")
        assert await pending == "seen"


async def test_reply_needs_a_message_with_a_sender() -> None:
    async with ActorSystem("t") as system:
        probe = await TestProbe.spawn(system)
        with pytest.raises(AssertionError, match="has not taken a message yet"):
            probe.reply(1)
        probe.ref.tell(Done(1))  # from outside any actor: no sender
        await probe.receive()
        with pytest.raises(AssertionError, match="no sender to reply to"):
            probe.reply(1)


async def test_watch_and_expect_terminated() -> None:
    async with ActorSystem("t") as system:
        probe = await TestProbe.spawn(system)
        worker = await system.spawn(Worker, probe.ref)
        probe.watch(worker)
        await system.stop(worker)
        assert await probe.expect_terminated(worker) == "shutdown"
        other = await system.spawn(Worker, probe.ref)
        probe.ref.tell(Done(1))
        with pytest.raises(AssertionError, match=r"expected the `Terminated` of `t/worker-\d+`"):
            await probe.expect_terminated(other)


def test_pytest_does_not_collect_the_probe_as_a_test_class() -> None:
    assert TestProbe.__test__ is False
