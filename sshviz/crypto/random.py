"""Where randomness comes from. Injected into every protocol object so that a seeded run is
byte-for-byte reproducible: cookies, padding, ephemeral keys and demo host keys all come from here.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from .hashes import digest


class RandomSource:
    """Random bytes. ``fork(label)`` gives an independent stream for one purpose."""

    def bytes(self, n: int) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def fork(self, label: str) -> "RandomSource":  # pragma: no cover - interface
        raise NotImplementedError

    def below_power_of_two(self, bits: int) -> int:
        """A random integer in [1, 2**bits)."""
        value = int.from_bytes(self.bytes((bits + 7) // 8), "big") >> (-bits % 8)
        return value or 1


class SystemRandom(RandomSource):
    def bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def fork(self, label: str) -> "SystemRandom":
        return self


class SeededRandom(RandomSource):
    """A ChaCha20 keystream keyed by SHA-256 of the seed and a label: deterministic, and each
    fork is independent, so one endpoint drawing more bytes never shifts another's."""

    def __init__(self, seed: int | bytes | str, label: str = ""):
        if isinstance(seed, int):
            seed = str(seed)
        if isinstance(seed, str):
            seed = seed.encode()
        self.seed = seed
        self.label = label
        key = digest("sha256", b"sshviz seeded random\x00", seed, b"\x00", label.encode())
        self._stream = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()

    def bytes(self, n: int) -> bytes:
        return self._stream.update(bytes(n))

    def fork(self, label: str) -> "SeededRandom":
        return SeededRandom(self.seed, f"{self.label}/{label}" if self.label else label)
