"""What a unit means beyond its fields: the calculations made with it (what a signature was made
over and by which key, what a MAC or AEAD tag covers and with which key, the inputs of H with
their bytes), what the marker names of a KEXINIT are, and one plain line on what just happened.
Read from trace events only; the fields tree, the transcript and the illustrated page show them."""

from __future__ import annotations

from dataclasses import dataclass

from ..crypto.keys import blob_fingerprint
from ..events import (AuthAttempt, AuthSucceeded, ChannelData, ChannelOpened, Disconnected,
                      ExitStatus, HostKeyChecked, KexComputed, VersionRecord)
from ..sides import Direction, Side
from ..trace.model import TraceEvent
from ..transport.kex import KEX_METHODS
from ..wire import types as t
from ..wire.catalog import MSG
from ..wire.spec import DecodedField

# Names in a KEXINIT's kex_algorithms that announce something instead of naming a method.
MARKERS = {
    "ext-info-c": "not an algorithm: the client announces it accepts EXT_INFO after NEWKEYS (RFC 8308 2.1)",
    "ext-info-s": "not an algorithm: the server announces it accepts EXT_INFO (RFC 8308 2.1)",
    "kex-strict-c-v00@openssh.com": "not an algorithm: the client supports strict KEX, the Terrapin "
                                    "countermeasure (OpenSSH PROTOCOL 1.10)",
    "kex-strict-s-v00@openssh.com": "not an algorithm: the server supports strict KEX, the Terrapin "
                                    "countermeasure (OpenSSH PROTOCOL 1.10)",
}
KEY_LETTERS = {Direction.C2S: ("A", "C", "E"), Direction.S2C: ("B", "D", "F")}  # IV, key, MAC key
# The key exchange families' messages, as the families name them: a new family brings its own.
_FAMILIES = {KEX_METHODS.get(name).family for name in KEX_METHODS.names()}
INITS = frozenset(family.init for family in _FAMILIES)
REPLIES = frozenset(family.reply for family in _FAMILIES)


@dataclass(frozen=True)
class KeyContext:
    """What the calculations of one unit need from earlier in the session: the key exchange
    whose keys are in force (its keys, the session id) and, per direction, how many packets
    went with those keys before this one (AES-GCM's invocation counter counts them)."""

    kex: KexComputed | None = None
    packets_with_keys: int | None = None


class KeyContexts:
    """The KeyContext of each unit of a trace, worked out once as the trace grows (a live run
    adds units as it is stepped): ``at(events, index)``."""

    def __init__(self):
        self._contexts: list[KeyContext] = []
        self._kex: KexComputed | None = None  # the latest key exchange
        # Per direction: the key exchange whose keys are in force (from that direction's NEWKEYS
        # on: during a rekey the old keys go on until then), and the packets sent with them.
        self._in_force: dict[str, KexComputed | None] = {"c2s": None, "s2c": None}
        self._sent: dict[str, int | None] = {"c2s": None, "s2c": None}

    def at(self, events: list[TraceEvent], index: int) -> KeyContext:
        for event in events[len(self._contexts): index + 1]:
            self._contexts.append(self._next(event))
        return self._contexts[index]

    def _next(self, event: TraceEvent) -> KeyContext:
        if event.holds(KexComputed):  # asked first: a long file's events answer without reading
            for _, change in event.changes:
                if isinstance(change, KexComputed):
                    self._kex = change
        direction = event.direction
        context = KeyContext(self._in_force[direction], self._sent[direction])
        spec = event.spec  # (a long file's events know it without reading their line)
        if spec is not None or event.kind == "packet":
            if spec is MSG.NEWKEYS:
                self._in_force[direction] = self._kex
                self._sent[direction] = 0  # the next packet is the first with the new keys
            elif self._sent[direction] is not None:
                self._sent[direction] += 1
        return context


def marker_doc(name: str) -> str:
    return MARKERS.get(name, "")


