"""Public and private keys in SSH terms: blobs, signatures, fingerprints.

Key types (the blob's first string) and signature algorithms differ only for RSA, where one
``ssh-rsa`` key signs as rsa-sha2-256, rsa-sha2-512 or (legacy) ssh-rsa with SHA-1.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from ..wire import types as t
from ..wire.spec import MPINT, Field, decode_struct
from ..wire.structures import PUBLIC_KEY, SIGNATURE
from ..wire.types import DecodeError
from .hashes import digest, hash_algorithm
from .random import RandomSource
from .registry import Registry

_ECDSA_RS = (Field("r", MPINT), Field("s", MPINT))

_CURVES = {
    "nistp256": (ec.SECP256R1, "sha256"),
    "nistp384": (ec.SECP384R1, "sha384"),
    "nistp521": (ec.SECP521R1, "sha512"),
}


@dataclass(frozen=True)
class SignatureAlgorithm:
    """A host key / public key algorithm name as it appears in KEXINIT and USERAUTH_REQUEST."""

    name: str
    key_type: str
    hash: str | None  # None for Ed25519, which hashes internally


SIGNATURE_ALGORITHMS: Registry[SignatureAlgorithm] = Registry("host key algorithm")
for _name, _key_type, _hash, _default in [
    ("ssh-ed25519", "ssh-ed25519", None, True),
    ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", "sha256", True),
    ("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", "sha384", True),
    ("ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521", "sha512", True),
    ("rsa-sha2-512", "ssh-rsa", "sha512", True),
    ("rsa-sha2-256", "ssh-rsa", "sha256", True),
    ("ssh-rsa", "ssh-rsa", "sha1", False),  # SHA-1 signatures: legacy, off by default
]:
    SIGNATURE_ALGORITHMS.register(_name, SignatureAlgorithm(_name, _key_type, _hash), _default)

KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "ssh-rsa")


def algorithms_for_key_type(key_type: str) -> list[str]:
    return [n for n in SIGNATURE_ALGORITHMS.names() if SIGNATURE_ALGORITHMS[n].key_type == key_type]


def encode_signature(algorithm: str, signature: bytes) -> bytes:
    return t.string(algorithm) + t.string(signature)


class PublicKey:
    """An SSH public key: its blob, its type, and signature checking."""

    def __init__(self, key_type: str, blob: bytes, crypto_key):
        self.key_type = key_type
        self.blob = blob
        self.crypto_key = crypto_key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.blob == self.blob

    def __hash__(self) -> int:
        return hash(self.blob)

    def __repr__(self) -> str:
        return f"<PublicKey {self.key_type} {self.fingerprint()}>"

    @property
    def algorithms(self) -> list[str]:
        """Signature algorithms this key can verify, in preference order."""
        return algorithms_for_key_type(self.key_type)

    @property
    def bits(self) -> int:
        if self.key_type == "ssh-ed25519":
            return 256
        return self.crypto_key.key_size

    def fingerprint(self) -> str:
        """As OpenSSH shows it: SHA256: and unpadded base64 of the blob's SHA-256."""
        return "SHA256:" + base64.b64encode(digest("sha256", self.blob)).decode().rstrip("=")

    def openssh(self, comment: str = "") -> str:
        line = f"{self.key_type} {base64.b64encode(self.blob).decode()}"
        return f"{line} {comment}" if comment else line

    @classmethod
    def from_blob(cls, blob: bytes) -> "PublicKey":
        """Parse a public key blob; raises DecodeError for anything malformed or unsupported."""
        values = decode_struct(PUBLIC_KEY, blob, "public key")
        key_type = values["key_type"]
        try:
            if key_type == "ssh-ed25519":
                raw = values["key"]
                if len(raw) != 32:
                    raise DecodeError(f"Ed25519 key must be 32 bytes, not {len(raw)}")
                key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
            elif key_type.startswith("ecdsa-sha2-"):
                curve_name = key_type[len("ecdsa-sha2-"):]
                if values["curve"] != curve_name or curve_name not in _CURVES:
                    raise DecodeError(f"ECDSA key names curve {values['curve']!r} under {key_type}")
                key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[curve_name][0](), values["Q"])
            elif key_type == "ssh-rsa":
                e, n = values["e"], values["n"]
                if e < 3 or n.bit_length() < 1024:
                    raise DecodeError(f"RSA key too small ({n.bit_length()} bits)")
                key = rsa.RSAPublicNumbers(e, n).public_key()
            else:
                raise DecodeError(f"unsupported public key type {key_type!r}")
        except ValueError as exc:  # cryptography rejects points not on the curve, etc.
            if isinstance(exc, DecodeError):
                raise
            raise DecodeError(f"invalid {key_type} public key: {exc}") from None
        return cls(key_type, bytes(blob), key)

    @classmethod
    def from_crypto(cls, key) -> "PublicKey":
        if isinstance(key, ed25519.Ed25519PublicKey):
            from cryptography.hazmat.primitives import serialization as s

            raw = key.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
            return cls("ssh-ed25519", t.string("ssh-ed25519") + t.string(raw), key)
        if isinstance(key, ec.EllipticCurvePublicKey):
            from cryptography.hazmat.primitives import serialization as s

            curve = {"secp256r1": "nistp256", "secp384r1": "nistp384", "secp521r1": "nistp521"}.get(
                key.curve.name)
            if curve is None:
                raise ValueError(f"unsupported curve {key.curve.name}")
            point = key.public_bytes(s.Encoding.X962, s.PublicFormat.UncompressedPoint)
            key_type = f"ecdsa-sha2-{curve}"
            return cls(key_type, t.string(key_type) + t.string(curve) + t.string(point), key)
        if isinstance(key, rsa.RSAPublicKey):
            nums = key.public_numbers()
            return cls("ssh-rsa", t.string("ssh-rsa") + t.mpint(nums.e) + t.mpint(nums.n), key)
        raise ValueError(f"unsupported key {type(key).__name__}")

    def verify(self, algorithm: str, signature_blob: bytes, data: bytes) -> bool:
        """True if ``signature_blob`` (string alg || string sig) is a valid ``algorithm``
        signature of ``data`` by this key. Malformed signatures are simply invalid."""
        if algorithm not in SIGNATURE_ALGORITHMS or SIGNATURE_ALGORITHMS[algorithm].key_type != self.key_type:
            return False
        try:
            values = decode_struct(SIGNATURE, signature_blob, "signature")
        except DecodeError:
            return False
        if values["sig_algorithm"] != algorithm:
            return False
        sig = values["signature_blob"]
        hash_name = SIGNATURE_ALGORITHMS[algorithm].hash
        try:
            if self.key_type == "ssh-ed25519":
                self.crypto_key.verify(sig, data)
            elif self.key_type.startswith("ecdsa-"):
                rs = decode_struct(_ECDSA_RS, sig, "ECDSA signature")
                der = utils.encode_dss_signature(rs["r"], rs["s"])
                self.crypto_key.verify(der, data, ec.ECDSA(hash_algorithm(hash_name)))
            else:
                size = (self.crypto_key.key_size + 7) // 8
                if len(sig) > size:
                    return False
                # Some signers drop leading zero bytes; the RSA value is the same.
                sig = sig.rjust(size, b"\x00")
                self.crypto_key.verify(sig, data, padding.PKCS1v15(), hash_algorithm(hash_name))
        except (InvalidSignature, DecodeError, ValueError):
            return False
        return True


