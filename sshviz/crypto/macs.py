"""MAC algorithms by SSH name (RFC 4253 6.4 and OpenSSH's encrypt-then-MAC variants)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hmac

from .ciphers import AuthenticationError
from .hashes import digest_size, hash_algorithm
from .registry import Registry

_SEQ = struct.Struct(">I")


@dataclass(frozen=True)
class MacSpec:
    name: str
    hash: str
    etm: bool  # encrypt-then-MAC: the MAC covers the ciphertext and the length stays clear

    @property
    def key_size(self) -> int:
        return digest_size(self.hash)

    @property
    def size(self) -> int:
        return digest_size(self.hash)

    def make(self, key: bytes) -> "MacContext":
        return MacContext(self, key)


class MacContext:
    """HMAC keyed once; each packet's MAC is over uint32 sequence number || data."""

    def __init__(self, spec: MacSpec, key: bytes):
        self.spec = spec
        self._base = hmac.HMAC(key, hash_algorithm(spec.hash))

    def compute(self, seq: int, data: bytes) -> bytes:
        h = self._base.copy()
        h.update(_SEQ.pack(seq))
        h.update(data)
        return h.finalize()

    def verify(self, seq: int, data: bytes, mac: bytes) -> None:
        h = self._base.copy()
        h.update(_SEQ.pack(seq))
        h.update(data)
        try:
            h.verify(mac)
        except InvalidSignature:
            raise AuthenticationError(f"{self.spec.name} MAC does not match") from None


MACS: Registry[MacSpec] = Registry("MAC")
for _name, _hash, _etm in [
    ("hmac-sha2-256-etm@openssh.com", "sha256", True),
    ("hmac-sha2-512-etm@openssh.com", "sha512", True),
    ("hmac-sha1-etm@openssh.com", "sha1", True),
    ("hmac-sha2-256", "sha256", False),
    ("hmac-sha2-512", "sha512", False),
    ("hmac-sha1", "sha1", False),
]:
    MACS.register(_name, MacSpec(_name, _hash, _etm))
