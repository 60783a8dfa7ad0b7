"""Algorithm negotiation (RFC 4253 7.1): for each of the ten KEXINIT name-lists, the first of
the client's algorithms that the server also offers. Some names in kex_algorithms are not
methods but markers, announcing extensions (RFC 8308) or strict KEX (OpenSSH's PROTOCOL 1.10)."""

from __future__ import annotations

from ..crypto.ciphers import CIPHERS
from ..events import NegotiatedAlgorithm

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

# Names in kex_algorithms that are signals, never chosen as a method.
STRICT_KEX_CLIENT = "kex-strict-c-v00@openssh.com"
STRICT_KEX_SERVER = "kex-strict-s-v00@openssh.com"
EXT_INFO_CLIENT = "ext-info-c"
EXT_INFO_SERVER = "ext-info-s"
PSEUDO_KEX = frozenset({STRICT_KEX_CLIENT, STRICT_KEX_SERVER, EXT_INFO_CLIENT, EXT_INFO_SERVER})


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
        # A MAC next to an AEAD cipher goes unused (the ciphers come before the MACs).
        cipher = result.get(category.replace("mac_", "cipher_")) if category.startswith("mac_") else None
        unused = cipher is not None and cipher.chosen in CIPHERS and CIPHERS[cipher.chosen].aead
        result[category] = NegotiatedAlgorithm(category, chosen, list(client_list), list(server_list), unused)
    return result


def negotiation_failure(algorithms: dict[str, NegotiatedAlgorithm]) -> str | None:
    """Why these choices cannot make a connection (a list with nothing in common), or None."""
    for category, choice in algorithms.items():
        if choice.chosen is None and category not in OPTIONAL_CATEGORIES and not choice.unused:
            return (f"no common {category.replace('_', ' ')} algorithm: client offers "
                    f"{','.join(choice.client) or '(none)'}, server offers "
                    f"{','.join(choice.server) or '(none)'}")
    return None


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
