"""Whether to believe an OpenSSH certificate (PROTOCOL.certkeys), and making one.

A certificate is SSH's small answer to certificate authorities: a CA key signs a host's or a
user's public key together with names (principals), a validity window and options. A client
that trusts the CA (``@cert-authority`` in known_hosts) needs no line per host; a server that
trusts it (``--user-ca``, OpenSSH's TrustedUserCAKeys) needs no authorized_keys per user.

``check_certificate`` holds every rule in one place, for both roles; it returns the reason a
certificate is refused, or None. Parsing is ``Certificate.from_blob`` in keys.py.
"""

from __future__ import annotations

from ..wire import types as t
from ..wire.codes import NO_EXPIRY, CertificateType, certificate_time
from ..wire.structures import CERTIFICATE_SUFFIX
from .errors import KeyFileError
from .keyfiles import parse_public_key_line
from .keys import SIGNATURE_ALGORITHMS, Certificate, PrivateKey, PublicKey

# Critical options OpenSSH defines for user certificates. sshviz's server enforces none of them,
# so it refuses a certificate carrying any (as OpenSSH refuses one it does not recognise):
# granting the login without the restriction would give more than the CA meant.
KNOWN_CRITICAL_OPTIONS = ("force-command", "source-address", "verify-required")


def check_certificate(cert: Certificate, cert_type: CertificateType, principal: str | None,
                      now: float, trusted: list[PublicKey] | None = None) -> str | None:
    """Why ``cert`` must not be believed as a ``cert_type`` certificate for ``principal`` at
    ``now`` (seconds since 1970), or None. ``trusted``: the CA keys (None: do not check which
    CA signed it, only that its signature is sound)."""
    if trusted is not None and cert.signature_key not in trusted:
        return f"signed by CA {cert.signature_key.fingerprint()}, which is not trusted"
    algorithm = cert.signature_algorithm()
    if algorithm in SIGNATURE_ALGORITHMS and SIGNATURE_ALGORITHMS[algorithm].hash == "sha1":
        return "the CA signed it with ssh-rsa (SHA-1), which is not accepted"
    if not cert.ca_signature_valid():
        return f"the CA's {algorithm or 'unreadable'} signature over the certificate does not verify"
    if cert.cert_type != cert_type:
        return (f"it is a {cert.type_name} certificate, presented as a "
                f"{'host' if cert_type == CertificateType.HOST else 'user'} certificate")
    when = int(now)
    if when < cert.valid_after:
        return f"not valid yet: valid from {certificate_time(cert.valid_after)}"
    if when >= cert.valid_before:
        return f"expired: valid before {certificate_time(cert.valid_before)}"
    if principal is not None:
        if not cert.principals:
            if cert_type == CertificateType.USER:  # as OpenSSH's TrustedUserCAKeys requires
                return "it names no principals"
        elif principal not in cert.principals:
            return f"{principal!r} is not among its principals ({', '.join(cert.principals)})"
    if cert.critical_options:
        names = ", ".join(cert.critical_options)
        if cert_type == CertificateType.HOST:
            return f"critical options on a host certificate ({names}) are not supported"
        known = [n for n in cert.critical_options if n in KNOWN_CRITICAL_OPTIONS]
        if known:
            return (f"critical option {', '.join(known)} cannot be enforced by sshviz, so the "
                    f"certificate is refused rather than obeyed in part")
        return f"unknown critical option {names} (a certificate with one must be refused)"
    return None


def describe(cert: Certificate) -> str:
    """One line about a certificate for logs and messages."""
    principals = ", ".join(cert.principals) or "any"
    return (f"{cert.type_name} certificate {cert.key_id!r} serial {cert.serial} for {principals}, "
            f"signed by CA {cert.signature_key.key_type} {cert.signature_key.fingerprint()}")


def parse_ca_keys(text: str, source: str = "CA keys") -> tuple[list[PublicKey], list[str]]:
    """OpenSSH's TrustedUserCAKeys: public keys one a line, comments and blank lines
    ignored. Returns (keys, problems); a certificate is no CA (chains are not supported)."""
    keys, problems = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key, _ = parse_public_key_line(line, f"{source}:{number}")
        except KeyFileError as exc:
            problems.append(str(exc))
            continue
        if isinstance(key, Certificate):
            problems.append(f"{source}:{number}: a certificate cannot be a CA key")
            continue
        keys.append(key)
    return keys, problems


def read_ca_keys(path: str) -> tuple[list[PublicKey], list[str]]:
    try:
        with open(path, encoding="utf-8") as f:
            return parse_ca_keys(f.read(), path)
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror}") from None


def _options(options: dict[str, bytes]) -> bytes:
    return b"".join(t.string(name) + t.string(options[name]) for name in sorted(options))


def sign_certificate(ca: PrivateKey, key: PublicKey, cert_type: CertificateType, key_id: str,
                     principals: list[str], valid_after: int = 0, valid_before: int = NO_EXPIRY,
                     critical_options: dict[str, bytes] | None = None,
                     extensions: dict[str, bytes] | None = None, serial: int = 0,
                     nonce: bytes = b"\x00" * 32, algorithm: str | None = None) -> Certificate:
    """What ``ssh-keygen -s`` does: ``key`` certified by ``ca`` (for the tests and the
    lessons; a real CA keeps its key elsewhere). Option values are given already encoded."""
    base = key.plain
    body = (t.string(base.key_type + CERTIFICATE_SUFFIX) + t.string(nonce)
            + base.blob[4 + len(base.key_type):]
            + t.uint64(serial) + t.uint32(cert_type) + t.string(key_id)
            + t.string(b"".join(t.string(p) for p in principals))
            + t.uint64(valid_after) + t.uint64(valid_before)
            + t.string(_options(critical_options or {})) + t.string(_options(extensions or {}))
            + t.string(b"") + t.string(ca.public.blob))
    signature = ca.sign(algorithm or ca.algorithms[0], body)
    cert = PublicKey.from_blob(body + t.string(signature))
    assert isinstance(cert, Certificate)
    return cert
