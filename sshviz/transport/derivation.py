"""From a key exchange's K and H to the keys each direction uses (RFC 4253 7.2)."""

from __future__ import annotations

from ..crypto.ciphers import CIPHERS
from ..crypto.compression import COMPRESSION
from ..crypto.hashes import digest
from ..crypto.macs import MACS
from ..events import DerivedKey, NegotiatedAlgorithm
from .packet import DirectionKeys, make_direction_keys

KEY_PURPOSES = {
    "A": "initial IV, client to server",
    "B": "initial IV, server to client",
    "C": "encryption key, client to server",
    "D": "encryption key, server to client",
    "E": "integrity key, client to server",
    "F": "integrity key, server to client",
}


def derive_key(hash_name: str, K: bytes, H: bytes, letter: str, session_id: bytes,
               size: int) -> DerivedKey:
    """RFC 4253 7.2: K1 = HASH(K || H || letter || session_id), K2 = HASH(K || H || K1), ...
    then the first ``size`` bytes of K1 || K2 || ... ``K`` arrives encoded (mpint or string)."""
    blocks = [digest(hash_name, K, H, letter.encode(), session_id)]
    while sum(map(len, blocks)) < size:
        blocks.append(digest(hash_name, K, H, *blocks))
    formula = f'HASH(K || H || "{letter}" || session_id)'
    if len(blocks) > 1:
        formula += f", extended by K{{n+1}} = HASH(K || H || K1 || ... || Kn) to {size} bytes"
    value = b"".join(blocks)[:size]
    return DerivedKey(letter, KEY_PURPOSES[letter], value, formula, blocks)


def session_keys(hash_name: str, algorithms: dict[str, NegotiatedAlgorithm], K: bytes, H: bytes,
                 session_id: bytes) -> dict[str, DerivedKey]:
    """Keys A-F sized for the negotiated ciphers and MACs (an AEAD cipher needs no MAC key)."""
    cipher_c2s, cipher_s2c = (CIPHERS[algorithms["cipher_c2s"].chosen],
                              CIPHERS[algorithms["cipher_s2c"].chosen])
    mac_c2s = None if cipher_c2s.aead else MACS[algorithms["mac_c2s"].chosen]
    mac_s2c = None if cipher_s2c.aead else MACS[algorithms["mac_s2c"].chosen]
    sizes = {"A": cipher_c2s.iv_size, "B": cipher_s2c.iv_size,
             "C": cipher_c2s.key_size, "D": cipher_s2c.key_size,
             "E": mac_c2s.key_size if mac_c2s else 0, "F": mac_s2c.key_size if mac_s2c else 0}
    return {letter: derive_key(hash_name, K, H, letter, session_id, sizes[letter])
            for letter in "ABCDEF"}


def direction_keys(algorithms: dict[str, NegotiatedAlgorithm], keys: dict[str, DerivedKey],
                   direction: str, outgoing: bool, auth_done: bool) -> DirectionKeys:
    """What protects ``direction`` ("c2s" or "s2c") once NEWKEYS takes effect. Delayed
    compression (zlib@openssh.com) starts off until authentication is done."""
    cipher = CIPHERS[algorithms[f"cipher_{direction}"].chosen]
    mac = None if cipher.aead else MACS[algorithms[f"mac_{direction}"].chosen]
    compression = algorithms[f"compression_{direction}"].chosen
    iv, enc, integrity = ("A", "C", "E") if direction == "c2s" else ("B", "D", "F")
    compression_on = not COMPRESSION[compression].delayed or auth_done
    return make_direction_keys(cipher, keys[enc].value, keys[iv].value, mac, keys[integrity].value,
                               compression, outgoing, compression_on)
