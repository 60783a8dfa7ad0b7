"""Every calculation of a session as a command a reader can run, with only Python and the
`cryptography` package, to get the value the session shows: the shared secret K from one
side's private value and the other's public one, the exchange hash H from its inputs, the six
keys, the host key's fingerprint and its signature over H, the user's signature, and the
decryption and MAC check of the first encrypted packet each way. Read from trace events only;
each ``Calculation`` carries what its command prints, so a test can run it and compare."""

from __future__ import annotations

from dataclasses import dataclass

from ..auth.common import publickey_signed_data
from ..crypto.macs import MACS
from ..events import KexComputed, VersionRecord
from ..sides import Direction, Side
from ..trace.model import Trace, TraceEvent
from ..wire.catalog import MSG
from .explain import KEY_LETTERS, REPLIES, KeyContexts

# Which derived key is which, by direction (RFC 4253 7.2).
ECDSA_CURVES = {"nistp256": ("SECP256R1", "SHA256"), "nistp384": ("SECP384R1", "SHA384"),
                "nistp521": ("SECP521R1", "SHA512")}
RSA_HASHES = {"ssh-rsa": "SHA1", "rsa-sha2-256": "SHA256", "rsa-sha2-512": "SHA512"}


@dataclass(frozen=True)
class Calculation:
    """One value of the session, how it is made, and a command that makes it again."""

    key: str  # a stable name: "K", "H", "keys", "fingerprint", "host-signature", ...
    at: int  # the trace event where it happens
    title: str
    explanation: str
    command: str  # a shell command: python3 reading the script from a here-document
    expect: str  # exactly what the command prints, without the last newline


def _command(script: str) -> str:
    return "python3 - <<'EOF'\n" + script.strip("\n") + "\nEOF"


def _hex(data: bytes) -> str:
    return data.hex()


def _body(encoded: bytes) -> bytes:
    """The bytes inside an encoded string or mpint (its length prefix off)."""
    return encoded[4:]


def calculations(trace: Trace) -> list[Calculation]:
    """What can be recomputed from this trace, in the order it happens."""
    out: list[Calculation] = []
    # One side's values are enough for each key exchange: the client's where the trace has
    # them (it holds the KEM's private key in the hybrids; the server only encapsulates).
    chosen: dict[bytes, tuple[int, str]] = {}
    for event in trace.events:
        for side, change in event.changes:
            if isinstance(change, KexComputed) and (change.H not in chosen or side == Side.CLIENT):
                chosen.setdefault(change.H, (event.index, side))
                if side == Side.CLIENT:
                    chosen[change.H] = (event.index, side)
    current: KexComputed | None = None  # the latest key exchange
    contexts = KeyContexts()  # the keys in force each way, and the packets sent with them
    for position, event in enumerate(trace.events):
        for side, change in event.changes:
            if isinstance(change, KexComputed):
                if current is None or current.H != change.H:
                    current = change
                if chosen.get(change.H) == (event.index, side):
                    out += _kex_calculations(event, Side(side), change)
        context = contexts.at(trace.events, position)
        message = getattr(event.record, "message", None)
        if message is None or isinstance(event.record, VersionRecord):
            continue
        if message.spec in REPLIES and current is not None:
            out += _host_key_calculations(event, message, current)
        if message.spec is MSG.USERAUTH_REQUEST and message.get("has_signature") and current is not None:
            out.append(_user_signature(event, message, current))
        # The first encrypted packet each way after each key exchange: its counters start fresh.
        if event.record.encrypted and context.kex is not None and context.packets_with_keys == 0:
            calculation = _packet(event, context.kex)
            if calculation is not None:
                out.append(calculation)
    return out


# -- the key exchange -----------------------------------------------------------------------------


def _kex_calculations(event: TraceEvent, side: Side, kex: KexComputed) -> list[Calculation]:
    out = []
    k = _shared_secret(event, side, kex)
    if k is not None:
        out.append(k)
    inputs = "\n".join(f'    "{data.hex()}",  # {name} ({kind})' for name, kind, data in kex.H_inputs)
    out.append(Calculation(
        "H", event.index, f"The exchange hash H ({kex.hash})",
        f"H is {kex.hash} over the inputs in order, each as the wire encodes it (a string or "
        "mpint with its length first): both identification lines, both KEXINIT payloads, the "
        "host key, the public values and K. The first H is also the session identifier.",
        _command(f"""
import hashlib
inputs = [
{inputs}
]
print(hashlib.{kex.hash}(b"".join(bytes.fromhex(h) for h in inputs)).hexdigest())
"""), _hex(kex.H)))
    wanted = [(k.letter, len(k.value)) for k in kex.keys if k.value]
    out.append(Calculation(
        "keys", event.index, "The six keys",
        f"Each key is {kex.hash}(K || H || letter || session_id), extended with "
        f"{kex.hash}(K || H || what came so far) until it is long enough: A and B are the "
        "initial IVs, C and D the encryption keys, E and F the MAC keys (client to server "
        "first). Keys a cipher does not need are not made.",
        _command(f"""
import hashlib
K = bytes.fromhex("{kex.K.hex()}")  # K as H takes it
H = bytes.fromhex("{kex.H.hex()}")
session_id = bytes.fromhex("{kex.session_id.hex()}")
for letter, size in {wanted!r}:
    key = hashlib.{kex.hash}(K + H + letter.encode() + session_id).digest()
    while len(key) < size:
        key += hashlib.{kex.hash}(K + H + key).digest()
    print(letter, key[:size].hex())
"""), "\n".join(f"{k.letter} {k.value.hex()}" for k in kex.keys if k.value)))
    return out


