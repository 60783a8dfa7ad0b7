"""What one side offered in its KEXINIT, graded for a class: its HASSH fingerprint, whether it
offers a post-quantum key exchange and strict KEX, and which weak algorithms it would still
accept and why. ``serve``'s live list, ``inspect`` and the UI read it from trace events only.

HASSH (Salesforce's fingerprint of SSH software, used by ssh-audit, Zeek and Suricata) is the
MD5, in lowercase hex, of four of the KEXINIT's name-lists as they were on the wire, joined by
";": kex_algorithms, then the encryption, MAC and compression lists of the sender's own
direction (client to server for a client's HASSH, server to client for a server's, which the
HASSH project calls hasshServer). Markers such as ext-info-c and kex-strict-c-v00@openssh.com
are part of kex_algorithms, so they count."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..sides import Side
from ..trace.model import Trace
from ..transport.negotiation import STRICT_KEX_CLIENT, STRICT_KEX_SERVER
from ..wire.catalog import MSG

# Post-quantum hybrids: a lattice KEM joined to X25519 or a NIST curve, so a recording of the
# session stays secret even from a future quantum computer (as long as the KEM holds).
POST_QUANTUM_PREFIXES = ("mlkem", "sntrup761")

# Weak names, whole or by prefix/suffix, with why in a few words. The lists graded are the ones
# a client offers and a server may pick from: kex, host key, and the sender's cipher and MAC.
WEAK_NAMES = {
    "diffie-hellman-group1-sha1": "1024-bit group, SHA-1",
    "diffie-hellman-group14-sha1": "SHA-1 exchange hash",
    "diffie-hellman-group-exchange-sha1": "SHA-1 exchange hash",
    "ssh-rsa": "SHA-1 signatures",
    "ssh-rsa-cert-v01@openssh.com": "SHA-1 signatures",
    "ssh-dss": "DSA: 1024 bits, SHA-1",
    "ssh-dss-cert-v01@openssh.com": "DSA: 1024 bits, SHA-1",
    "none": "no protection at all",
}
WEAK_PATTERNS = (  # (prefix, suffix, why): a name matching both is weak
    ("3des-", "", "3DES: 64-bit blocks"),
    ("blowfish-", "", "64-bit blocks"),
    ("cast128-", "", "64-bit blocks"),
    ("arcfour", "", "RC4: biased keystream"),
    ("des-", "", "DES: 56-bit key"),
    ("", "-cbc", "CBC mode: plaintext recovery attacks"),
    ("rijndael-cbc", "", "CBC mode: plaintext recovery attacks"),
    ("hmac-md5", "", "MD5 MAC"),
    ("hmac-sha1", "", "SHA-1 MAC (legacy)"),
    ("umac-64", "", "64-bit tag"),
    ("hmac-ripemd160", "", "legacy MAC"),
)


def weakness(name: str) -> str | None:
    """Why ``name`` is weak, in a few words, or None."""
    if name in WEAK_NAMES:
        return WEAK_NAMES[name]
    for prefix, suffix, why in WEAK_PATTERNS:
        if name.startswith(prefix) and name.endswith(suffix):
            return why
    return None


@dataclass(frozen=True)
class Offer:
    """One side's KEXINIT as a class sees it."""

    side: str  # who sent it: "client" | "server"
    hassh: str  # MD5 hex of hassh_string
    hassh_string: str  # "kex;ciphers;macs;compression" of the sender's own direction
    post_quantum: tuple[str, ...]  # the post-quantum key exchanges offered
    strict_kex: bool
    weak: tuple[tuple[str, str], ...]  # (name, why), in the order offered

    def grade(self) -> str:
        """One line: post-quantum or not, strict KEX or not, the weak names."""
        parts = ["PQ" if self.post_quantum else "no PQ", "strict KEX" if self.strict_kex else "no strict KEX"]
        parts.append("weak: " + ", ".join(name for name, _ in self.weak) if self.weak else "nothing weak")
        return " · ".join(parts)

    def lines(self) -> list[str]:
        """The offer in full, for inspect and the UI: HASSH, the grade explained (weak names
        grouped by why), then the string the HASSH is the MD5 of."""
        name = "HASSH" if self.side == Side.CLIENT else "hasshServer"
        reasons: dict[str, list[str]] = {}
        for weak, why in self.weak:
            reasons.setdefault(why, []).append(weak)
        return [f"{self.side} {name} {self.hassh}",
                f"  post-quantum key exchange: {', '.join(self.post_quantum) or 'none offered'}",
                f"  strict KEX (Terrapin countermeasure): {'offered' if self.strict_kex else 'not offered'}",
                "  weak: " + ("; ".join(f"{', '.join(names)} ({why})" for why, names in reasons.items())
                              or "none offered"),
                f"  the MD5 of: {self.hassh_string}"]


def offer_of(kexinit, side: str) -> Offer:
    """The Offer of a decoded KEXINIT message sent by ``side``."""
    direction = "client_to_server" if side == Side.CLIENT else "server_to_client"
    kex = list(kexinit["kex_algorithms"])
    ciphers = list(kexinit[f"encryption_algorithms_{direction}"])
    macs = list(kexinit[f"mac_algorithms_{direction}"])
    compression = list(kexinit[f"compression_algorithms_{direction}"])
    hassh_string = ";".join(",".join(names) for names in (kex, ciphers, macs, compression))
    graded = [*kex, *kexinit["server_host_key_algorithms"], *ciphers, *macs]
    weak = tuple(dict.fromkeys((name, why) for name in graded if (why := weakness(name))))
    marker = STRICT_KEX_CLIENT if side == Side.CLIENT else STRICT_KEX_SERVER
    return Offer(side, hashlib.md5(hassh_string.encode(), usedforsecurity=False).hexdigest(), hassh_string,
                 tuple(n for n in kex if n.startswith(POST_QUANTUM_PREFIXES)), marker in kex, weak)


def offers_in(trace: Trace) -> dict[str, Offer]:
    """Each side's first KEXINIT in ``trace`` as an Offer, by side (a side whose KEXINIT is not
    in the trace, or could not be decoded, is missing)."""
    found: dict[str, Offer] = {}
    for event in trace.events:
        message = event.message
        if message is not None and message.spec is MSG.KEXINIT and event.sender not in found:
            found[event.sender] = offer_of(message, event.sender)
            if len(found) == 2:
                break
    return {side: found[side] for side in (Side.CLIENT, Side.SERVER) if side in found}
