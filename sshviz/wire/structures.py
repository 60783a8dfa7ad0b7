"""Structures carried inside strings: public key blobs (plain keys and OpenSSH certificates)
and signature blobs.

Declared like messages so decoding opens them up with byte spans for the UI: a certificate is
one more case of ``PUBLIC_KEY``, so it is shown field by field wherever a key blob travels (the
host key of a key exchange reply, the user's key in USERAUTH_REQUEST and PK_OK).
"""

from __future__ import annotations

from .codes import CertificateType, certificate_time, enum_names
from .spec import MPINT, STRING, TEXT, UINT32, UINT64, Field, Repeat, Section, Switch

_ECDSA_KEY = (
    Field("curve", TEXT, "curve identifier (nistp256, nistp384, nistp521)"),
    Field("Q", STRING, "public point, uncompressed: 0x04 || x || y (RFC 5656 3.1)"),
)

_ECDSA_SIG = (
    Field(
        "signature_blob",
        STRING,
        "ECDSA signature (RFC 5656 3.1.2)",
        nested=(Field("r", MPINT, "ECDSA r"), Field("s", MPINT, "ECDSA s")),
    ),
)

SIGNATURE = (
    Field("sig_algorithm", TEXT, "signature algorithm name"),
    Switch(
        "sig_algorithm",
        {
            "ecdsa-sha2-nistp256": _ECDSA_SIG,
            "ecdsa-sha2-nistp384": _ECDSA_SIG,
            "ecdsa-sha2-nistp521": _ECDSA_SIG,
        },
        default=(Field("signature_blob", STRING, "signature bytes"),),
    ),
)

_KEY_PARTS = {
    "ssh-ed25519": (Field("key", STRING, "32-byte Ed25519 public key (RFC 8709 4)"),),
    "ecdsa-sha2-nistp256": _ECDSA_KEY,
    "ecdsa-sha2-nistp384": _ECDSA_KEY,
    "ecdsa-sha2-nistp521": _ECDSA_KEY,
    "ssh-rsa": (
        Field("e", MPINT, "RSA public exponent (RFC 4253 6.6)"),
        Field("n", MPINT, "RSA modulus"),
    ),
}

# A plain key: what a certificate's CA ("signature key") must be (no chains of certificates).
PLAIN_PUBLIC_KEY = (
    Field("key_type", TEXT, "public key format name"),
    Switch("key_type", _KEY_PARTS),
)

CERTIFICATE_SUFFIX = "-cert-v01@openssh.com"
CERTIFICATE_SECTION = "OpenSSH PROTOCOL.certkeys"

# critical options and extensions: (name, data) pairs; data is a string holding the value
_OPTION_DATA = {
    "force-command": (Field("data", STRING, "a string: the command run instead of the user's",
                            nested=(Field("command", TEXT, "the forced command"),)),),
    "source-address": (Field("data", STRING, "a string: addresses the certificate is accepted from",
                             nested=(Field("addresses", TEXT, "comma-separated CIDR list"),)),),
}


def _options(name: str, what: str, doc: str) -> Field:
    return Field(name, STRING, doc, nested=(Repeat(what, (
        Field("name", TEXT, f"{what} name"),
        Switch("name", _OPTION_DATA,
               default=(Field("data", STRING, "its data (empty for a flag)"),)),
    )),))


def _certificate(base: str) -> Section:
    """The certificate form of a ``base`` key: the key's own parts between a nonce and what
    the CA says about it, then the CA's key and its signature over everything before it."""
    return Section(CERTIFICATE_SECTION, (
        Field("nonce", STRING, "random bytes from the CA, so no one can choose what gets signed"),
        *_KEY_PARTS[base],
        Field("serial", UINT64, "the CA's number for this certificate (0: none)"),
        Field("cert_type", UINT32, "1: a user certificate, 2: a host certificate",
              names=enum_names(CertificateType)),
        Field("key_id", TEXT, "free text from the CA naming the holder, for logs"),
        Field("valid_principals", STRING, "user names or host names it is valid for (none: any)",
              nested=(Repeat("principal", (Field("principal", TEXT, "a user or host name"),)),)),
        Field("valid_after", UINT64, "valid from this time (seconds since 1970, UTC)",
              names=certificate_time),
        Field("valid_before", UINT64, "valid until just before this time",
              names=certificate_time),
        _options("critical_options", "option",
                 "restrictions; a verifier must refuse a certificate with one it does not know"),
        _options("extensions", "extension", "permissions (permit-pty ...); unknown ones are ignored"),
        Field("reserved", STRING, "unused"),
        Field("signature_key", STRING, "the CA's public key", nested=PLAIN_PUBLIC_KEY),
        Field("signature", STRING, "the CA's signature over every field above",
              nested=SIGNATURE),
    ))


PUBLIC_KEY = (
    Field("key_type", TEXT, "public key format name"),
    Switch("key_type", {**_KEY_PARTS, **{
        ("ssh-rsa" if base == "ssh-rsa" else base) + CERTIFICATE_SUFFIX: _certificate(base)
        for base in _KEY_PARTS}}),
)

