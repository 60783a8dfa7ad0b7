"""Traces for reading without the UI: the text of ``sshviz inspect`` (built on the transcript's
formatting) and its JSON form. Both read events only."""

from __future__ import annotations

from ..events import RawUnit
from ..sides import Direction
from ..trace.model import Trace, TraceEvent, sftp_messages, sftp_name
from ..wire.spec import DecodedField
from .transcript import format_step, format_unit, short_hex

SOURCES = {"in-process": "an in-process run (client and server in one process)",
           "connect": "a live session of the sshviz client", "serve": "a live session of the sshviz server",
           "capture": "a packet capture"}


def summary_lines(trace: Trace) -> list[str]:
    header = trace.header
    lines = [f"source: {SOURCES.get(header.source, header.source)}"]
    extra = header.extra
    if "capture" in extra:
        lines[0] += f" ({extra['capture']}, SSH connection {extra.get('connection', 1)})"
    if "sample" in extra:
        lines.append(f"sample: {extra['sample']['name']}: {extra['sample']['description']}")
    if header.created:
        lines.append(f"created: {header.created}")
    lines.append(f"client: {header.client_version or '?'}" + (f"  at {header.client_address}" if header.client_address else ""))
    lines.append(f"server: {header.server_version or '?'}" + (f"  at {header.server_address}" if header.server_address else ""))
    if header.algorithms:
        lines.append("algorithms: " + ", ".join(f"{k}={v}" for k, v in header.algorithms.items()
                                                 if not k.startswith("language")))
    if header.scenario:
        options = {k: v for k, v in header.scenario.items() if k in ("seed", "auth", "command", "rekey")}
        lines.append("scenario: " + ", ".join(f"{k}={v!r}" for k, v in options.items()))
    sealed = sum(1 for e in trace.events if not e.opened)
    lines.append(f"events: {len(trace.events)}" + (f" ({sealed} could not be opened)" if sealed else ""))
    lines += [f"problem: {problem}" for problem in merged_problems(extra.get("problems", []))]
    return lines


def merged_problems(problems: list[str]) -> list[str]:
    """The decoder notes a problem per direction; the same reason both ways is said once."""
    merged = []
    for problem in problems:
        direction, _, reason = problem.partition(": ")
        other = Direction(direction).opposite if direction in set(Direction) else None
        if other and f"{other}: {reason}" in merged:
            merged[merged.index(f"{other}: {reason}")] = f"both directions: {reason}"
        elif problem not in merged:
            merged.append(problem)
    return merged


def event_text(event: TraceEvent, detail: bool = True) -> str:
    """One event as ``sshviz run --print`` shows it, plus what a trace adds (notes, frames);
    without ``detail``, its first line only."""
    if not detail and event.opened:
        line = format_unit(event.index, event.direction, event.record, False)[0]
        # A data packet says little; the SFTP inside says what.
        carried = sftp_messages(event) if event.changes else None
        return line + ("  · " + ", ".join(sftp_name(m) for m in carried) if carried else "")
    text = _full_event_text(event, detail)
    return text if detail else text.split("\n", 1)[0]


def _full_event_text(event: TraceEvent, detail: bool) -> str:
    if event.kind == "raw":
        record: RawUnit = event.record
        lines = [f"#{event.index:<3} {Direction(event.direction).arrow}  {event.name}  ({len(record.wire)} bytes"
                 f"{f', frame {event.frame}' if event.frame is not None else ''})"]
        if detail:
            lines.append(f"      bytes {short_hex(record.wire, 48)}")
        lines += [f"      note: {note}" for note in event.notes]
        return "\n".join(lines)
    if event.kind == "packet" and not event.opened:
        record = event.record
        lines = [f"#{event.index:<3} {Direction(event.direction).arrow}  ENCRYPTED  (seq {record.seq}, "
                 f"{len(record.wire)} bytes on the wire{f', frame {event.frame}' if event.frame is not None else ''})"]
        lines += [f"      note: {note}" for note in event.notes]
        return "\n".join(lines)
    text = format_step(event, detail)
    extra = []
    if event.frame is not None:
        extra.append(f"      frame {event.frame}, t={event.time:.6f}")
    if event.elided:
        extra.append(f"      {event.elided} bytes of channel data were left out when this trace was saved")
    extra += [f"      note: {note}" for note in event.notes]
    if not event.delivered:
        extra.append("      not delivered: the receiver had already closed")
    if extra:
        first, _, rest = text.partition("\n")
        text = "\n".join([first, *extra] + ([rest] if rest else []))
    return text


# -- JSON -------------------------------------------------------------------------------------


def jsonable(value):
    """A value JSON can hold: bytes as hex strings, everything else as is."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def field_json(field: DecodedField) -> dict:
    data = {"name": field.name, "type": field.type, "value": jsonable(field.value),
            "start": field.start, "end": field.end}
    if field.children:
        data["children"] = [field_json(child) for child in field.children]
    return data


def event_json(event: TraceEvent, with_bytes: bool = False) -> dict:
    from ..trace.codec import encode_event  # JSON only: the text of inspect never loads the codec

    record = event.record
    data = {"index": event.index, "time": event.time, "direction": event.direction,
            "kind": event.kind, "name": event.name}
    if event.frame is not None:
        data["frame"] = event.frame
    if event.kind == "version":
        data["line"] = record.text
    elif event.kind == "packet":
        message = record.message
        data.update(seq=record.seq, wire_length=record.wire_length, packet_length=record.packet_length,
                    padding_length=record.padding_length, cipher=record.cipher, mac=record.mac_name,
                    compression=record.compression, opened=event.opened)
        if message is not None:
            data["number"] = message.spec.number
            data["rfc"] = message.spec.rfc
            data["fields"] = [field_json(f) for f in record.fields() if f.name != "msg_number"]
        if with_bytes:
            data.update(wire=record.wire.hex(), plain=record.plain.hex())
    else:
        data["wire_length"] = len(record.wire)
        if with_bytes:
            data["wire"] = record.wire.hex()
    if event.notes:
        data["notes"] = list(event.notes)
    if event.elided:
        data["elided"] = event.elided
    if not event.delivered:
        data["delivered"] = False
    data["changes"] = [jsonable({"side": side, **encode_event(change)}) for side, change in event.changes]
    return data


def trace_json(trace: Trace, events: list[TraceEvent], with_bytes: bool = False) -> dict:
    from ..trace.fileformat import encode_header

    return {"header": jsonable(encode_header(trace.header)),
            "events": [event_json(e, with_bytes) for e in events]}
