"""Hash functions by SSH's short names, from `cryptography`."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes

HASHES = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    return HASHES[name]()


def digest(name: str, *parts: bytes) -> bytes:
    h = hashes.Hash(HASHES[name]())
    for part in parts:
        h.update(part)
    return h.finalize()


def digest_size(name: str) -> int:
    return HASHES[name].digest_size
