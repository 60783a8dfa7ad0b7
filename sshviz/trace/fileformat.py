"""The sshviz trace file: a YAML document holding a ``Trace``, written and read back into exactly
the same events. docs/trace-format.md is the specification; this module is its only reader and
writer.

Speed decides the shape. PyYAML spends a few microseconds on every scalar, so the bulk of a
session (channel data and window adjustments) is written one line per packet, with the plain
and wire bytes in hex and bulk changes in their one-line form; packets where more happens
(a key exchange, new keys, authentication) are written as mappings with every event spelled
out. Bytes anywhere else are ``!hex`` scalars. Big transfers are kept small by eliding: after
the first ``ELIDE_AFTER`` bytes of channel data in a direction, each data packet keeps only its
first ``ELIDED_KEEP`` data bytes (the event says how many were left out).
"""

from __future__ import annotations

import dataclasses
import os
import re
import struct
from dataclasses import fields as dataclass_fields
from functools import cache
from pathlib import Path

from ..events import RawUnit, VersionRecord
from ..transport.packet import PacketRecord
from ..wire.catalog import SPANS_ON_DEMAND, SSH
from ..wire.spec import Catalog, Message, unknown_spec
from ..wire.types import DecodeError
from .codec import (CodecError, decode_change, decode_event, decode_value, encode_change,
                    encode_event, encode_value, fast_compact_change)
from .elide import ELIDE_AFTER, BulkCounter
from .model import ATTACKER_ACTIONS, Interception, Trace, TraceEvent, TraceHeader, paused_gc

FORMAT_NAME = "sshviz-trace"
FORMAT_VERSION = 1
NO_PROTECTION = ("none", "none", "none", 0)
HEADER_COMMENT = "# sshviz trace: one SSH session, message by message. Format: docs/trace-format.md\n"

@cache
def _yaml():
    """PyYAML, and its dumper and loader with the trace's ``!hex`` tag: imported when a file is
    first read or written (a capture's import or a live session needs none of it, and it is a
    good part of start-up)."""
    import yaml

    try:  # libyaml's C parser and emitter when PyYAML was built with them
        from yaml import CSafeDumper as Dumper
        from yaml import CSafeLoader as Loader
    except ImportError:  # pragma: no cover - pure-Python PyYAML
        from yaml import SafeDumper as Dumper
        from yaml import SafeLoader as Loader

    class TraceDumper(Dumper):
        pass

    class TraceLoader(Loader):
        pass

    def construct_hex(loader, node):
        text = loader.construct_scalar(node)
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise yaml.constructor.ConstructorError(None, None, f"!hex {text[:40]!r} is not hex",
                                                    node.start_mark) from None

    TraceDumper.add_representer(bytes, lambda dumper, data: dumper.represent_scalar("!hex", data.hex()))
    TraceLoader.add_constructor("!hex", construct_hex)
    return yaml, TraceDumper, TraceLoader


class TraceFileError(ValueError):
    """A file that is not a readable sshviz trace; the message says what and where."""


# -- writing ----------------------------------------------------------------------------------


def save_trace(trace: Trace, path: str | os.PathLike, elide_after: int | None = ELIDE_AFTER) -> None:
    """Write ``trace`` to ``path`` (atomically: a reader never sees half a file)."""
    text = dumps_trace(trace, elide_after)
    path = Path(path)
    import tempfile

    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def dumps_trace(trace: Trace, elide_after: int | None = ELIDE_AFTER) -> str:
    """The file's text. ``elide_after`` None keeps every byte of channel data."""
    writer = _Writer(elide_after)
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "header": encode_header(trace.header),
        "count": len(trace.events),
        "events": [writer.event(position, event) for position, event in enumerate(trace.events)],
    }
    yaml, dumper, _ = _yaml()
    return HEADER_COMMENT + yaml.dump(document, Dumper=dumper, sort_keys=False,
                                      allow_unicode=True, width=1 << 30)


