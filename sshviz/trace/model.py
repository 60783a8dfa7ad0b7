"""The trace model: one ``TraceEvent`` per version line or packet, with what it changed."""

from __future__ import annotations

import gc
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..events import (Event, PacketReceived, PacketSent, RawUnit, SftpMessage, VersionReceived,
                      VersionRecord, VersionSent)
from ..sides import Direction, Side
from ..transport.packet import PacketRecord
from ..wire.catalog import MSG
from .elide import ELIDE_AFTER, BulkCounter, Shortened

PLUMBING = (PacketSent, PacketReceived, VersionSent, VersionReceived)

# What an attacker on the wire can do to a unit (the attack lab).
ATTACKER_ACTIONS = ("read", "changed", "inserted", "dropped", "replayed", "reordered", "taken",
                    "relayed")


@dataclass(frozen=True)
class Interception:
    """What an attacker between the two sides did to one unit on the wire: ``action`` is one of
    ATTACKER_ACTIONS, ``detail`` one line for people, ``original`` the bytes the sender sent
    when the attacker changed them. A dropped unit never reached its receiver, nor did one the
    attacker took for itself (a man in the middle's own endpoints read it instead)."""

    action: str
    detail: str
    original: bytes | None = None

    @property
    def reaches_receiver(self) -> bool:
        return self.action not in ("dropped", "taken")


@dataclass(slots=True)  # a million of them in a long trace: no dict each
class TraceEvent:
    """One unit on the wire (a version line or a packet) and what it caused.

    ``record`` is a VersionRecord or a PacketRecord (wire bytes, plaintext packet, decoded
    message with spans). ``changes`` are (side, event) pairs: "client" or "server", and an
    event such as AlgorithmsNegotiated, KexComputed, KeysActivated, AuthSucceeded, ChannelData.
    """

    index: int
    time: float
    direction: str  # "c2s" | "s2c"
    record: Any
    changes: list[tuple[str, Event]] = field(default_factory=list)
    delivered: bool = True  # False when the receiver had already closed
    notes: list[str] = field(default_factory=list)
    frame: int | None = None  # capture frame number that completed this unit (imported captures)
    elided: int = 0  # bytes of bulk channel data left out when the trace was saved
    interception: Interception | None = None  # what an attacker on the wire did to this unit

    @property
    def opened(self) -> bool:
        """False for bytes nobody decoded: a packet seen only encrypted (no keys: sizes and
        direction, no message) or raw bytes."""
        record = self.record
        kind = _KINDS.get(type(record)) or self.kind  # asked of every message of a long trace
        return kind == "version" or (kind == "packet" and bool(record.plain))

    @property
    def sender(self) -> str:
        return Direction(self.direction).sender

    @property
    def kind(self) -> str:
        """"version", "packet", or "raw" (bytes no endpoint could decode, e.g. tampered)."""
        kind = _KINDS.get(type(self.record))  # one look-up for the usual records
        if kind is not None:
            return kind
        if isinstance(self.record, VersionRecord):
            return "version"
        return "raw" if isinstance(self.record, RawUnit) else "packet"

    @property
    def message(self):
        return self.record.message if self.kind == "packet" else None

    @property
    def name(self) -> str:
        if self.kind != "packet":
            return self.kind.upper()
        message = self.record.message
        if message is not None:
            return message.spec.name
        return "ENCRYPTED" if not self.opened else "?"

    @property
    def spec(self):
        """The spec of the message this unit carries; None for a version line, raw bytes or a
        packet nobody opened. (What the UI asks of every message of a long trace: a LazyEvent
        answers it without reading its line.)"""
        message = getattr(self.record, "message", None)
        return message.spec if message is not None else None

    def holds(self, kinds) -> bool:
        """Whether any of its changes is of ``kinds`` (a type or a tuple of types)."""
        for _, change in self.changes:  # a loop, not any(): asked of every message of long traces
            if isinstance(change, kinds):
                return True
        return False

    def carries_sftp(self) -> bool:
        """Whether it carried the last byte of an SFTP packet of its own direction: whether
        ``sftp_messages(event)`` has any, without building the list."""
        direction = self.direction
        for _, change in self.changes:
            if isinstance(change, SftpMessage) and change.direction == direction:
                return True
        return False


_KINDS = {PacketRecord: "packet", VersionRecord: "version", RawUnit: "raw"}