def _shared_secret(event: TraceEvent, side: Side, kex: KexComputed) -> Calculation | None:
    """K from this side's private value and the other side's public one, where the trace
    kept the private value (in-process runs do; a capture's key log may not)."""
    secrets = kex.secrets
    client_value, server_value = (_body(data) for _, _, data in kex.public_values)
    peer = server_value if side == Side.CLIENT else client_value
    whose = f"the {side}'s private value and the {Side(side).opposite}'s public one"
    if "mlkem_private_seed" in secrets and side == Side.CLIENT:
        script = f"""
import hashlib
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
seed = bytes.fromhex("{secrets['mlkem_private_seed'].hex()}")  # the client's ML-KEM-768 key
x25519_private = bytes.fromhex("{secrets['x25519_private_key'].hex()}")
reply = bytes.fromhex("{server_value.hex()}")  # S_REPLY: ciphertext || X25519 key
pq = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed).decapsulate(reply[:1088])
classic = x25519.X25519PrivateKey.from_private_bytes(x25519_private).exchange(
    x25519.X25519PublicKey.from_public_bytes(reply[1088:]))
print(hashlib.sha256(pq + classic).hexdigest())
"""
        expect = _body(kex.K).hex()
        how = ("K is SHA-256 of the ML-KEM-768 shared secret (the client decapsulates the "
               "server's ciphertext) and the X25519 shared secret, together.")
    elif "sntrup761_private_key" in secrets and side == Side.CLIENT:
        script = f"""
import hashlib
from cryptography.hazmat.primitives.asymmetric import x25519
from pqcrypto.kem import sntrup_761
secret_key = bytes.fromhex("{secrets['sntrup761_private_key'].hex()}")  # the client's sntrup761 key
x25519_private = bytes.fromhex("{secrets['x25519_private_key'].hex()}")
reply = bytes.fromhex("{server_value.hex()}")  # S_REPLY: ciphertext || X25519 key
pq = sntrup_761.decaps(secret_key, reply[:1039])
classic = x25519.X25519PrivateKey.from_private_bytes(x25519_private).exchange(
    x25519.X25519PublicKey.from_public_bytes(reply[1039:]))
print(hashlib.sha512(pq + classic).hexdigest())
"""
        expect = _body(kex.K).hex()
        how = ("K is SHA-512 of the Streamlined NTRU Prime 761 shared secret (the client "
               "decapsulates the server's ciphertext with its secret key) and the X25519 shared "
               "secret, together.")
    elif "private_key" in secrets and isinstance(secrets["private_key"], bytes):
        script = f"""
from cryptography.hazmat.primitives.asymmetric import x25519
private = bytes.fromhex("{secrets['private_key'].hex()}")  # the {side}'s
peer = bytes.fromhex("{peer.hex()}")
print(x25519.X25519PrivateKey.from_private_bytes(private).exchange(
    x25519.X25519PublicKey.from_public_bytes(peer)).hex())
"""
        expect = secrets["shared_secret"].hex()
        how = "K is X25519 of one side's private key and the other's public key (RFC 8731)."
    elif "private_key" in secrets:
        curve, _ = ECDSA_CURVES[kex.method.rsplit("-", 1)[-1]]
        script = f"""
from cryptography.hazmat.primitives.asymmetric import ec
private = ec.derive_private_key({secrets['private_key']}, ec.{curve}())  # the {side}'s
peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.{curve}(), bytes.fromhex("{peer.hex()}"))
print(private.exchange(ec.ECDH(), peer).hex())
"""
        expect = secrets["shared_secret"].hex()
        how = "K is the x coordinate of the private scalar times the other side's point (RFC 5656 4)."
    elif "private_exponent" in secrets:
        script = f"""
p = {secrets['p']}
x = {secrets['private_exponent']}  # the {side}'s private exponent
peer = {int.from_bytes(peer, 'big')}  # the {Side(side).opposite}'s public value
print(format(pow(peer, x, p), "x"))
"""
        expect = format(secrets["shared_secret"], "x")
        how = "K is the other side's public value raised to this side's private exponent, mod p."
    else:
        return None
    return Calculation("K", event.index, "The shared secret K", f"{how} Computed from {whose}.",
                       _command(script), expect)