def encode_header(header: TraceHeader) -> dict:
    data = {}
    for f in dataclass_fields(header):
        value = getattr(header, f.name)
        if f.name == "extra":
            value = dict(value)
            if "early_events" in value:
                value["early_events"] = [encode_event(e) for e in value["early_events"]]
        data[f.name] = encode_value(value)
    return data


class _Writer:
    def __init__(self, elide_after: int | None):
        self.bulk = BulkCounter(elide_after)
        self.protection = {"c2s": NO_PROTECTION, "s2c": NO_PROTECTION}

    def event(self, position: int, event: TraceEvent):
        record = event.record
        if isinstance(record, VersionRecord):
            data = {"version": f"{event.direction} {event.time!r}",
                    "line": record.line.decode("latin-1")}
            if record.pre_lines:
                data["pre"] = [line.decode("latin-1") for line in record.pre_lines]
            return self._common(data, position, event)
        if isinstance(record, RawUnit):
            data = {"raw": f"{event.direction} {event.time!r}", "wire": record.wire}
            if record.note:
                data["note"] = record.note
            return self._common(data, position, event)
        return self._packet(position, event)

    def _common(self, data: dict, position: int, event: TraceEvent, changes=None) -> dict:
        record = event.record
        if event.index != position:
            data["index"] = event.index
        if record.time != event.time:
            data["record_time"] = record.time
        if not event.delivered:
            data["delivered"] = False
        if event.frame is not None:
            data["frame"] = event.frame
        if event.notes:
            data["notes"] = list(event.notes)
        if event.elided and "elided" not in data:
            data["elided"] = event.elided
        if event.interception is not None:
            data["interception"] = _encode_interception(event.interception)
        changes = changes if changes is not None else event.changes
        if changes:
            data["changes"] = [encode_change(side, e, getattr(record, "payload", b""))
                               for side, e in changes]
        return data

    def _packet(self, position: int, event: TraceEvent):
        record: PacketRecord = event.record
        message = record.message
        name = message.spec.name if message is not None else "-"
        plain, wire, mac, payload = record.plain, record.wire, record.mac, record.payload
        changes = event.changes
        elided = 0
        shortened = self.bulk.shorten(event)
        if shortened is not None:
            plain, wire, payload = shortened.plain, shortened.wire, shortened.payload
            changes, elided = shortened.changes, shortened.elided
        derived_payload = plain[5: len(plain) - record.padding_length] if len(plain) >= 5 else b""
        derived_mac = wire[len(plain):] if len(wire) >= len(plain) else b""
        protection = (record.cipher, record.mac_name, record.compression, record.aad_length)
        head = f"{event.direction} {event.time!r} {record.seq} {name}"
        optional = {}  # allowed in the one-line form too
        mapping_only = {}
        if protection != self.protection[event.direction]:
            self.protection[event.direction] = protection
            mapping_only["protect"] = {"cipher": record.cipher, "mac": record.mac_name,
                                       "compression": record.compression, "aad": record.aad_length}
        if mac != derived_mac:
            optional["mac"] = mac
        if payload != derived_payload:
            optional["payload"] = payload
        elided = elided or event.elided
        if elided:
            optional["elided"] = elided
        if len(plain) < 5 or (record.packet_length, record.padding_length) != _lengths(plain):
            mapping_only["lengths"] = [record.packet_length, record.padding_length]
        if record.notes:
            mapping_only["record_notes"] = list(record.notes)
        simple = (not mapping_only and event.index == position and record.time == event.time
                  and event.delivered and not event.notes and event.interception is None)
        encoded_changes = [encode_change(side, e, payload) for side, e in changes]
        if simple and all(isinstance(c, str) for c in encoded_changes):
            tokens = [head, f"plain={plain.hex()}", f"wire={'=' if wire == plain else wire.hex()}"]
            tokens += [f"{key}={value.hex() if isinstance(value, bytes) else value}"
                       for key, value in optional.items()]
            if event.frame is not None:
                tokens.append(f"frame={event.frame}")
            return " | ".join([" ".join(tokens), *encoded_changes])
        data = {"packet": head, "plain": plain}
        if wire != plain:
            data["wire"] = wire
        data.update(mapping_only)
        data.update(optional)
        return self._common(data, position, event, changes)