class LazyEvent(TraceEvent):
    """A packet of a long trace file, read from its line the first time more than its place,
    direction and message is asked of it: opening a file of a million messages then makes a
    million small objects, not the tens of millions reading every line would (sshviz/trace/
    longfile.py). It is a TraceEvent in every other way.

    ``_source`` reads its line (``read(event)`` gives the TraceEvent the line says, or one that
    says why it could not be read), None once it has; ``_spec`` is its message's spec;
    ``_sftp`` whether its line says it carries an SFTP message of its own direction. What the
    UI asks of every message when it opens (``spec``, ``holds``, ``carries_sftp``,
    ``interception``) is answered from these; anything else reads the line."""

    __slots__ = ("_source", "_spec", "_sftp")

    def __init__(self, index: int, direction: str, source, spec, sftp: bool):
        self.index = index  # TraceEvent's own fields, set as they are (not read from the line)
        self.direction = direction
        self._source = source
        self._spec = spec
        self._sftp = sftp

    def _read(self) -> None:
        event = self._source.read(self)
        for slot in _READ_SLOTS:
            slot.__set__(self, slot.__get__(event))
        self._spec = event.spec
        self._source = None

    @property
    def spec(self):
        # Its line's message until the line is read; what the line turned out to hold after
        # (None for a damaged line, which becomes raw bytes with a note: kind and opened read
        # the line first, so they always agree with the record).
        return self._spec

    def holds(self, kinds) -> bool:
        if self._source is not None and not self._source.line_can_hold(kinds):
            return False  # what a line cannot say, asked without reading it
        return TraceEvent.holds(self, kinds)

    def carries_sftp(self) -> bool:
        return self._sftp if self._source is not None else TraceEvent.carries_sftp(self)


def _read_on_use(slot):
    def get(self):
        if self._source is not None:
            self._read()
        return slot.__get__(self)

    def set_(self, value):
        if self._source is not None:
            self._read()  # then this one field changes, as on any event
        slot.__set__(self, value)

    return property(get, set_)


# What a LazyEvent reads from its line.
_READ_SLOTS = [TraceEvent.__dict__[name] for name in
               ("time", "record", "changes", "delivered", "notes", "frame", "elided", "interception")]
for _slot in _READ_SLOTS[:-1]:
    setattr(LazyEvent, _slot.__name__, _read_on_use(_slot))
# A line never says an attacker was there (asked of every message when a trace opens): None
# until the line is read, whatever it holds after.
_INTERCEPTION = _READ_SLOTS[-1]
LazyEvent.interception = property(
    lambda self: None if self._source is not None else _INTERCEPTION.__get__(self),
    _read_on_use(_INTERCEPTION).fset)


def sftp_messages(event: TraceEvent) -> list[SftpMessage]:
    """The SFTP packets whose last byte this message carried: its receiver reports them, and
    traces place its sender's reports here too (SentSftpPlacer). Each packet once."""
    seen, found = set(), []
    for _, change in event.changes:
        if (isinstance(change, SftpMessage) and change.direction == event.direction
                and change.packet not in seen):
            seen.add(change.packet)
            found.append(change)
    return found


def sftp_name(change: SftpMessage) -> str:
    return change.message.spec.rfc_name if change.message is not None else "SFTP (undecodable)"


@dataclass
class TraceHeader:
    """Where a trace came from and what was agreed."""

    source: str  # "in-process" | "connect" | "serve" | "capture" | ...
    client_version: str = ""
    server_version: str = ""
    client_address: str = ""
    server_address: str = ""
    scenario: dict = field(default_factory=dict)  # options of an in-process run (seed, algorithms)
    algorithms: dict[str, str] = field(default_factory=dict)  # negotiated, category -> name
    created: str = ""  # ISO 8601
    extra: dict = field(default_factory=dict)


@dataclass
class Trace:
    header: TraceHeader
    events: list[TraceEvent] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.events)

    def fill_header(self) -> None:
        """Take the versions and the first negotiated algorithms from the events."""
        from ..events import AlgorithmsNegotiated

        header = self.header
        for event in self.events:
            if header.client_version and header.server_version and header.algorithms:
                return  # nothing later changes them
            if event.kind == "version":
                if event.direction == "c2s":
                    header.client_version = header.client_version or event.record.text
                else:
                    header.server_version = header.server_version or event.record.text
            for _, change in event.changes:
                if isinstance(change, AlgorithmsNegotiated) and not header.algorithms:
                    header.algorithms = {c: a.chosen for c, a in change.algorithms.items()
                                         if a.chosen is not None and not a.unused}


def shortened_event(event, shortened: Shortened):
    """A new trace event: ``event`` with its packet and changes shortened as ``shortened`` says."""
    # Made field by field, not with dataclasses.replace: a capture's import does this for every
    # data packet past the first 64 KiB, and replace costs several times as much.
    return TraceEvent(event.index, event.time, event.direction, shortened_record(event.record, shortened),
                      shortened.changes, event.delivered, event.notes, event.frame, event.elided + shortened.elided,
                      event.interception)


