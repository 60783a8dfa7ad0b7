"""The binary packet protocol (RFC 4253 6): packets round-trip in any pieces under every
cipher, MAC and compression, are padded and aligned, and a bad MAC fails."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sshviz.crypto.ciphers import CIPHERS
from sshviz.crypto.compression import COMPRESSION
from sshviz.crypto.macs import MACS
from sshviz.crypto.random import SeededRandom
from sshviz.transport.errors import ProtocolError
from sshviz.transport.packet import PacketReader, PacketWriter, make_direction_keys


def _keyed_pair(cipher: str, mac: str, compression: str):
    rng = SeededRandom(5)
    spec = CIPHERS[cipher]
    key, iv, mac_key = rng.bytes(spec.key_size), rng.bytes(spec.iv_size), rng.bytes(64)
    writer, reader = PacketWriter("c2s", rng.fork("pad")), PacketReader("c2s")
    writer.keys = make_direction_keys(spec, key, iv, MACS[mac], mac_key[:MACS[mac].key_size], compression,
                                      True, True)
    reader.keys = make_direction_keys(spec, key, iv, MACS[mac], mac_key[:MACS[mac].key_size], compression,
                                      False, True)
    return writer, reader


@pytest.mark.parametrize("cipher", CIPHERS.names())
@pytest.mark.parametrize("mac", ["hmac-sha2-256", "hmac-sha2-512-etm@openssh.com"])
@pytest.mark.parametrize("compression", COMPRESSION.names())
@settings(max_examples=15, deadline=None)
@given(payloads=st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=5),
       chunk=st.integers(1, 700))
def test_packets_round_trip_in_any_pieces(cipher, mac, compression, payloads, chunk):
    writer, reader = _keyed_pair(cipher, mac, compression)
    wire = b"".join(writer.encode(p).wire for p in payloads)
    received = []
    for start in range(0, len(wire), chunk):
        reader.feed(wire[start:start + chunk])
        while (record := reader.next_packet()) is not None:
            received.append(record)
    assert [r.payload for r in received] == payloads
    for record in received:
        block = max(8, CIPHERS[cipher].block_size)
        assert (len(record.plain) - record.aad_length) % block == 0
        assert 4 <= record.padding_length <= 255
        assert len(record.wire) == len(record.plain) + len(record.mac)
        spans = record.spans()
        body = record.plain[spans["payload"][0]:spans["payload"][1]]
        assert body == record.payload or compression != "none"


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 40_000), min_size=1, max_size=8),
       cuts=st.lists(st.integers(0, 400_000), max_size=10), tail=st.integers(0, 60))
def test_packets_are_cut_out_of_chunks_of_any_sizes_and_the_rest_is_kept(sizes, cuts, tail):
    """Chunks as a socket gives them (many packets each, or a piece of one): every packet comes
    out whole, and what starts the next packet is kept, byte for byte, for take_buffered."""
    writer, reader = _keyed_pair("aes128-gcm@openssh.com", "hmac-sha2-256", "none")
    payloads = [bytes([n % 251]) * n for n in sizes]
    wire = b"".join(writer.encode(p).wire for p in payloads)
    rest = writer.encode(b"next" * 20).wire[:tail]  # less than a packet
    stream = wire + rest
    received, position = [], 0
    for cut in sorted({min(c, len(stream)) for c in cuts}) + [len(stream)]:
        reader.feed(stream[position:cut])
        position = max(position, cut)
        while (record := reader.next_packet()) is not None:
            received.append(record)
    assert [r.payload for r in received] == payloads
    assert all(type(r.wire) is bytes and type(r.plain) is bytes for r in received)
    assert reader.buffered == len(rest)
    assert reader.take_buffered() == rest and reader.buffered == 0 and reader.next_packet() is None


def test_bytes_fed_as_a_view_of_a_reused_buffer_are_copied_before_it_changes():
    """The network adapter reads every chunk into one buffer and feeds a view of it: what the
    reader keeps past keep_unread must not change when the buffer is read into again."""
    writer, reader = _keyed_pair("aes128-gcm@openssh.com", "hmac-sha2-256", "none")
    wire = b"".join(writer.encode(bytes([n]) * 5000).wire for n in range(1, 4))
    buffer = bytearray(len(wire))
    received = []
    for start, end in ((0, 7000), (7000, 7003), (7003, len(wire))):  # packets split unevenly
        buffer[: end - start] = wire[start:end]
        reader.feed(memoryview(buffer)[: end - start])
        while (record := reader.next_packet()) is not None:
            received.append(record)
        reader.keep_unread()
        buffer[:] = bytes(len(buffer))  # the next read overwrites it
    assert [r.payload for r in received] == [bytes([n]) * 5000 for n in range(1, 4)]
    assert all(type(r.wire) is bytes for r in received)


def test_unencrypted_packets_are_at_least_16_bytes_and_aligned():
    writer = PacketWriter("c2s", SeededRandom(1))
    for size in range(1, 40):
        record = writer.encode(b"x" * size)
        assert len(record.wire) >= 16 and len(record.wire) % 8 == 0


def test_truncated_mac_waits_and_corrupt_mac_fails():
    writer, reader = _keyed_pair("aes128-ctr", "hmac-sha2-256", "none")
    wire = bytearray(writer.encode(b"hello").wire)
    reader.feed(bytes(wire[:-1]))
    assert reader.next_packet() is None  # waits for the last byte
    wire[-1] ^= 1
    reader.feed(bytes(wire[-1:]))
    with pytest.raises(ProtocolError) as error:
        reader.next_packet()
    assert error.value.reason.name == "MAC_ERROR"
