"""RFC 4251 data types and the message catalog: round trips, spans, and rejection of bad bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sshviz.wire import types as t
from sshviz.wire.catalog import MSG, SSH
from sshviz.wire.spec import Field, Message, opaque_spec
from sshviz.wire.transport import KEXINIT_LISTS
from sshviz.wire.types import DecodeError, Reader

from .conftest import assert_decoded_whole, assert_says_where, assert_tiles, cut_outcome
from .strategies import layout_values


@given(st.integers(-(2**600), 2**600))
def test_mpint_round_trip(value):
    encoded = t.mpint(value)
    reader = Reader(encoded)
    assert reader.mpint() == value
    assert reader.remaining == 0


@pytest.mark.parametrize("value, encoded", [
    # RFC 4251 section 5 examples
    (0, "00000000"),
    (0x9A378F9B2E332A7, "0000000809a378f9b2e332a7"),
    (0x80, "000000020080"),
    (-0x1234, "00000002edcc"),
    (-0xDEADBEEF, "00000005ff21524111"),
])
def test_mpint_rfc_examples(value, encoded):
    assert t.mpint(value).hex() == encoded
    assert Reader(bytes.fromhex(encoded)).mpint() == value


@pytest.mark.parametrize("encoded", ["000000020001", "00000002ff80", "0000000100"])
def test_mpint_with_needless_leading_byte_is_invalid(encoded):
    with pytest.raises(DecodeError, match="invalid mpint"):
        Reader(bytes.fromhex(encoded)).mpint()


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1), st.binary(max_size=64), st.booleans())
def test_fixed_types_round_trip(u32, u64, blob, flag):
    data = t.uint32(u32) + t.uint64(u64) + t.string(blob) + t.boolean(flag) + t.byte(u32 & 0xFF)
    r = Reader(data)
    assert (r.uint32(), r.uint64(), r.string(), r.boolean(), r.byte()) == (u32, u64, blob, flag, u32 & 0xFF)


def test_rfc_examples_of_name_lists():
    assert t.name_list([]).hex() == "00000000"
    assert t.name_list(["zlib"]).hex() == "000000047a6c6962"
    assert t.name_list(["zlib", "none"]).hex() == "000000097a6c69622c6e6f6e65"


@pytest.mark.parametrize("body", [b"a,,b", b",a", b"a,", b"caf\xc3\xa9", b"a b"])
def test_bad_name_lists_are_rejected(body):
    with pytest.raises(DecodeError):
        Reader(t.string(body)).name_list()


@pytest.mark.parametrize("data, reader", [
    (b"\x00\x00\x00", Reader.uint32),
    (b"\x00\x00\x00\x05abc", Reader.string),
    (b"", Reader.byte),
    (b"\x00\x00\x00\x00\x00\x00\x00", Reader.uint64),
])
def test_truncated_values_raise(data, reader):
    with pytest.raises(DecodeError, match="truncated"):
        reader(Reader(data))


ALL_SPECS = SSH.specs


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: f"{s.number}-{s.name}")
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_message_round_trips_with_spans(spec, data):
    values = data.draw(layout_values(spec.fields))
    payload = Message(spec, values).encode()
    decoded = SSH.decode_as(spec, payload)
    # What decoding gives back re-encodes to the same bytes...
    assert Message(spec, decoded.values).encode() == payload
    # ... and the top-level fields tile the payload with no gap and no overlap.
    assert_tiles(decoded.fields, 0, len(payload))


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: f"{s.number}-{s.name}")
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_truncated_messages_raise_decode_error(spec, data):
    """Every cut of every message raises DecodeError naming the message, the field, the read
    that ran out of bytes and where; except the cuts that leave a whole shorter message (at the
    start of an optional part, inside trailing bytes, between the items of a repeat to the end),
    which decode as that message."""
    values = data.draw(layout_values(spec.fields))
    payload = Message(spec, values).encode()
    for cut in range(1, len(payload)):
        expected = cut_outcome(spec.fields, values, 1, cut)
        if expected is None:
            decoded = SSH.decode_as(spec, payload[:cut])
            assert Message(spec, decoded.values).encode() == payload[:cut]
            assert_tiles(decoded.fields, 0, cut)
            continue
        message, offset = expected
        with pytest.raises(DecodeError) as error:
            SSH.decode_as(spec, payload[:cut])
        assert (str(error.value), error.value.offset) == (f"{spec.rfc_name}: {message}", offset), cut
    with pytest.raises(DecodeError, match="^empty payload: no message number$"):
        SSH.decode(payload[:0])


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.flat_plan()], ids=lambda s: f"{s.number}-{s.name}")
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_flat_messages_read_without_spans_as_with_them(spec, data):
    """A message of fixed-size fields and strings only is read without spans by a shorter way
    (most packets of a transfer are such messages): the same values as the full engine's, and,
    for every cut or longer payload, the same outcome (a DecodeError saying the same)."""
    values = data.draw(layout_values(spec.fields))
    payload = Message(spec, values).encode()
    for candidate in [payload, payload + b"\x00"] + [payload[:cut] for cut in range(1, len(payload))]:
        outcomes = []
        for spans in (True, False):
            try:
                outcomes.append(SSH.decode_as(spec, candidate, spans=spans).values)
            except DecodeError as exc:
                outcomes.append((str(exc), exc.offset))
        assert outcomes[0] == outcomes[1]
        if isinstance(outcomes[1], dict):
            assert [type(v) for v in outcomes[0].values()] == [type(v) for v in outcomes[1].values()]
    assert MSG.CHANNEL_DATA.flat_plan() and MSG.KEXINIT.flat_plan() is None


def test_cut_outcomes_by_hand():
    # What the truncation test expects, worked out by hand for a few cuts.
    kexinit = MSG.KEXINIT.build(cookie=bytes(16), **{name: [] for name, _ in KEXINIT_LISTS},
                                first_kex_packet_follows=False)
    assert cut_outcome(kexinit.spec.fields, kexinit.values, 1, 6) == (
        "field 'cookie': truncated byte[16]: needs 16 bytes at offset 1, 5 left", 1)
    assert cut_outcome(kexinit.spec.fields, kexinit.values, 1, 19) == (
        "field 'kex_algorithms': truncated uint32: needs 4 bytes at offset 17, 2 left", 17)
    data = MSG.CHANNEL_DATA.build(recipient_channel=1, data=b"hello")
    assert cut_outcome(data.spec.fields, data.values, 1, 12) == (
        "field 'data': truncated string body: needs 5 bytes at offset 9, 3 left", 9)
    # An optional part left out, or cut short: a shorter REQUEST_SUCCESS.
    success = MSG.REQUEST_SUCCESS.build(response_data=b"port")
    assert cut_outcome(success.spec.fields, success.values, 1, 1) is None
    assert cut_outcome(success.spec.fields, success.values, 1, 3) is None
    info = MSG.EXT_INFO.build(extensions=[{"extension_name": "a", "extension_value": b"b"}] * 3)
    assert cut_outcome(info.spec.fields, info.values, 1, 5) == (
        "extensions: count 3 exceeds the 0 bytes left", None)


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_random_bytes_never_crash_the_decoder(payload):
    """Random payloads decode, or raise DecodeError saying what and where, or KeyError for a
    number no message has; nothing else."""
    for context in ({}, {"kex": "ecdh", "auth": "publickey"}, {"kex": "gex", "auth": "keyboard-interactive"}):
        if not payload:
            with pytest.raises(DecodeError, match="^empty payload: no message number$"):
                SSH.decode(payload, context)
            continue
        if not SSH.is_known(payload[0]):
            with pytest.raises(KeyError) as unknown:
                SSH.decode(payload, context)
            assert unknown.value.args == (payload[0],)
            continue
        spec = SSH.spec_for(payload[0], context)
        try:
            message = SSH.decode(payload, context)
        except DecodeError as error:
            name = (spec or opaque_spec(payload[0], SSH.by_number[payload[0]])).rfc_name
            assert_says_where(error, name, payload)
        else:
            assert message.spec is spec or (spec is None and message.spec.name.endswith("?"))
            assert_decoded_whole(message, payload, Message(message.spec, message.values).encode())


def test_kexinit_spans_split_name_lists_into_items():
    message = SSH.build("KEXINIT", cookie=bytes(16), kex_algorithms=["curve25519-sha256", "ext-info-c"],
                        server_host_key_algorithms=["ssh-ed25519"],
                        encryption_algorithms_client_to_server=["aes128-ctr"],
                        encryption_algorithms_server_to_client=["aes128-ctr"],
                        mac_algorithms_client_to_server=["hmac-sha2-256"],
                        mac_algorithms_server_to_client=["hmac-sha2-256"],
                        compression_algorithms_client_to_server=["none"],
                        compression_algorithms_server_to_client=["none"],
                        languages_client_to_server=[], languages_server_to_client=[],
                        first_kex_packet_follows=False)
    payload = message.encode()
    decoded = SSH.decode(payload)
    kex = next(f for f in decoded.fields if f.name == "kex_algorithms")
    assert [payload[c.start:c.end] for c in kex.children] == [b"curve25519-sha256", b"ext-info-c"]
    assert len([f for f in decoded.fields if f.type == "name-list"]) == 10


def test_context_picks_the_method_specific_message():
    payload = MSG.USERAUTH_PK_OK.build(algorithm="ssh-ed25519", public_key=b"x").encode()
    assert SSH.decode(payload, {"auth": "publickey"}).spec.name == "USERAUTH_PK_OK"
    assert SSH.decode(payload, {"auth": "password"}).spec.name == "USERAUTH_PASSWD_CHANGEREQ"
    assert SSH.decode(payload, {}).spec.name.endswith("?")  # unknown without context, kept opaque


def test_field_docs_and_rfc_sections_are_declared():
    for spec in ALL_SPECS:
        assert spec.rfc and spec.doc, spec.name
        for item in spec.fields:
            if isinstance(item, Field):
                assert item.doc, f"{spec.name}.{item.name}"


def test_a_request_type_defined_in_its_own_section_cites_it():
    exec_request = SSH.decode(MSG.CHANNEL_REQUEST.build(recipient_channel=0, request_type="exec", want_reply=True,
                                                        command="ls").encode())
    cited = {f.name: f.rfc for f in exec_request.fields}
    assert cited["command"] == "RFC 4254 6.5" and cited["request_type"] == ""
    status = SSH.decode(MSG.CHANNEL_REQUEST.build(recipient_channel=0, request_type="exit-status", want_reply=False,
                                                  exit_status=0).encode())
    assert {f.name: f.rfc for f in status.fields}["exit_status"] == "RFC 4254 6.10"
