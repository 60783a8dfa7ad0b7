"""Key exchange methods: the math of each, behind one small interface.

Every method is an *agent* with three steps, whatever its family:

    client:  value = agent.client_init()
    server:  reply, K = agent.server_respond(value)
    client:  K = agent.client_finish(reply)

``K`` comes back already encoded for hashing (mpint for classic Diffie-Hellman and ECDH, string
for the post-quantum hybrid), because that is how it enters both the exchange hash and the key
derivation. Public values that are out of range raise ``KexError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x25519

from ..wire import types as t
from . import dh_groups
from .hashes import digest, digest_size
from .random import RandomSource
from .registry import Registry


class KexError(ValueError):
    """A peer's key exchange value is invalid (out of range, wrong size, not on the curve)."""


@dataclass(frozen=True)
class KexMethod:
    name: str
    family: str  # "ecdh" | "dh" | "gex" | "hybrid": which messages carry it (catalog context)
    hash: str
    make_agent: Callable[[RandomSource], "KexAgent"] | None  # None for gex: group comes later
    k_encoding: str = "mpint"  # how K enters the hash: "mpint" or "string"

    @property
    def exponent_bits(self) -> int:
        # Twice the hash's security level, as OpenSSH sizes DH exponents.
        return 2 * 8 * digest_size(self.hash) if self.hash != "sha1" else 320


class KexAgent:
    """The three steps, for methods where each side sends one public value and both derive
    K from their private value and the other's public value (``shared``)."""

    k_encoding = "mpint"
    public = None
    #: What the UI shows about the secrets: the private values and the raw shared secret.
    details: dict

    def shared(self, peer):  # pragma: no cover - interface
        raise NotImplementedError

    def client_init(self):
        return self.public

    def server_respond(self, client_value):
        return self.public, self.shared(client_value)

    def client_finish(self, server_value) -> bytes:
        return self.shared(server_value)


class X25519Agent(KexAgent):
    """curve25519-sha256 (RFC 8731): K is the X25519 output read as an unsigned integer."""

    def __init__(self, rng: RandomSource):
        self._key = x25519.X25519PrivateKey.from_private_bytes(rng.bytes(32))
        self.public = self._key.public_key().public_bytes_raw()
        self.details = {"private_key": self._key.private_bytes_raw(), "public_key": self.public}

    def shared(self, peer: bytes) -> bytes:
        if len(peer) != 32:
            raise KexError(f"X25519 public key must be 32 bytes, not {len(peer)}")
        try:
            secret = self._key.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
        except ValueError:  # `cryptography` refuses the all-zero result of a low-order point
            raise KexError("X25519 shared secret is all zeros (the peer sent a low-order public key)") from None
        if not any(secret):
            raise KexError("X25519 shared secret is all zeros (low-order public key)")
        self.details["shared_secret"] = secret
        return t.mpint(int.from_bytes(secret, "big"))


class ECDHAgent(KexAgent):
    """ecdh-sha2-nistp* (RFC 5656): points uncompressed, K is the shared x coordinate."""

    def __init__(self, curve: ec.EllipticCurve, rng: RandomSource):
        self._curve = curve
        self._key = ec.derive_private_key(rng.below_power_of_two(curve.key_size - 1), curve)
        self.public = self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        self.details = {"private_key": self._key.private_numbers().private_value,
                        "public_key": self.public}

    def shared(self, peer: bytes) -> bytes:
        if not peer or peer[0] != 4:
            raise KexError("ECDH public key must be an uncompressed point (0x04 || x || y)")
        try:
            point = ec.EllipticCurvePublicKey.from_encoded_point(self._curve, peer)
            secret = self._key.exchange(ec.ECDH(), point)
        except ValueError as exc:
            raise KexError(f"ECDH public key is not a valid {self._curve.name} point: {exc}") from None
        self.details["shared_secret"] = secret
        return t.mpint(int.from_bytes(secret, "big"))


class DHAgent(KexAgent):
    """Finite-field Diffie-Hellman over a safe prime (RFC 4253 8, RFC 4419)."""

    def __init__(self, p: int, g: int, exponent_bits: int, rng: RandomSource):
        self.p, self.g = p, g
        self._x = rng.below_power_of_two(min(exponent_bits, p.bit_length() - 1))
        self.public = pow(g, self._x, p)
        self.details = {"private_exponent": self._x, "public_value": self.public, "p": p, "g": g}

    def shared(self, peer: int) -> bytes:
        # RFC 4253 8: values outside [1, p-1] must not be accepted; 1 and p-1 are weak too.
        if not 1 < peer < self.p - 1:
            raise KexError("Diffie-Hellman public value out of range (must be 1 < value < p-1)")
        secret = pow(peer, self._x, self.p)
        self.details["shared_secret"] = secret
        return t.mpint(secret)