def shortened_record(r: PacketRecord, shortened: Shortened) -> PacketRecord:
    """A new packet record: ``r`` with its bytes and message shortened as ``shortened`` says."""
    return PacketRecord(r.direction, r.seq, shortened.wire, shortened.plain, r.mac, shortened.payload,
                        r.packet_length, r.padding_length, r.cipher, r.mac_name, r.compression,
                        r.aad_length, shortened.message, r.time, r.notes, None)


class SentSftpPlacer:
    """A sender reports an SFTP packet just before it writes it to its channel, usually while
    an earlier message is being handled, and the CHANNEL_DATA that carries it goes out then or
    later, maybe in pieces. This holds each such report until the trace event of the CHANNEL_DATA
    that carries the packet's last byte, where its receiver reports it too. (It counts all
    channel data of a direction: exact while one SFTP channel is busy at a time.)"""

    def __init__(self):
        self._held: dict[str, deque] = {"c2s": deque(), "s2c": deque()}  # (end offset, side, event)
        self._reported = {"c2s": 0, "s2c": 0}  # bytes of SFTP packets reported so far
        self._carried = {"c2s": 0, "s2c": 0}  # of those, bytes gone by in CHANNEL_DATA

    def hold(self, side: str, event: Event) -> bool:
        """Keep ``event`` if it is a sender's report; True when kept."""
        if not isinstance(event, SftpMessage):
            return False
        own = Side(side).sending
        if event.direction != own:
            return False
        if not self._held[own]:
            self._carried[own] = self._reported[own]  # all reported before has gone out
        # The packet's own length field: an elided report's bytes are shorter than the packet.
        self._reported[own] += 4 + int.from_bytes(event.packet[:4], "big")
        self._held[own].append((self._reported[own], side, event))
        return True

    def place(self, trace_event: TraceEvent) -> None:
        """Give ``trace_event`` the held reports whose packets end in its data."""
        held = self._held[trace_event.direction]
        if not held or trace_event.message is None or trace_event.message.spec is not MSG.CHANNEL_DATA:
            return
        self._carried[trace_event.direction] += len(trace_event.message.values.get("data", b""))
        released = []
        while held and held[0][0] <= self._carried[trace_event.direction]:
            _, side, event = held.popleft()
            released.append((side, event))
        trace_event.changes[:0] = released  # sent, then received


class TraceRecorder:
    """Builds trace events from one live endpoint's event stream: each version line or packet
    (sent or received) starts a TraceEvent; the events that follow it are its changes.

    Times count from the first event. Channel data beyond ``elide_after`` bytes per direction
    is shortened as it is recorded (None keeps every byte), so a long transfer does not pile
    up in memory."""

    def __init__(self, side: str, trace: Trace, elide_after: int | None = ELIDE_AFTER):
        self.side = side
        self.trace = trace
        self.bulk = BulkCounter(elide_after)
        self.sftp = SentSftpPlacer()
        self._start: float | None = None

    def feed(self, events: list[Event]) -> None:
        trace_events = self.trace.events
        for event in events:
            if isinstance(event, PLUMBING):
                self.finish()
                record = event.record
                if self._start is None:
                    self._start = record.time
                trace_events.append(TraceEvent(len(trace_events), record.time - self._start,
                                               record.direction, record))
                self.sftp.place(trace_events[-1])  # before eliding shortens its data
            elif self.sftp.hold(self.side, event):
                pass
            elif trace_events:
                trace_events[-1].changes.append((self.side, event))
            else:
                self.trace.header.extra.setdefault("early_events", []).append(event)

    def newest(self) -> TraceEvent | None:
        """The last event as ``finish`` will leave it (shortened if it is bulk data), changing
        nothing: what a watcher is sent while more changes may still come."""
        if not self.trace.events:
            return None
        last = self.trace.events[-1]
        if last.elided:
            return last
        counter = BulkCounter(self.bulk.elide_after)
        counter.seen = dict(self.bulk.seen)
        shortened = counter.shorten(last)
        return last if shortened is None else shortened_event(last, shortened)

    def finish(self) -> None:
        """The last event is complete (its changes are in): shorten it if it is bulk data."""
        if self.trace.events:
            last = self.trace.events[-1]
            shortened = self.bulk.shorten(last) if not last.elided else None
            if shortened is not None:
                self.trace.events[-1] = shortened_event(last, shortened)


@contextmanager
def paused_gc():
    """Building a long trace makes millions of objects and no reference cycles; the cyclic
    garbage collector would scan them again and again (loading and importing slow down more
    than linearly), so it waits until the trace is built. Then what was built is moved out of
    its sight (``gc.freeze``): otherwise its next run would scan all of it at once, and later
    runs again as it ages (reference counting still frees it all when it is dropped). For whole
    traces only, not for each small step of a long-lived program: whatever exists when it ends
    is never scanned again, so a reference cycle among it would never be freed."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.freeze()
            gc.enable()
