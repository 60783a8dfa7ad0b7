"""Live connections as the UI lists them (``serve`` and ``connect`` with the UI): each one's
trace, recorded as its messages arrive, and what a list shows of it (who is at the other end,
their software, what they offered, the state, the bytes each way), and the connections the
server's limits refused. No I/O and no Textual: an adapter feeds events in (or ``watch``'s
feed reader, trace events), the UI reads; a ``listener`` (the feed's writer) is told of each
change.

``changes`` counters let a UI that redraws a few times a second skip what did not change."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

from ..events import (AuthAttempt, AuthSucceeded, ChannelRefused, Disconnected, KeysActivated)
from ..sides import Side
from ..trace.elide import ELIDE_AFTER
from ..trace.model import Trace, TraceHeader, TraceRecorder
from ..wire.catalog import MSG, DisconnectReason
from .offer import Offer, offer_of
from .peertext import visible, word

KEEP_CLOSED = 500  # closed connections kept in the list (and their traces) before the oldest go
LOG_LINES = 500


class LiveConnection:
    """One connection, recorded from one endpoint's events: its trace (the recorder's; channel
    data shortened past ``elide_after`` a direction) and what the list shows of it, read from
    the trace's events. ``feed`` takes events as an adapter's recorder does, so it is attached
    as one; a watcher fills the trace from the feed instead and calls ``took``."""

    def __init__(self, number: int, side: str, peer: str, source: str, created: str = "",
                 elide_after: int | None = ELIDE_AFTER, on_change: Callable[[], None] | None = None):
        self.number = number
        self.side = side  # the side recording: "server" for serve, "client" for connect
        self.peer = peer
        self.trace = Trace(TraceHeader(source, created=created))
        self.recorder = TraceRecorder(side, self.trace, elide_after=elide_after)
        self.user = ""  # the user named by the client (logged in or not)
        self.software = ""  # the peer's identification line, as sent
        self.offer: Offer | None = None  # what the peer's KEXINIT offered
        self.state = "connected"
        self.notes: list[str] = []  # refusals on this connection (channels, sessions per user)
        self.bytes_in = 0
        self.bytes_out = 0
        self.closed = False
        self.changes = 0  # bumped whenever something shown changed
        self._on_change = on_change
        self.listener = None  # told of every change (the feed to ``sshviz watch``)
        self._keys = 0
        self._read_events = 0  # how far the list has read the trace: the event,
        self._record_read = False  # ... whether its record,
        self._changes_read = 0  # ... and how many of its changes
        self._early_read = 0

    @property
    def peer_side(self) -> str:
        return Side(self.side).opposite

    def feed(self, events: list) -> None:
        """An endpoint's events, recorded; the list's columns follow from the trace."""
        self.recorder.feed(events)
        self.took()

    def took(self) -> None:
        """The trace grew (or its newest event got more changes, or was shortened): read what
        is new. ``serve`` records into the trace, ``watch`` fills it from the feed; both read
        it here, so both lists show the same."""
        self._read_trace()
        self.changes += 1
        if self._on_change is not None:
            self._on_change()
        if self.listener is not None:
            self.listener.updated(self)

    def _read_trace(self) -> None:
        early = self.trace.header.extra.get("early_events", ())
        for change in early[self._early_read:]:
            self._changed(change)
        self._early_read = len(early)
        events = self.trace.events
        while self._read_events < len(events):
            event = events[self._read_events]
            if not self._record_read:
                self._record(event)
                self._record_read = True
            for _, change in event.changes[self._changes_read:]:
                self._changed(change)
            self._changes_read = len(event.changes)
            if self._read_events == len(events) - 1:
                break  # the newest event may still get changes
            self._read_events += 1
            self._record_read, self._changes_read = False, 0

    def _record(self, event) -> None:
        """A version line or a packet, either way."""
        record = event.record
        received = event.sender == self.peer_side
        if event.kind == "packet":  # its length as sent, also when bulk data was left out
            size = 4 + record.packet_length + len(record.mac)
        else:
            size = len(record.wire)
        if received:
            self.bytes_in += size
        else:
            self.bytes_out += size
        message = event.message
        self._program(message)
        if not received:
            return
        if event.kind == "version":
            self.software = record.text
            self.state = "key exchange"
        elif self.offer is None and message is not None and message.spec is MSG.KEXINIT:
            self.offer = offer_of(message, self.peer_side)

    def _program(self, message) -> None:
        """A session's program, from the CHANNEL_REQUEST that starts it (either way)."""
        if message is None or message.spec is not MSG.CHANNEL_REQUEST or not self.state.startswith("logged in"):
            return
        kind = message["request_type"]
        if kind == "exec":
            self.state = f"logged in: exec {visible(message['command'], limit=40)}"
        elif kind == "subsystem":
            self.state = f"logged in: {word(message['subsystem_name'], limit=20)}"
        elif kind == "shell":
            self.state = "logged in: shell"

    def _changed(self, event) -> None:
        if isinstance(event, KeysActivated) and self._keys < 2:
            self._keys += 1
            if self._keys == 2:
                self.state = "authenticating"
        elif isinstance(event, AuthAttempt):  # the server's view of a login
            if event.result == "success":
                self.user, self.state = event.user, "logged in"
            elif not self.user:
                self.user = event.user
        elif isinstance(event, AuthSucceeded):  # the client's
            self.user, self.state = event.user, "logged in"
        elif isinstance(event, ChannelRefused):
            self.note(f"refused a {event.channel_type} channel: {event.description}")
        elif isinstance(event, Disconnected):
            who = "client" if (self.side == Side.SERVER) == event.by_peer else "server"
            self.state = f"{who} ended: {visible(event.description, limit=60) or _reason(event.reason)}"

    def note(self, text: str) -> None:
        """A refusal on this connection, for the list (and its state)."""
        self.notes.append(text)
        self.changes += 1
        if self._on_change is not None:
            self._on_change()
        if self.listener is not None:
            self.listener.noted(self, text)

    def close(self) -> None:
        """The connection has ended."""
        if self.closed:
            return
        self.closed = True
        self.recorder.finish()
        self.trace.fill_header()
        self._read_trace()  # the last event, shortened
        if " ended: " not in self.state:
            self.state = "closed"
        self.changes += 1
        if self._on_change is not None:
            self._on_change()
        if self.listener is not None:
            self.listener.closed(self)

    # -- what a recorder offers (serve --trace saves through it) ----------------------------

    def finish(self) -> None:
        self.recorder.finish()

    # -- what a list shows --------------------------------------------------------------------

    def user_text(self) -> str:
        return word(self.user, limit=32) if self.user else ""

    def software_text(self) -> str:
        """The peer's software (its version line without "SSH-2.0-"), escaped."""
        text = self.software.removeprefix("SSH-2.0-")
        return visible(text, limit=60)

    def state_text(self) -> str:
        return self.state + (f" · {self.notes[-1]}" if self.notes else "")

    def saved_trace(self) -> Trace:
        """A copy of the trace as it is now, its header filled in, to save. It only reads (the
        recorder may be adding to the trace in another thread); the file writer shortens bulk
        data as it writes."""
        header = self.trace.header
        copy = Trace(TraceHeader(header.source, header.client_version, header.server_version,
                                 header.client_address, header.server_address, dict(header.scenario),
                                 dict(header.algorithms), header.created, dict(header.extra)),
                     list(self.trace.events))
        copy.fill_header()
        return copy


