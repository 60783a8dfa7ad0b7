"""A readable text transcript of events: one block per message with its decoded fields, and a
line for each thing that changed (negotiation, K and H, keys, authentication, channels).
Used by ``sshviz run`` and by ``--print`` on live connections; it reads events only."""

from __future__ import annotations

from ..events import (AlgorithmsNegotiated, AuthAttempt, AuthBanner, AuthExhausted, AuthFailed,
                      AuthSucceeded, ChannelClosed, ChannelData, ChannelOpened, ChannelOpenFailed,
                      ChannelRefused, Disconnected, ExitSignal, ExitStatus, ExtInfoReceived,
                      HostKeyChecked, KexComputed, KeysActivated, PongReceived, RawUnit,
                      SftpMessage, VersionRecord)
from ..sides import Direction
from ..wire.catalog import DisconnectReason
from ..wire.spec import DecodedField

HEX_LIMIT = 32


def short_hex(data: bytes, limit: int = HEX_LIMIT) -> str:
    if len(data) <= limit:
        return data.hex()
    return f"{data[:limit].hex()}… ({len(data)} bytes)"


def format_value(field: DecodedField) -> str:
    text = _format_value(field)
    return f"{text} ({field.meaning})" if field.meaning else text


def _format_value(field: DecodedField) -> str:
    value = field.value
    if value is None:  # a group (one item of a repeated structure): its parts say it all
        return ""
    if field.type == "repeat":
        return f"{value} item(s)"
    if isinstance(value, (bytes, bytearray)):
        printable = value and all(32 <= b < 127 or b in (9, 10, 13) for b in value) and len(value) <= 80
        if not printable and len(value) > HEX_LIMIT:
            return short_hex(bytes(value))  # which says how many bytes
        text = repr(bytes(value).decode()) if printable else bytes(value).hex()
        return f"{text}  [{len(value)} bytes]" if not printable or len(value) > 8 else text
    if isinstance(value, list):
        return ",".join(value) if value else "(empty)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"0x{short_hex(value.to_bytes((value.bit_length() + 7) // 8, 'big'))} ({value.bit_length()} bits)"
    return repr(value) if isinstance(value, str) else str(value)


def format_fields(fields: list[DecodedField], indent: str = "      ") -> list[str]:
    lines = []
    for field in fields:
        if field.name == "msg_number":
            continue
        lines.append(f"{indent}{field.name:<28} {field.type:<10} {format_value(field)}".rstrip())
        if field.type in ("repeat", "") or (field.children and field.type == "string"):
            lines += format_fields(field.children, indent + "  ")
    return lines


# A direction's arrow, looked up once per unit of long transcripts rather than worked out.
ARROWS = {direction.value: direction.arrow for direction in Direction}


# A packet's first line is the same words around its numbers for every packet of a kind: kept
# per direction, message and cipher, as a long transcript has millions of lines and few kinds.
_PACKET_LINE_PARTS: dict[tuple, tuple[str, str]] = {}


def _packet_line_parts(direction: str, spec, record) -> tuple[str, str]:
    name = spec.name if spec is not None else "?"
    protection = "encrypted" if record.encrypted else "cleartext"
    return (f"{ARROWS[direction]}  {name}  (seq ",
            f" bytes on the wire, {protection}; {spec.rfc if spec is not None else ''})")


def _packet_line(index: int | None, direction: str, record) -> str:
    """A packet's first line: its message, sequence number, size and protection."""
    message = record.message
    spec = message.spec if message is not None else None
    around = _PACKET_LINE_PARTS.get((direction, spec, record.cipher))
    if around is None:
        around = _PACKET_LINE_PARTS[direction, spec, record.cipher] = _packet_line_parts(direction, spec, record)
    before, after = around
    if index is None:
        return f"{before}{record.seq}, {record.wire_length}{after}"
    if index > 99:  # the number fills its column (no padding to work out)
        return f"#{index} {before}{record.seq}, {record.wire_length}{after}"
    return f"#{index:<3} {before}{record.seq}, {record.wire_length}{after}"


def format_unit(index: int | None, direction: str, record, detail: bool) -> list[str]:
    if not isinstance(record, (VersionRecord, RawUnit)):  # a packet, as most are
        lines = [_packet_line(index, direction, record)]
        if detail:
            lines += format_fields(record.fields())
            for note in record.notes:
                lines.append(f"      note: {note}")
        return lines
    head = f"#{index:<3} " if index is not None else ""
    if isinstance(record, VersionRecord):
        lines = [f"{head}{ARROWS[direction]}  VERSION  {record.text}"]
        if detail:
            lines += [f"      (line before the version) {line.decode('utf-8', 'replace').rstrip()}"
                      for line in record.pre_lines]
        return lines
    lines = [f"{head}{ARROWS[direction]}  RAW BYTES  ({len(record.wire)} bytes"
             + (f", {record.note}" if record.note else "") + "; the receiver could not open them)"]
    if detail:
        lines.append(f"      wire  {short_hex(record.wire)}")
    return lines


def format_change(side: str, event, detail: bool) -> list[str]:
    """One or more lines for an event that is not a packet; [] for those not worth a line."""
    p = f"   ⇒ {side}: "
    if isinstance(event, AlgorithmsNegotiated):
        lines = [p + "algorithms negotiated" + ("  (strict KEX on)" if event.strict_kex else "")]
        if detail:
            lines += [f"        {c:<16} {a.reason}" for c, a in event.algorithms.items()
                      if not c.startswith("language")]
        if event.guess_ignored:
            lines.append("        the peer's guessed kex packet was wrong and is ignored")
        return lines
    if isinstance(event, KexComputed):
        lines = [p + f"{event.method}: K, H and keys computed"]
        if detail:
            lines.append(f"        K  = {event.K.hex()}  (encoded as {event.H_inputs[-1][1]}, as H takes it)")
            lines.append(f"        H  = {event.H.hex()}")
            lines.append(f"        session_id = {event.session_id.hex()}")
            for key in event.keys:
                if key.value:
                    lines.append(f"        {key.letter} {key.purpose:<34} {key.value.hex()}")
        return lines
    if isinstance(event, KeysActivated):
        # A sender says so as it queues its NEWKEYS, maybe while handling an earlier message.
        who, when = (("sends", "its NEWKEYS") if (event.direction == "c2s") == (side == "client")
                     else ("receives", "this NEWKEYS"))
        return [p + f"{who} with {event.cipher}, MAC {event.mac}, compression {event.compression} "
                f"from {when} on" + ("; sequence numbers restart at 0" if event.sequence_reset else "")]
    if isinstance(event, HostKeyChecked):
        line = p + f"host key {event.key_type} {event.fingerprint}: {event.status} ({event.detail})"
        if event.status != "changed":
            return [line]
        # As loud as OpenSSH is: a changed key is what a man in the middle looks like.
        bar = "   " + "!" * 76
        return [line, bar, "   !!  WARNING: THE SERVER'S HOST KEY HAS CHANGED. Someone may be between you and",
                "   !!  the server (a man in the middle), reading everything. The connection is refused.",
                bar]
    if isinstance(event, ExtInfoReceived):
        return [p + "extensions: " + ", ".join(event.extensions)]
    if isinstance(event, AuthAttempt):
        return [p + f"auth {event.method} for {event.user!r}: {event.result}"
                + (f" ({event.detail})" if event.detail else "")]
    if isinstance(event, AuthFailed):
        return [p + f"{event.method} not accepted; can continue with: {','.join(event.methods_left)}"
                + (" (partial success)" if event.partial_success else "")]
    if isinstance(event, AuthSucceeded):
        return [p + f"authenticated as {event.user!r} by {event.method}"]
    if isinstance(event, AuthExhausted):
        return [p + "no authentication method left to try"]
    if isinstance(event, AuthBanner):
        return [p + f"banner: {event.message.strip()}"]
    if isinstance(event, ChannelOpened):
        return [p + f"channel {event.channel} ({event.channel_type}) open"]
    if isinstance(event, ChannelOpenFailed):
        return [p + f"channel {event.channel} refused: {event.description}"]
    if isinstance(event, ChannelRefused):
        return [p + f"refused the peer's {event.channel_type!r} channel: {event.description}"]
    if isinstance(event, ChannelData) and side == "client":
        stream = "stderr" if event.stream == 1 else "output"
        return [p + f"{stream}: {event.data.decode('utf-8', 'replace')!r}"]
    if isinstance(event, ExitStatus):
        return [p + f"exit status {event.status}"]
    if isinstance(event, ExitSignal):
        return [p + f"killed by signal {event.signal}"]
    if isinstance(event, ChannelClosed):
        return [p + f"channel {event.channel} closed"]
    if isinstance(event, SftpMessage):
        return format_sftp(side, event, detail)
    if isinstance(event, PongReceived):
        return [p + f"PONG {event.data!r}"]
    if isinstance(event, Disconnected):
        reason = DisconnectReason(event.reason).name if event.reason in DisconnectReason._value2member_map_ else event.reason
        who = "peer" if event.by_peer else side
        return [p + f"disconnected by {who}: {reason}: {event.description}"]
    return []


def format_sftp(side: str, event: SftpMessage, detail: bool) -> list[str]:
    """An SFTP message inside CHANNEL_DATA: a line, and its fields when this side received it."""
    message = event.message
    received = (event.direction == "c2s") == (side == "server")
    name = message.spec.rfc_name if message is not None else "(undecodable)"
    request = message.get("id") if message is not None else None
    head = (f"   ⇒ {side}: SFTP {'received' if received else 'sent'} {name}"
            + (f" id={request}" if request is not None else "") + f" ({len(event.packet)} bytes)")
    lines = [head]
    if detail and received and message is not None and message.fields:
        lines += format_fields([f for f in message.fields if f.name not in ("length", "type", "id")],
                               indent="        ")
    return lines


# How what an attacker on the wire did to a unit is marked, in text and in the UI's ladder
# (one terminal column each).
ATTACKER_MARKS = {"read": "◉", "changed": "✎", "inserted": "+", "dropped": "✂", "replayed": "↻",
                  "reordered": "⇄", "taken": "⤓", "relayed": "→"}


def attacker_mark(action: str) -> str:
    """``"✂ dropped"``: the action with its mark."""
    return f"{ATTACKER_MARKS.get(action, '?')} {action}"


def format_interception(step) -> list[str]:
    interception = step.interception
    if interception is None:
        return []
    lines = [f"   {ATTACKER_MARKS.get(interception.action, '?')} attacker: {interception.action}: "
             f"{interception.detail}"]
    if not interception.reaches_receiver:
        lines.append(f"     (never reached the {Direction(step.direction).receiver})")
    return lines


def format_step(step, detail: bool) -> str:
    lines = format_unit(step.index, step.direction, step.record, detail) + format_interception(step)
    # Data of a channel that carries SFTP is shown as SFTP messages, not as raw output.
    sftp_channels = {(side, e.channel) for side, e in step.changes if isinstance(e, SftpMessage)}
    for side, event in step.changes:
        if isinstance(event, ChannelData) and (side, event.channel) in sftp_channels:
            continue
        lines += format_change(side, event, detail)
    return "\n".join(lines)
