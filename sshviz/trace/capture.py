"""Packet captures (pcap and pcapng) into traces: every SSH connection in the
file, on any port, over IPv4 or IPv6.

Frames become TCP segments (plain pcap, Ethernet, IPv4 and IPv6 read with struct; pcapng and
anything unusual with dpkt); each connection's two directions are reassembled (out-of-order
segments wait for the gap before them, retransmitted and overlapping bytes are dropped); a
connection is SSH when one side's bytes start with ``SSH-`` (after any lines a server may send
first). The two byte streams then go to the ``PassiveDecoder`` in capture order, as they are
read (a big capture is never in memory whole), so each unit carries the time and frame number
of the segment that completed it.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .elide import ELIDE_AFTER
from .files import (PCAP_MAGICS, PCAPNG_MAGIC, OpenError,  # noqa: F401 (is_capture: here too)
                    is_capture)
from .keylog import KeyLog
from .model import Trace, TraceHeader, paused_gc
from .passive import PassiveDecoder

SSH_BANNER = b"SSH-"
MAX_BANNER_SEARCH = 64 * 1024  # a server may send lines before its version; look this far

# Link-layer types (LINKTYPE_* in the pcap spec) whose IP packets this reader finds.
LINK_NULL, LINK_ETHERNET, LINK_RAW, LINK_LOOP = 0, 1, 101, 108
LINK_RAW_ALIASES = (12, 14, 228, 229)
LINK_SLL, LINK_SLL2 = 113, 276
TH_SYN, TH_ACK = 0x02, 0x10  # TCP flags


class CaptureError(OpenError):
    """A file that cannot be read as a capture, or holds no SSH; the message says why."""


@dataclass(slots=True)
class Segment:
    frame: int
    time: float
    source: tuple[str, int]
    destination: tuple[str, int]
    seq: int
    flags: int
    payload: bytes


@dataclass
class _HalfStream:
    """One direction of a TCP connection, put back in order."""

    isn: int | None = None  # sequence number of the first data byte
    next: int = 0  # offset of the next byte expected
    pending: dict[int, tuple[bytes, int, float]] = field(default_factory=dict)  # offset -> segment
    retransmitted: int = 0

    def add(self, seq: int, payload: bytes, syn: bool, frame: int, time: float) -> list | tuple:
        """(data, frame, time) for each piece of bytes now in order: a list, as a generator
        would cost more per segment than the work it does."""
        if syn:
            self.isn = (seq + 1) & 0xFFFFFFFF
            return ()
        if not payload:
            return ()
        if self.isn is None:
            self.isn = seq
        # The offset closest to what we expect, so sequence numbers may wrap around.
        delta = (seq - self.isn - self.next) & 0xFFFFFFFF
        if delta >= 1 << 31:
            delta -= 1 << 32
        offset = self.next + delta
        if offset + len(payload) <= self.next:
            self.retransmitted += 1
            return ()
        if offset < self.next:  # overlaps bytes already delivered: keep only the new ones
            payload = payload[self.next - offset:]
            offset = self.next
        if offset > self.next:
            known = self.pending.get(offset)
            if known is None or len(known[0]) < len(payload):
                self.pending[offset] = (payload, frame, time)
            return ()
        self.next += len(payload)
        if not self.pending:
            return [(payload, frame, time)]
        return [(payload, frame, time), *self._drain()]

    def _drain(self):
        while self.pending:
            offset = min(self.pending)
            if offset > self.next:
                return
            payload, frame, time = self.pending.pop(offset)
            if offset + len(payload) <= self.next:
                self.retransmitted += 1
                continue
            payload = payload[self.next - offset:]
            yield payload, frame, time
            self.next += len(payload)

    def flush_gaps(self):
        """At the end of the capture: (gap size, frame, time) and the bytes after each gap."""
        while self.pending:
            offset = min(self.pending)
            payload, frame, time = self.pending[offset]
            yield None, offset - self.next, frame, time
            self.next = offset
            for data, f, t in self._drain():
                yield data, len(data), f, t


@dataclass
class Connection:
    """One TCP connection: its two directions put back in order, and, once it is known which
    side is the client, the decoder its bytes go to as they come (None when it is no SSH)."""

    a: tuple[str, int]
    b: tuple[str, int]
    client: tuple[str, int] | None = None  # the side that sent the SYN, when seen
    halves: dict = field(default_factory=dict)
    # (sender endpoint, data or None for a gap, size, frame, time), held until the roles are known
    chunks: list = field(default_factory=list)
    first_bytes: dict = field(default_factory=dict)  # endpoint -> first bytes it sent
    first_frame: int = 0
    started: bool = False  # some data went by
    decided: bool = False  # the roles are known (from both sides' first bytes, or at the end)
    roles: tuple | None = None  # (client, server) of an SSH connection
    directions: dict = field(default_factory=dict)  # of an SSH connection: sender -> "c2s" or "s2c"
    decoder: PassiveDecoder | None = None


def read_frames(path: str | Path, progress: Callable[[int, int], None] | None = None
                ) -> Iterator[tuple[int, float, int, bytes | memoryview]]:
    """(frame number from 1, timestamp, link type, frame bytes or a view of them) for each
    frame; a view is good until the next frame is asked for (copy what you keep). ``progress``
    hears (bytes read, file size) now and then."""
    path = Path(path)
    f = open(path, "rb")
    try:
        header = f.read(PCAP_HEADER.size)
        if header[:4] in PCAP_MAGICS and len(header) == PCAP_HEADER.size:
            frames = _pcap_frames(f, header)
        else:
            f.seek(0)
            frames = _dpkt_frames(path, f)
        if progress is None:
            yield from frames
            return
        size = os.fstat(f.fileno()).st_size
        for frame in frames:
            yield frame
            if frame[0] % 256 == 0:
                progress(f.tell(), size)
        progress(size, size)
    finally:
        f.close()


# The classic pcap file: a header, then per frame a record header and the bytes captured.
PCAP_HEADER = struct.Struct("<4s20x")
PCAP_RECORD = {"<": struct.Struct("<IIII"), ">": struct.Struct(">IIII")}
PCAP_BLOCK = 1 << 20  # bytes read at a time (frames are at most 256 KiB in practice)


def _pcap_frames(f, header: bytes) -> Iterator[tuple[int, float, int, memoryview]]:
    """Frames of a classic pcap file, read with struct (as dpkt reads them, several times
    faster): the byte order and time unit come from the magic number. The file is read a block
    at a time into one buffer (two reads a frame cost more than the rest of its reading, and a
    new block each time costs fresh pages): each frame is a view into it, good until the next
    frame is asked for."""
    magic = header[:4]
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nanoseconds = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack_from(order + "I", header, 20)[0]
    unpack_record = PCAP_RECORD[order].unpack_from
    if nanoseconds:
        from decimal import Decimal

        billion = Decimal("1E9")
    read_into, seek = f.readinto, f.seek
    start = f.tell()  # where the block starts in the file
    size = os.fstat(f.fileno()).st_size
    buffer = memoryview(bytearray(PCAP_BLOCK))
    block, at, number = buffer[:read_into(buffer)], 0, 0
    while True:
        if at + 16 > len(block):  # the record goes on past the block: read again from its start
            start += at
            seek(start)
            block, at = buffer[:read_into(buffer)], 0
            if len(block) < 16:
                return  # the end, or a truncated last record: the frames before it still count
        seconds, fraction, captured, _ = unpack_record(block, at)
        end = at + 16 + captured
        if end > len(block):
            start += at
            seek(start)
            if 16 + captured > len(buffer):  # a frame longer than a block: a buffer to fit it
                buffer = memoryview(bytearray(min(16 + captured, size - start)))
            block, at = buffer[:read_into(buffer)], 0
            end = 16 + captured
        frame = block[at + 16: end]  # shorter when the file is cut inside it, as dpkt gives it
        at = end
        number += 1
        # dpkt's values exactly: microseconds as a float sum, nanoseconds as their decimal
        timestamp = float(seconds + fraction / billion) if nanoseconds else seconds + fraction / 1e6
        yield number, timestamp, link, frame


def _dpkt_frames(path: Path, f) -> Iterator[tuple[int, float, int, bytes]]:
    """Frames of a pcapng file (or a pcap file too damaged to read it directly), by dpkt."""
    import dpkt

    magic = f.read(4)
    f.seek(0)
    try:
        if magic == PCAPNG_MAGIC:
            reader = dpkt.pcapng.Reader(f)
        elif magic in PCAP_MAGICS:
            reader = dpkt.pcap.Reader(f)
        else:
            raise CaptureError(f"{path}: not a pcap or pcapng capture (it starts with {magic.hex() or 'nothing'})")
    except (ValueError, dpkt.UnpackError, struct.error) as exc:
        raise CaptureError(f"{path}: the capture's file header is damaged: {exc}") from None
    link = reader.datalink()
    number = 0
    iterator = iter(reader)
    while True:
        try:
            timestamp, frame = next(iterator)
        except StopIteration:
            return
        except (ValueError, dpkt.UnpackError, dpkt.NeedData, struct.error):
            return  # a truncated last record: the frames before it still count
        number += 1
        yield number, float(timestamp), link, frame


_UNUSUAL = object()  # a frame _plain_tcp leaves to dpkt
_TCP_HEADER = struct.Struct(">HHI4xB")  # ports, sequence number, data offset
# IPv4: version and header length, total length, flags and fragment offset, protocol, addresses
_IPV4 = struct.Struct(">BxH2xBBxB2x4s4s")
_IPV6 = struct.Struct(">4xH2x16s16s")  # payload length, addresses
_IP_ETHERTYPES = (b"\x08\x00", b"\x86\xdd")
# Bytes of link-layer header before the IP packet, for the link types other than Ethernet.
_LINK_HEADERS = {LINK_NULL: 4, LINK_LOOP: 4, LINK_RAW: 0, **dict.fromkeys(LINK_RAW_ALIASES, 0), LINK_SLL: 16,
                 LINK_SLL2: 20}


def link_payload(link: int, frame: bytes):
    """What follows a frame's link-layer header, the IP packet (a view, not a copy); None for a
    link type this reader does not know; _UNUSUAL for Ethernet that is not plain IPv4 or IPv6
    (VLAN tags and the like: dpkt's full parser reads those)."""
    if link == LINK_ETHERNET:
        return memoryview(frame)[14:] if frame[12:14] in _IP_ETHERTYPES else _UNUSUAL
    header = _LINK_HEADERS.get(link)
    return None if header is None else memoryview(frame)[header:]


def ip_packet(link: int, frame: bytes):
    """The IPv4 or IPv6 packet inside a frame, parsed by dpkt, or None."""
    import dpkt  # only for frames _plain_tcp leaves to it: its import is a good part of start-up

    body = link_payload(link, frame)
    if body is _UNUSUAL:
        packet = dpkt.ethernet.Ethernet(frame).data
        return packet if isinstance(packet, (dpkt.ip.IP, dpkt.ip6.IP6)) else None
    if not body:
        return None
    version = body[0] >> 4
    if version == 4:
        return dpkt.ip.IP(bytes(body))
    if version == 6:
        return dpkt.ip6.IP6(bytes(body))
    return None


def tcp_segments(path: str | Path, damaged: list[str], progress: Callable[[int, int], None] | None = None
                 ) -> Iterator[Segment]:
    """Every TCP segment of the capture, in capture order; what cannot be read is noted in
    ``damaged``."""
    return (Segment(*fields) for fields in _segment_fields(path, damaged, progress))


def _segment_fields(path: str | Path, damaged: list[str], progress: Callable[[int, int], None] | None = None
                    ) -> Iterator[tuple]:
    """The fields of each Segment, as a tuple (the reader's own loop takes them so)."""
    first_time = None
    addresses: dict[bytes, str] = {}
    for number, timestamp, link, frame in read_frames(path, progress):
        found = _plain_tcp(link, frame)
        if found is _UNUSUAL:
            found = _dpkt_tcp(number, link, bytes(frame), damaged)
        if found is None:
            continue
        source, destination, sport, dport, seq, flags, payload, declared = found
        if first_time is None:
            first_time = timestamp
        if declared is not None and len(payload) < declared:
            damaged.append(f"frame {number}: cut short by the capture ({len(payload)} of {declared} "
                           f"TCP payload bytes)")
        source = addresses.get(source) or addresses.setdefault(source, _address(source))
        destination = addresses.get(destination) or addresses.setdefault(destination, _address(destination))
        yield number, timestamp - first_time, (source, sport), (destination, dport), seq, flags, payload


def _plain_tcp(link: int, frame: bytes):
    """(source address, destination address, ports, seq, flags, payload, declared payload size)
    of a TCP segment in plain IPv4 or IPv6 (no extension headers), read with struct as dpkt
    reads it; None for a frame that is no TCP; _UNUSUAL for anything else (dpkt reads it)."""
    body = link_payload(link, frame)
    if body is _UNUSUAL:
        return _UNUSUAL
    if not body:
        return None
    version = body[0] >> 4
    if version == 4:
        if len(body) < 20:
            return _UNUSUAL
        first, total, fragment, fragment_low, protocol, source, destination = _IPV4.unpack_from(body)
        start = (first & 0xF) * 4  # the IP header's length
        if start < 20:
            return _UNUSUAL
        if protocol != 6:  # not TCP
            return None
        if (fragment & 0x1F) or fragment_low:  # a later fragment
            return _UNUSUAL
        stop, declared = (min(total, len(body)) if total else len(body)), total - start
    elif version == 6:
        if len(body) < 40 or body[6] != 6:  # extension headers, or not TCP
            return _UNUSUAL
        size, source, destination = _IPV6.unpack_from(body)
        start, stop, declared = 40, (min(40 + size, len(body)) if size else len(body)), size
    else:
        return None
    if stop - start < 20:
        return None  # dpkt leaves it unread, so it is no TCP segment
    sport, dport, seq, offset = _TCP_HEADER.unpack_from(body, start)
    data_offset = (offset >> 4) * 4
    if data_offset < 20:
        return None
    flags = ((offset & 1) << 8) | body[start + 13]
    return source, destination, sport, dport, seq, flags, bytes(body[start + data_offset: stop]), declared - data_offset


def _dpkt_tcp(number: int, link: int, frame: bytes, damaged: list[str]):
    import dpkt

    try:
        packet = ip_packet(link, frame)
    except (dpkt.UnpackError, dpkt.NeedData, ValueError, struct.error) as exc:
        damaged.append(f"frame {number}: cannot be read ({exc.__class__.__name__}); skipped")
        return None
    if packet is None or not isinstance(packet.data, dpkt.tcp.TCP):
        return None
    tcp = packet.data
    return (bytes(packet.src), bytes(packet.dst), tcp.sport, tcp.dport, tcp.seq, tcp.flags, bytes(tcp.data),
            _declared_tcp_payload(packet, tcp))


def _declared_tcp_payload(packet, tcp) -> int | None:
    import dpkt

    header = tcp.off * 4
    if isinstance(packet, dpkt.ip.IP):
        return packet.len - packet.hl * 4 - header
    if isinstance(packet, dpkt.ip6.IP6) and packet.nxt == dpkt.ip.IP_PROTO_TCP:
        return packet.plen - header
    return None


def _address(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


class _Connections:
    """Every TCP connection of a capture, read in one pass: each SSH connection's bytes go to
    its decoder as they are put in order, so a big capture is never held in memory whole (a
    connection's bytes wait only until both sides have sent some, which says who is the
    client, or until the end)."""

    def __init__(self, path: Path, keylog: KeyLog | None, elide_after: int | None):
        self.path, self.keylog, self.elide_after = path, keylog, elide_after
        self.found: dict[tuple, Connection] = {}
        self.damaged: list[str] = []

    def read(self, progress: Callable[[int, int], None] | None = None) -> list[Connection]:
        """Every connection, in the order they start, the SSH ones with their whole session
        decoded."""
        found = self.found
        for number, at, source, destination, seq, flags, payload in _segment_fields(self.path, self.damaged,
                                                                                   progress):
            key = (source, destination) if source < destination else (destination, source)
            connection = found.get(key)
            syn = bool(flags & TH_SYN)
            if connection is None or (syn and not flags & TH_ACK and connection.started):
                if connection is not None:  # the same addresses again: a new connection
                    found[key + (number,)] = connection
                connection = found[key] = Connection(*key, first_frame=number)
            if syn and not flags & TH_ACK:
                connection.client = source
            half = connection.halves.get(source) or connection.halves.setdefault(source, _HalfStream())
            for data, frame, time in half.add(seq, payload, syn, number, at):
                connection.started = True
                if source not in connection.first_bytes:
                    connection.first_bytes[source] = data[:MAX_BANNER_SEARCH]
                decoder = connection.decoder
                if decoder is not None:  # an SSH connection under way: straight to its decoder
                    decoder.feed(connection.directions[source], data, time, frame)
                else:
                    self._take(connection, (source, data, len(data), frame, time))
        for connection in found.values():
            if not connection.decided:
                self._decide(connection)
            for source, half in connection.halves.items():
                for data, size, frame, time in half.flush_gaps():
                    self._take(connection, (source, data, size, frame, time))
        return sorted(found.values(), key=lambda c: c.first_frame)

    def _take(self, connection: Connection, chunk: tuple) -> None:
        if connection.decoder is not None:
            _feed(connection, chunk)
        elif not connection.decided:
            connection.chunks.append(chunk)
            if len(connection.first_bytes) == 2:  # the roles cannot change any more
                self._decide(connection)

    def _decide(self, connection: Connection) -> None:
        connection.decided = True
        connection.roles = roles = _roles(connection)
        chunks, connection.chunks = connection.chunks, []
        if roles is None:
            return
        client, server = roles
        connection.directions = {client: "c2s", server: "s2c"}
        # The connection's number among the SSH ones is known at the end.
        header = TraceHeader("capture", client_address=_endpoint(client), server_address=_endpoint(server),
                             extra={"capture": self.path.name, "connection": None})
        connection.decoder = PassiveDecoder(self.keylog, header, self.elide_after)
        for chunk in chunks:
            _feed(connection, chunk)


def _feed(connection: Connection, chunk: tuple) -> None:
    sender, data, size, frame, time = chunk
    direction = connection.directions[sender]
    if data is None:
        connection.decoder.gap(direction, size, time, frame)
    else:
        connection.decoder.feed(direction, data, time, frame)


def _speaks_ssh(first: bytes) -> bool:
    if first.startswith(SSH_BANNER):
        return True
    return b"\nSSH-" in first[:MAX_BANNER_SEARCH]


def _roles(connection: Connection) -> tuple[tuple[str, int], tuple[str, int]] | None:
    """(client, server) for an SSH connection, or None if it is not SSH."""
    a, b = connection.a, connection.b
    first_a, first_b = connection.first_bytes.get(a, b""), connection.first_bytes.get(b, b"")
    if not (_speaks_ssh(first_a) or _speaks_ssh(first_b)):
        return None
    if connection.client is not None:
        client = connection.client
    elif first_a.startswith(SSH_BANNER) != first_b.startswith(SSH_BANNER):
        # Only a server may send lines before its version.
        client = a if first_a.startswith(SSH_BANNER) else b
    elif 22 in (a[1], b[1]):
        client = b if a[1] == 22 else a
    else:  # the server usually listens on the lower port
        client = b if a[1] < b[1] else a
    return client, (b if client == a else a)


def import_capture(path: str | Path, keylog: KeyLog | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   elide_after: int | None = ELIDE_AFTER) -> list[Trace]:
    """One trace per SSH connection in the capture. Raises CaptureError when there is none.
    Channel data past ``elide_after`` bytes a direction is shortened as it is decoded (None
    keeps every byte), so a big capture does not take several times its size in memory."""
    with paused_gc():
        return _import(Path(path), keylog, progress, elide_after)


def _import(path: Path, keylog: KeyLog | None, progress, elide_after: int | None) -> list[Trace]:
    reader = _Connections(path, keylog, elide_after)
    found = reader.read(progress)
    ssh = [c for c in found if c.decoder is not None]
    if not ssh:
        tcp = len(found)
        raise CaptureError(f"{path}: no SSH connection in this capture ({tcp} TCP connection"
                           f"{'' if tcp == 1 else 's'}, none starting with an 'SSH-' identification line)")
    traces = []
    for number, connection in enumerate(ssh, 1):
        decoder = connection.decoder
        decoder.trace.header.extra["connection"] = number
        trace = decoder.finish()
        problems = reader.damaged + decoder.problems
        retransmitted = sum(h.retransmitted for h in connection.halves.values())
        if retransmitted:
            trace.header.extra["retransmitted_segments"] = retransmitted
        if problems:
            trace.header.extra["problems"] = problems
        traces.append(trace)
    return traces


def _endpoint(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