class PrivateKey:
    """A private key that signs in SSH's formats."""

    def __init__(self, crypto_key, comment: str = ""):
        self.crypto_key = crypto_key
        self.public = PublicKey.from_crypto(crypto_key.public_key())
        self.comment = comment

    @property
    def key_type(self) -> str:
        return self.public.key_type

    @property
    def algorithms(self) -> list[str]:
        return self.public.algorithms

    def sign(self, algorithm: str, data: bytes) -> bytes:
        """The signature blob: string algorithm || string signature."""
        spec = SIGNATURE_ALGORITHMS[algorithm]
        if spec.key_type != self.key_type:
            raise ValueError(f"a {self.key_type} key cannot sign as {algorithm}")
        key = self.crypto_key
        if self.key_type == "ssh-ed25519":
            sig = key.sign(data)
        elif self.key_type.startswith("ecdsa-"):
            # RFC 6979 deterministic nonces: no hidden randomness, so seeded runs reproduce.
            der = key.sign(data, ec.ECDSA(hash_algorithm(spec.hash), deterministic_signing=True))
            r, s = utils.decode_dss_signature(der)
            sig = t.mpint(r) + t.mpint(s)
        else:
            sig = key.sign(data, padding.PKCS1v15(), hash_algorithm(spec.hash))
        return encode_signature(algorithm, sig)

    @classmethod
    def generate(cls, key_type: str, rng: RandomSource | None = None, bits: int = 3072,
                 comment: str = "") -> "PrivateKey":
        """A new key. With a seeded ``rng``, Ed25519 and ECDSA keys follow from the seed; RSA
        keys always come from `cryptography`'s own generator (it takes no seed)."""
        if key_type == "ssh-ed25519":
            key = (ed25519.Ed25519PrivateKey.from_private_bytes(rng.bytes(32)) if rng
                   else ed25519.Ed25519PrivateKey.generate())
        elif key_type.startswith("ecdsa-sha2-") and key_type[11:] in _CURVES:
            curve = _CURVES[key_type[11:]][0]()
            # Below 2^(bits-1), a scalar is always under the group order of these curves.
            key = (ec.derive_private_key(rng.below_power_of_two(curve.key_size - 1), curve) if rng
                   else ec.generate_private_key(curve))
        elif key_type == "ssh-rsa":
            key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        else:
            raise ValueError(f"unsupported key type {key_type!r}; supported: {', '.join(KEY_TYPES)}")
        return cls(key, comment)


def key_type_for_algorithm(algorithm: str) -> str:
    return SIGNATURE_ALGORITHMS[algorithm].key_type
