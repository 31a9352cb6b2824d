"""Testing actors: ``TestProbe``, an actor the test drives (Akka's TestProbe).

A probe is a real actor: hand its ``ref`` to the actors under test, in messages or as
constructor arguments, and every message they send it waits in the probe until the test
expects it::

    from actors.testkit import TestProbe

    async def test_the_worker_reports_back() -> None:
        async with ActorSystem("test") as system:
            probe = await TestProbe.spawn(system)
            worker = await system.spawn(Worker, report_to=probe.ref)
            worker.tell(Job(7))
            done = await probe.expect(Done)          # the next message, of that type
            assert done.job == 7
            await probe.expect_no_message(0.1)       # and nothing else

Expectations fail with an ``AssertionError`` that says what was expected and what came
(or that nothing came within the timeout). Waiting is on the probe's mailbox: no polling.
An ask sent to the probe waits for ``probe.reply(answer)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar, overload

from ._actor import Actor
from ._errors import MailboxClosed
from ._mailbox import Mailbox
from ._messages import Terminated
from ._ref import NO_REPLY, ActorRef
from ._system import ActorSystem

__all__ = ["TestProbe"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 3.0


class _Received:
    __slots__ = ("message", "sender")

    def __init__(self, message: Any, sender: Any) -> None:
        self.message = message
        self.sender = sender


class _ProbeActor(Actor):
    """Keeps what it receives, with its sender, for the test to take."""

    def __init__(self, inbox: Mailbox) -> None:
        self.inbox = inbox

    async def receive(self, message: Any) -> Any:
        self.inbox.put_nowait(_Received(message, self.sender))
        return NO_REPLY  # an ask waits for probe.reply()


class TestProbe:
    """An actor whose messages the test inspects: ``await TestProbe.spawn(system)``."""

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, ref: ActorRef, inbox: Mailbox) -> None:
        self.ref = ref
        self._inbox = inbox
        self._last: _Received | None = None

    @classmethod
    async def spawn(cls, system: ActorSystem, *, name: str | None = None) -> TestProbe:
        inbox = Mailbox()
        ref = await system.spawn(_ProbeActor, inbox, name=name)
        return cls(ref, inbox)

    def __repr__(self) -> str:
        return f"<TestProbe {self.ref.path} holding {len(self._inbox)}>"

    @property
    def sender(self) -> Any:
        """The sender of the message taken last (an ``ActorRef``, an ask's reply
        handle, or None)."""
        if self._last is None:
            raise AssertionError("the probe has not taken a message yet")
        return self._last.sender

    def reply(self, answer: Any) -> None:
        """Answer the message taken last: its ask returns ``answer`` (or, if an actor
        told it, that actor receives ``answer``)."""
        sender = self.sender
        if sender is None:
            raise AssertionError("the message taken last has no sender to reply to")
        sender.tell(answer)

    # ------------------------------------------------------------------ taking

    async def receive(self, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """The next message, whatever it is."""
        return (await self._take(timeout, "a message")).message

    async def receive_n(self, n: int, timeout: float = DEFAULT_TIMEOUT) -> list[Any]:
        """The next ``n`` messages, in order, all within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        messages = []
        for i in range(n):
            left = max(0.0, deadline - loop.time())
            messages.append((await self._take(left, f"message {i + 1} of {n}")).message)
        return messages

    @overload
    async def expect(self, expected: type[T], timeout: float = ...) -> T: ...

    @overload
    async def expect(self, expected: Any, timeout: float = ...) -> Any: ...

    async def expect(self, expected: Any, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Take the next message and check it: ``expected`` is a type (an instance of
        it), a predicate (true for it) or a value (equal to it). Returns the message."""
        return await self._expect(lambda m: _matches(expected, m), _describe(expected), timeout)

    async def fish(self, expected: Any, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Skip messages until one matches ``expected`` (as in ``expect``) and return
        it; the skipped ones are gone (Akka's ``fishForMessage``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        skipped: list[Any] = []
        while True:
            left = max(0.0, deadline - loop.time())
            try:
                received = await self._take(left, _describe(expected))
            except AssertionError:
                raise AssertionError(
                    f"no {_describe(expected)} within {timeout} s; skipped {skipped!r}"
                ) from None
            if _matches(expected, received.message):
                return received.message
            skipped.append(received.message)

    async def expect_no_message(self, within: float = 0.1) -> None:
        """Fail if a message arrives within ``within`` seconds (or is already here)."""
        try:
            received = await self._inbox.get(timeout=within)
        except TimeoutError:
            return
        self._last = received
        raise AssertionError(f"expected no message within {within} s, got {received.message!r}")

    # ------------------------------------------------------------------ watching

    def watch(self, ref: ActorRef) -> None:
        """Have ``Terminated(ref, reason)`` come to the probe when ``ref`` stops."""
        ref._watched_by(self.ref._cell)

    async def expect_terminated(self, ref: ActorRef, timeout: float = DEFAULT_TIMEOUT) -> str:
        """The next message must be the ``Terminated`` of ``ref``; returns its reason."""
        terminated = await self._expect(
            lambda m: isinstance(m, Terminated) and m.ref == ref,
            f"the `Terminated` of `{ref.path}`",
            timeout,
        )
        return terminated.reason  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ internals

    async def _expect(self, matches: Callable[[Any], bool], what: str, timeout: float) -> Any:
        received = await self._take(timeout, what)
        if not matches(received.message):
            raise AssertionError(
                f"expected {what}, got {received.message!r} (from {received.sender!r})"
            )
        return received.message

    async def _take(self, timeout: float, what: str) -> _Received:
        try:
            received: _Received = await self._inbox.get(timeout=timeout)
        except TimeoutError:
            raise AssertionError(f"expected {what} within {timeout} s, got nothing") from None
        except MailboxClosed:
            raise AssertionError(f"expected {what}, but the probe is closed") from None
        self._last = received
        return received


def _matches(expected: Any, message: Any) -> bool:
    if isinstance(expected, type):
        return isinstance(message, expected)
    if callable(expected):
        return bool(expected(message))
    return bool(message == expected)


def _describe(expected: Any) -> str:
    if isinstance(expected, type):
        return f"a `{expected.__qualname__}`"
    if callable(expected):
        name = getattr(expected, "__name__", repr(expected))
        return f"a message matching `{name}`"
    return repr(expected)