# -- the host key and signatures --------------------------------------------------------------


def _reader() -> str:
    return ('def read(data, at):\n'
            '    size = int.from_bytes(data[at:at + 4], "big")\n'
            '    return data[at + 4:at + 4 + size], at + 4 + size\n')


def _verify_script(blob: bytes, signature: bytes, signed: str, what: str) -> str | None:
    """A script that verifies ``signature`` (an SSH signature blob) by the key ``blob`` over
    the bytes the expression ``signed`` gives, and says so; None for a key type it cannot do."""
    kind = blob[4:4 + int.from_bytes(blob[:4], "big")].decode("ascii", "replace")
    head = f'{_reader()}blob = bytes.fromhex("{blob.hex()}")\nsignature = bytes.fromhex("{signature.hex()}")\n' \
           f'{signed}\nalgorithm, at = read(signature, 0)\nsig, _ = read(signature, at)\n'
    if kind == "ssh-ed25519":
        body = ('from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey\n'
                '_, at = read(blob, 0)\npublic, _ = read(blob, at)\n'
                'Ed25519PublicKey.from_public_bytes(public).verify(sig, signed)\n')
    elif kind.startswith("ecdsa-sha2-") and kind[11:] in ECDSA_CURVES:
        curve, hash_name = ECDSA_CURVES[kind[11:]]
        body = ('from cryptography.hazmat.primitives import hashes\n'
                'from cryptography.hazmat.primitives.asymmetric import ec\n'
                'from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature\n'
                '_, at = read(blob, 0)\n_, at = read(blob, at)\npoint, _ = read(blob, at)\n'
                'r, at = read(sig, 0)\ns, _ = read(sig, at)\n'
                f'key = ec.EllipticCurvePublicKey.from_encoded_point(ec.{curve}(), point)\n'
                'key.verify(encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big")),\n'
                f'           signed, ec.ECDSA(hashes.{hash_name}()))\n')
    elif kind == "ssh-rsa":
        body = ('from cryptography.hazmat.primitives import hashes\n'
                'from cryptography.hazmat.primitives.asymmetric import padding, rsa\n'
                '_, at = read(blob, 0)\ne, at = read(blob, at)\nn, _ = read(blob, at)\n'
                'hash_for = {b"ssh-rsa": hashes.SHA1, b"rsa-sha2-256": hashes.SHA256, b"rsa-sha2-512": hashes.SHA512}\n'
                'key = rsa.RSAPublicNumbers(int.from_bytes(e, "big"), int.from_bytes(n, "big")).public_key()\n'
                'key.verify(sig, signed, padding.PKCS1v15(), hash_for[algorithm]())\n')
    else:
        return None
    return _command(head + body + f'print("{what}")  # verify() raises InvalidSignature otherwise')


def _host_key_calculations(event: TraceEvent, message, kex: KexComputed) -> list[Calculation]:
    blob = _body(kex.H_inputs[4][2])  # K_S
    out = [Calculation(
        "fingerprint", event.index, "The host key's fingerprint",
        "The fingerprint known_hosts and ssh-keygen -l show: SHA-256 of the host key blob, in "
        "base64 without padding.",
        _command(f"""
import base64, hashlib
blob = bytes.fromhex("{blob.hex()}")
print("SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("="))
"""), kex.host_key_fingerprint)]
    script = _verify_script(blob, message["signature"], f'signed = bytes.fromhex("{kex.H.hex()}")  # H',
                            "the host key's signature over H verifies")
    if script is not None:
        out.append(Calculation(
            "host-signature", event.index, "The server's signature over H",
            "The server proves it holds the host key by signing H, which covers everything "
            "both sides said: the client checks it with the host key from the same message.",
            script, "the host key's signature over H verifies"))
    return out


def _user_signature(event: TraceEvent, message, kex: KexComputed) -> Calculation:
    signed = publickey_signed_data(kex.session_id, message["user_name"], message["service_name"],
                                   message["method_name"], message["algorithm"], message["public_key"],
                                   message.get("server_host_key"))
    parts = ("session id, 50 (USERAUTH_REQUEST), user, service, method, TRUE, algorithm, key"
             + (", host key" if message.get("server_host_key") is not None else ""))
    script = _verify_script(message["public_key"], message["signature"],
                            f'signed = bytes.fromhex("{signed.hex()}")  # {parts}',
                            "the user's signature verifies")
    return Calculation(
        "user-signature", event.index, "The user's signature",
        f"The client signs the session identifier and the request itself ({parts}, each "
        "encoded as on the wire): bound to this session, it cannot be replayed in another.",
        script or "", "the user's signature verifies")