def _leaf(name: str, value, doc: str, kind: str = "") -> DecodedField:
    if isinstance(value, bytes) and not kind:
        kind = f"byte[{len(value)}]"
    return DecodedField(name, kind, value, 0, 0, doc)


def _group(title: str, doc: str, children: list[DecodedField]) -> DecodedField:
    return DecodedField(title, "", None, 0, 0, doc, children)


def calculations(event: TraceEvent, context: KeyContext | None) -> list[DecodedField]:
    """Groups of fields with no bytes of their own, one per calculation made with this unit."""
    message = event.message if event.kind == "packet" else None
    out = []
    kex = next((c for s, c in event.changes if isinstance(c, KexComputed) and s == Side.CLIENT), None) or \
        next((c for s, c in event.changes if isinstance(c, KexComputed)), None)
    if kex is not None:
        out.append(_exchange_hash(kex))
    if message is not None and message.spec in REPLIES:
        reply_kex = kex
        checked = next((c for s, c in event.changes if isinstance(c, HostKeyChecked)), None)
        out.append(_host_signature(message, reply_kex, checked, event))
    if message is not None and message.spec is MSG.USERAUTH_REQUEST and message.get("has_signature"):
        out.append(_user_signature(message, context.kex if context else None, event))
    if event.kind == "packet" and event.opened and event.record.encrypted:
        out.append(_protection(event, context))
    return out


def _exchange_hash(kex: KexComputed) -> DecodedField:
    inputs = [_leaf(name, data, f"{kind}, as the wire encodes it (length first)", kind)
              for name, kind, data in kex.H_inputs]
    inputs.append(_leaf("H", kex.H, f"{kex.hash} of all the inputs above, in this order"))
    if kex.first_kex:
        inputs.append(_leaf("session_id", kex.session_id, "the first H: it names the session for good"))
    return _group("calculation: the exchange hash H",
                  f"H = {kex.hash}(V_C || V_S || I_C || I_S || K_S || ... || K): each input with its bytes",
                  inputs)


def _host_signature(message, kex: KexComputed | None, checked: HostKeyChecked | None,
                    event: TraceEvent) -> DecodedField:
    blob = message["host_key"]
    signature = message["signature"]
    failed = next((c for s, c in event.changes if isinstance(c, Disconnected) and not c.by_peer
                   and "signature" in c.description), None)
    verdict = ("did not verify: " + failed.description if failed is not None
               else "verified by the client" if checked is not None else "not checked in this trace")
    children = [
        _leaf("signed", kex.H if kex is not None else b"", "the exchange hash H, exactly: 32 or 64 bytes "
              "that cover everything both sides said (signed as it is, not hashed again for Ed25519)"),
        _leaf("by key", blob_fingerprint(blob) if blob else "", "the host key from this message", "key"),
        _leaf("signature", signature, "algorithm name and signature bytes, each length first"),
        _leaf("result", verdict, "the client checks it with the host key before trusting anything", "check"),
    ]
    if checked is not None:
        children.append(_leaf("host key check", f"{checked.status} ({checked.detail})",
                              "is this key the one known for the host? (known_hosts)", "check"))
    return _group("calculation: the host key's signature over H",
                  "the server proves it holds the host key by signing H", children)


