"""Compression by SSH name (RFC 4253 6.2; zlib@openssh.com waits until authentication ends)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from .registry import Registry


class CompressionError(ValueError):
    pass


@dataclass(frozen=True)
class CompressionSpec:
    name: str
    delayed: bool  # starts only after USERAUTH_SUCCESS


class Compressor:
    """One zlib stream per direction, flushed (Z_PARTIAL_FLUSH, as OpenSSH does) every packet."""

    def __init__(self):
        self._z = zlib.compressobj(6)

    def compress(self, data: bytes) -> bytes:
        return self._z.compress(data) + self._z.flush(zlib.Z_PARTIAL_FLUSH)


class Decompressor:
    def __init__(self, limit: int):
        self._z = zlib.decompressobj()
        self._limit = limit

    def decompress(self, data: bytes) -> bytes:
        try:
            out = self._z.decompress(data, self._limit + 1)
        except zlib.error as exc:
            raise CompressionError(f"zlib: {exc}") from None
        if len(out) > self._limit or self._z.unconsumed_tail:
            raise CompressionError(f"decompressed payload exceeds {self._limit} bytes")
        return out


COMPRESSION: Registry[CompressionSpec] = Registry("compression")
COMPRESSION.register("none", CompressionSpec("none", False))
COMPRESSION.register("zlib@openssh.com", CompressionSpec("zlib@openssh.com", True))
COMPRESSION.register("zlib", CompressionSpec("zlib", False))
