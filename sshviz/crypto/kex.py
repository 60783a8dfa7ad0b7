"""The arithmetic of each key exchange method, behind one small interface. (The methods
themselves, their messages and exchange hashes are in ``sshviz.transport.kex``.)

Every method is an *agent* with three steps, whatever its family:

    client:  value = agent.client_init()
    server:  reply, K = agent.server_respond(value)
    client:  K = agent.client_finish(reply)

``K`` comes back already encoded for hashing (mpint for classic Diffie-Hellman and ECDH, string
for the post-quantum hybrid), because that is how it enters both the exchange hash and the key
derivation. Public values that are out of range raise ``KexError``.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x25519

from ..wire import types as t
from .hashes import digest
from .random import RandomSource


class KexError(ValueError):
    """A peer's key exchange value is invalid (out of range, wrong size, not on the curve)."""


class KexAgent:
    """The three steps, for methods where each side sends one public value and both derive
    K from their private value and the other's public value (``shared``)."""

    public = None
    #: What the UI shows about the secrets: the private values and the raw shared secret.
    details: dict
    #: Arithmetic slow enough to do in another process while other connections go on.
    slow = False

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
    """Finite-field Diffie-Hellman over a safe prime (RFC 4253 8, RFC 4419). Its public value
    is worked out when first needed, so a server can leave both exponentiations to a worker."""

    slow = True  # pure-Python modular exponentiation: tens of milliseconds at 8192 bits

    def __init__(self, p: int, g: int, exponent_bits: int, rng: RandomSource):
        self.p, self.g = p, g
        self._x = rng.below_power_of_two(min(exponent_bits, p.bit_length() - 1))
        self._public: int | None = None
        self.details = {"private_exponent": self._x, "public_value": None, "p": p, "g": g}

    @property
    def public(self) -> int:
        if self._public is None:
            self._public = pow(self.g, self._x, self.p)
            self.details["public_value"] = self._public
        return self._public

    def shared(self, peer: int) -> bytes:
        # RFC 4253 8: values outside [1, p-1] must not be accepted; 1 and p-1 are weak too.
        if not 1 < peer < self.p - 1:
            raise KexError("Diffie-Hellman public value out of range (must be 1 < value < p-1)")
        secret = pow(peer, self._x, self.p)
        self.details["shared_secret"] = secret
        return t.mpint(secret)


class KEMHybridAgent(KexAgent):
    """A post-quantum KEM and X25519 together (the hybrids): the client sends its KEM public key
    followed by its X25519 key; the server encapsulates a fresh secret to that key and answers
    with the ciphertext followed by its own X25519 key; K = HASH(KEM secret || X25519 secret),
    encoded as a string. A subclass names the KEM, its sizes and the hash, and does the KEM's
    three operations (key generation, encapsulation, decapsulation)."""

    KEM = ""  # the KEM's name, for messages
    PREFIX = ""  # the prefix of its entries in ``details``
    HASH = ""
    PQ_PUBLIC = 0
    PQ_CIPHERTEXT = 0

    def __init__(self, rng: RandomSource):
        self._classic = X25519Agent(rng)
        self.details = {"x25519_private_key": self._classic.details["private_key"]}

    def _keygen(self) -> bytes:  # pragma: no cover - interface
        """Make the client's KEM key pair (keeping the private key) and return the public key."""
        raise NotImplementedError

    def _encapsulate(self, public: bytes) -> tuple[bytes, bytes]:  # pragma: no cover - interface
        """(shared secret, ciphertext) for the client's public key; ValueError if it is invalid."""
        raise NotImplementedError

    def _decapsulate(self, ciphertext: bytes) -> bytes:  # pragma: no cover - interface
        """The shared secret in the server's ciphertext; ValueError if it is invalid."""
        raise NotImplementedError

    def client_init(self) -> bytes:
        pq_public = self._keygen()
        self.details[f"{self.PREFIX}_public_key"] = pq_public
        return pq_public + self._classic.public

    def _combine(self, pq_secret: bytes, classic_k: bytes) -> bytes:
        classic = t.Reader(classic_k).mpint().to_bytes(32, "big")
        self.details.update({f"{self.PREFIX}_shared_secret": pq_secret, "x25519_shared_secret": classic})
        return t.string(digest(self.HASH, pq_secret, classic))

    def server_respond(self, client_value: bytes):
        if len(client_value) != self.PQ_PUBLIC + 32:
            raise KexError(f"hybrid client value must be {self.PQ_PUBLIC + 32} bytes, "
                           f"not {len(client_value)}")
        try:
            pq_secret, ciphertext = self._encapsulate(client_value[: self.PQ_PUBLIC])
        except ValueError as exc:
            raise KexError(f"invalid {self.KEM} public key: {exc}") from None
        classic_k = self._classic.shared(client_value[self.PQ_PUBLIC:])
        return ciphertext + self._classic.public, self._combine(pq_secret, classic_k)

    def client_finish(self, server_value: bytes) -> bytes:
        if len(server_value) != self.PQ_CIPHERTEXT + 32:
            raise KexError(f"hybrid server value must be {self.PQ_CIPHERTEXT + 32} bytes, "
                           f"not {len(server_value)}")
        try:
            pq_secret = self._decapsulate(server_value[: self.PQ_CIPHERTEXT])
        except ValueError as exc:
            raise KexError(f"invalid {self.KEM} ciphertext: {exc}") from None
        return self._combine(pq_secret, self._classic.shared(server_value[self.PQ_CIPHERTEXT:]))