def _user_signature(message, kex: KexComputed | None, event: TraceEvent) -> DecodedField:
    session_id = kex.session_id if kex is not None else b""
    # In the order publickey_signed_data joins them (RFC 4252 7), each encoded as on the wire.
    parts = [("session id", t.string(session_id), "string: this session's identifier (the first H)"),
             ("message number", bytes([MSG.USERAUTH_REQUEST.number]), "byte 50: USERAUTH_REQUEST"),
             ("user", t.string(message["user_name"]), "string"),
             ("service", t.string(message["service_name"]), "string"),
             ("method", t.string(message["method_name"]), "string"),
             ("has signature", t.boolean(True), "boolean TRUE"),
             ("algorithm", t.string(message["algorithm"]), "string"),
             ("public key", t.string(message["public_key"]), "string: the key blob")]
    if message.get("server_host_key") is not None:
        parts.append(("host key", t.string(message["server_host_key"]),
                      "string: the server's host key (publickey-hostbound)"))
    verdicts = [c for s, c in event.changes if isinstance(c, AuthAttempt) and c.method.startswith("publickey")]
    result = (f"{verdicts[0].result} ({verdicts[0].detail})" if verdicts else "judged by the server")
    children = [_leaf(name, data, doc) for name, data, doc in parts]
    children += [_leaf("by key", blob_fingerprint(message["public_key"]), "the user's key, from this request", "key"),
                 _leaf("result", result, "the server checks it with the key it has for the user", "check")]
    return _group("calculation: the user's signature",
                  "what the client signed, field by field: bound to this session, it cannot be "
                  "replayed in another", children)


def _protection(event: TraceEvent, context: KeyContext | None) -> DecodedField:
    record = event.record
    direction = Direction(event.direction)
    iv_letter, key_letter, mac_letter = KEY_LETTERS[direction]
    keys = {k.letter: k.value for k in context.kex.keys} if context and context.kex else {}
    seq = record.seq
    covered = len(record.wire) - len(record.mac)
    if record.cipher == "chacha20-poly1305@openssh.com":
        key = keys.get(key_letter, b"")
        children = [
            _leaf("main key", key[:32], f"first 32 bytes of key {key_letter}: encrypts the payload "
                  "and makes the Poly1305 key"),
            _leaf("length key", key[32:], f"last 32 bytes of key {key_letter}: encrypts packet_length alone"),
            _leaf("nonce", seq.to_bytes(8, "big"), f"the sequence number, {seq}: no IV, the count is the nonce"),
            _leaf("Poly1305 key", "block 0 of the main key's stream", "32 bytes of keystream, never reused", "how"),
            _leaf("tag over", f"{covered} bytes", "the encrypted length and the encrypted rest", "span"),
            _leaf("tag", record.mac, "Poly1305: checked before anything is decrypted"),
        ]
        title = "calculation: ChaCha20-Poly1305"
    elif record.cipher.endswith("-gcm@openssh.com"):
        iv = keys.get(iv_letter, b"")
        count = context.packets_with_keys if context else None
        counter = (int.from_bytes(iv[4:], "big") + count) % (1 << 64) if iv and count is not None else None
        children = [
            _leaf("key", keys.get(key_letter, b""), f"key {key_letter}"),
            _leaf("fixed IV part", iv[:4], f"first 4 bytes of IV {iv_letter}, the same for every packet"),
            _leaf("invocation counter", counter.to_bytes(8, "big") if counter is not None else "",
                  f"last 8 bytes of IV {iv_letter} plus {count if count is not None else 'the'} packets sent "
                  "with these keys before this one: not the sequence number"),
            _leaf("AAD", record.wire[:4], "packet_length, in clear and authenticated"),
            _leaf("tag", record.mac, "GCM's 16-byte tag over the AAD and the ciphertext"),
        ]
        title = "calculation: AES-GCM"
    else:
        etm = record.mac_name.endswith("-etm@openssh.com")
        over = (f"sequence number {seq} (4 bytes) || packet_length || ciphertext ({covered} bytes): "
                "encrypt-then-MAC" if etm else
                f"sequence number {seq} (4 bytes) || the plaintext packet ({len(record.plain)} bytes)")
        children = [
            _leaf("cipher key", keys.get(key_letter, b""), f"key {key_letter} ({record.cipher})"),
            _leaf("IV", keys.get(iv_letter, b""), f"IV {iv_letter}: where the counter (or chain) starts"),
            _leaf("MAC key", keys.get(mac_letter, b""), f"key {mac_letter} ({record.mac_name})"),
            _leaf("MAC over", over, "what the MAC covers", "span"),
            _leaf("MAC", record.mac, f"{record.mac_name} of the bytes above"),
        ]
        title = f"calculation: {record.cipher} and {record.mac_name}"
    return _group(title, "how this packet is protected, with which keys (values once the key exchange is "
                         "in the trace)", children)


