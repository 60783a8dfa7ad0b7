"""Passwords kept only as salted scrypt hashes (from `cryptography`).

Stored form: ``scrypt$<log2 N>$<r>$<p>$<salt, base64>$<hash, base64>``.
"""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..crypto.random import RandomSource, SystemRandom

LOG2_N, R, P, LENGTH = 14, 8, 1, 32


def hash_password(password: str, rng: RandomSource | None = None) -> str:
    salt = (rng or SystemRandom()).bytes(16)
    key = Scrypt(salt=salt, length=LENGTH, n=1 << LOG2_N, r=R, p=P).derive(password.encode())
    return "$".join(["scrypt", str(LOG2_N), str(R), str(P),
                     base64.b64encode(salt).decode(), base64.b64encode(key).decode()])


def verify_password(stored: str, password: str) -> bool:
    try:
        kind, log2_n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            return False
        kdf = Scrypt(salt=base64.b64decode(salt), length=len(base64.b64decode(key)),
                     n=1 << int(log2_n), r=int(r), p=int(p))
        kdf.verify(password.encode("utf-8", "surrogateescape"), base64.b64decode(key))
        return True
    except (InvalidKey, ValueError):
        return False


# Checked against when a user does not exist, so an unknown name costs the same time.
_DUMMY = None


def dummy_hash() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hash_password("no such user")
    return _DUMMY
