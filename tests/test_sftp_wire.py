"""The SFTP catalog: every message round-trips with spans, bad bytes raise DecodeError, and the
stream decoder finds packets in any split of the stream."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sshviz.events import SftpMessage
from sshviz.sftp.stream import BULK_PREVIEW, SftpFramingError, SftpStreamDecoder, sftp_event
from sshviz.wire.sftp import SFTP, AttrFlag, decode_packet, encode_packet, packet
from sshviz.wire.spec import Field, Message, Repeat, When
from sshviz.wire.types import DecodeError

from .conftest import assert_decoded_whole, assert_says_where, assert_tiles, cut_outcome
from .strategies import layout_values

ALL_SPECS = SFTP.specs


def _extension(values):
    return values.get("extension")


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: f"{s.number}-{s.name}")
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_sftp_message_round_trips_with_spans(spec, data):
    values = data.draw(layout_values(spec.fields))
    wire = encode_packet(Message(spec, values))
    decoded = decode_packet(wire, _extension(values))
    assert decoded.spec is spec
    assert encode_packet(Message(spec, decoded.values)) == wire
    # The top-level fields (length and type first) tile the packet with no gap or overlap.
    assert_tiles(decoded.fields, 0, len(wire))


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: f"{s.number}-{s.name}")
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_truncated_sftp_messages_raise_decode_error(spec, data):
    """Every cut of every packet's body (its length saying where the cut is) raises DecodeError
    naming the packet, the field, the read that ran out of bytes and where; except the cuts
    that leave a whole shorter packet (inside the unknown body of an extension, between the
    extension pairs of INIT and VERSION), which decode as that packet."""
    values = data.draw(layout_values(spec.fields))
    body = Message(spec, values).encode()
    for cut in range(len(body)):
        wire = len(body[:cut]).to_bytes(4, "big") + body[:cut]
        expected = (("SFTP packet of 4 bytes: needs a length and a type", 0) if cut == 0
                    else cut_outcome(spec.fields, values, 5, len(wire)))
        if expected is None:
            decoded = decode_packet(wire, _extension(values))
            assert encode_packet(Message(spec, decoded.values)) == wire
            assert_tiles(decoded.fields, 0, len(wire))
            continue
        message, offset = expected
        with pytest.raises(DecodeError) as error:
            decode_packet(wire, _extension(values))
        expected_text = message if cut == 0 else f"{spec.rfc_name}: {message}"
        assert (str(error.value), error.value.offset) == (expected_text, offset), cut


@given(st.binary(max_size=120))
@settings(max_examples=300)
def test_random_bytes_never_crash_the_sftp_decoder(body):
    """Random packet bodies decode, or raise DecodeError saying what and where, or KeyError for
    a type no packet has; nothing else."""
    wire = len(body).to_bytes(4, "big") + body
    for extension in (None, "limits@openssh.com", "statvfs@openssh.com", "home-directory"):
        if not body:
            with pytest.raises(DecodeError, match="^SFTP packet of 4 bytes: needs a length and a type$"):
                decode_packet(wire, extension)
            continue
        spec = SFTP.spec_for(body[0])
        if spec is None:
            with pytest.raises(KeyError) as unknown:
                decode_packet(wire, extension)
            assert unknown.value.args == (body[0],)
            continue
        try:
            message = decode_packet(wire, extension)
        except DecodeError as error:
            assert_says_where(error, spec.rfc_name, wire)
        else:
            assert message.spec is spec
            assert_decoded_whole(message, wire, encode_packet(Message(spec, message.values)))


def test_every_attrs_flag_is_declared_with_when():
    attrs = [item for item in SFTP.by_name["ATTRS"].fields if isinstance(item, When)]
    assert [w.label for w in attrs] == ["SIZE", "UIDGID", "PERMISSIONS", "ACMODTIME", "EXTENDED"]
    full = packet("ATTRS", id=7, flags=int(AttrFlag.SIZE | AttrFlag.UIDGID | AttrFlag.PERMISSIONS
                                          | AttrFlag.ACMODTIME | AttrFlag.EXTENDED),
                  size=5, uid=1, gid=2, permissions=0o100644, atime=3, mtime=4,
                  extended_attrs=[{"extended_type": "x@example.com", "extended_data": b"v"}])
    message = decode_packet(full)
    assert message.values["extended_count"] == 1
    assert [f.name for f in message.fields] == ["length", "type", "id", "flags", "size", "uid", "gid",
                                               "permissions", "atime", "mtime", "extended_count",
                                               "extended_attrs"]


def test_field_docs_and_sections_are_declared():
    def fields(layout):
        for item in layout:
            if isinstance(item, Field):
                yield item
            elif isinstance(item, (When, Repeat)):
                yield from fields(item.fields)
    for spec in ALL_SPECS:
        assert spec.rfc.startswith("draft-ietf-secsh-filexfer-02") and spec.doc, spec.name
        assert spec.rfc_name == "SSH_FXP_" + spec.name
        for item in fields(spec.fields):
            assert item.doc, f"{spec.name}.{item.name}"


def test_symlink_uses_openssh_argument_order():
    message = decode_packet(packet("SYMLINK", id=1, targetpath="target", linkpath="link"))
    assert [f.name for f in message.fields][2:] == ["id", "targetpath", "linkpath"]


def test_extended_reply_is_decoded_by_the_request_it_answers():
    decoder = SftpStreamDecoder()
    [request] = decoder.feed("c2s", packet("EXTENDED", id=9, extended_request="limits@openssh.com"))
    assert request.message["extended_request"] == "limits@openssh.com"
    reply = packet("EXTENDED_REPLY", id=9, extension="limits@openssh.com", max_packet_length=1,
                   max_read_length=2, max_write_length=3, max_open_handles=4)
    [unit] = decoder.feed("s2c", reply)
    assert unit.message["max_open_handles"] == 4
    # Without the request, the body stays opaque bytes.
    assert decode_packet(reply).values["data"] == reply[9:]


@given(st.lists(st.integers(1, 40), max_size=30))
def test_stream_decoder_takes_any_split(cuts):
    packets = [packet("STAT", id=i, path=f"/file{i}") for i in range(5)] + [packet("DATA", id=5, data=b"x" * 300)]
    stream = b"".join(packets)
    decoder = SftpStreamDecoder()
    got, position = [], 0
    for cut in cuts + [len(stream)]:
        got += decoder.feed("c2s", stream[position: position + cut])
        position += cut
    assert [u.packet for u in got] == packets
    assert all(type(u.packet) is bytes for u in got)  # the bytes after a packet are a view; it is not
    assert all(u.message is not None for u in got)
    assert decoder.pending("c2s") == 0


@pytest.mark.parametrize("length", [0, 256 * 1024 + 1, 0xFFFFFFFF])
def test_stream_decoder_refuses_bad_lengths(length):
    with pytest.raises(SftpFramingError):
        SftpStreamDecoder().feed("c2s", length.to_bytes(4, "big") + b"\x01")


def test_unknown_type_and_malformed_body_are_reported_not_raised():
    decoder = SftpStreamDecoder()
    unknown, bad = decoder.feed("c2s", b"\x00\x00\x00\x05\x63" + b"\x00\x00\x00\x01"
                                + b"\x00\x00\x00\x03\x11\x00\x00")
    assert unknown.message is None and unknown.unknown_type
    assert bad.message is None and not bad.unknown_type and "truncated" in bad.error


def test_small_data_is_shown_whole_and_bulk_data_is_summarized():
    small = packet("DATA", id=1, data=b"hello")
    event = sftp_event(3, "s2c", small, decode_packet(small, spans=False))
    assert isinstance(event, SftpMessage) and event.packet == small
    assert event.message["data"] == b"hello" and event.message.fields[-1].end == len(small)
    big_data = bytes(range(256)) * 1024
    big = packet("WRITE", id=2, handle=b"h", offset=0, data=big_data)
    event = sftp_event(3, "c2s", big, decode_packet(big, spans=False))
    data_field = event.message.fields[-1]
    assert event.message.values["data_length"] == len(big_data)
    assert event.message["data"] == big_data[:BULK_PREVIEW]
    assert len(event.packet) == len(big) - len(big_data) + BULK_PREVIEW
    assert (data_field.start, data_field.end) == (len(big) - len(big_data) - 4, len(big))


def _shown(event: SftpMessage):
    message = event.message
    fields = None if message is None else [(f.name, f.type, f.value, f.start, f.end, f.doc) for f in message.fields]
    return event.packet, None if message is None else message.values, fields


def test_a_decoder_with_a_preview_gives_the_events_a_whole_reading_gives():
    """A capture's decoder summarizes big DATA and WRITE packets from their first bytes, their
    data never joined: the events are those of reading each packet whole; small ones, packets
    whose fields are too long for the head, and malformed ones are read whole as before."""
    big = bytes(range(256)) * 300
    inconsistent = bytearray(packet("DATA", id=4, data=big))
    inconsistent[9:13] = (len(big) - 1).to_bytes(4, "big")  # the data's length says one byte less
    packets = [packet("WRITE", id=1, handle=b"h" * 20, offset=7, data=big), packet("DATA", id=2, data=b"x" * 257),
               packet("DATA", id=3, data=b"small"), bytes(inconsistent),
               packet("WRITE", id=5, handle=b"h" * 2000, offset=0, data=big)]
    stream = b"".join(packets)
    whole, previewed = SftpStreamDecoder(), SftpStreamDecoder(preview=BULK_PREVIEW)
    got = {"whole": [], "previewed": []}
    for start in range(0, len(stream), 1000):  # in pieces, as channel data comes
        got["whole"] += whole.feed("c2s", stream[start: start + 1000])
        got["previewed"] += previewed.feed("c2s", stream[start: start + 1000])
    assert len(got["previewed"]) == len(packets)
    assert [_shown(u.event(0)) for u in got["previewed"]] == [_shown(u.event(0)) for u in got["whole"]]
    assert got["previewed"][0].packet != packets[0] and got["previewed"][0].message["data_length"] == len(big)
    assert got["previewed"][3].message is None and "string of" in got["previewed"][3].error
    assert previewed.pending("c2s") == 0