class MLKEMHybridAgent(KEMHybridAgent):
    """mlkem768x25519-sha256: ML-KEM-768 (FIPS 203) and X25519; K = SHA-256(K_pq || K_cl).
    The client's ML-KEM key comes from the seed; the server's encapsulation draws on
    `cryptography`'s own randomness, which takes no seed."""

    KEM, PREFIX, HASH = "ML-KEM-768", "mlkem", "sha256"
    PQ_PUBLIC = 1184
    PQ_CIPHERTEXT = 1088

    def __init__(self, rng: RandomSource):
        self._pq_seed = rng.bytes(64)
        super().__init__(rng)

    def _keygen(self) -> bytes:
        self._pq = mlkem.MLKEM768PrivateKey.from_seed_bytes(self._pq_seed)
        self.details["mlkem_private_seed"] = self._pq_seed  # the private key, as its 64-byte seed
        return self._pq.public_key().public_bytes_raw()

    def _encapsulate(self, public: bytes) -> tuple[bytes, bytes]:
        return mlkem.MLKEM768PublicKey.from_public_bytes(public).encapsulate()

    def _decapsulate(self, ciphertext: bytes) -> bytes:
        return self._pq.decapsulate(ciphertext)


class SNTRUPHybridAgent(KEMHybridAgent):
    """sntrup761x25519-sha512 (draft-ietf-sshm-ntruprime-ssh): Streamlined NTRU Prime 761 and
    X25519; K = SHA-512(K_pq || K_cl). The KEM is `pqcrypto`'s binding, whose key generation
    and encapsulation draw on its own randomness and take no seed: a run that chooses this
    method does not repeat byte for byte (its X25519 halves do). The client's private key is
    kept whole in ``details`` (1763 bytes; it holds the public key too), so K can be worked
    out again from it."""

    KEM, PREFIX, HASH = "sntrup761", "sntrup761", "sha512"
    PQ_PUBLIC = 1158
    PQ_CIPHERTEXT = 1039

    def _keygen(self) -> bytes:
        public, self._pq_private = _sntrup761().keygen()
        self.details["sntrup761_private_key"] = self._pq_private
        return public

    def _encapsulate(self, public: bytes) -> tuple[bytes, bytes]:
        ciphertext, secret = _sntrup761().encaps(public)
        return secret, ciphertext

    def _decapsulate(self, ciphertext: bytes) -> bytes:
        return _sntrup761().decaps(self._pq_private, ciphertext)


def _sntrup761():
    """The binding's sntrup761, imported when first used (it loads a large native module)."""
    from pqcrypto.kem import sntrup_761

    return sntrup_761
