"""Opening a long trace file for the UI without reading every line first.

``load_trace`` turns each line into its objects (the record, its bytes, the decoded message,
the changes): about 8 µs and 1.7 KB a message, so a million messages cost seconds and
gigabytes before the first frame. Most of a long trace is one-line packet entries, and the UI
shows a few dozen at a time; so here each one-line entry becomes a ``LazyEvent`` that knows its
place, direction and message (what the timeline indexes), and reads its line from the file
(``os.pread`` at the offset kept for it) the first time anything else is asked of it. The rest
of the file (its header, the multi-line entries of the key exchange and the like) is read by
YAML as ``load_trace`` reads it, and a file laid out otherwise than the writer lays it out is
read by ``load_trace`` whole.

The file's one-line entries are checked as they are scanned as far as they can be without
reading them (an entry of YAML's own syntax, an unknown message name or a count that does not
match is an error at once, as with ``load_trace``). A line found damaged when it is read, or a
file changed since it was opened, becomes a unit of raw bytes whose note says so: the UI goes
on. ``inspect``, ``export`` and the reports read every event anyway and use ``load_trace``.
"""

from __future__ import annotations

import os
import re
import weakref
from array import array
from bisect import bisect_right
from functools import cache
from itertools import accumulate, repeat
from operator import itemgetter
from pathlib import Path

from ..events import RawUnit
from ..wire.types import DecodeError
from .codec import COMPACT_TYPES, CodecError
from .fileformat import (_LINE_SPECS, EVENTS_KEY, TraceFileError, _parse_yaml, _Reader,
                         checked_document, load_trace)
from .model import LazyEvent, Trace, TraceEvent, paused_gc

CHUNK = 2 << 20  # bytes read at a time while scanning
_PRINTABLE = bytes(range(0x20, 0x7F))
_PRINTABLE_ASCII = _PRINTABLE + b"\n"
_NOT_CONTROLS = _PRINTABLE_ASCII + bytes(range(0x80, 0x100))
_HEADS = (b"- c2s ", b"- s2c ")
_SPECS = {name.encode(): spec for name, (spec, _) in _LINE_SPECS.items()}
_SFTP_WORD = b" SftpMessage "
# A packet line's direction and message name (the time and sequence number between them); the
# newline before it lets the search look for "\n- " as a whole, not at every position.
_HEADS_PATTERN = re.compile(rb"\n- ([cs]2[cs]) [^ \n]* [^ \n]* ([^ \n]*)")
_DIRECTIONS = {b"c2s": "c2s", b"s2c": "s2c"}
_USUAL = bytes(b for b in _PRINTABLE_ASCII if b not in b":#")
_LAST_BYTE = itemgetter(slice(-1, None))
_SFTP_DIRECTIONS = re.compile(rb" SftpMessage [0-9]+ (c2s|s2c) ")


def _sftp_directions(line: bytes) -> list[str]:
    """The directions of the SFTP messages a packet line's changes name."""
    return [direction.decode() for direction in _SFTP_DIRECTIONS.findall(line)]


class _NotQuick(Exception):
    """The file is laid out otherwise than the writer lays it out: read it whole instead."""


def open_long_trace(path: str | os.PathLike) -> Trace:
    """The trace in ``path``, its one-line entries read when first looked at (see above)."""
    path = Path(path)
    try:
        with paused_gc():
            return _LineSource(path).open()
    except _NotQuick:
        return load_trace(path)


