"""Keeping big transfers small: after the first ``ELIDE_AFTER`` bytes of channel data in a
direction, each data packet keeps only its first ``ELIDED_KEEP`` data bytes, and the event
counts what was left out. The trace file writer and the live recorder share this, so a recorded
256 MiB transfer costs neither 256 MiB on disk nor in memory."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..events import ChannelData
from ..wire.catalog import MSG
from ..wire.spec import Message

ELIDE_AFTER = 64 * 1024  # channel data bytes per direction kept whole before eliding starts
ELIDED_KEEP = 64  # data bytes an elided packet keeps
BULK_MESSAGES = frozenset({MSG.CHANNEL_DATA, MSG.CHANNEL_EXTENDED_DATA})


@dataclass(slots=True)
class Shortened:
    """The parts of a bulk data packet that a shortened copy of it holds."""

    plain: bytes
    wire: bytes
    payload: bytes
    message: Message
    changes: list
    elided: int

    def apply(self, record) -> None:
        """Shorten ``record`` itself: only for a record its owner has given to no one yet."""
        record.wire, record.plain, record.payload, record.message = self.wire, self.plain, self.payload, self.message


class BulkCounter:
    """Counts channel data per direction and says which packets to shorten."""

    def __init__(self, elide_after: int | None = ELIDE_AFTER):
        self.elide_after = elide_after
        self.seen = {"c2s": 0, "s2c": 0}

    def shorten(self, event) -> Shortened | None:
        """The shortened parts of ``event``'s packet, or None to keep it whole."""
        return self.shorten_packet(event.direction, event.record, event.changes)

    def shorten_packet(self, direction: str, record, changes: list) -> Shortened | None:
        """The same for a packet whose trace event is still to be made (a capture's import
        makes only the shortened one)."""
        message = getattr(record, "message", None)
        if message is None or message.spec not in BULK_MESSAGES or self.elide_after is None:
            return None
        values = message.values
        data = values.get("data", b"")
        size = len(data)
        seen = self.seen[direction]
        self.seen[direction] = seen + size
        if seen < self.elide_after or size <= ELIDED_KEEP:
            return None
        short = bytes(data[:ELIDED_KEEP])
        shorter = Message(message.spec, {**values, "data": short})  # no spans: the UI decodes them again if asked
        payload = record.payload
        head = 5 + len(payload) - size  # lengths and the message header, no data
        return Shortened(record.plain[:head], record.wire[:head], _shorter_payload(shorter, payload, data), shorter,
                         [(side, _shorter_data(e, data, short)) for side, e in changes], size - ELIDED_KEEP)


def _shorter_payload(shorter: Message, payload: bytes, data: bytes) -> bytes:
    """``shorter.encode()``: the payload up to the data's length field, then the short data
    (the data is the last field of a bulk message), without encoding it all again."""
    if not payload.endswith(data):
        return shorter.encode()
    short = shorter.values["data"]
    return payload[: len(payload) - len(data) - 4] + len(short).to_bytes(4, "big") + short


def _shorter_data(event, full: bytes, short: bytes):
    if type(event) is ChannelData:
        return ChannelData(event.channel, short, event.stream) if event.data == full else event
    return replace(event, data=short) if getattr(event, "data", None) == full else event
