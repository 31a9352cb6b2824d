"""The wire codec: registered Structs round-trip, refs travel as addresses, anything else
is a ``CodecError`` (at send time for the sender, at decode time for the receiver),
whatever bytes arrive. The last test runs two real nodes: a ref inside a message comes
back as the local ref on its own node and as a ``RemoteRef`` elsewhere."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import msgspec
import pytest
from actors.transport import Codec, CodecError, RefAddress, RemoteRef
from actors.transport._codec import type_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import ActorRef
from tests.natsutil import NatsServer
from tests.transport.nats_support import Carry as WireCarry
from tests.transport.nats_support import (
    Echo,
    Inbox,
    Seen,
    Team,
    two_nodes,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# ---------------------------------------------------------------------- types


class Ping(msgspec.Struct, frozen=True):
    n: int


class Empty(msgspec.Struct, frozen=True):
    pass


class Note(msgspec.Struct, frozen=True):
    text: str
    tags: list[str] = []


class Inner(msgspec.Struct, frozen=True):
    x: float
    label: str | None = None


class Nested(msgspec.Struct, frozen=True):
    items: list[Inner]
    index: dict[str, int]
    best: Inner | None = None
    raw: bytes = b""


class Blob(msgspec.Struct, frozen=True):
    data: Any


class Carry(msgspec.Struct, frozen=True):
    ref: ActorRef
    others: list[ActorRef] = []
    maybe: ActorRef | None = None


class Unregistered(msgspec.Struct, frozen=True):
    n: int


class Bad(msgspec.Struct, frozen=True):
    either: Ping | Inner  # two untagged Structs in a union: msgspec cannot decode it


class StubRef(ActorRef):
    """A ref that is only an address (the codec never looks inside refs)."""

    __slots__ = ("address",)

    def __init__(self, address: RefAddress) -> None:
        self.address = address

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StubRef) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)

    def __repr__(self) -> str:
        return f"StubRef({self.address!r})"


REGISTERED: list[type] = [Ping, Empty, Note, Inner, Nested, Blob, Carry]
NAMES = [type_name(cls) for cls in REGISTERED]


def export(ref: ActorRef) -> RefAddress:
    assert isinstance(ref, StubRef), ref
    return ref.address


def resolve(address: RefAddress) -> ActorRef:
    return StubRef(address)


def make_codec() -> Codec:
    return Codec(REGISTERED, export=export, resolve=resolve)


def stub(node: str = "n1", path: str = "shop/a") -> StubRef:
    return StubRef(RefAddress("shop", node, path))


# ---------------------------------------------------------------------- round trips


ROUND_TRIPS = [
    Ping(0),
    Ping(-(2**63)),
    Ping(2**64 - 1),
    Empty(),
    Note("héllo wörld ✓", ["a", ""]),
    Nested(
        items=[Inner(1.5), Inner(-0.0, "z")],
        index={"a": 1, "": -2},
        best=Inner(2.0),
        raw=b"\x00\xff",
    ),
    Blob({"list": [1, "two", None, True, 3.5], "bytes": b"\x01"}),
    Carry(stub(), [stub("n2", "shop/b"), stub("n3", "shop/c/d")], stub("n1", "shop/e")),
]


@pytest.mark.parametrize("message", ROUND_TRIPS, ids=lambda m: type(m).__name__)
def test_codec_registered_struct_round_trip_equal(message: Any) -> None:
    codec = make_codec()
    name, payload = codec.encode(message)
    assert name == type_name(type(message))
    assert isinstance(payload, bytes)
    decoded = codec.decode(name, payload)
    assert decoded == message
    assert type(decoded) is type(message)


def test_codec_type_name_module_and_qualname() -> None:
    assert type_name(Ping) == f"{Ping.__module__}:Ping"
    assert make_codec().encode(Ping(1))[0] == f"{__name__}:Ping"


def test_codec_ref_field_travels_as_address_and_resolves() -> None:
    exported: list[ActorRef] = []
    resolved: list[RefAddress] = []

    def spy_export(ref: ActorRef) -> RefAddress:
        exported.append(ref)
        return export(ref)

    def spy_resolve(address: RefAddress) -> ActorRef:
        resolved.append(address)
        return resolve(address)

    codec = Codec([Carry], export=spy_export, resolve=spy_resolve)
    ref = stub("n9", "shop/parent/child")
    name, payload = codec.encode(Carry(ref))
    assert exported == [ref]
    # On the wire a ref is its address: (system, node, path), nothing else.
    assert msgspec.msgpack.decode(payload) == {
        "ref": ["shop", "n9", "shop/parent/child"],
        "others": [],
        "maybe": None,
    }
    assert codec.decode(name, payload) == Carry(ref)
    assert resolved == [RefAddress("shop", "n9", "shop/parent/child")]


@given(
    n=st.integers(min_value=-(2**63), max_value=2**64 - 1),
    text=st.text(max_size=50),
    tags=st.lists(st.text(max_size=5), max_size=5),
    xs=st.lists(st.floats(allow_nan=False), max_size=5),
    index=st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1), max_size=5),
    raw=st.binary(max_size=20),
)
def test_codec_round_trip_any_field_values_equal(
    n: int, text: str, tags: list[str], xs: list[float], index: dict[str, int], raw: bytes
) -> None:
    codec = make_codec()
    for message in (
        Ping(n),
        Note(text, tags),
        Nested([Inner(x, text) for x in xs], index, None, raw),
    ):
        assert codec.decode(*codec.encode(message)) == message


# ---------------------------------------------------------------------- sending side


def test_codec_unregistered_type_raises_codec_error_naming_type() -> None:
    with pytest.raises(CodecError, match=r"^`Unregistered` is not registered") as info:
        make_codec().encode(Unregistered(1))
    assert str(info.value) == (
        "`Unregistered` is not registered with the transport; register it "
        "(NatsTransport(types=[...])) to send it across nodes"
    )
    assert info.value.message_type == "Unregistered"
    assert isinstance(info.value, TypeError)  # a CodecError is also a TypeError


@pytest.mark.parametrize("value", ["text", 42, {"a": 1}, None], ids=repr)
def test_codec_plain_value_as_message_raises_codec_error(value: Any) -> None:
    name = type(value).__qualname__
    with pytest.raises(CodecError, match=rf"^`{name}` is not registered with the transport"):
        make_codec().encode(value)


def test_codec_unencodable_field_raises_codec_error_naming_type() -> None:
    with pytest.raises(CodecError, match=r"^`Blob` cannot be encoded: `object` is not encodable"):
        make_codec().encode(Blob(object()))


def test_codec_int_beyond_msgpack_range_raises_codec_error() -> None:
    """msgspec raises OverflowError for ints outside [-2**63, 2**64 - 1]; the codec must
    turn it into a CodecError like every other unencodable value."""
    codec = make_codec()
    with pytest.raises(CodecError, match=r"^`Ping` cannot be encoded"):
        codec.encode(Ping(2**64))
    with pytest.raises(CodecError, match=r"^answer of type `int` cannot be encoded"):
        codec.encode_value(2**70)


def test_codec_register_undecodable_type_raises_codec_error() -> None:
    with pytest.raises(CodecError, match=r"^type `Bad` cannot cross the wire: .*tagged"):
        make_codec().register(Bad)


def test_codec_unencodable_answer_raises_codec_error() -> None:
    with pytest.raises(CodecError, match=r"^answer of type `object` cannot be encoded"):
        make_codec().encode_value(object())


# ---------------------------------------------------------------------- receiving side


def test_codec_unknown_type_name_raises_codec_error() -> None:
    payload = msgspec.msgpack.encode({"n": 1})
    with pytest.raises(
        CodecError, match=r"^unknown message type `nowhere:Thing` \(not registered here\)$"
    ):
        make_codec().decode("nowhere:Thing", payload)
    with pytest.raises(CodecError, match=r"^unknown message type `` \(not registered here\)$"):
        make_codec().decode("", payload)
    unregistered = type_name(Unregistered)
    with pytest.raises(CodecError, match=rf"^unknown message type `{re.escape(unregistered)}`"):
        make_codec().decode(unregistered, payload)


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"\xc1", "MessagePack data is malformed: invalid opcode"),
        (b"", "Input data was truncated"),
        (b"\x81\xa1n", "Input data was truncated"),
    ],
    ids=["bad-opcode", "empty", "truncated"],
)
def test_codec_malformed_bytes_raise_codec_error(payload: bytes, detail: str) -> None:
    name = type_name(Ping)
    with pytest.raises(CodecError, match=rf"^malformed `{re.escape(name)}`: {detail}") as info:
        make_codec().decode(name, payload)
    assert info.value.message_type == name


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        ({"n": "one"}, r"Expected `int`, got `str` - at `\$\.n`"),
        ({}, r"Object missing required field `n`"),
        ([1], r"Expected `object`, got `array`"),
        ({"n": 1.5}, r"Expected `int`, got `float` - at `\$\.n`"),
    ],
    ids=["wrong-type", "missing", "array", "float"],
)
def test_codec_wrong_fields_raise_codec_error(data: Any, detail: str) -> None:
    name = type_name(Ping)
    with pytest.raises(CodecError, match=rf"^malformed `{re.escape(name)}`: {detail}"):
        make_codec().decode(name, msgspec.msgpack.encode(data))


def test_codec_malformed_ref_address_raises_codec_error() -> None:
    name = type_name(Carry)
    payload = msgspec.msgpack.encode({"ref": ["shop", "n1"]})  # an address has 3 parts
    with pytest.raises(CodecError, match=rf"^malformed `{re.escape(name)}`"):
        make_codec().decode(name, payload)


def test_codec_decode_value_untyped_returns_plain_data() -> None:
    codec = make_codec()
    value = {"a": [1, "x", None], "b": b"\x00"}
    assert codec.decode_value(codec.encode_value(value)) == value
    with pytest.raises(CodecError, match=r"^malformed answer: MessagePack data is malformed"):
        codec.decode_value(b"\xc1")


def test_codec_deeply_nested_payload_raises_codec_error() -> None:
    """Valid msgpack nested deeper than msgspec recurses (an ``Any`` field): msgspec
    raises RecursionError, which the codec must turn into a CodecError."""
    codec = make_codec()
    payload = b"\x81\xa4data" + b"\x91" * 100_000 + b"\xc0"
    with pytest.raises(CodecError, match=r"^malformed `"):
        codec.decode(type_name(Blob), payload)
    with pytest.raises(CodecError, match=r"^malformed answer"):
        codec.decode_value(b"\x91" * 100_000 + b"\xc0")


# ---------------------------------------------------------------------- fuzz


def _mutations(payload: bytes) -> st.SearchStrategy[bytes]:
    cut = st.integers(0, max(len(payload) - 1, 0))
    return st.one_of(
        cut.map(lambda i: payload[:i]),  # truncated
        st.tuples(cut, st.integers(0, 255)).map(
            lambda t: payload[: t[0]] + bytes([t[1]]) + payload[t[0] + 1 :]  # one byte changed
        ),
        st.binary(max_size=8).map(lambda tail: payload + tail),  # trailing garbage
    )


_plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)

_valid = st.sampled_from(ROUND_TRIPS).map(lambda m: make_codec().encode(m)[1])

payloads = st.one_of(
    st.binary(max_size=64),
    _plain.map(msgspec.msgpack.encode),
    _valid,
    _valid.flatmap(_mutations),
)

names = st.one_of(st.sampled_from(NAMES), st.text(max_size=30))


@FUZZ
@given(name=names, payload=payloads)
def test_codec_decode_fuzz_raises_only_codec_error(name: str, payload: bytes) -> None:
    codec = make_codec()
    try:
        value = codec.decode(name, payload)
    except CodecError as exc:
        assert str(exc)
        return
    assert name in NAMES
    assert type_name(type(value)) == name


@FUZZ
@given(payload=payloads)
def test_codec_decode_value_fuzz_raises_only_codec_error(payload: bytes) -> None:
    with contextlib.suppress(CodecError):
        make_codec().decode_value(payload)


# ---------------------------------------------------------------------- two nodes


async def test_codec_ref_in_message_local_on_owner_remote_elsewhere(
    nats_server_shared: NatsServer,
) -> None:
    async with two_nodes(nats_server_shared.url) as (a, b):
        home_inbox, away_inbox = Inbox(), Inbox()
        home = await a.spawn(Echo, home_inbox, name="home")
        away = await b.spawn(Echo, away_inbox, name="away")
        home_on_b = await b.lookup("home")
        assert isinstance(home_on_b, RemoteRef)

        # A ref to `home` goes to n2 and comes back to n1 inside a message (Carry).
        away_on_a = await a.lookup("away")
        assert away_on_a is not None
        away_on_a.tell(WireCarry(home))
        seen_away = await away_inbox.first()
        there = seen_away.message.ref
        assert isinstance(there, RemoteRef)
        assert (there.node, there.path) == ("n1", home.path)
        assert there == home_on_b

        seen_home = await home_inbox.first()
        assert seen_home.message.hops == 1
        back = seen_home.message.ref
        assert type(back) is ActorRef  # the local ref itself, not a RemoteRef to self
        assert back == home

        # Refs inside containers and an optional field, both directions at once.
        await home_on_b.ask(Team(lead=None, members=[away, home_on_b]), timeout=5)
        seen_team: Seen = (await home_inbox.count(2))[1]
        team = seen_team.message
        assert team.lead is None
        first, second = team.members
        assert isinstance(first, RemoteRef) and (first.node, first.path) == ("n2", away.path)
        assert type(second) is ActorRef and second == home
