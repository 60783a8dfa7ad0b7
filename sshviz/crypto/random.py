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


# Bumped in a forked child, so no SystemRandom there hands out bytes its parent drew too.
_forks = 0


def _forked() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


class SystemRandom(RandomSource):
    """The operating system's random bytes. Requests of padding size (one per packet) are cut
    from a block drawn ``BLOCK`` bytes at a time, one system call for hundreds of packets; the
    block is neither pickled nor used after a fork."""

    BLOCK = 4096
    SMALL = 24  # larger requests (keys, cookies, salts) go to the system each time

    def __init__(self):
        self._block = b""
        self._at = 0
        self._forks = _forks

    def bytes(self, n: int) -> bytes:
        if n > self.SMALL:
            return os.urandom(n)
        at = self._at
        if at + n > len(self._block) or self._forks != _forks:
            self._block, at, self._forks = os.urandom(self.BLOCK), 0, _forks
        self._at = at + n
        return self._block[at:at + n]

    def fork(self, label: str) -> "SystemRandom":
        return self

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()


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