# -- one plain line per step -------------------------------------------------------------------


def plain_line(event: TraceEvent) -> str:
    """What just happened and why it matters, in one sentence."""
    sender = Direction(event.direction).sender
    receiver = Direction(event.direction).receiver
    if isinstance(event.record, VersionRecord):
        return (f"The {sender} says which protocol and software it speaks; both lines go into the "
                "exchange hash, so neither can be changed unseen.")
    message = event.message if event.kind == "packet" else None
    if message is None:
        return (f"Bytes the {receiver} could not open" if event.delivered
                else f"Bytes that never reached the {receiver}") + ": the notes say why."
    for side, change in event.changes:
        if isinstance(change, Disconnected) and not change.by_peer:
            return f"The {side} ends the connection here: {change.description}."
    spec, name = message.spec, message.spec.name
    if not event.delivered:
        return f"The {sender}'s {name} never reached the {receiver}."
    lines = {
        MSG.KEXINIT: f"The {sender} lists what it supports, best first; for each kind of algorithm the "
                     "client's first choice that the server also supports will win.",
        MSG.NEWKEYS: f"From its next packet on, the {sender} encrypts and authenticates with the new keys.",
        MSG.EXT_INFO: f"The {sender} announces extensions, such as which signature algorithms it accepts.",
        MSG.SERVICE_REQUEST: "The client asks to start user authentication, now under encryption.",
        MSG.SERVICE_ACCEPT: "The server agrees: user authentication may begin.",
        MSG.IGNORE: f"The {sender} sends a message to be ignored (padding traffic; counted all the same).",
        MSG.CHANNEL_OPEN: "The client opens a channel: many can share one connection.",
        MSG.CHANNEL_EOF: f"The {sender} will send no more data on this channel.",
        MSG.CHANNEL_CLOSE: f"The {sender} closes the channel.",
        MSG.CHANNEL_WINDOW_ADJUST: f"The {sender} lets the peer send more: flow control per channel.",
        MSG.DISCONNECT: f"The {sender} ends the connection and says why.",
    }
    if spec in lines:
        return lines[spec]
    if spec in INITS:
        return ("The client sends its ephemeral public value; with the server's it makes the shared "
                "secret K, which never travels.")
    if spec in REPLIES:
        return ("The server sends its host key, its public value and its signature over H: the client "
                "can now compute K and H, and check who it talks to.")
    if spec is MSG.USERAUTH_REQUEST:
        method = message["method_name"]
        ok = any(isinstance(c, AuthAttempt) and c.result == "success" for _, c in event.changes)
        return (f"The client tries to log in as {message['user_name']!r} by {method}"
                + (": accepted." if ok else "."))
    if spec is MSG.USERAUTH_FAILURE:
        return f"Not (yet) logged in; the server lists what may go on: {','.join(message['authentications'])}."
    if spec is MSG.USERAUTH_SUCCESS or any(isinstance(c, AuthSucceeded) for _, c in event.changes):
        return "The user is authenticated: from now on the connection layer runs."
    if any(isinstance(c, ChannelOpened) for _, c in event.changes):
        return "The channel is open on both sides."
    if any(isinstance(c, ExitStatus) for _, c in event.changes):
        return "The command has finished; the server reports its exit status."
    if any(isinstance(c, ChannelData) for _, c in event.changes):
        return f"Data from the {sender} on the channel, encrypted like every packet since NEWKEYS."
    return f"{spec.doc[:1].upper()}{spec.doc[1:]}."
