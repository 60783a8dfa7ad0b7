"""The computations a compute step may name. The answer is always worked out from the run by
the engine, never written in the lesson file; each computation also says how a learner's
typed answer compares with it (a number, hex digits, or words)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..crypto.keys import blob_fingerprint
from ..events import AlgorithmsNegotiated, KexComputed
from ..transport.negotiation import CATEGORIES
from ..wire.catalog import MSG

KEY_LETTERS = "ABCDEF"  # IVs, encryption keys, MAC keys, each client to server then back (RFC 4253 7.2)

# A category may be named as `sshviz run` names its options (the client-to-server choice), by
# its short name (cipher_s2c), or by its KEXINIT name-list (encryption_algorithms_server_to_client).
CATEGORY_ALIASES = {"hostkey": "host_key", "cipher": "cipher_c2s", "mac": "mac_c2s",
                    "compression": "compression_c2s",
                    **{list_name: short for short, list_name in CATEGORIES}}


class NoAnswer(ValueError):
    """The run has nothing to compute the answer from (no key exchange, no such packet)."""


@dataclass(frozen=True)
class Subject:
    """What a computation works on: the run's trace, the step's message (a TraceEvent, or None)
    and its selected field items (top first, maybe empty)."""

    trace: object
    event: object
    field_chain: list

    @property
    def packet(self):
        event = self.event
        if event is None or event.kind != "packet":
            raise NoAnswer("this computation needs a step's message that is a packet")
        return event.record

    @property
    def field(self):
        if not self.field_chain:
            raise NoAnswer("this computation needs the step's field")
        return self.field_chain[-1]

    def changes(self, kind):
        """Events of ``kind`` from the step's message on (from the start without one)."""
        start = self.event.index if self.event is not None else 0
        return [change for event in self.trace.events[start:] for _, change in event.changes
                if isinstance(change, kind)]


def normalise_text(text: str) -> str:
    return " ".join(str(text).split()).strip().strip("'\"").lower()


def normalise_hex(text: str) -> str:
    text = str(text).strip().lower().removeprefix("0x")
    return re.sub(r"[\s:]", "", text)


def same_number(typed: str, answer: str) -> bool:
    text = typed.strip().lower().replace("_", "")
    try:
        value = int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        return False
    return value == int(answer)


def same_hex(typed: str, answer: str) -> bool:
    return normalise_hex(typed) == normalise_hex(answer)


def same_text(typed: str, answer: str) -> bool:
    return normalise_text(typed) == normalise_text(answer)


def same_fingerprint(typed: str, answer: str) -> bool:
    """A fingerprint as ssh-keygen prints it, the ``SHA256:``/``MD5:`` prefix optional: base64
    compares exactly (its case matters), MD5's hex as hex."""
    prefix, _, digits = answer.partition(":")
    typed = typed.strip()
    if typed.upper().startswith(prefix.upper() + ":"):
        typed = typed[len(prefix) + 1:]
    return same_hex(typed, digits) if prefix == "MD5" else typed.strip() == digits


COMPARISONS = {"number": same_number, "hex": same_hex, "text": same_text,
               "fingerprint": same_fingerprint}


@dataclass(frozen=True)
class Computation:
    """One named computation: ``compute(subject, params) -> str``, compared as ``answer_kind``."""

    name: str
    doc: str
    answer_kind: str  # "number" | "hex" | "text"
    compute: Callable[[Subject, dict], str]
    params: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    needs_message: bool = False
    needs_field: bool = False

    def validate(self, params: dict) -> None:
        if "digits" in params:
            digits = params["digits"]
            if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 128:
                raise ValueError(f"digits must be a whole number from 1 to 128, not {digits!r}")
        if "category" in params:
            category_name(params["category"])
        if "letter" in params:
            key_letter(params["letter"])
        if "of" in params:
            from .selectors import _MESSAGE

            of = params["of"]
            if not isinstance(of, str) or not (m := _MESSAGE.match(of)) or m["name"] is None or m["nth"]:
                raise ValueError(f"of {of!r} is not 'NAME [from client|server]'")
        if "hash" in params and params["hash"] not in FINGERPRINT_HASHES:
            raise ValueError(f"hash must be one of {', '.join(FINGERPRINT_HASHES)}, not {params['hash']!r}")

    def matches(self, typed: str, answer: str) -> bool:
        return COMPARISONS[self.answer_kind](typed, answer)


def category_name(name) -> str:
    """A KEXINIT category by its field name or its short name (cipher: the client's cipher)."""
    short = CATEGORY_ALIASES.get(name, name)
    if short not in dict(CATEGORIES):
        raise ValueError(f"unknown category {name!r} (known: hostkey, cipher, mac, compression, "
                         f"{', '.join(s for s, _ in CATEGORIES)})")
    return short


def _hex_digits(value: bytes, params: dict) -> str:
    return value.hex()[: params.get("digits", 8)]


def _kex(subject: Subject) -> KexComputed:
    found = subject.changes(KexComputed)
    if not found:
        raise NoAnswer("no key exchange completes in the run" + (" from this message on" if subject.event else ""))
    return found[0]


