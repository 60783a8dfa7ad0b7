"""Public and private keys in SSH terms: blobs, signatures, fingerprints, and OpenSSH
certificates (a key with what a CA says about it, signed by the CA).

Key types (the blob's first string) and signature algorithms differ only for RSA, where one
``ssh-rsa`` key signs as rsa-sha2-256, rsa-sha2-512 or (legacy) ssh-rsa with SHA-1. A
certificate's algorithm (ssh-ed25519-cert-v01@openssh.com, rsa-sha2-512-cert-v01@openssh.com
...) names the certificate in KEXINIT and USERAUTH_REQUEST, but the signature it makes is the
plain key's (ssh-ed25519, rsa-sha2-512): ``SignatureAlgorithm.signed_as``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from ..wire import types as t
from ..wire.codes import CertificateType
from ..wire.spec import MPINT, Field, decode_struct
from ..wire.structures import CERTIFICATE_SUFFIX, PUBLIC_KEY, SIGNATURE
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
    signed_as: str = ""  # the name inside the signature blob: a certificate signs as its key

    @property
    def certificate(self) -> bool:
        return self.key_type.endswith(CERTIFICATE_SUFFIX)

    @property
    def signature_name(self) -> str:
        return self.signed_as or self.name


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


def certificate_type_of(key_type: str) -> str:
    """ssh-ed25519 -> ssh-ed25519-cert-v01@openssh.com."""
    return key_type + CERTIFICATE_SUFFIX


# Certificates: offered only when asked for (connect offers them when known_hosts trusts a CA
# for the host; a server offers them when it has a certificate). The RSA ones name the hash
# (rsa-sha2-256-cert-v01) over the ssh-rsa-cert-v01 key type; SHA-1 ones are not supported.
for _plain in ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
               "rsa-sha2-512", "rsa-sha2-256"):
    _spec = SIGNATURE_ALGORITHMS[_plain]
    SIGNATURE_ALGORITHMS.register(
        _plain + CERTIFICATE_SUFFIX,
        SignatureAlgorithm(_plain + CERTIFICATE_SUFFIX, certificate_type_of(_spec.key_type), _spec.hash,
                           signed_as=_plain),
        default=False)

CERTIFICATE_ALGORITHMS = [n for n in SIGNATURE_ALGORITHMS.names() if SIGNATURE_ALGORITHMS[n].certificate]
PLAIN_ALGORITHMS = [n for n in SIGNATURE_ALGORITHMS.names() if not SIGNATURE_ALGORITHMS[n].certificate]


def algorithms_for_key_type(key_type: str) -> list[str]:
    return [n for n in SIGNATURE_ALGORITHMS.names() if SIGNATURE_ALGORITHMS[n].key_type == key_type]


def encode_signature(algorithm: str, signature: bytes) -> bytes:
    return t.string(algorithm) + t.string(signature)


def blob_fingerprint(blob: bytes) -> str:
    """A key blob's fingerprint as OpenSSH shows it: SHA256: and unpadded base64 of its SHA-256."""
    return "SHA256:" + base64.b64encode(digest("sha256", blob)).decode().rstrip("=")


class PublicKey:
    """An SSH public key: its blob, its type, and signature checking."""

    certificate: "Certificate | None" = None  # set on a Certificate: itself

    def __init__(self, key_type: str, blob: bytes, crypto_key):
        self.key_type = key_type
        self.blob = blob
        self.crypto_key = crypto_key

    @property
    def base_type(self) -> str:
        """The plain key type that does the arithmetic (a certificate's key's type)."""
        return self.key_type

    @property
    def plain(self) -> "PublicKey":
        """The key itself, without a certificate."""
        return self

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
        if self.base_type == "ssh-ed25519":
            return 256
        return self.crypto_key.key_size

    def fingerprint(self) -> str:
        return blob_fingerprint(self.blob)

    def openssh(self, comment: str = "") -> str:
        line = f"{self.key_type} {base64.b64encode(self.blob).decode()}"
        return f"{line} {comment}" if comment else line

    @classmethod
    def from_blob(cls, blob: bytes) -> "PublicKey":
        """Parse a public key blob; raises DecodeError for anything malformed or unsupported."""
        values = decode_struct(PUBLIC_KEY, blob, "public key")
        key_type = values["key_type"]
        if key_type.endswith(CERTIFICATE_SUFFIX):
            return Certificate.from_values(bytes(blob), values)
        return cls._plain_from_values(bytes(blob), values)

    @classmethod
    def _plain_from_values(cls, blob: bytes, values: dict, key_type: str | None = None) -> "PublicKey":
        key_type = key_type or values["key_type"]
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
        return PublicKey(key_type, bytes(blob), key)

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
        if values["sig_algorithm"] != SIGNATURE_ALGORITHMS[algorithm].signature_name:
            return False
        sig = values["signature_blob"]
        hash_name = SIGNATURE_ALGORITHMS[algorithm].hash
        try:
            if self.base_type == "ssh-ed25519":
                self.crypto_key.verify(sig, data)
            elif self.base_type.startswith("ecdsa-"):
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

    def __init__(self, crypto_key, comment: str = "", certificate: "Certificate | None" = None):
        self.crypto_key = crypto_key
        self.public: PublicKey = PublicKey.from_crypto(crypto_key.public_key())
        self.comment = comment
        if certificate is not None:
            if certificate.key != self.public:
                raise ValueError(f"the certificate is for key {certificate.key.fingerprint()}, "
                                 f"not this {self.public.key_type} key {self.public.fingerprint()}")
            self.public = certificate

    def with_certificate(self, certificate: "Certificate") -> "PrivateKey":
        """This key presenting ``certificate`` (which must certify it)."""
        return PrivateKey(self.crypto_key, self.comment, certificate)

    @property
    def certificate(self) -> "Certificate | None":
        return self.public.certificate

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
        if self.public.base_type == "ssh-ed25519":
            sig = key.sign(data)
        elif self.public.base_type.startswith("ecdsa-"):
            # RFC 6979 deterministic nonces: no hidden randomness, so seeded runs reproduce.
            der = key.sign(data, ec.ECDSA(hash_algorithm(spec.hash), deterministic_signing=True))
            r, s = utils.decode_dss_signature(der)
            sig = t.mpint(r) + t.mpint(s)
        else:
            sig = key.sign(data, padding.PKCS1v15(), hash_algorithm(spec.hash))
        return encode_signature(spec.signature_name, sig)

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


