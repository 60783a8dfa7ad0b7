"""A unit's bytes, annotated: the items of its fields with the coordinates of their bytes, and
the coloured sections of its bytes (the wire form or the plaintext packet). Worked out from trace
events only; the terminal UI and the illustrated page lay them out."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..events import RawUnit, VersionRecord
from ..trace.model import TraceEvent, sftp_messages, sftp_name
from ..wire.catalog import ALGORITHM_NEGOTIATION, KEX_METHOD, MSG
from ..wire.spec import DecodedField
from .explain import KeyContext, calculations, marker_doc
from .transcript import attacker_mark, format_value

PAYLOAD_OFFSET = 5  # packet_length (4) + padding_length (1): where the payload starts
PACKET_RFC = "RFC 4253 6"
VERSION_RFC = "RFC 4253 4.2"


@dataclass
class FieldItem:
    """A field as the tree shows it. ``space`` names the bytes its span counts in ("packet":
    the plaintext packet and MAC, "payload": the message, "version": the identification
    bytes); ``offset`` is added to the field's own span to count in that space."""

    field: DecodedField
    space: str
    offset: int
    rfc: str
    children: list["FieldItem"] = field(default_factory=list)
    title: str = ""  # a group's heading in place of the field's name and value

    @property
    def span(self) -> tuple[int, int]:
        return self.offset + self.field.start, self.offset + self.field.end

    @property
    def explanation(self) -> str:
        return self.field.doc or _DEFAULT_DOCS.get(self.field.type, "")

    @property
    def value_text(self) -> str:
        return format_value(self.field)


_DEFAULT_DOCS = {
    "name": "one name of the comma-separated list",
    "": "one item of the repeated group",
}


def _items(fields: list[DecodedField], space: str, offset: int, rfc: str) -> list[FieldItem]:
    """Items for ``fields``, each citing its own section where it has one (an exec request's
    command: RFC 4254 6.5), else ``rfc``, its message's. A name-list entry that is a marker,
    not an algorithm (ext-info-c, kex-strict-*), says so."""
    items = []
    for f in fields:
        if f.type == "name" and marker_doc(f.value):
            f = replace(f, doc=marker_doc(f.value))
        items.append(FieldItem(f, space, offset, f.rfc or rfc, _items(f.children, space, offset, f.rfc or rfc)))
    return items


def message_items(event: TraceEvent, context: KeyContext | None = None) -> list[FieldItem]:
    """What an attacker on the wire did to the unit and what the decoder noted on it, then the
    message's fields, then its SFTP packets (inside the data field), then the framing of the
    binary packet, then the calculations made with it (``context``: the keys in force, for
    their values). Bytes nobody could open are shown as the parts their size tells."""
    record = event.record
    notes = interception_items(event) + note_items(event)
    worked = [FieldItem(group, "none", 0, "", _items(group.children, "none", 0, ""), title=group.name)
              for group in calculations(event, context)]
    if isinstance(record, VersionRecord):
        return notes + version_items(record)
    if not event.opened:
        return notes + unopened_items(event) + worked
    message = record.message
    rfc = message.spec.rfc if message is not None else PACKET_RFC
    items = _items(record.fields(), "payload", 0, rfc)
    _nest_sftp(event, items)
    items.append(packet_item(record))
    return notes + items + worked


def interception_items(event: TraceEvent) -> list[FieldItem]:
    """What the attacker did to this unit, in a line, and the bytes the sender had sent when
    the attacker changed them (shown in the hex view, in a section of their own)."""
    interception = event.interception
    if interception is None:
        return []
    children = []
    if interception.original is not None:
        original = interception.original
        children.append(FieldItem(DecodedField(
            "as sent", f"byte[{len(original)}]", original, 0, len(original),
            "the bytes the sender put on the wire, before the attacker changed them"), "original", 0, ""))
    group = DecodedField("attacker", "", None, 0, 0, interception.detail)
    return [FieldItem(group, "none", 0, "", children, title=f"attacker: {attacker_mark(interception.action)}")]


