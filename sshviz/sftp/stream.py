"""Whole SFTP packets out of a byte stream, decoded with the SFTP catalog.

``SftpStreamDecoder`` is the one place SFTP framing is parsed. Both the client and the server
use it, and so can anything that has the bytes of an SFTP channel (a captured session)::

    decoder = SftpStreamDecoder()
    for unit in decoder.feed("c2s", data):   # bytes in pieces of any size, either direction
        unit.packet, unit.message            # whole packet bytes; Message (fields are spans
                                             # into unit.packet), or None if it did not decode
        unit.error                           # why it did not decode (a readable line)

One decoder serves one channel, both directions: it remembers which extension each EXTENDED
request named, by id, to decode the EXTENDED_REPLY that answers it.

Messages are decoded without spans (cheap); ``SftpUnit.event`` makes the ``SftpMessage`` event,
adding spans then. DATA and WRITE packets larger than ``BULK_PREVIEW`` bytes of file data are
summarized in events: the event's packet stops after the first ``BULK_PREVIEW`` data bytes and
its message says how many were left out (``data_length``). So a trace of a big transfer never
holds the file's contents, and the bulk path skips span decoding; small transfers, as in the
in-process demos, are shown whole.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..events import SftpMessage
from ..wire.sftp import BULK_TYPES, FileXferType, decode_packet, elided_bulk_message
from ..wire.spec import Message
from ..wire.types import DecodeError

_U32 = struct.Struct(">I")

MAX_PACKET = 256 * 1024  # OpenSSH's SFTP_MAX_MSG_LENGTH: a longer length field is a framing error
BULK_PREVIEW = 256
PREVIEW_HEAD = 1024  # bytes of a bulk packet before its data: its fields (a WRITE's handle) fit in them


class SftpFramingError(Exception):
    """The stream cannot be split into packets any more (a length out of range)."""


@dataclass(slots=True)
class SftpUnit:
    """One whole packet from the stream."""

    direction: str  # "c2s" | "s2c"
    packet: bytes
    message: Message | None  # None when the packet did not decode
    error: str | None = None  # why it did not decode
    unknown_type: bool = False  # it did not decode because its type is not SFTP v3's

    @property
    def type(self) -> int:
        return self.packet[4] if len(self.packet) > 4 else -1

    def event(self, channel: int) -> SftpMessage:
        return sftp_event(channel, self.direction, self.packet, self.message)


def sftp_event(channel: int, direction: str, packet: bytes, message: Message | None) -> SftpMessage:
    """The event for a packet sent or received: spans added, bulk file data summarized."""
    if message is not None:
        number = message.spec.number
        if number in BULK_TYPES and len(message.values.get("data", b"")) > BULK_PREVIEW:
            packet, message = elided_bulk_message(packet, BULK_PREVIEW)
        elif message.fields is None:
            message = decode_packet(packet, message.values.get("extension"), spans=True)
    return SftpMessage(channel, direction, packet, message)


class SftpStreamDecoder:
    """Splits the two byte streams of an SFTP channel into decoded packets (see the module)."""

    def __init__(self, max_packet: int = MAX_PACKET, preview: int | None = None):
        """``preview``: for a reader that only shows the packets (a capture's), DATA and WRITE
        packets with more file data than this come already summarized as ``sftp_event``
        summarizes them, and their data is never joined into one piece."""
        self.max_packet = max_packet
        self.preview = preview
        # Per direction: the pieces of the packet being gathered and their total length.
        # Pieces are joined once a whole packet is there, so each byte is copied once.
        self._pieces: dict[str, list[bytes]] = {"c2s": [], "s2c": []}
        self._held = {"c2s": 0, "s2c": 0}
        # Bytes that must be held before a packet can be complete (its length once known): a
        # big packet comes in many pieces, and each but the last is only put aside.
        self._wanted = {"c2s": 4, "s2c": 4}
        self._extensions: dict[int, str] = {}  # EXTENDED request id -> extension name

    def pending(self, direction: str) -> int:
        """Bytes held that do not yet form a whole packet."""
        return self._held[direction]

    def feed(self, direction: str, data: bytes) -> list[SftpUnit]:
        """Take bytes; return each packet they complete. Raises SftpFramingError."""
        pieces = self._pieces[direction]
        held = self._held[direction]
        if data:
            pieces.append(data)
            self._held[direction] = held = held + len(data)
        if held < self._wanted[direction]:
            return []
        units: list[SftpUnit] = []
        wanted = 4
        while held >= 4:
            if len(pieces[0]) < 4:
                pieces[:] = [b"".join(pieces)]
            length = _U32.unpack_from(pieces[0])[0]
            if length == 0 or length > self.max_packet:
                raise SftpFramingError(f"SFTP packet length {length} out of range "
                                       f"(1..{self.max_packet})")
            end = 4 + length
            if end > held:
                wanted = end
                break
            unit = self._previewed(direction, pieces, end) if self.preview is not None else None
            if unit is None:
                packet, rest = self._cut(pieces, end)
                unit = self._decode(direction, packet)
            else:
                rest = self._after(pieces, end)
            pieces[:] = [rest] if rest else []
            held -= end
            units.append(unit)
        self._held[direction] = held
        self._wanted[direction] = wanted
        return units

    @staticmethod
    def _cut(pieces: list, end: int) -> tuple[bytes, memoryview | None]:
        """The first ``end`` bytes of ``pieces`` (which hold at least that many) as one bytes
        object, and a view of what the last piece needed holds after them. Each packet's bytes
        are copied once; the bytes after it are not copied at all, so many small packets in one
        piece cost no more than one big one."""
        parts, got = [], 0
        for piece in pieces:
            if got + len(piece) >= end:
                need = end - got
                view = memoryview(piece)
                parts.append(view[:need])
                packet = bytes(parts[0]) if len(parts) == 1 else b"".join(parts)
                return packet, (view[need:] if need < len(piece) else None)
            parts.append(piece)
            got += len(piece)
        raise ValueError("fewer bytes than asked for")  # pragma: no cover - callers count

    @staticmethod
    def _after(pieces: list, end: int) -> memoryview | None:
        """A view of the bytes after the first ``end`` (which end in the last piece)."""
        last = pieces[-1]
        need = end - sum(len(piece) for piece in pieces[:-1])
        return memoryview(last)[need:] if need < len(last) else None

    def _previewed(self, direction: str, pieces: list, end: int) -> SftpUnit | None:
        """The packet of ``end`` bytes summarized from its first bytes, when it is a DATA or WRITE
        with more data than ``preview`` (None otherwise, or when its head does not decode:
        then it is read whole, as any packet)."""
        if end <= PREVIEW_HEAD + self.preview:
            return None
        head, _ = self._cut(pieces, PREVIEW_HEAD + self.preview)
        if head[4] not in BULK_TYPES:
            return None
        try:
            packet, message = elided_bulk_message(head, self.preview, end)
        except DecodeError:
            return None
        if message["data_length"] <= self.preview:
            return None
        return SftpUnit(direction, packet, message)

    def _decode(self, direction: str, packet: bytes) -> SftpUnit:
        number = packet[4]
        extension = None
        if number == FileXferType.EXTENDED_REPLY and len(packet) >= 9:
            extension = self._extensions.pop(_U32.unpack_from(packet, 5)[0], None)
        try:
            message = decode_packet(packet, extension, spans=False)
        except KeyError:
            return SftpUnit(direction, packet, None, f"unknown SFTP packet type {number}", True)
        except DecodeError as exc:
            return SftpUnit(direction, packet, None, str(exc))
        if number == FileXferType.EXTENDED:
            self._extensions[message["id"]] = message["extended_request"]
        elif number == FileXferType.STATUS:
            self._extensions.pop(message["id"], None)
        return SftpUnit(direction, packet, message)

    def note_sent(self, message: Message) -> None:
        """A message this side sent without passing it through ``feed``: an EXTENDED request
        is remembered, a reply forgets the request it answers (so a server that never sees
        its own replies does not keep every request's name)."""
        if message.spec.number == FileXferType.EXTENDED:
            self._extensions[message["id"]] = message["extended_request"]
        elif message.spec.number in (FileXferType.EXTENDED_REPLY, FileXferType.STATUS):
            self._extensions.pop(message["id"], None)


__all__ = ["SftpStreamDecoder", "SftpUnit", "SftpFramingError", "sftp_event", "MAX_PACKET",
           "BULK_PREVIEW"]