def _session_id(subject: Subject) -> bytes:
    # The session id never changes, so any step of the session may ask for it, even one after
    # the key exchange that made it.
    whole = Subject(subject.trace, None, [])
    return _kex(whole).session_id


def _negotiated(subject: Subject, params: dict) -> str:
    found = subject.changes(AlgorithmsNegotiated)
    if not found:
        raise NoAnswer("no KEXINITs are negotiated in the run")
    chosen = found[0].chosen(category_name(params["category"]))
    if chosen is None:
        raise NoAnswer(f"no {params['category']} was agreed")
    return chosen


def _next_sequence_number(subject: Subject, params: dict) -> str:
    subject.packet  # NoAnswer unless the step's message is a packet
    later = [e for e in subject.trace.events[subject.event.index + 1:]
             if e.direction == subject.event.direction and e.kind == "packet"]
    if not later:
        raise NoAnswer("no later packet goes the same way")
    return str(later[0].record.seq)


def _field_value(subject: Subject, params: dict) -> str:
    value = subject.field.field.value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _field_kind(subject: Subject) -> str:
    value = subject.field.field.value
    if isinstance(value, (bytes, bytearray)):
        return "hex"
    return "number" if isinstance(value, int) and not isinstance(value, bool) else "text"


def _message_count(subject: Subject, params: dict) -> str:
    from .selectors import select_messages

    return str(len(select_messages(subject.trace, params["of"])))


def _channel_window(subject: Subject, params: dict) -> str:
    """What the receiver of the step's channel message still lets its sender send on that
    channel once the message has gone: the window it granted when the channel opened, less the
    data sent on it since, plus what its WINDOW_ADJUSTs added (RFC 4254 5.2)."""
    message = subject.packet.message
    if message is None or "recipient_channel" not in message.values:
        raise NoAnswer("channel_window needs a step's message on a channel (one with recipient_channel)")
    granted: dict[tuple[str, int], int] = {}  # (receiving side, its channel id) -> window left
    peer_id: dict[tuple[str, int], int] = {}  # (side, its channel id) -> the other side's id
    other = {"client": "server", "server": "client"}
    for event in subject.trace.events[: subject.event.index + 1]:
        msg, side = event.message, event.sender
        if msg is None:
            continue
        if msg.spec is MSG.CHANNEL_OPEN:
            granted[(side, msg["sender_channel"])] = msg["initial_window_size"]
        elif msg.spec is MSG.CHANNEL_OPEN_CONFIRMATION:
            granted[(side, msg["sender_channel"])] = msg["initial_window_size"]
            peer_id[(side, msg["sender_channel"])] = msg["recipient_channel"]
            peer_id[(other[side], msg["recipient_channel"])] = msg["sender_channel"]
        elif msg.spec in (MSG.CHANNEL_DATA, MSG.CHANNEL_EXTENDED_DATA):
            key = (other[side], msg["recipient_channel"])
            granted[key] = granted.get(key, 0) - len(msg["data"]) - event.elided
        elif msg.spec is MSG.CHANNEL_WINDOW_ADJUST:
            own = peer_id.get((other[side], msg["recipient_channel"]))
            if own is not None:
                granted[(side, own)] = granted.get((side, own), 0) + msg["bytes_to_add"]
    key = (other[subject.event.sender], message["recipient_channel"])
    if key not in granted:
        raise NoAnswer(f"no window was granted for channel {key[1]} of the {key[0]}")
    return str(granted[key])


_LIST = [
    Computation("packet_length", "the packet_length field of the step's packet", "number",
                lambda s, p: str(s.packet.packet_length), needs_message=True),
    Computation("padding_length", "how many padding bytes the step's packet carries", "number",
                lambda s, p: str(s.packet.padding_length), needs_message=True),
    Computation("payload_length", "the length of the step's packet's payload (the message)",
                "number", lambda s, p: str(s.packet.packet_length - s.packet.padding_length - 1),
                needs_message=True),
    Computation("wire_length", "how many bytes the step's unit took on the wire, MAC included",
                "number", lambda s, p: str(len(s.event.record.wire)), needs_message=True),
    Computation("message_number", "the message number (first payload byte) of the step's packet",
                "number", lambda s, p: str(s.packet.payload[0]), needs_message=True),
    Computation("sequence_number", "the sequence number of the step's packet", "number",
                lambda s, p: str(s.packet.seq), needs_message=True),
    Computation("next_sequence_number", "the sequence number of the next packet sent the same way",
                "number", _next_sequence_number, needs_message=True),
    Computation("mac", "the first `digits` (default 8) hex digits of the step's packet's MAC or tag",
                "hex", lambda s, p: _hex_digits(s.packet.mac, p) or _no_mac(), ("digits",),
                needs_message=True),
    Computation("negotiated", "the algorithm agreed for `category` (kex, hostkey, cipher, mac, "
                "compression or a KEXINIT list's name) in the first negotiation from the step's "
                "message on", "text", _negotiated, ("category",), ("category",)),
    Computation("exchange_hash", "the first `digits` (default 8) hex digits of the exchange hash H: "
                "the method's hash (SHA-256 for curve25519-sha256) of the exchange-hash inputs",
                "hex", lambda s, p: _hex_digits(_kex(s).H, p), ("digits",)),
    Computation("session_id", "the first `digits` (default 8) hex digits of the session id (the "
                "first exchange's H)", "hex", lambda s, p: _hex_digits(_session_id(s), p), ("digits",)),
    Computation("shared_secret", "the first `digits` (default 8) hex digits of K as it enters the hash",
                "hex", lambda s, p: _hex_digits(_kex(s).K, p), ("digits",)),
    Computation("field_value", "the value of the step's field: a number, hex digits of bytes, or "
                "text", "text", _field_value, needs_message=True, needs_field=True),
    Computation("message_count", "how many messages of the run the selector `of` names (a NAME, "
                "maybe 'from client' or 'from server', without a number)", "number", _message_count,
                ("of",), ("of",)),
    Computation("channel_window", "how many more bytes of data the sender of the step's channel "
                "message may send on that channel once it has gone, before a WINDOW_ADJUST",
                "number", _channel_window, needs_message=True),
]