class _LineSource:
    """The open file a long trace's LazyEvents read their lines from, with where each line is
    and the protection (cipher, MAC, compression) in force at each place."""

    @staticmethod
    @cache
    def line_can_hold(kinds) -> bool:
        """Whether a one-line entry can carry a change of ``kinds`` (a type or a tuple): only
        the kinds with a one-line form can (the rest need a mapping)."""
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        return any(kind.__name__ in COMPACT_TYPES for kind in kinds)

    def __init__(self, path: Path):
        self.name = str(path)
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)
        stat = os.fstat(self.fd)
        self.identity = (stat.st_size, stat.st_mtime_ns)
        self.starts = array("q")  # per event: where its line starts in the file (0 if not a line)
        self.ends = array("q")
        self.mapped: list[int] = []  # the events YAML reads (their entries are not lines)

    # -- opening ---------------------------------------------------------------------------

    def open(self) -> Trace:
        """The trace, its events reading their lines from here. (It keeps no reference to
        them: when the trace goes, reference counting frees it all and closes the file.)"""
        prefix, offset = self._prefix()
        kept = [prefix]  # the text YAML reads: the header, the multi-line entries, what follows
        lines_of = list(range(prefix.count("\n")))  # its lines' numbers in the file
        line_number = len(lines_of)
        events: list[LazyEvent | None] = []
        pending: list[bytes] = []  # the entry being read, line by line, and where it starts
        pending_start = pending_line = 0
        pending_plain = True
        tail: list[bytes] | None = None  # top-level keys after the events
        size = CHUNK
        while True:
            body = os.pread(self.fd, size, offset)
            if not body:
                break
            cut = body.rfind(b"\n") + 1
            if not cut:
                if len(body) < size:
                    raise _NotQuick  # a last line without its end
                size *= 2  # a line longer than a chunk
                continue
            size = CHUNK
            if cut < len(body):
                body = body[:cut]  # the next chunk starts with the line cut here
            position = offset
            offset += cut
            # Printable ASCII but ':' and '#' deleted: nothing left in the usual chunk.
            unusual = body.translate(None, _USUAL)
            if unusual and body.translate(None, _NOT_CONTROLS):
                raise _NotQuick  # control characters: YAML refuses them, a CR breaks lines
            plain = not unusual or not body.translate(None, _PRINTABLE_ASCII)
            lines = body.split(b"\n")
            lines.pop()  # after the last line's end
            if tail is None and not unusual and (not pending or lines[0][:2] == b"- "):
                if pending:  # it ends where this chunk starts
                    self._entry(pending, pending_start, pending_line, events, kept, lines_of, pending_plain)
                    pending = []
                bulk = self._bulk(body, lines, position, len(events))
                if bulk is not None:  # the usual chunk of a long trace: packet lines only
                    events += bulk
                    line_number += len(lines)
                    continue
            for line in lines:
                if tail is not None:
                    tail.append(line)
                elif line[:2] == b"- ":
                    if pending:
                        self._entry(pending, pending_start, pending_line, events, kept, lines_of,
                                    pending_plain)
                    pending, pending_start, pending_line = [line], position, line_number
                    pending_plain = plain
                elif line[:1] in (b" ", b"#") or not line:
                    if not pending:
                        raise _NotQuick
                    pending.append(line)  # goes on with the entry before it, as YAML reads it
                else:
                    tail = [line]
                position += len(line) + 1
                line_number += 1
        if pending:
            self._entry(pending, pending_start, pending_line, events, kept, lines_of, pending_plain)
        if tail:
            lines_of += range(line_number - len(tail), line_number)
            kept.append("\n".join(line.decode("utf-8", "replace") for line in tail) + "\n")
        return self._finish("".join(kept), lines_of, events)

    def _bulk(self, body: bytes, lines: list[bytes], position: int, index: int) -> list[LazyEvent] | None:
        """The events of a chunk (of printable ASCII without ':' or '#') that holds nothing but
        packet lines YAML reads as their own text (no blank at the end) naming messages of the
        catalog, made with no step of Python per line but their making; None for any other
        chunk (read line by line)."""
        if b" " in set(map(_LAST_BYTE, lines)):
            return None
        heads = _HEADS_PATTERN.findall(b"\n" + body)
        if len(heads) != len(lines):
            return None  # a line that does not start with a direction: not only packet lines
        directions, names = zip(*heads)
        try:
            directions = list(map(_DIRECTIONS.__getitem__, directions))
            specs = list(map(_SPECS.__getitem__, names))
        except KeyError:
            return None  # a name outside the catalog: read line by line (as load_trace reads it)
        if _SFTP_WORD in body:
            sftp = [direction in _sftp_directions(line) for direction, line in zip(directions, lines)]
        else:
            sftp = repeat(False)
        starts = list(accumulate(map((1).__add__, map(len, lines)), initial=position))
        self.starts.extend(map((2).__add__, starts[:-1]))
        self.ends.extend(map((-1).__add__, starts[1:]))
        return list(map(LazyEvent, range(index, index + len(lines)), directions, repeat(self), specs, sftp))

    def _prefix(self) -> tuple[str, int]:
        """The text up to the first event entry, and where that entry starts."""
        size = CHUNK
        while True:  # the header is a few KB; a chunk at least, read until its end is in
            head = os.pread(self.fd, size, 0)
            at = head.find(EVENTS_KEY.encode())
            if at >= 0 or len(head) < size:
                break
            size *= 2
        if at < 0 or head[at + len(EVENTS_KEY): at + len(EVENTS_KEY) + 2] != b"- ":
            raise _NotQuick
        end = at + len(EVENTS_KEY)
        try:
            return head[:end].decode("utf-8"), end
        except UnicodeDecodeError:
            raise _NotQuick from None

    def _entry(self, lines: list[bytes], start: int, line_number: int, events: list, kept: list,
               lines_of: list, plain: bool) -> None:
        """One entry: a LazyEvent when YAML would read it as its own text (a plain scalar on
        one line of printable ASCII that starts with a direction, holds no ':' or '#' and ends
        in no blank) and it names a message of the catalog; its text kept for YAML otherwise
        (read as load_trace reads it)."""
        line = lines[0]
        if (len(lines) == 1 and line[:6] in _HEADS and b":" not in line and b"#" not in line
                and line[-1:] not in (b" ", b"\t") and (plain or not line.translate(None, _PRINTABLE))):
            name_start = line.find(b" ", line.find(b" ", 6) + 1) + 1
            spec = _SPECS.get(line[name_start: line.find(b" ", name_start)])
            if spec is not None:
                direction = "c2s" if line[2:5] == b"c2s" else "s2c"
                events.append(LazyEvent(len(events), direction, self, spec,
                                        _SFTP_WORD in line and direction in _sftp_directions(line)))
                self.starts.append(start + 2)
                self.ends.append(start + len(line))
                return
        self.mapped.append(len(events))
        events.append(None)
        self.starts.append(0)
        self.ends.append(0)
        try:
            kept.append(b"\n".join(lines).decode("utf-8") + "\n")
        except UnicodeDecodeError:
            raise _NotQuick from None
        lines_of += range(line_number, line_number + len(lines))

    def _finish(self, text: str, lines_of: list[int], events: list) -> Trace:
        document = _parse_yaml(text, self.name, lines_of)
        others = document.get("events") if isinstance(document, dict) else None
        others = [] if others is None else others
        if not isinstance(others, list) or len(others) != len(self.mapped):
            raise _NotQuick
        document["events"] = others
        header, entries = checked_document(document, self.name, len(events))
        reader = _Reader()
        self.protection_from: list[int] = [0]  # where each protection starts to be in force
        self.protections: list[dict] = [dict(reader.protection)]
        for position, entry in zip(self.mapped, entries):
            try:
                events[position] = reader.event(position, entry)
            except (CodecError, ValueError, TypeError, KeyError, IndexError) as exc:
                raise TraceFileError(f"{self.name}: event {position}: {exc}") from None
            if reader.protection != self.protections[-1]:
                self.protection_from.append(position + 1)
                self.protections.append(dict(reader.protection))
        return Trace(header, events)

    # -- reading a line --------------------------------------------------------------------

    def read(self, event: LazyEvent) -> TraceEvent:
        """The event ``event``'s line says, read as load_trace reads it, with the protection
        in force where it stands; a unit of no bytes whose note says why if it cannot be."""
        index = event.index
        try:
            stat = os.fstat(self.fd)
            if (stat.st_size, stat.st_mtime_ns) != self.identity:
                raise OSError("the file changed since it was opened")
            line = os.pread(self.fd, self.ends[index] - self.starts[index], self.starts[index]).decode("ascii")
            reader = _Reader()
            reader.protection = self.protections[bisect_right(self.protection_from, index) - 1]
            return reader.line(index, line)
        except (OSError, UnicodeDecodeError, CodecError, DecodeError, ValueError, TypeError, KeyError,
                IndexError) as exc:  # a damaged line is a unit nobody could read, not a crash
            note = f"{self.name}: event {index}: {exc}"
            record = RawUnit(event.direction, b"", 0.0, note)
            return TraceEvent(index, 0.0, event.direction, record, notes=[note])