class MLKEMHybridAgent(KexAgent):
    """mlkem768x25519-sha256: ML-KEM-768 and X25519 together; K = SHA-256(K_pq || K_cl),
    encoded as a string. The client's ML-KEM key comes from the seed; the server's
    encapsulation draws on `cryptography`'s own randomness, which takes no seed."""

    k_encoding = "string"
    PQ_PUBLIC = 1184
    PQ_CIPHERTEXT = 1088

    def __init__(self, rng: RandomSource):
        self._pq_seed = rng.bytes(64)
        self._classic = X25519Agent(rng)
        self.details = {"x25519_private_key": self._classic.details["private_key"]}

    def client_init(self) -> bytes:
        self._pq = mlkem.MLKEM768PrivateKey.from_seed_bytes(self._pq_seed)
        pq_public = self._pq.public_key().public_bytes_raw()
        self.details["mlkem_public_key"] = pq_public
        return pq_public + self._classic.public

    def _combine(self, pq_secret: bytes, classic_k: bytes) -> bytes:
        classic = t.Reader(classic_k).mpint().to_bytes(32, "big")
        self.details.update(mlkem_shared_secret=pq_secret, x25519_shared_secret=classic)
        return t.string(digest("sha256", pq_secret, classic))

    def server_respond(self, client_value: bytes):
        if len(client_value) != self.PQ_PUBLIC + 32:
            raise KexError(f"hybrid client value must be {self.PQ_PUBLIC + 32} bytes, "
                           f"not {len(client_value)}")
        try:
            peer = mlkem.MLKEM768PublicKey.from_public_bytes(client_value[: self.PQ_PUBLIC])
            pq_secret, ciphertext = peer.encapsulate()
        except ValueError as exc:
            raise KexError(f"invalid ML-KEM-768 encapsulation key: {exc}") from None
        classic_k = self._classic.shared(client_value[self.PQ_PUBLIC:])
        return ciphertext + self._classic.public, self._combine(pq_secret, classic_k)

    def client_finish(self, server_value: bytes) -> bytes:
        if len(server_value) != self.PQ_CIPHERTEXT + 32:
            raise KexError(f"hybrid server value must be {self.PQ_CIPHERTEXT + 32} bytes, "
                           f"not {len(server_value)}")
        try:
            pq_secret = self._pq.decapsulate(server_value[: self.PQ_CIPHERTEXT])
        except ValueError as exc:
            raise KexError(f"invalid ML-KEM-768 ciphertext: {exc}") from None
        return self._combine(pq_secret, self._classic.shared(server_value[self.PQ_CIPHERTEXT:]))


KEX_METHODS: Registry[KexMethod] = Registry("key exchange method")


def _register(name, family, hash_name, make, default=True, k_encoding="mpint"):
    KEX_METHODS.register(name, KexMethod(name, family, hash_name, make, k_encoding), default)


def _dh(p: int, bits: int):
    return lambda rng: DHAgent(p, dh_groups.GENERATOR, bits, rng)


_register("mlkem768x25519-sha256", "hybrid", "sha256", MLKEMHybridAgent, k_encoding="string")
_register("curve25519-sha256", "ecdh", "sha256", X25519Agent)
_register("curve25519-sha256@libssh.org", "ecdh", "sha256", X25519Agent)
_register("ecdh-sha2-nistp256", "ecdh", "sha256", lambda rng: ECDHAgent(ec.SECP256R1(), rng))
_register("ecdh-sha2-nistp384", "ecdh", "sha384", lambda rng: ECDHAgent(ec.SECP384R1(), rng))
_register("ecdh-sha2-nistp521", "ecdh", "sha512", lambda rng: ECDHAgent(ec.SECP521R1(), rng))
_register("diffie-hellman-group-exchange-sha256", "gex", "sha256", None)
_register("diffie-hellman-group16-sha512", "dh", "sha512", _dh(dh_groups.MODP_4096, 1024))
_register("diffie-hellman-group18-sha512", "dh", "sha512", _dh(dh_groups.MODP_8192, 1024))
_register("diffie-hellman-group14-sha256", "dh", "sha256", _dh(dh_groups.MODP_2048, 512))
# SHA-1 based: legacy, offered only when asked for.
_register("diffie-hellman-group14-sha1", "dh", "sha1", _dh(dh_groups.MODP_2048, 320), default=False)
_register("diffie-hellman-group1-sha1", "dh", "sha1", _dh(dh_groups.OAKLEY_GROUP_2, 320), default=False)

# Names in kex_algorithms that are signals, never chosen as a method.
STRICT_KEX_CLIENT = "kex-strict-c-v00@openssh.com"
STRICT_KEX_SERVER = "kex-strict-s-v00@openssh.com"
EXT_INFO_CLIENT = "ext-info-c"
EXT_INFO_SERVER = "ext-info-s"
PSEUDO_KEX = frozenset({STRICT_KEX_CLIENT, STRICT_KEX_SERVER, EXT_INFO_CLIENT, EXT_INFO_SERVER})

# diffie-hellman-group-exchange: what the client asks for, and how the server picks a group.
GEX_MIN, GEX_PREFERRED, GEX_MAX = 2048, 3072, 8192


def choose_gex_group(minimum: int, preferred: int, maximum: int) -> tuple[int, int] | None:
    """The server's pick for a GEX request: the smallest group of at least ``preferred`` bits
    within [min, max], else the largest one below it; None when no group fits."""
    fitting = [bits for bits in sorted(dh_groups.GROUPS_BY_BITS) if minimum <= bits <= maximum]
    if not fitting:
        return None
    bits = next((b for b in fitting if b >= preferred), fitting[-1])
    return dh_groups.GROUPS_BY_BITS[bits], dh_groups.GENERATOR
