"""Load: 10,000 actors pass 1,000,000 messages between them, then every count is
reconciled. Nothing may be lost silently: each message sent is either handled or a
counted dead letter."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from actors import Actor, ActorRef, ActorSystem

ACTORS = 10_000
STOPPED_EARLY = 100  # stopped before the traffic starts, still picked as peers
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
        # Per token: how often it was handled and forwarded; whether it was kept.
        self.handled = [0] * TOKENS
        self.forwarded = [0] * TOKENS
        self.kept = [False] * TOKENS
        self.out_of_order = 0  # a token whose hop count disagrees with its history


class Relay(Actor):
    """Forwards every token to a random peer (a stopped one turns it into a dead
    letter) until the system-wide budget of sends is spent; then keeps what it gets."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.handled = 0
        self.forwarded = 0
        self.kept = 0
        ledger.actors.append(self)

    async def receive(self, message: Token) -> Any:
        ledger = self.ledger
        token = message.id
        if message.hops != ledger.handled[token]:
            ledger.out_of_order += 1
        self.handled += 1
        ledger.handled[token] += 1
        if ledger.sent >= MESSAGES:
            self.kept += 1
            ledger.kept[token] = True
            return None
        ledger.sent += 1
        self.forwarded += 1
        ledger.forwarded[token] += 1
        ledger.random.choice(ledger.peers).tell(Token(token, message.hops + 1))
        if ledger.sent == MESSAGES:
            ledger.budget_reached.set()
        return None


@pytest.mark.stress
async def test_stress_10k_actors_1m_messages_all_counted() -> None:
    ledger = Ledger(seed=20_240_601)
    with capture_logs():  # a dead letter is a debug line each: keep them off stdout
        async with ActorSystem("stress") as system:
            own = system.metrics().spawned  # the runtime's own actors (the event bus)
            for _ in range(ACTORS):
                ledger.peers.append(await system.spawn(Relay, ledger))
            for ref in ledger.random.sample(ledger.peers, STOPPED_EARLY):
                await system.stop(ref)
            live = [ref for ref in ledger.peers if ref.is_alive()]
            for token in range(TOKENS):
                live[token % len(live)].tell(Token(token, 0))
                ledger.sent += 1
            async with asyncio.timeout(25):
                await ledger.budget_reached.wait()
            # Leave at once: tokens still queued are handled or dead-lettered.

    metrics = system.metrics()
    handled = sum(actor.handled for actor in ledger.actors)
    forwarded = sum(actor.forwarded for actor in ledger.actors)
    kept = sum(actor.kept for actor in ledger.actors)

    # System-wide: sent == handled + dead letters.
    assert len(ledger.actors) == ACTORS
    assert ledger.sent == MESSAGES == TOKENS + forwarded
    assert handled == forwarded + kept
    assert handled + metrics.dead_letters == MESSAGES
    assert metrics.dead_letters > 0  # the early-stopped actors got some

    # Per actor: the mailbox agrees with the actor.
    for actor in ledger.actors:
        stats = actor.mailbox.stats()
        assert stats.got == actor.handled
        assert stats.size == 0
        assert stats.dropped == 0
    # Accepted by a mailbox = handled + dead-lettered from the queue at a stop; the
    # other dead letters were refused at send time by an already stopped actor.
    accepted = sum(actor.mailbox.stats().put for actor in ledger.actors)
    assert handled <= accepted <= handled + metrics.dead_letters

    # Per token: one copy in flight at a time, so each token ends either kept by an
    # actor or as exactly one dead letter (its last send): never both, never lost,
    # never duplicated, hops in order.
    assert ledger.out_of_order == 0
    dead = 0
    for token in range(TOKENS):
        undelivered = 1 + ledger.forwarded[token] - ledger.handled[token]
        assert undelivered == (0 if ledger.kept[token] else 1), token
        dead += undelivered
    assert dead == metrics.dead_letters
    assert sum(ledger.handled) == handled
    assert sum(ledger.kept) == kept

    assert metrics.messages_handled == handled
    assert metrics.spawned == metrics.stopped == own + ACTORS
    assert metrics.actors == 0
    assert metrics.failures == 0