# -- packets ------------------------------------------------------------------------------------


def _packet(event: TraceEvent, kex: KexComputed) -> Calculation | None:
    record = event.record
    direction = Direction(event.direction)
    iv_letter, key_letter, mac_letter = KEY_LETTERS[direction]
    by_letter = {k.letter: k.value for k in kex.keys}
    key, iv, mac_key = by_letter[key_letter], by_letter[iv_letter], by_letter[mac_letter]
    wire, seq = record.wire, record.seq
    head = f'wire = bytes.fromhex("{wire.hex()}")\nseq = {seq}\n'
    if record.cipher == "chacha20-poly1305@openssh.com":
        script = head + f"""
from cryptography.hazmat.primitives import constant_time
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.poly1305 import Poly1305
key = bytes.fromhex("{key.hex()}")  # key {key_letter}: main key, then length key
def chacha(k, counter):  # OpenSSH's ChaCha20: 64-bit block counter, the sequence number as nonce
    return Cipher(algorithms.ChaCha20(k, counter.to_bytes(8, "little") + seq.to_bytes(8, "big")), None).decryptor()
length = chacha(key[32:], 0).update(wire[:4])
poly_key = chacha(key[:32], 0).update(bytes(32))
assert constant_time.bytes_eq(Poly1305.generate_tag(poly_key, wire[:-16]), wire[-16:])
print((length + chacha(key[:32], 1).update(wire[4:-16])).hex())
print("the tag verifies")
"""
        how = ("ChaCha20-Poly1305: the second half of key {0} decrypts the length, the first half "
               "the rest; both use the sequence number as nonce, and the Poly1305 key is the first "
               "32 bytes of the main key's stream.").format(key_letter)
    elif record.cipher.endswith("-gcm@openssh.com"):
        script = head + f"""
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
key = bytes.fromhex("{key.hex()}")  # key {key_letter}
nonce = bytes.fromhex("{iv.hex()}")  # IV {iv_letter}: 4 fixed bytes, then the invocation counter
print((wire[:4] + AESGCM(key).decrypt(nonce, wire[4:], wire[:4])).hex())  # the length is the AAD
print("the tag verifies")
"""
        how = (f"AES-GCM: key {key_letter}; the nonce is IV {iv_letter}, a fixed part and a counter "
               "that goes up with each packet (this is the first, so the IV as it is); the length "
               "stays in clear as additional authenticated data.")
    elif record.cipher.endswith("-ctr") and record.mac_name in MACS.names():
        mac = MACS.get(record.mac_name)
        size = len(record.mac)
        covered = "seq.to_bytes(4, 'big') + wire[:-%d]" % size if mac.etm else "seq.to_bytes(4, 'big') + plain"
        decrypt = ("plain = wire[:4] + stream.update(wire[4:-%d])" % size if mac.etm
                   else "plain = stream.update(wire[:-%d])" % size)
        script = head + f"""
import hashlib, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
key = bytes.fromhex("{key.hex()}")  # key {key_letter}
iv = bytes.fromhex("{iv.hex()}")  # IV {iv_letter}: the counter's start (the first packet)
mac_key = bytes.fromhex("{mac_key.hex()}")  # key {mac_letter}
stream = Cipher(algorithms.AES(key), modes.CTR(iv)).decryptor()
{decrypt}
assert hmac.compare_digest(hmac.new(mac_key, {covered}, hashlib.{mac.hash}).digest()[:{size}], wire[-{size}:])
print(plain.hex())
print("the MAC verifies")
"""
        how = (f"AES-CTR with {record.mac_name}: key {key_letter} and IV {iv_letter} (the counter starts "
               f"there); key {mac_letter} for HMAC over the sequence number and "
               + ("the length and ciphertext (encrypt-then-MAC)." if mac.etm else "the plaintext packet."))
    else:
        return None
    name = record.message.spec.name if record.message is not None else "packet"
    verdict = "the MAC verifies" if record.cipher.endswith("-ctr") else "the tag verifies"
    return Calculation(
        f"packet-{direction}", event.index, f"Decrypting the first encrypted packet {direction.arrow} ({name})",
        how + " It prints the plaintext packet: length, padding length, payload, padding.",
        _command(script), f"{record.plain.hex()}\n{verdict}")
