"""One injective encoding from names to the wire (issue 11, observation 4): no two
system, actor or durable names share a subject token, a KV key, or a stream, bucket or
consumer name, and every token decodes back."""

from __future__ import annotations

import re

from actors.transport._subjects import (
    escape,
    kv_key,
    path_tokens,
    subject_token,
    tokens_path,
    unescape,
    wire_name,
)
from hypothesis import given
from hypothesis import strategies as st

# What NATS accepts: a subject token, a KV key, a stream/bucket/consumer name.
TOKEN = re.compile(r"[-_A-Za-z0-9]+")
KV_KEY = re.compile(r"[-/_=.a-zA-Z0-9]+")

names = st.text(min_size=1, max_size=12)
tricky = st.text(alphabet="._-_aA0x2e5f/=*> é", min_size=0, max_size=8)
any_name = st.one_of(names, tricky)


@given(any_name, any_name)
def test_subject_tokens_and_kv_keys_never_shared(a: str, b: str) -> None:
    if a != b:
        assert subject_token(a) != subject_token(b)
        assert kv_key(a) != kv_key(b)
    assert TOKEN.fullmatch(subject_token(a))
    assert KV_KEY.fullmatch(kv_key(a))


@given(any_name)
def test_escape_round_trips(text: str) -> None:
    assert unescape(escape(text)) == text


@given(st.lists(any_name, min_size=1, max_size=4), st.lists(any_name, min_size=1, max_size=4))
def test_stream_bucket_and_consumer_names_never_shared(a: list[str], b: list[str]) -> None:
    if a != b:
        assert wire_name(*a) != wire_name(*b)
    assert TOKEN.fullmatch(wire_name(*a))


@given(st.lists(any_name.filter(lambda s: "/" not in s), min_size=1, max_size=4))
def test_actor_paths_round_trip_through_subject_tokens(segments: list[str]) -> None:
    path = "/".join(segments)
    assert tokens_path(path_tokens(path)) == path
    assert all(TOKEN.fullmatch(token) for token in path_tokens(path).split("."))


@given(any_name, any_name)
def test_paths_never_share_tokens(a: str, b: str) -> None:
    if a != b:
        assert path_tokens(a) != path_tokens(b)


def test_the_collisions_the_issue_saw_are_gone() -> None:
    assert wire_name("actors", "x.y", "names") != wire_name("actors", "x_y", "names")
    assert wire_name("d", "a.b") != wire_name("d", "_612e62")
    assert subject_token("x.y") == "x_2ey" and subject_token("x_y") == "x_5fy"