def attacker_line(event: TraceEvent) -> str:
    """One line on what the attacker did to the unit, or "" if it did nothing."""
    interception = event.interception
    return "" if interception is None else f"attacker: {attacker_mark(interception.action)}: {interception.detail}"


def note_items(event: TraceEvent) -> list[FieldItem]:
    """The notes of the receiver (an unknown message answered) and of the decoder (why bytes
    could not be opened, a damaged packet, H checked against the host key signature)."""
    notes = list(getattr(event.record, "notes", None) or []) + list(event.notes)
    return [FieldItem(DecodedField("note", "", None, 0, 0, note), "none", 0, "", title="note")
            for note in notes]


def unopened_items(event: TraceEvent) -> list[FieldItem]:
    """A packet seen only encrypted (its length in clear, as encrypt-then-MAC and AES-GCM send
    it), or raw bytes: what is known is where they are on the wire, not what they say."""
    record = event.record
    wire = record.wire
    if event.kind == "raw":
        doc = "bytes no one decoded (the note says why)"
        return [FieldItem(DecodedField("bytes", f"byte[{len(wire)}]", wire, 0, len(wire), doc),
                          "packet", 0, "")]
    mac_start = len(wire) - len(record.mac)
    fields = [
        DecodedField("packet_length", "uint32", record.packet_length, 0, 4,
                     "in clear: encrypt-then-MAC and AES-GCM leave the length unencrypted (the MAC "
                     "or tag covers it), so packet boundaries are known"),
        DecodedField("encrypted", f"byte[{mac_start - 4}]", wire[4:mac_start], 4, mac_start,
                     "padding_length, payload and padding, encrypted: the message cannot be read "
                     "without the session's keys"),
        DecodedField("mac", f"byte[{len(record.mac)}]", record.mac, mac_start, len(wire),
                     "the MAC or authentication tag"),
    ]
    return [FieldItem(f, "packet", 0, PACKET_RFC) for f in fields if f.end > f.start]


def _nest_sftp(event: TraceEvent, items: list[FieldItem]) -> None:
    """Hang each SFTP packet carried by CHANNEL_DATA under its data field. Its spans count
    from the start of the SFTP packet, found inside the data (a packet split over several
    messages is shown without byte positions)."""
    sftp = sftp_messages(event)
    data = next((item for item in items if item.field.name == "data"), None)
    if not sftp or data is None:
        return
    value = data.field.value
    carried = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else b""
    data_start = data.field.start + 4  # past the string's length
    for change in sftp:
        message = change.message
        at = carried.find(change.packet)
        space, offset = ("payload", data_start + at) if at >= 0 else ("none", 0)
        doc = message.spec.doc if message is not None else "a packet the SFTP catalog could not decode"
        if at < 0:
            doc += "; its bytes are split over several messages"
        rfc = message.spec.rfc if message is not None else ""
        group = DecodedField("sftp", "", None, 0, len(change.packet), doc)
        fields = (message.fields or []) if message is not None else []
        data.children.append(FieldItem(group, space, offset, rfc, _items(fields, space, offset, rfc),
                                       title=f"{sftp_name(change)} (SFTP packet, {len(change.packet)} bytes)"))


def packet_item(record) -> FieldItem:
    """The binary packet around the payload: length, padding length, padding and MAC."""
    spans = record.spans()
    docs = {
        "packet_length": ("uint32", record.packet_length,
                          "bytes that follow, excluding the MAC (padding_length, payload, padding)"),
        "padding_length": ("byte", record.padding_length, "how many random padding bytes follow the payload"),
        "payload": (f"byte[{spans['payload'][1] - spans['payload'][0]}]", None,
                    "the message" + (f", compressed with {record.compression}" if is_compressed(record) else "")),
        "padding": (f"byte[{record.padding_length}]", None,
                    "random bytes that round the packet up to the cipher's block size"),
        "mac": (f"byte[{len(record.mac)}]", None, mac_doc(record)),
    }
    children = []
    for name, (start, end) in spans.items():
        kind, value, doc = docs[name]
        shown = value if value is not None else (record.plain + record.mac)[start:end]
        children.append(FieldItem(DecodedField(name, kind, shown, start, end, doc), "packet", 0, PACKET_RFC))
    whole = DecodedField("packet", "", None, 0, len(record.plain) + len(record.mac),
                         "how the message travels: length, padding and MAC around it")
    return FieldItem(whole, "packet", 0, PACKET_RFC, children, title=f"binary packet (seq {record.seq})")


