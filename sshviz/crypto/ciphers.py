"""Packet ciphers by SSH name.

Two shapes: stream-like ciphers (AES-CTR, none) that the packet layer pairs with a MAC, and AEAD
ciphers (AES-GCM, ChaCha20-Poly1305) that seal a whole packet and keep its length readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.poly1305 import Poly1305

from .registry import Registry


class AuthenticationError(ValueError):
    """An AEAD tag or a MAC did not verify."""


@dataclass(frozen=True)
class CipherSpec:
    name: str
    key_size: int
    iv_size: int
    block_size: int
    aead: bool
    tag_size: int
    make: Callable[[bytes, bytes], object]  # (key, iv) -> a context for one direction


class StreamContext:
    """AES-CTR: one keystream that runs on across packets."""

    def __init__(self, key: bytes, iv: bytes):
        cipher = Cipher(algorithms.AES(key), modes.CTR(iv))
        self._enc = cipher.encryptor()

    def process(self, data: bytes) -> bytes:
        return self._enc.update(data)


class GCMContext:
    """aes*-gcm@openssh.com (OpenSSH PROTOCOL 1.6 / RFC 5647): the 4-byte packet length is
    the additional data, the 12-byte nonce is a fixed part and a 64-bit counter that goes up by
    one per packet."""

    def __init__(self, key: bytes, iv: bytes):
        self._aead = AESGCM(key)
        self._fixed = iv[:4]
        self._counter = int.from_bytes(iv[4:12], "big")

    def _nonce(self) -> bytes:
        nonce = self._fixed + self._counter.to_bytes(8, "big")
        self._counter = (self._counter + 1) & 0xFFFFFFFFFFFFFFFF
        return nonce

    def seal(self, seq: int, header: bytes, body: bytes) -> bytes:
        return header + self._aead.encrypt(self._nonce(), body, header)

    def packet_length(self, seq: int, header: bytes) -> int:
        return int.from_bytes(header, "big")

    def open(self, seq: int, wire: bytes) -> bytes:
        try:
            return self._aead.decrypt(self._nonce(), memoryview(wire)[4:], wire[:4])
        except InvalidTag:
            raise AuthenticationError("AES-GCM authentication tag does not match") from None


class ChaChaPolyContext:
    """chacha20-poly1305@openssh.com (PROTOCOL.chacha20poly1305): the second 32 key bytes
    encrypt the length, the first 32 the payload; the nonce is the sequence number, and the
    Poly1305 key is the first 32 bytes of keystream with block counter 0."""

    def __init__(self, key: bytes, iv: bytes):
        # One ChaCha20 context per key, moved to each packet's nonce: making a context costs
        # several times as much as moving one, twice a packet.
        self._main, self._header = self._context(key[:32]), self._context(key[32:64])
        self._seq: int | None = None  # the sequence number whose nonce is in _nonce
        self._nonce = b""

    @staticmethod
    def _context(key: bytes):
        return Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()

    def _length_stream(self, seq: int):
        """The length key's keystream at this packet's nonce, which is kept for the payload's.
        cryptography's 16-byte ChaCha20 nonce is the counter then the nonce, both little pieces
        of the same 128-bit block input as in the original ChaCha: 64-bit counter (little-endian,
        0 here) then the 64-bit sequence number (big-endian, as OpenSSH writes it)."""
        self._seq, self._nonce = seq, _ZERO_COUNTER + seq.to_bytes(8, "big")
        stream = self._header
        stream.reset_nonce(self._nonce)
        return stream

    def _payload_stream(self, seq: int):
        """The payload key's keystream and the Poly1305 key: block 0 (counter 0) gives the
        Poly1305 key, and the stream goes on at block 1, where the payload starts."""
        if seq != self._seq:  # the length was not read first
            self._length_stream(seq)
        stream = self._main
        stream.reset_nonce(self._nonce)
        return stream, stream.update(_ZERO_BLOCK)[:32]

    def seal(self, seq: int, header: bytes, body: bytes) -> bytes:
        length = self._length_stream(seq).update(header)
        stream, poly_key = self._payload_stream(seq)
        data = length + stream.update(body)
        return data + Poly1305.generate_tag(poly_key, data)

    def packet_length(self, seq: int, header: bytes) -> int:
        return int.from_bytes(self._length_stream(seq).update(header), "big")

    def open(self, seq: int, wire: bytes) -> bytes:
        stream, poly_key = self._payload_stream(seq)
        view = memoryview(wire)  # no copies of a long packet's parts
        try:
            Poly1305.verify_tag(poly_key, view[:-16], wire[-16:])  # in constant time
        except InvalidSignature:
            raise AuthenticationError("Poly1305 tag does not match") from None
        return stream.update(view[4:-16])


_ZERO_COUNTER = bytes(8)  # ChaCha20's block counter at the start of a packet
_ZERO_BLOCK = bytes(64)  # one ChaCha20 block


CIPHERS: Registry[CipherSpec] = Registry("cipher")
CIPHERS.register("chacha20-poly1305@openssh.com",
                 CipherSpec("chacha20-poly1305@openssh.com", 64, 0, 8, True, 16, ChaChaPolyContext))
for _bits in (128, 192, 256):
    CIPHERS.register(f"aes{_bits}-ctr",
                     CipherSpec(f"aes{_bits}-ctr", _bits // 8, 16, 16, False, 0, StreamContext))
for _bits in (128, 256):
    CIPHERS.register(f"aes{_bits}-gcm@openssh.com",
                     CipherSpec(f"aes{_bits}-gcm@openssh.com", _bits // 8, 12, 16, True, 16, GCMContext))
# No encryption: only before the first key exchange; never offered.
NONE_CIPHER = CipherSpec("none", 0, 0, 8, False, 0, lambda key, iv: None)

