"""Load: 10,000 actors pass at least 1,000,000 messages between them, the system shuts
down mid-traffic, then every count is reconciled. Nothing may be lost silently: each
message sent is either handled or a counted dead letter."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgspec
import pytest

from actors import Actor, ActorRef, ActorSystem

ACTORS = 10_000
MESSAGES = 1_000_000
TOKENS = 50_000  # in flight at once, 5 per actor: drain tasks handle several per wake-up


class Token(msgspec.Struct):
    id: int
    hops: int  # times this token was forwarded before this message


class Ledger:
    """Shared counters; single-threaded, so plain ints are exact."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.sent = 0  # every tell of a Token, the initial ones included
        self.budget_reached = asyncio.Event()
        self.peers: list[ActorRef] = []
        self.actors: list[Relay] = []
        # Per token: how often it was handled and forwarded.
        self.handled = [0] * TOKENS
        self.forwarded = [0] * TOKENS
        self.out_of_order = 0  # a token whose hop count disagrees with its history


class Relay(Actor):
    """Forwards every token to a random peer, forever; the test shuts the system down
    once ``MESSAGES`` have been sent, so tokens die as dead letters at random actors
    while the rest still circulate."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.handled = 0
        self.forwarded = 0
        ledger.actors.append(self)

    async def receive(self, message: Token) -> Any:
        ledger = self.ledger
        token = message.id
        if message.hops != ledger.handled[token]:
            ledger.out_of_order += 1
        self.handled += 1
        ledger.handled[token] += 1
        self.forwarded += 1
        ledger.forwarded[token] += 1
        ledger.sent += 1
        ledger.random.choice(ledger.peers).tell(Token(token, message.hops + 1))
        if ledger.sent == MESSAGES:
            ledger.budget_reached.set()
        return None


@pytest.mark.stress
async def test_stress_10k_actors_1m_messages_all_counted() -> None:
    ledger = Ledger(seed=20_240_601)
    async with ActorSystem("stress") as system:
        for _ in range(ACTORS):
            ledger.peers.append(await system.spawn(Relay, ledger))
        for token in range(TOKENS):
            ledger.peers[token % ACTORS].tell(Token(token, 0))
            ledger.sent += 1
        async with asyncio.timeout(25):
            await ledger.budget_reached.wait()
        # Leave at once: shutdown stops actors one by one while tokens still fly.

    metrics = system.metrics()
    handled = sum(actor.handled for actor in ledger.actors)
    forwarded = sum(actor.forwarded for actor in ledger.actors)

    # System-wide: sent == handled + dead letters.
    assert len(ledger.actors) == ACTORS
    assert ledger.sent >= MESSAGES
    assert ledger.sent == TOKENS + forwarded
    assert handled == forwarded
    assert handled + metrics.dead_letters == ledger.sent

    # Per actor: the mailbox agrees with the actor.
    for actor in ledger.actors:
        stats = actor.mailbox.stats()
        assert stats.got == actor.handled
        assert stats.size == 0
        assert stats.dropped == 0
    assert sum(actor.mailbox.stats().put for actor in ledger.actors) <= ledger.sent

    # Per token: one copy is in flight at a time and it circulates until shutdown, so
    # every token ends as exactly one dead letter (its last send): never lost, never
    # duplicated, hops in order.
    assert ledger.out_of_order == 0
    for token in range(TOKENS):
        assert 1 + ledger.forwarded[token] - ledger.handled[token] == 1, token
    assert metrics.dead_letters == TOKENS
    assert sum(ledger.handled) == handled

    assert metrics.spawned == metrics.stopped == ACTORS
    assert metrics.actors == 0
    assert metrics.failures == 0
