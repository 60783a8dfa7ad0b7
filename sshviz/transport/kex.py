"""Algorithm negotiation (RFC 4253 7.1), the exchange hash H, and key derivation (RFC 4253 7.2)."""

from __future__ import annotations

from ..crypto.ciphers import CIPHERS
from ..crypto.compression import COMPRESSION
from ..crypto.hashes import digest, digest_size
from ..crypto.kex import PSEUDO_KEX, STRICT_KEX_CLIENT, STRICT_KEX_SERVER, KexMethod
from ..crypto.macs import MACS
from ..events import DerivedKey, NegotiatedAlgorithm
from ..wire import types as t
from .packet import DirectionKeys, make_direction_keys

# The ten KEXINIT name-lists, by the short category names used everywhere else.
CATEGORIES = (
    ("kex", "kex_algorithms"),
    ("host_key", "server_host_key_algorithms"),
    ("cipher_c2s", "encryption_algorithms_client_to_server"),
    ("cipher_s2c", "encryption_algorithms_server_to_client"),
    ("mac_c2s", "mac_algorithms_client_to_server"),
    ("mac_s2c", "mac_algorithms_server_to_client"),
    ("compression_c2s", "compression_algorithms_client_to_server"),
    ("compression_s2c", "compression_algorithms_server_to_client"),
    ("language_c2s", "languages_client_to_server"),
    ("language_s2c", "languages_server_to_client"),
)

# Categories where no common name is not a failure.
OPTIONAL_CATEGORIES = {"language_c2s", "language_s2c"}


def real_kex_names(names: list[str]) -> list[str]:
    return [n for n in names if n not in PSEUDO_KEX]


def negotiate(client: dict, server: dict) -> dict[str, NegotiatedAlgorithm]:
    """For each list: the first algorithm of the client's that the server also offers. A MAC
    next to an AEAD cipher is marked unused (the cipher authenticates itself)."""
    result = {}
    for category, field in CATEGORIES:
        client_list, server_list = client[field], server[field]
        if category == "kex":
            client_list, server_list = real_kex_names(client_list), real_kex_names(server_list)
        offered = set(server_list)
        chosen = next((name for name in client_list if name in offered), None)
        result[category] = NegotiatedAlgorithm(category, chosen, list(client_list), list(server_list))
    for direction in ("c2s", "s2c"):
        cipher = result[f"cipher_{direction}"].chosen
        result[f"mac_{direction}"].unused = bool(cipher in CIPHERS and CIPHERS[cipher].aead)
    return result


def strict_kex_offered(client: dict, server: dict) -> bool:
    """Both first KEXINITs carry the strict KEX markers (the Terrapin countermeasure)."""
    return (STRICT_KEX_CLIENT in client["kex_algorithms"]
            and STRICT_KEX_SERVER in server["kex_algorithms"])


def guess_was_right(client: dict, server: dict) -> bool:
    """RFC 4253 7: a guessed first kex packet counts only if both sides prefer the same kex
    method and the same host key algorithm."""
    ck, sk = real_kex_names(client["kex_algorithms"]), real_kex_names(server["kex_algorithms"])
    ch, sh = client["server_host_key_algorithms"], server["server_host_key_algorithms"]
    return bool(ck and sk and ch and sh and ck[0] == sk[0] and ch[0] == sh[0])


def exchange_hash(hash_name: str, inputs: list[tuple[str, str, bytes]]) -> bytes:
    """H = HASH of the concatenated, already encoded inputs."""
    return digest(hash_name, *(encoded for _, _, encoded in inputs))


def hash_inputs_head(V_C: bytes, V_S: bytes, I_C: bytes, I_S: bytes, K_S: bytes):
    """The inputs every exchange hash starts with (RFC 4253 8, RFC 5656 4, RFC 4419 3)."""
    return [
        ("V_C", "string", t.string(V_C)),
        ("V_S", "string", t.string(V_S)),
        ("I_C", "string", t.string(I_C)),
        ("I_S", "string", t.string(I_S)),
        ("K_S", "string", t.string(K_S)),
    ]