class Certificate(PublicKey):
    """An OpenSSH certificate (PROTOCOL.certkeys): a public key, a nonce, and what a CA says
    about it (serial, user or host, key id, principals, validity, critical options,
    extensions), signed by the CA's key. It verifies signatures as its key does; whether it
    should be believed (the CA trusted, the dates, the names) is ``certificates.py``'s
    business. Its fingerprint is its key's, as OpenSSH shows it."""

    def __init__(self, key_type: str, blob: bytes, key: PublicKey, values: dict, signed_data: bytes,
                 signature_key: PublicKey):
        super().__init__(key_type, blob, key.crypto_key)
        self.key = key
        self.nonce: bytes = values["nonce"]
        self.serial: int = values["serial"]
        self.cert_type: int = values["cert_type"]
        self.key_id: str = values["key_id"]
        self.principals: list[str] = values["principals"]
        self.valid_after: int = values["valid_after"]
        self.valid_before: int = values["valid_before"]
        self.critical_options: dict[str, bytes] = values["critical"]
        self.extensions: dict[str, bytes] = values["extension_map"]
        self.signature_key = signature_key
        self.signature: bytes = values["signature"]
        self.signed_data = signed_data

    @property
    def certificate(self) -> "Certificate":
        return self

    @property
    def base_type(self) -> str:
        return self.key.key_type

    @property
    def plain(self) -> PublicKey:
        return self.key

    @property
    def type_name(self) -> str:
        return {CertificateType.USER: "user", CertificateType.HOST: "host"}.get(self.cert_type, "unknown")

    def fingerprint(self) -> str:
        return self.key.fingerprint()

    def __repr__(self) -> str:
        return f"<Certificate {self.key_type} {self.type_name} {self.key_id!r} {self.fingerprint()}>"

    def signature_algorithm(self) -> str:
        try:
            return decode_struct(SIGNATURE, self.signature, "CA signature")["sig_algorithm"]
        except DecodeError:
            return ""

    def ca_signature_valid(self) -> bool:
        """The CA's signature over every field before it, checked with the CA key it names."""
        algorithm = self.signature_algorithm()
        return (algorithm in SIGNATURE_ALGORITHMS and not SIGNATURE_ALGORITHMS[algorithm].certificate
                and self.signature_key.verify(algorithm, self.signature, self.signed_data))

    @classmethod
    def from_values(cls, blob: bytes, values: dict) -> "Certificate":
        key_type = values["key_type"]
        base = key_type[:-len(CERTIFICATE_SUFFIX)]
        key = PublicKey._plain_from_values(
            t.string(base) + _plain_parts(base, values), values, base)
        if values["cert_type"] not in (CertificateType.USER, CertificateType.HOST):
            raise DecodeError(f"certificate type {values['cert_type']} is neither user (1) nor host (2)")
        values = dict(values)
        try:
            values["principals"] = _strings(values["valid_principals"], "valid principals")
            values["critical"] = _option_map(values["critical_options"], "critical options")
            values["extension_map"] = _option_map(values["extensions"], "extensions")
            signature_key = PublicKey.from_blob(values["signature_key"])
        except DecodeError as exc:
            raise DecodeError(f"{key_type}: {exc}") from None
        if isinstance(signature_key, Certificate):
            raise DecodeError("a certificate signed by a certificate (chains are not supported)")
        signed = blob[:len(blob) - 4 - len(values["signature"])]
        return cls(key_type, blob, key, values, signed, signature_key)


def _plain_parts(base: str, values: dict) -> bytes:
    if base == "ssh-ed25519":
        return t.string(values["key"])
    if base == "ssh-rsa":
        return t.mpint(values["e"]) + t.mpint(values["n"])
    return t.string(values["curve"]) + t.string(values["Q"])


def _strings(data: bytes, what: str) -> list[str]:
    reader = t.Reader(data)
    out = []
    while reader.remaining:
        try:
            out.append(reader.string().decode("utf-8"))
        except UnicodeDecodeError:
            raise DecodeError(f"{what}: not UTF-8") from None
    return out


def _option_map(data: bytes, what: str) -> dict[str, bytes]:
    """Critical options or extensions: (name, data) pairs, each name once."""
    reader = t.Reader(data)
    out: dict[str, bytes] = {}
    while reader.remaining:
        try:
            name = reader.string().decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{what}: a name is not UTF-8") from None
        value = reader.string()
        if name in out:
            raise DecodeError(f"{what}: {name!r} appears twice")
        out[name] = value
    return out