def _reason(code: int) -> str:
    return DisconnectReason(code).name if code in DisconnectReason._value2member_map_ else str(code)


@dataclass
class Refusal:
    """Connections from one address the limits turned away for one reason."""

    address: str
    reason: str
    count: int = 1


class LiveConnections:
    """Every connection of a server (or the one of a client) and the refusals, in arrival
    order; ``changes`` is bumped on any change, so a UI can tell whether to redraw."""

    def __init__(self, side: str, source: str, elide_after: int | None = ELIDE_AFTER,
                 keep_closed: int = KEEP_CLOSED):
        self.side = side
        self.source = source
        self.elide_after = elide_after
        self.keep_closed = keep_closed
        self.connections: list[LiveConnection] = []
        self.refusals: dict[tuple[str, str], Refusal] = {}
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.changes = 0
        self.listener = None  # told of every change (a Feed, for ``sshviz watch``)
        self._numbered = 0

    def _changed(self) -> None:
        self.changes += 1

    def add(self, peer: str, created: str = "", number: int | None = None) -> LiveConnection:
        """A new connection, numbered in turn (``number``: as the server numbered it)."""
        self._numbered = number if number is not None else self._numbered + 1
        connection = LiveConnection(self._numbered, self.side, peer, self.source, created,
                                    self.elide_after, self._changed)
        connection.listener = self.listener
        self.connections.append(connection)
        self._forget_old()
        self._changed()
        if self.listener is not None:
            self.listener.opened(connection)
        return connection

    def _forget_old(self) -> None:
        closed = [c for c in self.connections if c.closed]
        if len(closed) > self.keep_closed:
            gone = {id(c) for c in closed[: len(closed) - self.keep_closed]}
            self.connections = [c for c in self.connections if id(c) not in gone]

    def refused(self, peer: str, reason: str) -> Refusal:
        """The limits refused a connection from ``peer`` (an address with its port)."""
        address = peer.rsplit(":", 1)[0] if peer.count(":") == 1 or peer.startswith("[") else peer
        return self.tally(address, reason)

    def tally(self, address: str, reason: str, count: int | None = None) -> Refusal:
        """One more refusal of ``address`` for ``reason`` (``count``: as many as the server says)."""
        # One row per address and limit: the reason's numbers change, the limit named last does not.
        key = (address, reason[reason.rfind("(--"):] if "(--" in reason else reason)
        refusal = self.refusals.get(key)
        if refusal is None:
            refusal = self.refusals[key] = Refusal(address, reason, 0)
        refusal.count = refusal.count + 1 if count is None else count
        refusal.reason = reason
        self._changed()
        if self.listener is not None:
            self.listener.refused(refusal)
        return refusal

    def say(self, line: str) -> None:
        self.log.append(line)
        self._changed()
        if self.listener is not None:
            self.listener.said(line)
