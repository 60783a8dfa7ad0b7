"""Structures carried inside strings: public key blobs and signature blobs.

Declared like messages so decoding opens them up with byte spans for the UI.
"""

from __future__ import annotations

from .spec import MPINT, STRING, TEXT, Field, Switch

_ECDSA_KEY = (
    Field("curve", TEXT, "curve identifier (nistp256, nistp384, nistp521)"),
    Field("Q", STRING, "public point, uncompressed: 0x04 || x || y (RFC 5656 3.1)"),
)

PUBLIC_KEY = (
    Field("key_type", TEXT, "public key format name"),
    Switch(
        "key_type",
        {
            "ssh-ed25519": (Field("key", STRING, "32-byte Ed25519 public key (RFC 8709 4)"),),
            "ecdsa-sha2-nistp256": _ECDSA_KEY,
            "ecdsa-sha2-nistp384": _ECDSA_KEY,
            "ecdsa-sha2-nistp521": _ECDSA_KEY,
            "ssh-rsa": (
                Field("e", MPINT, "RSA public exponent (RFC 4253 6.6)"),
                Field("n", MPINT, "RSA modulus"),
            ),
        },
    ),
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