FINGERPRINT_HASHES = ("sha256", "md5")


def _host_key_fingerprint(subject: Subject, params: dict) -> str:
    """The server's host key fingerprint as ssh-keygen -l prints it (-E md5 for MD5), cut to
    ``digits`` characters after the prefix: from the host key blob K_S that entered H."""
    import hashlib

    blob = _kex(subject).H_inputs[4][2][4:]  # K_S, a string: its 4-byte length off
    digits = params.get("digits", 8)
    if params.get("hash", "sha256") == "md5":  # the legacy form: hex pairs joined by colons
        return "MD5:" + ":".join(f"{b:02x}" for b in hashlib.md5(blob).digest())[: digits + (digits - 1) // 2]
    return blob_fingerprint(blob)[: len("SHA256:") + digits]


_LIST += [
    Computation("host_key_fingerprint", "the first `digits` (default 8) characters of the server's "
                "host key fingerprint, `hash` sha256 (default: base64, as ssh-keygen -l prints it) or "
                "md5 (hex, as ssh-keygen -E md5 -l)", "fingerprint", _host_key_fingerprint,
                ("hash", "digits")),
    Computation("field_length", "the length in bytes of the step's field's value (a string's "
                "contents, without its 4-byte length)", "number", lambda s, p: _field_length(s),
                needs_message=True, needs_field=True),
]


def _field_length(subject: Subject) -> str:
    value = subject.field.field.value
    if not isinstance(value, (bytes, bytearray, str)):
        raise NoAnswer(f"the field {subject.field.field.name!r} holds no bytes to count")
    return str(len(value))


def _no_mac() -> str:
    raise NoAnswer("the step's packet has no MAC (it went before NEWKEYS)")


def key_letter(letter) -> str:
    """One of the six keys of RFC 4253 7.2, by its letter (A to F)."""
    if letter not in KEY_LETTERS:
        raise ValueError(f"letter must be one of {', '.join(KEY_LETTERS)} (RFC 4253 7.2), not {letter!r}")
    return letter


def derived_key(kex: KexComputed, letter: str) -> bytes:
    """The key ``letter`` a key exchange derived (empty when the algorithms need none)."""
    return next(key.value for key in kex.keys if key.letter == letter)


def _mac_length(subject: Subject, params: dict) -> str:
    return str(len(subject.packet.mac or _no_mac()))


_LIST += [
    Computation("derived_key", "the first `digits` (default 8) hex digits of the key `letter` (A to F) "
                "derived from K and H, in the first key exchange from the step's message on", "hex",
                lambda s, p: _hex_digits(derived_key(_kex(s), p["letter"]), p) or _no_key(p["letter"]),
                ("letter", "digits"), ("letter",)),
    Computation("mac_length", "how many bytes the step's packet's MAC or tag takes", "number",
                _mac_length, needs_message=True),
]


def _no_key(letter: str) -> str:
    raise NoAnswer(f"key {letter} is empty: the negotiated algorithms need none")


COMPUTATIONS: dict[str, Computation] = {c.name: c for c in _LIST}


def answer_kind(computation: Computation, subject: Subject) -> str:
    """How typed answers compare: a field's value compares as what the field holds."""
    return _field_kind(subject) if computation.name == "field_value" else computation.answer_kind


def compute(named, subject: Subject) -> tuple[str, str]:
    """The answer of the computation ``named`` (a Named) and how to compare with it; NoAnswer
    when the run does not give one."""
    computation = COMPUTATIONS[named.name]
    if computation.needs_message and subject.event is None:
        raise NoAnswer(f"{computation.name} needs the step's 'message'")
    try:
        return computation.compute(subject, named.params), answer_kind(computation, subject)
    except (IndexError, KeyError, AttributeError) as exc:
        raise NoAnswer(f"{computation.name}: the run gives no answer ({exc})") from None


def matches(kind: str, typed: str, answer: str) -> bool:
    return COMPARISONS[kind](typed, answer)