def exchange_hash_inputs(method: KexMethod, V_C: bytes, V_S: bytes, I_C: bytes, I_S: bytes,
                         K_S: bytes, client_value, server_value, K: bytes,
                         gex_request: tuple[int | None, int, int | None] | None = None,
                         gex_group: tuple[int, int] | None = None) -> list[tuple[str, str, bytes]]:
    """Every input of the exchange hash H, encoded, in hash order, for ``method``'s family:
    RFC 4253 8 (dh), RFC 4419 3 (gex), RFC 5656 4 / RFC 8731 (ecdh), the ML-KEM hybrid draft.
    The live transport (either role) and the passive capture decoder both build H here."""
    inputs = hash_inputs_head(V_C, V_S, I_C, I_S, K_S)
    family = method.family
    if family == "gex":
        (lo, n, hi), (p, g) = gex_request, gex_group
        if lo is None:  # KEX_DH_GEX_REQUEST_OLD: only n (RFC 4419 5)
            inputs.append(("n", "uint32", t.uint32(n)))
        else:
            inputs += [("min", "uint32", t.uint32(lo)), ("n", "uint32", t.uint32(n)),
                       ("max", "uint32", t.uint32(hi))]
        inputs += [("p", "mpint", t.mpint(p)), ("g", "mpint", t.mpint(g))]
    if family in ("dh", "gex"):
        inputs += [("e", "mpint", t.mpint(client_value)), ("f", "mpint", t.mpint(server_value))]
    elif family == "ecdh":
        inputs += [("Q_C", "string", t.string(client_value)), ("Q_S", "string", t.string(server_value))]
    else:
        inputs += [("C_INIT", "string", t.string(client_value)),
                   ("S_REPLY", "string", t.string(server_value))]
    inputs.append(("K", method.k_encoding, K))
    return inputs


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


def derive_keys(hash_name: str, K: bytes, H: bytes, session_id: bytes,
                sizes: dict[str, int]) -> dict[str, DerivedKey]:
    return {letter: derive_key(hash_name, K, H, letter, session_id, sizes[letter])
            for letter in "ABCDEF"}


def hash_size(hash_name: str) -> int:
    return digest_size(hash_name)


def session_keys(method: KexMethod, algorithms: dict[str, NegotiatedAlgorithm], K: bytes, H: bytes,
                 session_id: bytes) -> dict[str, DerivedKey]:
    """Keys A-F sized for the negotiated ciphers and MACs (an AEAD cipher needs no MAC key)."""
    cipher_c2s, cipher_s2c = (CIPHERS[algorithms["cipher_c2s"].chosen],
                              CIPHERS[algorithms["cipher_s2c"].chosen])
    mac_c2s = None if cipher_c2s.aead else MACS[algorithms["mac_c2s"].chosen]
    mac_s2c = None if cipher_s2c.aead else MACS[algorithms["mac_s2c"].chosen]
    sizes = {"A": cipher_c2s.iv_size, "B": cipher_s2c.iv_size,
             "C": cipher_c2s.key_size, "D": cipher_s2c.key_size,
             "E": mac_c2s.key_size if mac_c2s else 0, "F": mac_s2c.key_size if mac_s2c else 0}
    return derive_keys(method.hash, K, H, session_id, sizes)


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


def encode_k(k_encoding: str, value) -> bytes:
    """K as it enters the hash: an mpint (classic Diffie-Hellman, ECDH) or a string (hybrids)."""
    return t.mpint(value) if k_encoding == "mpint" else t.string(value)


def k_value(k_encoding: str, K: bytes):
    """The integer (mpint) or bytes (string) inside an encoded K."""
    reader = t.Reader(K)
    return reader.mpint() if k_encoding == "mpint" else reader.string()