def mac_doc(record) -> str:
    if not record.mac:
        return "none: no MAC before the first NEWKEYS"
    if record.mac_name.startswith("(implicit"):  # an AEAD cipher: its tag, no separate MAC
        return f"the authentication tag of {record.cipher}: it checks the packet, no separate MAC"
    return f"integrity check ({record.mac_name})"


def is_compressed(record) -> bool:
    start, end = record.spans()["payload"]
    return record.plain[start:end] != record.payload


def version_items(record: VersionRecord) -> list[FieldItem]:
    """An identification line, SSH-protoversion-softwareversion SP comments CR LF, split
    into its parts; lines a server sent before it come first."""
    items, pos = [], 0
    for line in record.pre_lines:
        items.append(FieldItem(DecodedField("other line", "text", line.rstrip(b"\r\n").decode("utf-8", "replace"),
                                            pos, pos + len(line),
                                            "a line the server may send before its version"),
                               "version", 0, VERSION_RFC))
        pos += len(line)
    line = record.line
    text = line.rstrip(b"\r\n")
    parts: list[DecodedField] = []
    dash1 = text.find(b"-", 4)
    space = text.find(b" ")
    soft_end = space if space >= 0 else len(text)
    if text.startswith(b"SSH-") and dash1 > 0:
        parts.append(DecodedField("protoversion", "text", text[4:dash1].decode("ascii", "replace"),
                                  4, dash1, "protocol version; 2.0 for SSH-2 (1.99 also speaks 2.0)"))
        parts.append(DecodedField("softwareversion", "text", text[dash1 + 1:soft_end].decode("ascii", "replace"),
                                  dash1 + 1, soft_end, "the implementation's name and version"))
    if space >= 0:
        parts.append(DecodedField("comments", "text", text[space + 1:].decode("utf-8", "replace"),
                                  space + 1, len(text), "free text after a space"))
    parts.append(DecodedField("CR LF", "byte[2]", line[len(text):], len(text), len(line), "ends the line"))
    whole = DecodedField("identification", "text", record.text, 0, len(line),
                         "sent in clear by both sides; both lines go into the exchange hash H", parts)
    items.append(FieldItem(whole, "version", pos, VERSION_RFC, _items(parts, "version", pos, VERSION_RFC)))
    return items


def narrowest_owners(length: int, spans: list[tuple[int, int]]) -> list[int]:
    """For each of ``length`` bytes, the index in ``spans`` ([start, end) pairs) of the
    narrowest span that holds it, or -1: a message's fields over the packet's "payload", a
    name over its name-list. The hex view and the illustrated page both colour bytes so."""
    owners = [-1] * length
    for number in sorted(range(len(spans)), key=lambda n: spans[n][0] - spans[n][1]):
        start, end = max(0, spans[number][0]), min(length, spans[number][1])
        if end > start:
            owners[start:end] = [number] * (end - start)
    return owners


def walk(items: list[FieldItem]):
    for item in items:
        yield item
        yield from walk(item.children)


# -- hex -------------------------------------------------------------------------------------


@dataclass
class HexSection:
    """A run of bytes in the hex view, coloured by part; ``spaces`` says where each coordinate
    space of field spans starts inside ``data``."""

    title: str
    data: bytes
    parts: list[tuple[int, int, str]]
    spaces: dict[str, int]

    def part_at(self, offset: int) -> str:
        for start, end, name in self.parts:
            if start <= offset < end:
                return name
        return ""