def _lengths(plain: bytes) -> tuple[int, int]:
    return int.from_bytes(plain[:4], "big"), plain[4]


# -- reading ----------------------------------------------------------------------------------


def load_trace(path: str | os.PathLike) -> Trace:
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TraceFileError(f"{path}: neither a trace nor a packet capture (not UTF-8 text)") from None
    if "\x00" in text:
        raise TraceFileError(f"{path}: neither a trace nor a packet capture (binary data)")
    return loads_trace(text, str(path), data)


def loads_trace(text: str, name: str = "<trace>", data: bytes | None = None) -> Trace:
    """The trace in ``text``; ``data``, when given, is the same text as the file's bytes (so
    that they need not be made again to look for control characters)."""
    with paused_gc():
        document = _parse_quickly(text, name, data)
        if document is None:  # laid out otherwise than the writer does: YAML reads it all
            document = _parse_yaml(text, name)
        return _read_document(document, text, name)


def _parse_quickly(text: str, name: str, data: bytes | None = None):
    """The document, its one-line entries read without YAML (see _split_events); None when
    the file is laid out in a way that does not allow it. (Nothing but the document keeps the
    entries once this returns: each is dropped as soon as it is read.)"""
    split = _split_events(text, data)
    if split is None:
        return None
    reduced, lines_of, entries = split
    return _merge_events(_parse_yaml(reduced, name, lines_of), entries)


