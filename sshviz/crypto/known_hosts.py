"""OpenSSH known_hosts files: plain and hashed host entries, patterns, [host]:port, and the
@revoked / @cert-authority markers. Checking is pure (the time is passed in); saving is the
caller's business.

A host certificate is believed when a ``@cert-authority`` line whose patterns match the host
holds the CA that signed it and the certificate is valid (a host certificate, in its validity
window, naming the host). Otherwise its key is checked as a plain key, as OpenSSH does, and a
certificate refused by a trusted CA says why. ``@revoked`` refuses a key, a certificate's key,
or the CA that signed a certificate, whatever else the file says."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac

from ..wire.codes import CertificateType
from .certificates import check_certificate, describe
from .keyfiles import KeyFileError, parse_public_key_line
from .keys import PublicKey
from .random import RandomSource, SystemRandom


def host_pattern_name(host: str, port: int) -> str:
    """How known_hosts names a host: ``host`` on port 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


def pattern_matches(pattern: str, name: str) -> bool:
    """OpenSSH host patterns: only '*' and '?' are wildcards ('[' is literal, as in [host]:port)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    return re.fullmatch(regex, name.lower()) is not None


def hash_host(name: str, salt: bytes) -> str:
    h = hmac.HMAC(salt, hashes.SHA1())
    h.update(name.encode())
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(h.finalize()).decode()}"


@dataclass
class KnownHostEntry:
    marker: str  # "" | "@revoked" | "@cert-authority"
    patterns: str  # the raw host field
    key: PublicKey
    line_number: int

    def matches(self, name: str) -> bool:
        field = self.patterns
        if field.startswith("|1|"):
            try:
                salt = base64.b64decode(field.split("|")[2])
            except (IndexError, binascii.Error):
                return False
            return hash_host(name, salt) == field
        matched = False
        for pattern in field.split(","):
            negate = pattern.startswith("!")
            if negate:
                pattern = pattern[1:]
            if pattern_matches(pattern, name):
                if negate:
                    return False
                matched = True
        return matched


class KnownHosts:
    def __init__(self, entries: list[KnownHostEntry] | None = None, problems: list[str] | None = None):
        self.entries = entries or []
        self.problems = problems or []

    @classmethod
    def parse(cls, text: str, source: str = "known_hosts") -> "KnownHosts":
        entries, problems = [], []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            marker = ""
            if line.startswith("@"):
                marker, _, line = line.partition(" ")
                line = line.strip()
            patterns, _, key_text = line.partition(" ")
            try:
                key, _ = parse_public_key_line(key_text, f"{source}:{number}")
            except KeyFileError as exc:
                problems.append(str(exc))
                continue
            entries.append(KnownHostEntry(marker, patterns, key, number))
        return cls(entries, problems)

    @classmethod
    def load(cls, path: str) -> "KnownHosts":
        try:
            with open(path, encoding="utf-8") as f:
                return cls.parse(f.read(), path)
        except FileNotFoundError:
            return cls()

    def check(self, host: str, port: int, key: PublicKey, now: float | None = None) -> tuple[str, str]:
        """("known" | "revoked" | "changed" | "unknown" | "invalid", detail). ``now``, seconds
        since 1970, is when a certificate must be valid (None: any certificate is refused)."""
        names = [host_pattern_name(host, port)]
        relevant = [e for e in self.entries if any(e.matches(n) for n in names)]
        cert = key.certificate
        for entry in self.entries:
            if entry.marker != "@revoked":
                continue
            if entry.key.plain == key.plain:
                return "revoked", f"is REVOKED (known_hosts line {entry.line_number})"
            if cert is not None and entry.key.plain == cert.signature_key:
                return "revoked", (f"is a certificate signed by CA {cert.signature_key.fingerprint()}, "
                                   f"which is REVOKED (known_hosts line {entry.line_number})")
        refused = ""
        if cert is not None:
            cas = [e for e in relevant if e.marker == "@cert-authority"
                   and e.key.plain == cert.signature_key]
            if cas:
                reason = ("no time to check it against" if now is None else
                          check_certificate(cert, CertificateType.HOST, host, now))
                if reason is None:
                    return "known", (f"is a valid {describe(cert)} (trusted by known_hosts line "
                                     f"{cas[0].line_number})")
                refused = f"certificate refused: {reason}"
            else:
                refused = (f"is a certificate from CA {cert.signature_key.fingerprint()}, which no "
                           f"@cert-authority line trusts for {names[0]}")
            key = key.plain  # as OpenSSH does: the certificate's key, as a plain key
        plain = [e for e in relevant if not e.marker]
        for entry in plain:
            if entry.key.plain == key:
                note = f" ({refused})" if refused else ""
                return "known", f"matches line {entry.line_number}{note}"
        if refused.startswith("certificate refused"):
            return "invalid", refused
        same_type = [e for e in plain if e.key.key_type == key.key_type]
        if same_type:
            return "changed", (f"HAS CHANGED: known_hosts line {same_type[0].line_number} holds "
                               f"{same_type[0].key.fingerprint()} (possible man-in-the-middle)")
        return "unknown", f"{refused}; its key is not in known_hosts" if refused else "is not in known_hosts"

    def trusts_a_ca_for(self, host: str, port: int) -> bool:
        """Whether a @cert-authority line names this host (a client then asks for certificates)."""
        name = host_pattern_name(host, port)
        return any(e.marker == "@cert-authority" and e.matches(name) for e in self.entries)

    def entry_line(self, host: str, port: int, key: PublicKey, hashed: bool = True,
                   rng: RandomSource | None = None) -> str:
        name = host_pattern_name(host, port)
        field = hash_host(name, (rng or SystemRandom()).bytes(20)) if hashed else name
        return f"{field} {key.openssh()}"