def hex_sections(event: TraceEvent, wire: bool) -> list[HexSection]:
    """The bytes to show: what travelled (``wire``) or the plaintext packet and its MAC; then,
    when an attacker changed the unit, the bytes its sender sent."""
    sections = _hex_sections(event, wire)
    original = event.interception.original if event.interception is not None else None
    if original is not None:
        sections.append(HexSection("as the sender sent it, before the attacker changed it", original,
                                   [(0, len(original), "original")], {"original": 0}))
    return sections


def _hex_sections(event: TraceEvent, wire: bool) -> list[HexSection]:
    record = event.record
    if isinstance(record, VersionRecord):
        pre = len(record.wire) - len(record.line)
        parts = [(0, pre, "other"), (pre, len(record.wire), "version")]
        return [HexSection("identification line, in clear on the wire", record.wire, parts, {"version": 0})]
    if not event.opened:
        # Only the wire bytes are known, in either view.
        if event.kind == "raw":
            parts = [(0, len(record.wire), "raw")]
            title = "on the wire, not decoded"
        else:
            mac_start = len(record.wire) - len(record.mac)
            parts = [(0, 4, "clear"), (4, mac_start, "encrypted"), (mac_start, len(record.wire), "mac")]
            title = "on the wire, encrypted; no keys to decrypt it"
        return [HexSection(title, record.wire, parts, {"packet": 0})]
    spans = record.spans()
    compressed = is_compressed(record)
    spaces = {"packet": 0} if compressed else {"packet": 0, "payload": PAYLOAD_OFFSET}
    if wire and record.encrypted:
        # etm and AES-GCM leave packet_length in clear; ChaCha20-Poly1305 encrypts it with a
        # key of its own. The bytes tell which.
        aad = record.aad_length
        clear = aad if record.wire[:aad] == record.plain[:aad] else 0
        parts = [(0, clear, "clear"), (clear, len(record.plain), "encrypted"), (*spans["mac"], "mac")]
        what = f"on the wire: encrypted with {record.cipher}"
        if aad:
            what += f"; packet_length {'in clear' if clear else 'encrypted with a key of its own'}"
        sections = [HexSection(what, record.wire, parts, spaces)]
    else:
        parts = [(*spans[name], part) for name, part in
                 (("packet_length", "length"), ("padding_length", "padlen"), ("payload", "payload"),
                  ("padding", "padding"), ("mac", "mac"))]
        title = "on the wire, in clear (no keys yet)" if not record.encrypted else "plaintext packet and MAC"
        sections = [HexSection(title, record.plain + record.mac, parts, spaces)]
    if compressed:
        sections.append(HexSection(f"payload after {record.compression} decompression", record.payload,
                                   [(0, len(record.payload), "payload")], {"payload": 0}))
    return sections


# -- phases ----------------------------------------------------------------------------------

# Phase keys in session order, with the name shown on screen.
PHASES = {
    "version": "version exchange",
    "kex": "key exchange",
    "auth": "authentication",
    "connection": "connection",
    "sftp": "SFTP",
    "undecoded": "not decoded",  # bytes seen only on the wire (a capture without its keys)
}
# Transport messages that open user authentication.
_SERVICE_MESSAGES = frozenset({MSG.SERVICE_REQUEST, MSG.SERVICE_ACCEPT})


def phase_of(event: TraceEvent, previous: str | None) -> str:
    """Which phase a message belongs to; messages that belong to none (DISCONNECT, IGNORE,
    DEBUG, EXT_INFO, undecodable packets) stay in the phase around them."""
    # The UI asks this once per message of a million-message trace: the message's spec first
    # (which a long file's events know without reading their line), the record only without one.
    spec = event.spec
    if spec is None:
        record = event.record
        if isinstance(record, VersionRecord):
            return "version"
        if isinstance(record, RawUnit) or not record.plain:
            return "undecoded"
        return previous or "kex"
    protocol = spec.protocol
    if protocol == "transport":
        number = spec.number
        if number in ALGORITHM_NEGOTIATION or number in KEX_METHOD:
            return "kex"
        if spec in _SERVICE_MESSAGES:
            return "auth"
        return previous or "kex"
    if protocol == "userauth":
        return "auth"
    if event.carries_sftp():
        return "sftp"
    return "sftp" if previous == "sftp" else "connection"