def _parse_yaml(text: str, name: str, lines_of: list[int] | None = None):
    """The YAML document; ``lines_of`` maps its line numbers to those of the file it came from."""
    yaml, _, loader = _yaml()
    try:
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = ""
        if mark:
            line = lines_of[mark.line] if lines_of is not None and mark.line < len(lines_of) else mark.line
            where = f" at line {line + 1}, column {mark.column + 1}"
        raise TraceFileError(f"{name}: not valid YAML{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:  # its text goes on with where, on lines of their own
        raise TraceFileError(f"{name}: not valid YAML: {str(exc).splitlines()[0]}") from None


EVENTS_KEY = "\nevents:\n"
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\n"
_DIRECTION_WORDS = ("c2s ", "s2c ")
_BLANKS = (" ", "\t")
_TOP_LEVEL_LINE = re.compile(r"\n(?=[^ \t\n#-])")


def _split_events(text: str, data: bytes | None = None):
    """The writer's one-line event entries taken out of the text, so that only the rest goes
    through the YAML parser (which spends most of a load on them otherwise): (the text left,
    the file's line number of each of its lines, one item per event entry: the entry's string,
    or None where the YAML parser reads it). None when the events are not where the writer puts
    them: then YAML reads all of it.

    An entry is taken only when YAML would read it as exactly its own text: a plain scalar on
    one line that starts with a direction, holds no ':' or '#' and ends in no blank; and only
    from a file without control characters (YAML refuses them, a CR breaks lines). Anything
    else between two entries (comments, blank lines, continued lines) goes to YAML with the
    entry before it."""
    start = text.find(EVENTS_KEY)
    if start < 0 or not text.startswith("- ", start + len(EVENTS_KEY)):
        return None
    ascii_text = text.isascii()
    if ascii_text and (text.encode("ascii") if data is None else data).translate(None, _PRINTABLE_ASCII):
        return None
    body_start = start + len(EVENTS_KEY)
    line = text.count("\n", 0, body_start)  # the file's line number of the first entry, from 0
    pieces = text[body_start + 2:].split("\n- ")
    # The last piece goes on with the keys after the events, if any, from the first line that
    # is not indented.
    last = pieces[-1]
    after = _TOP_LEVEL_LINE.search(last)
    tail = last[after.start() + 1:] if after else ""
    last = last[:after.start()] if after else last
    pieces[-1] = last[:-1] if last.endswith("\n") and not tail else last
    kept: list[str] = []
    lines_of = list(range(line))
    entries: list[str | None] = []
    for piece in pieces:
        if ("\n" not in piece and piece[:4] in _DIRECTION_WORDS and ":" not in piece and "#" not in piece
                and piece[-1] not in _BLANKS and (ascii_text or piece.isprintable())):
            entries.append(piece)
            line += 1
            continue
        entries.append(None)
        size = piece.count("\n") + 1
        kept.append("- " + piece)
        lines_of += range(line, line + size)
        line += size
    lines_of += range(line, line + tail.count("\n") + 1)
    return text[:body_start] + "\n".join(kept) + "\n" + tail, lines_of, entries


def _merge_events(document, entries: list[str | None]):
    """``document`` with the one-line entries put back among those YAML read; None if it
    does not have the shape the split expected."""
    if not isinstance(document, dict):
        return None
    parsed = document.get("events")
    parsed = [] if parsed is None else parsed
    if not isinstance(parsed, list) or len(parsed) != entries.count(None):
        return None
    others = iter(parsed)
    document["events"] = [entry if entry is not None else next(others) for entry in entries]
    return document


def _read_document(document, text: str, name: str) -> Trace:
    header, entries = checked_document(document, name)
    reader = _Reader()
    read, read_line = reader.event, reader.line  # most entries are lines: straight to their reader
    events = []
    append = events.append
    for position, entry in enumerate(entries):
        entries[position] = None  # read once: its memory serves the events made from it
        try:
            append(read_line(position, entry) if type(entry) is str else read(position, entry))
        except (CodecError, DecodeError, ValueError, TypeError, KeyError, IndexError) as exc:
            line = _line_of_event(text, position)
            raise TraceFileError(f"{name}: event {position}{f' (line {line})' if line else ''}: "
                                 f"{exc}") from None
    return Trace(header, events)


def checked_document(document, name: str, entries_count: int | None = None) -> tuple[TraceHeader, list]:
    """The header and the event entries of a trace document, once it is known to be one that
    this sshviz reads; ``entries_count`` is how many events the file holds in all (when some
    were taken out before YAML read it), which its declared count must match."""
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise TraceFileError(f"{name}: not an sshviz trace (it has no 'format: {FORMAT_NAME}' line)")
    version = document.get("version")
    if not isinstance(version, int):
        raise TraceFileError(f"{name}: trace format version missing or not a number")
    if version > FORMAT_VERSION:
        raise TraceFileError(f"{name}: written by a newer sshviz (trace format version {version}; "
                             f"this sshviz reads version {FORMAT_VERSION} and older): update sshviz")
    entries = document.get("events")
    if not isinstance(entries, list):
        raise TraceFileError(f"{name}: 'events' is missing or not a list")
    try:
        header = _decode_header(document.get("header") or {})
    except (CodecError, TypeError) as exc:
        raise TraceFileError(f"{name}: header: {exc}") from None
    count = document.get("count")
    held = len(entries) if entries_count is None else entries_count
    if isinstance(count, int) and count != held:
        raise TraceFileError(f"{name}: truncated or edited: it declares {count} events but holds {held}")
    return header, entries


def _decode_header(data) -> TraceHeader:
    if not isinstance(data, dict):
        raise CodecError("must be a mapping")
    known = {f.name for f in dataclass_fields(TraceHeader)}
    values = {k: v for k, v in data.items() if k in known}
    extra = dict(values.get("extra") or {})
    if "early_events" in extra:
        extra["early_events"] = [decode_event(e, "early event") for e in extra["early_events"]]
    values["extra"] = extra
    if "source" not in values:
        raise CodecError("'source' is missing")
    header = TraceHeader(**values)
    header.algorithms = decode_value(header.algorithms, dict[str, str], "algorithms")
    return header


def _line_of_event(text: str, position: int) -> int | None:
    """The line where event ``position`` starts (only computed when reporting an error)."""
    yaml = _yaml()[0]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        for key, value in root.value:
            if key.value == "events":
                return value.value[position].start_mark.line + 1
    except Exception:  # the error being reported matters more than its line number
        return None
    return None


class _Reader:
    def __init__(self):
        self.protection = {"c2s": NO_PROTECTION, "s2c": NO_PROTECTION}

    def event(self, position: int, entry) -> TraceEvent:
        if isinstance(entry, str):
            return self.line(position, entry)
        if not isinstance(entry, dict):
            raise CodecError(f"expected a line or a mapping, found {type(entry).__name__}")
        if "packet" in entry:
            direction, time, seq, name = _head(entry["packet"], 4)
            return self._packet(position, entry, direction, float(time), int(seq), name)
        if "version" in entry:
            direction, time = _head(entry["version"], 2)
            record = VersionRecord(direction, _latin1(entry.get("line")),
                                   [_latin1(line) for line in entry.get("pre", [])], float(time))
            return self._finish(position, entry, direction, record)
        if "raw" in entry:
            direction, time = _head(entry["raw"], 2)
            record = RawUnit(direction, _bytes(entry.get("wire"), "wire"), float(time), entry.get("note", ""))
            return self._finish(position, entry, direction, record)
        raise CodecError("expected a 'packet', 'version' or 'raw' entry")

    def _finish(self, position: int, entry: dict, direction: str, record) -> TraceEvent:
        payload = getattr(record, "payload", b"")
        time = record.time  # the event's; the record's own differs when the file says so
        if "record_time" in entry:
            record = dataclasses.replace(record, time=float(entry["record_time"]))
        return TraceEvent(entry.get("index", position), time, direction, record,
                          [decode_change(c, f"change {i}", payload)
                           for i, c in enumerate(entry.get("changes", []))],
                          entry.get("delivered", True), list(entry.get("notes", [])),
                          entry.get("frame"), entry.get("elided", 0),
                          _decode_interception(entry.get("interception")))

    def line(self, position: int, line: str) -> TraceEvent:
        # Most of a long trace is lines like this, read here without a step to spare; anything
        # unusual (or wrong, to say what) is read by _checked_line.
        found = _PACKET_LINE.match(line)
        known = _LINE_SPECS.get(found[4]) if found else None
        if known is None:
            return self._checked_line(position, line)
        direction, time, seq, _, plain, wire, mac, payload, elided, frame, changes = found.groups()
        spec, lazy = known
        try:
            plain = fromhex(plain)
            wire = plain if wire == "=" else fromhex(wire)
            padding_length = plain[4]
            mac = wire[len(plain):] if mac is None else fromhex(mac)
            payload = plain[5: len(plain) - padding_length] if payload is None else fromhex(payload)
            time = float(time)
            cipher, mac_name, compression, aad_length = self.protection[direction]
            record = PacketRecord(direction, int(seq), wire, plain, mac, payload, _u32(plain)[0], padding_length,
                                  cipher, mac_name, compression, aad_length,
                                  DecodedOnUse(spec, payload) if lazy else Catalog.decode_as(spec, payload, spans=True),
                                  time)
            return TraceEvent(position, time, direction, record,
                              [fast_compact_change(c, payload) for c in changes.split(" | ")] if changes else [],
                              True, [],
                              None if frame is None else int(frame), 0 if elided is None else int(elided))
        except (ValueError, KeyError, IndexError, TypeError, CodecError, DecodeError):
            return self._checked_line(position, line)

    def _checked_line(self, position: int, line: str) -> TraceEvent:
        unit, *changes = line.split(" | ")
        direction, time, seq, name, *rest = unit.split(" ")
        if direction not in ("c2s", "s2c"):
            raise CodecError(f"direction {direction!r} is not c2s or s2c")
        values = dict(token.split("=", 1) for token in rest)
        plain = _hex_token(values, "plain")
        wire = plain if values.get("wire") == "=" else _hex_token(values, "wire")
        record = self._record(direction, int(seq), name, plain, wire, _hex_token(values, "mac", None),
                              _hex_token(values, "payload", None), None, float(time))
        frame = values.get("frame")
        payload = record.payload
        return TraceEvent(position, record.time, direction, record,
                          [decode_change(c, f"change {i}", payload) for i, c in enumerate(changes)],
                          frame=int(frame) if frame is not None else None,
                          elided=int(values.get("elided", 0)))

    def _packet(self, position: int, entry: dict, direction: str, time: float, seq: int,
                name: str) -> TraceEvent:
        if direction not in ("c2s", "s2c"):
            raise CodecError(f"direction {direction!r} is not c2s or s2c")
        protect = entry.get("protect")
        if protect is not None:
            self.protection[direction] = (protect["cipher"], protect["mac"], protect["compression"],
                                          int(protect["aad"]))
        plain = _bytes(entry.get("plain"), "plain")
        wire = _bytes(entry["wire"], "wire") if "wire" in entry else plain
        record = self._record(direction, seq, name, plain, wire, entry.get("mac"), entry.get("payload"),
                              entry.get("lengths"), time)
        record.notes = list(entry.get("record_notes", []))
        return self._finish(position, entry, direction, record)

    def _record(self, direction: str, seq: int, name: str, plain: bytes, wire: bytes, mac, payload,
                lengths, time: float) -> PacketRecord:
        cipher, mac_name, compression, aad = self.protection[direction]
        if lengths is not None:
            packet_length, padding_length = lengths
        elif len(plain) >= 5:
            packet_length, padding_length = int.from_bytes(plain[:4], "big"), plain[4]
        else:
            raise CodecError("a packet without its first 5 plaintext bytes needs 'lengths'")
        if mac is None:
            mac = wire[len(plain):]
        if payload is None:
            payload = plain[5: len(plain) - padding_length] if len(plain) >= 5 else b""
        record = PacketRecord(direction, seq, wire, plain, mac, payload, packet_length, padding_length,
                              cipher, mac_name, compression, aad)
        record.message = _message(name, payload)
        record.time = time
        return record


# What _Reader._line reads by itself: a packet line with its keys in the order the writer
# puts them, of a message named plainly (spec, whether it is decoded on use).
# The pattern only cuts the line; the values are checked as they are converted.
_PACKET_LINE = re.compile(r"([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) plain=([^ ]*) wire=([^ ]*)(?: mac=([^ ]*))?"
                          r"(?: payload=([^ ]*))?(?: elided=([^ ]+))?(?: frame=([^ ]+))?(?: \| (.*))?\Z")
_LINE_SPECS = {name: (spec, spec in SPANS_ON_DEMAND) for name, spec in SSH.by_name.items()}
fromhex = bytes.fromhex
_u32 = struct.Struct(">I").unpack_from


class DecodedOnUse(Message):
    """A message whose payload is decoded (with spans) the first time its values or fields
    are read. A payload that does not decode keeps its bytes as ``data`` (a damaged file)."""

    __slots__ = ("_payload",)

    def __init__(self, spec, payload: bytes):
        object.__setattr__(self, "spec", spec)
        object.__setattr__(self, "_payload", payload)

    def _decode(self) -> None:
        try:
            decoded = Catalog.decode_as(self.spec, self._payload, spans=True)
            values, fields = decoded.values, decoded.fields
        except DecodeError as exc:
            values, fields = {"data": self._payload[1:], "error": str(exc)}, []
        _VALUES.__set__(self, values)
        _FIELDS.__set__(self, fields)

    def _get(self, slot):
        try:
            return slot.__get__(self)
        except AttributeError:
            self._decode()
            return slot.__get__(self)

    values = property(lambda self: self._get(_VALUES))
    fields = property(lambda self: self._get(_FIELDS))


_VALUES, _FIELDS = Message.__dict__["values"], Message.__dict__["fields"]


_REQUIRED = object()


def _hex_token(values: dict, key: str, default=_REQUIRED):
    text = values.get(key)
    if text is None:
        if default is _REQUIRED:
            raise CodecError(f"the packet line has no {key}=")
        return default
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise CodecError(f"{key}= is not hex: {text[:24]!r}") from None


def _head(text, count: int) -> list[str]:
    parts = str(text).split(" ")
    if len(parts) != count:
        raise CodecError(f"{text!r} should have {count} space-separated parts")
    return parts


def _latin1(text) -> bytes:
    if not isinstance(text, str):
        raise CodecError("a version line must be text")
    return text.encode("latin-1")


def _bytes(value, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise CodecError(f"{what} must be a !hex value")
    return value


def _message(name: str, payload: bytes) -> Message | None:
    """The message ``payload`` holds, decoded as the spec the trace names (numbers reused by
    key exchange and authentication methods need the name to be read right)."""
    if name == "-":
        return None
    spec = SSH.by_name.get(name)
    if spec is not None:
        if spec in SPANS_ON_DEMAND:
            return DecodedOnUse(spec, payload)
        return Catalog.decode_as(spec, payload, spans=True)
    if name.startswith("UNKNOWN_"):
        return Message(unknown_spec(payload[0]), {"data": payload[1:]})
    if name.endswith("?"):  # a number whose method was not known: opaque
        return SSH.decode(payload, None)
    raise CodecError(f"unknown message name {name!r}")


def _encode_interception(interception: Interception) -> dict:
    data = {"action": interception.action, "detail": interception.detail}
    if interception.original is not None:
        data["original"] = interception.original
    return data


def _decode_interception(data) -> Interception | None:
    if data is None:
        return None
    if not isinstance(data, dict) or data.get("action") not in ATTACKER_ACTIONS:
        raise CodecError(f"interception: expected an action among {', '.join(ATTACKER_ACTIONS)}")
    original = data.get("original")
    return Interception(data["action"], str(data.get("detail", "")),
                        None if original is None else _bytes(original, "interception original"))


# -- one event a line (the event feed of ``serve``) -------------------------------------------


def dump_line(value) -> str:
    """``value`` (what the file holds: entries, strings, mappings) as one line of YAML: every
    scalar double-quoted, so line breaks and other control characters are escaped."""
    yaml, dumper, _ = _yaml()
    text = yaml.dump(value, Dumper=dumper, default_flow_style=True, default_style='"',
                     allow_unicode=False, width=1 << 30, sort_keys=False)
    text = text.rstrip("\n")
    if "\n" in text:  # never expected: a line's framing must not depend on it
        raise CodecError("a value did not fit on one line")
    return text


def load_line(text: str):
    yaml, _, loader = _yaml()
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise CodecError(f"not valid YAML: {str(exc).splitlines()[0]}") from None


class EntryWriter:
    """One trace's events written one at a time, each as one line: the entry the file would
    hold (its one-line form, or its mapping) by ``dump_line``. Like the file, it writes a
    direction's protection only when it changes, so an ``EntryReader`` must read the lines in
    the order written (a line written again for the same event, with more changes, is fine)."""

    def __init__(self):
        self._writer = _Writer(None)  # a live trace is shortened as it is recorded

    def line(self, event: TraceEvent) -> str:
        return dump_line(self._writer.event(event.index, event))


class EntryReader:
    """Reads an ``EntryWriter``'s lines back into trace events; a bad line is a CodecError."""

    def __init__(self):
        self._reader = _Reader()

    def event(self, index: int, line: str) -> TraceEvent:
        try:
            return self._reader.event(index, load_line(line))
        except CodecError:
            raise
        except (DecodeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise CodecError(str(exc) or type(exc).__name__) from None
