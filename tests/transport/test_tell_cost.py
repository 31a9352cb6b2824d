"""What a remote tell costs per message (the regression of the bench row "remote tell,
node a -> b": 71.8k/s to 40.6k/s). Checks of what does not change from one message to
the next run once, not per message: a received subject's path is checked once per
subject, the frame head of a tell from outside any actor is built once per type. Counted
by call, never timed; each check still refuses every bad input it meets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from actors.transport import RemoteRef, _frame, _messaging
from nats.aio.client import Client

from actors import DeadLetter
from tests.transport.nats_support import (
    WAIT,
    Echo,
    Hello,
    Inbox,
    Note,
    Ping,
    Pong,
    Seen,
    actor_subject,
    frame_of,
    raw_client,
    two_nodes,
)

TELLS = 50


class Calls:
    """Counts the calls of a function it stands in for."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.count = 0

    def __call__(self, *args: Any) -> Any:
        self.count += 1
        return self.function(*args)


@asynccontextmanager
async def echo_across(url: str) -> AsyncIterator[tuple[Any, Any, Inbox, RemoteRef]]:
    """Nodes a and b, an Echo named "echo" on a writing to an inbox, and b's ref to it."""
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        await a.spawn(Echo, inbox, name="echo")
        ref = await b.lookup("echo")
        assert isinstance(ref, RemoteRef)
        yield a, b, inbox, ref


@pytest.fixture(autouse=True)
def cold_caches() -> Iterator[None]:
    """Each test starts with nothing cached from another one."""
    _messaging.subject_path.cache_clear()
    _messaging.sender_problem.cache_clear()
    yield
    _messaging.subject_path.cache_clear()
    _messaging.sender_problem.cache_clear()


def _notes(inbox: Inbox, count: int) -> Any:
    return inbox.until(lambda items: sum(isinstance(s.message, Note) for s in items) >= count)


async def test_tells_to_one_actor_check_its_path_once(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Calls(_messaging.path_problem)
    monkeypatch.setattr(_messaging, "path_problem", calls)
    async with echo_across(url) as (_, _, inbox, ref):
        for index in range(TELLS):
            ref.tell(Note(str(index)))
        await _notes(inbox, TELLS)
        assert calls.count == 1


async def test_tells_from_an_actor_check_its_sender_once(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Calls(_messaging.node_id_problem)
    monkeypatch.setattr(_messaging, "node_id_problem", calls)
    async with echo_across(url) as (_, b, inbox, ref):
        relay = await b.spawn(Echo)
        # Echo answers Hello by telling `who`: TELLS tells from an actor on b to a.
        for index in range(TELLS):
            await relay.ask(Hello(ref, index), timeout=WAIT)
        await inbox.until(lambda items: len(items) >= TELLS)
        assert all(s.sender is not None for s in inbox.items)
        assert calls.count == 1


async def test_tells_from_outside_actors_build_their_frame_head_once_per_type(url: str) -> None:
    """Built when the type is registered (which checks the name fits), never per tell."""
    _frame.head.cache_clear()
    async with echo_across(url) as (_, _, inbox, ref):
        built = _frame.head.cache_info().misses
        for index in range(TELLS):
            ref.tell(Note(str(index)))
            ref.tell(Ping(index))
        await inbox.until(lambda items: len(items) >= 2 * TELLS)
        assert _frame.head.cache_info().misses == built


async def test_the_same_bad_subject_is_refused_every_time(url: str) -> None:
    async with two_nodes(url) as (a, _), raw_client(url) as nc:
        inbox = Inbox()
        collector = await a.spawn(Echo, inbox)
        await a.subscribe(collector, DeadLetter)
        bad = f"{a.name}/" + "x" * 200  # a segment longer than a name may be
        subject = actor_subject(a.name, "n1", bad)
        await _refused_twice(nc, subject, inbox)
        assert a.transport.counters["invalid_address"] == 2


async def test_the_same_bad_sender_is_refused_every_time(url: str) -> None:
    async with two_nodes(url) as (a, _), raw_client(url) as nc:
        echo = await a.spawn(Echo, name="echo")
        inbox = Inbox()
        collector = await a.spawn(Echo, inbox)
        await a.subscribe(collector, DeadLetter)
        data = frame_of(Note("hi"), sender_node="*", sender_path=echo.path)
        subject = actor_subject(a.name, "n1", echo.path)
        await _refused_twice(nc, subject, inbox, data)
        assert a.transport.counters["invalid_address"] == 2
        assert await echo.ask(Ping(1), timeout=WAIT) == Pong(2)


async def _refused_twice(nc: Client, subject: str, inbox: Inbox, data: bytes | None = None) -> None:
    for _ in range(2):
        await nc.publish(subject, data or frame_of(Note("hi")))
    items = await inbox.until(lambda items: len(items) >= 2)
    letters = [s.message for s in items if isinstance(s, Seen)]
    assert [letter.reason for letter in letters] == ["invalid_address"] * 2


async def test_a_burst_of_tells_is_handed_to_the_client_in_one_step(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer hands a batch over as PUB commands and calls nats-py's ``publish``
    only for the last (which kicks its flusher); the order is the order of the tells."""
    publish = Client.publish
    subjects: list[str] = []

    async def counted(client: Client, subject: str, *args: Any, **kwargs: Any) -> None:
        subjects.append(subject)
        await publish(client, subject, *args, **kwargs)

    monkeypatch.setattr(Client, "publish", counted)
    async with echo_across(url) as (_, _, inbox, ref):
        subjects.clear()
        for index in range(TELLS):
            ref.tell(Note(str(index)))
        items = await _notes(inbox, TELLS)
        assert [s.message for s in items] == [Note(str(index)) for index in range(TELLS)]
        assert subjects.count(ref.subject) == 1


async def test_a_plain_frame_is_read_by_its_head(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tell from outside any actor (version 1, no flags, a registered type) is read
    by one look-up of its head; only other frames go through ``parse``."""
    calls = Calls(_messaging.parse)
    monkeypatch.setattr(_messaging, "parse", calls)
    async with echo_across(url) as (_, b, inbox, ref):
        for index in range(TELLS):
            ref.tell(Note(str(index)))
        await _notes(inbox, TELLS)
        assert calls.count == 0
        relay = await b.spawn(Echo)
        await relay.ask(Hello(ref, 0), timeout=WAIT)  # a tell from an actor: extras
        await inbox.until(lambda items: len(items) > TELLS)
        assert calls.count == 1
