"""The binary packet protocol (RFC 4253 6): framing, padding, compression, encryption, MAC.

A ``PacketWriter`` turns payloads into wire bytes; a ``PacketReader`` takes wire bytes in any
pieces and gives back whole packets. Both hand out a ``PacketRecord`` that keeps every part of
the packet (plaintext and wire) so a view can label each byte.

The three ways a packet is protected, by what is negotiated:

- classic: encrypt(length || padlen || payload || padding), then MAC over the plaintext;
- encrypt-then-MAC (``-etm@openssh.com`` MACs): length in clear, MAC over the ciphertext;
- AEAD (AES-GCM, ChaCha20-Poly1305): the cipher seals the packet; the length is additional
  data (GCM) or encrypted with its own key (ChaCha20).
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field

from ..crypto.ciphers import NONE_CIPHER, AuthenticationError, CipherSpec
from ..crypto.compression import COMPRESSION, CompressionError, Compressor, Decompressor
from ..crypto.macs import MacSpec
from ..crypto.random import RandomSource
from ..events import KeysActivated
from ..wire.catalog import SSH, DisconnectReason
from .errors import ProtocolError

_U32 = struct.Struct(">I")

# OpenSSH's limits: a packet_length above 256 KiB is refused.
MAX_PACKET_LENGTH = 256 * 1024
MAX_PAYLOAD = 256 * 1024
MIN_PADDING = 4


@dataclass(slots=True)
class PacketRecord:
    """One packet, both as it travelled and as it reads in clear.

    ``plain`` is packet_length || padding_length || payload || padding (the payload compressed
    if compression is on); ``wire`` is what was on the wire, of the same length plus the MAC or
    tag. Offsets into ``plain`` and ``wire`` line up, so spans apply to both.
    """

    direction: str  # "c2s" | "s2c"
    seq: int
    wire: bytes
    plain: bytes
    mac: bytes
    payload: bytes  # the message bytes, decompressed
    packet_length: int
    padding_length: int
    cipher: str
    mac_name: str
    compression: str
    aad_length: int  # bytes at the start left in clear (etm, AEAD)
    message: object = None  # the decoded Message, set by the transport
    time: float = 0.0
    notes: list[str] = field(default_factory=list)
    _spans: list | None = None  # the message's fields with spans, once decoded for display

    def fields(self) -> list:
        """The message's decoded fields with their byte spans. A sent message is built from
        values, and bulk readers skip spans, so these are decoded from the payload on first use."""
        message = self.message
        if message is None:
            return []
        if message.fields is not None:
            return message.fields
        if self._spans is None:
            self._spans = SSH.decode_as(message.spec, self.payload).fields
        return self._spans

    @property
    def encrypted(self) -> bool:
        return self.cipher != "none"

    @property
    def wire_length(self) -> int:
        """Bytes the packet took on the wire: its length field, the packet, its MAC or tag.
        More than ``len(wire)`` where a saved trace kept only the start of a bulk packet."""
        wire = len(self.wire)
        whole = 4 + self.packet_length + len(self.mac)
        return whole if whole > wire and self.plain else wire

    def spans(self) -> dict[str, tuple[int, int]]:
        """Where each part of the packet sits, as [start, end) offsets into plain/wire."""
        body_end = len(self.plain) - self.padding_length
        return {
            "packet_length": (0, 4),
            "padding_length": (4, 5),
            "payload": (5, body_end),
            "padding": (body_end, len(self.plain)),
            "mac": (len(self.plain), len(self.plain) + len(self.mac)),
        }


class DamagedPacket(ProtocolError):
    """A packet whose MAC or AEAD tag does not verify. It carries the packet's wire bytes, and
    the reader has already moved past it (sequence number included), so a passive reader of a
    capture can mark it and go on with the next one."""

    def __init__(self, message: str, seq: int, wire: bytes):
        super().__init__(DisconnectReason.MAC_ERROR, message)
        self.seq = seq
        self.wire = wire


class DirectionKeys:
    """What protects one direction: cipher, MAC and compression, with their keys."""

    def __init__(self, cipher: CipherSpec = NONE_CIPHER, cipher_ctx=None, mac: MacSpec | None = None,
                 mac_ctx=None, compression: str = "none", compressor=None):
        self.cipher = cipher
        self.cipher_ctx = cipher_ctx
        self.mac = None if cipher.aead else mac
        self.mac_ctx = None if cipher.aead else mac_ctx
        self.compression = compression
        self.compressor = compressor  # Compressor / Decompressor, or None (off or not yet on)
        self.block_size = max(8, cipher.block_size)
        self.aead = cipher.aead
        self.etm = bool(self.mac and self.mac.etm)
        self.aad = 4 if (self.aead or self.etm) else 0
        self.mac_size = cipher.tag_size if cipher.aead else (self.mac.size if self.mac else 0)
        # What a packet record names as its MAC: set once, read for every packet.
        self.mac_name = "(implicit: AEAD tag)" if self.aead else (self.mac.name if self.mac else "none")

    def start_delayed_compression(self, outgoing: bool) -> None:
        """Authentication is done: a delayed method (zlib@openssh.com) starts now."""
        name = self.compression
        if name != "none" and COMPRESSION[name].delayed and self.compressor is None:
            self.compressor = Compressor() if outgoing else Decompressor(MAX_PAYLOAD)


class PacketWriter:
    """One direction's outgoing packets: a payload in, its ``PacketRecord`` out (compressed,
    padded with bytes from the random source, encrypted and MACed as the keys in force say).
    Counts sequence numbers and bytes since the last key exchange."""

    def __init__(self, direction: str, rng: RandomSource):
        self.direction = direction
        self.rng = rng
        self.seq = 0
        self.keys = DirectionKeys()
        self.bytes_since_kex = 0
        self.packets_since_kex = 0

    def encode(self, payload: bytes) -> PacketRecord:
        keys = self.keys
        body = keys.compressor.compress(payload) if keys.compressor else payload
        block = keys.block_size
        padding_length = block - ((5 + len(body) - keys.aad) % block)
        if padding_length < MIN_PADDING:
            padding_length += block
        if 5 + len(body) + padding_length < 16:  # RFC 4253 6: at least 16 bytes
            padding_length += block
        packet_length = 1 + len(body) + padding_length
        padding = self.rng.bytes(padding_length)
        plain = b"".join((_U32.pack(packet_length), bytes((padding_length,)), body, padding))
        seq = self.seq
        if keys.aead:
            sealed = keys.cipher_ctx.seal(seq, plain[:4], memoryview(plain)[4:])
            wire, mac = sealed, sealed[-keys.mac_size:]
        elif keys.etm:
            encrypted = plain[:4] + (keys.cipher_ctx.process(memoryview(plain)[4:]) if keys.cipher_ctx
                                     else plain[4:])
            mac = keys.mac_ctx.compute(seq, encrypted)
            wire = encrypted + mac
        else:
            mac = keys.mac_ctx.compute(seq, plain) if keys.mac_ctx else b""
            wire = (keys.cipher_ctx.process(plain) if keys.cipher_ctx else plain) + mac
        self.seq = (seq + 1) & 0xFFFFFFFF
        self.bytes_since_kex += len(wire)
        self.packets_since_kex += 1
        return PacketRecord(self.direction, seq, wire, plain, mac, payload, packet_length,
                            padding_length, keys.cipher.name, keys.mac_name, keys.compression,
                            keys.aad)


class PacketReader:
    """One direction's incoming packets: wire bytes in, in any pieces (``feed``); whole packets
    out (``next_packet``), each checked (length, padding, MAC or tag), decrypted and
    decompressed, as a ``PacketRecord``. Counts sequence numbers and bytes since the last
    key exchange."""

    def __init__(self, direction: str):
        self.direction = direction
        self.seq = 0
        self.keys = DirectionKeys()
        # The bytes fed and not yet taken: whole chunks as they came (bytes, or views of the
        # caller's buffer until keep_unread), the first one read from _offset on. Each packet
        # is cut out of them with one copy; a growing and shrinking bytearray cost a
        # reallocation of the whole buffer every few packets.
        self._chunks: deque = deque()
        self._offset = 0
        self.buffered = 0  # how many bytes that is
        self._first_block: bytes | None = None  # classic mode: the decrypted first block
        self._packet_length: int | None = None
        self.bytes_since_kex = 0
        self.packets_since_kex = 0

    def feed(self, data: bytes | memoryview) -> None:
        """Take bytes from the peer. A view of someone's buffer is read from until
        ``keep_unread``, which the caller calls before that buffer changes."""
        if data:
            self._chunks.append(data)
            self.buffered += len(data)

    def keep_unread(self) -> None:
        """Copy what was fed and not yet taken out of the buffers it came in."""
        if any(type(chunk) is not bytes for chunk in self._chunks):
            held = self._join(self.buffered, consume=False) if self.buffered else b""
            self._chunks = deque([held] if held else [])
            self._offset = 0

    def take_buffered(self) -> bytes:
        """Every byte fed and not yet part of a packet (the reader holds none after)."""
        data = self._take(self.buffered)
        self._packet_length = self._first_block = None
        return data

    def _peek(self, n: int) -> bytes:
        """The first ``n`` buffered bytes, left in place (``n`` <= ``buffered``)."""
        first = self._chunks[0]
        start = self._offset
        if len(first) - start >= n:
            return bytes(first[start:start + n])
        return self._join(n, consume=False)

    def _take(self, n: int) -> bytes:
        """The first ``n`` buffered bytes, taken out (``n`` <= ``buffered``): one copy."""
        if n == 0:
            return b""
        chunks = self._chunks
        first = chunks[0]
        start = self._offset
        end = start + n
        if end < len(first):
            self._offset = end
            self.buffered -= n
            return bytes(first[start:end])
        if end == len(first):
            chunks.popleft()
            self._offset = 0
            self.buffered -= n
            return bytes(first if start == 0 else first[start:])
        return self._join(n, consume=True)

    def _join(self, n: int, consume: bool) -> bytes:
        """The first ``n`` bytes when they span chunks."""
        parts: list = []
        start, got = self._offset, 0
        for index, chunk in enumerate(self._chunks):
            piece = memoryview(chunk)[start:start + n - got]
            parts.append(piece)
            got += len(piece)
            if got == n:
                break
            start = 0
        data = b"".join(parts)
        if consume:
            for _ in range(index):
                self._chunks.popleft()
            self._offset = start + len(parts[-1])
            if self._offset == len(self._chunks[0]):
                self._chunks.popleft()
                self._offset = 0
            self.buffered -= n
        return data

    def _check_length(self, packet_length: int) -> None:
        """Raise for a length out of range or not a whole number of cipher blocks."""
        keys = self.keys
        if packet_length < 5 or packet_length > MAX_PACKET_LENGTH:
            raise ProtocolError(
                DisconnectReason.PROTOCOL_ERROR,
                f"packet_length {packet_length} out of range (5..{MAX_PACKET_LENGTH})")
        if (4 + packet_length - keys.aad) % keys.block_size:
            raise ProtocolError(
                DisconnectReason.PROTOCOL_ERROR,
                f"packet_length {packet_length} is not a multiple of the cipher block size "
                f"{keys.block_size}")

    def next_packet(self) -> PacketRecord | None:
        """The next whole packet, or None until more bytes arrive."""
        keys = self.keys
        if self._packet_length is None:
            if keys.aead or keys.etm or not keys.cipher_ctx:
                if self.buffered < 4:
                    return None
                header = self._peek(4)
                length = (keys.cipher_ctx.packet_length(self.seq, header) if keys.aead
                          else _U32.unpack(header)[0])
            else:
                block = keys.block_size
                if self.buffered < block:
                    return None
                self._first_block = keys.cipher_ctx.process(self._peek(block))
                length = _U32.unpack_from(self._first_block)[0]
            if not 5 <= length <= MAX_PACKET_LENGTH or (4 + length - keys.aad) % keys.block_size:
                self._check_length(length)  # says what is wrong
            self._packet_length = length
        length = self._packet_length
        total = 4 + length + keys.mac_size
        if self.buffered < total:
            return None
        wire = self._take(total)
        self._packet_length = None
        seq = self.seq
        try:
            if keys.aead:
                # The clear length (ChaCha20 sends it encrypted), as the sender wrote it.
                plain = _U32.pack(length) + keys.cipher_ctx.open(seq, wire)
                mac = wire[-keys.mac_size:]
            elif keys.etm:
                mac = wire[4 + length:]
                view = memoryview(wire)  # no copies of the packet's parts
                keys.mac_ctx.verify(seq, view[: 4 + length], mac)
                plain = wire[:4] + (keys.cipher_ctx.process(view[4: 4 + length]) if keys.cipher_ctx
                                    else view[4: 4 + length])
            else:
                mac = wire[4 + length:]
                if keys.cipher_ctx:
                    first = self._first_block
                    plain = first + keys.cipher_ctx.process(memoryview(wire)[len(first): 4 + length])
                else:
                    plain = wire[: 4 + length]
                if keys.mac_ctx:
                    keys.mac_ctx.verify(seq, plain, mac)
        except AuthenticationError as exc:
            if keys.etm and keys.cipher_ctx:  # keep a stream cipher's keystream in step
                keys.cipher_ctx.process(wire[4: 4 + length])
            self._first_block = None
            self.seq = (seq + 1) & 0xFFFFFFFF
            raise DamagedPacket(f"packet {seq}: {exc} (corrupted or forged data)", seq, wire) from None
        self._first_block = None
        padding_length = plain[4]
        if padding_length < MIN_PADDING:
            raise ProtocolError(DisconnectReason.PROTOCOL_ERROR,
                                f"padding_length {padding_length} is below the minimum of 4")
        if padding_length > length - 1:
            raise ProtocolError(DisconnectReason.PROTOCOL_ERROR,
                                f"padding_length {padding_length} exceeds packet_length {length} - 1")
        body = plain[5: 4 + length - padding_length]
        if keys.compressor is not None:
            try:
                payload = keys.compressor.decompress(body)
            except CompressionError as exc:
                raise ProtocolError(DisconnectReason.COMPRESSION_ERROR, str(exc)) from None
        else:
            payload = body
        self.seq = (seq + 1) & 0xFFFFFFFF
        self.bytes_since_kex += len(wire)
        self.packets_since_kex += 1
        return PacketRecord(self.direction, seq, wire, plain, mac, payload, length, padding_length,
                            keys.cipher.name, keys.mac_name, keys.compression, keys.aad)


def switch_keys(end: "PacketReader | PacketWriter", keys: DirectionKeys, direction: str,
                strict: bool) -> KeysActivated:
    """After a NEWKEYS (sent: the writer; received: the reader), the new keys protect that
    direction from the next packet on; strict KEX restarts its sequence numbers. Returns the
    event that says so."""
    end.keys = keys
    if strict:
        end.seq = 0
    end.bytes_since_kex = end.packets_since_kex = 0
    return KeysActivated(direction, keys.cipher.name, keys.mac_name, keys.compression, strict)


def make_direction_keys(cipher: CipherSpec, enc_key: bytes, iv: bytes, mac: MacSpec | None,
                        mac_key: bytes, compression: str, outgoing: bool,
                        compression_on: bool) -> DirectionKeys:
    compressor = None
    if compression != "none" and compression_on:
        compressor = Compressor() if outgoing else Decompressor(MAX_PAYLOAD)
    return DirectionKeys(cipher, cipher.make(enc_key, iv), mac,
                         mac.make(mac_key) if (mac and not cipher.aead) else None,
                         compression, compressor)
