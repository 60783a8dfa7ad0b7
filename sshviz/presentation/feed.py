"""The event feed of ``sshviz serve``, read by ``sshviz watch``: a server's live connections as
lines of text, so that a watcher keeps a copy of them (the same LiveConnections, read by the
same code) and shows the same list and the same ladders. No I/O: ``FeedWriter`` turns changes
into bytes for an adapter to send, ``FeedReader`` takes lines an adapter received.

A feed is UTF-8 text, one frame a line: ``KIND NUMBER[ INDEX] [VALUE]``, VALUE one line of
YAML (``trace.fileformat.dump_line``), trace events as the trace file's own entries::

    sshviz-feed 1                         the first line: what this is and its version
    open 7 {"created": "...", "peer": "127.0.0.1:50312"}
    event 7 12 "s2c 0.051 6 CHANNEL_DATA plain=... | server ChannelData ..."
    note 7 "refused: already 10 connections (--max-sessions-per-user)"
    close 7 {"client_address": "...", "server_address": "..."}
    refused - {"address": "127.0.0.9", "count": 3, "reason": "..."}
    log - "127.0.0.1:50312: tester publickey success"
    title - "listening on 127.0.0.1 port 2222 · ssh-ed25519 SHA256:..."
    live -                                the state so far has been sent; what follows is new

An event frame for index N of a connection holding N events adds one; for index N-1 it
replaces the newest (which got more changes, or was shortened). A watcher that joins late is
sent the current state first (every connection kept, its events so far), then what happens.
A line that is not a frame stops the reader with a FeedError: lines are never split, so a
reader that skipped one would see the next whole, but a skipped event would leave a
connection's trace wrong, and a wrong trace is worse than a stopped one."""

from __future__ import annotations

from typing import Callable

from ..trace.codec import CodecError
from ..trace.fileformat import EntryReader, EntryWriter, dump_line, load_line
from .live import LiveConnection, LiveConnections, Refusal

MAGIC = "sshviz-feed"
VERSION = 1
HELLO = f"{MAGIC} {VERSION}"
FULL = f"{MAGIC} full"  # said instead of HELLO by a server that has all the watchers it takes


class FeedError(ValueError):
    """A line that is not a frame of the feed, or one that does not fit what came before."""


class FeedRefused(FeedError):
    """The server turned this watcher away (it has all it takes), or speaks another version."""


def _frame(kind: str, number, *rest: str) -> str:
    return " ".join((kind, str(number), *rest)) + "\n"


class FeedWriter:
    """Listens to a LiveConnections (as its and its connections' ``listener``) and turns each
    change into frames for ``send`` (bytes for every watcher). ``active``: whether anyone
    watches; while no one does nothing is encoded. ``state()`` is what a new watcher is sent
    first; it also resets the writers, so that what follows continues it."""

    def __init__(self, live: LiveConnections, send: Callable[[bytes], None]):
        self.live = live
        self.send = send
        self.active = False
        self.title = ""
        self._writers: dict[int, EntryWriter] = {}
        self._sent: dict[int, tuple[int, int]] = {}  # number -> (events sent, changes of the newest)
        live.listener = self
        for connection in live.connections:
            connection.listener = self

    def _out(self, text: str) -> None:
        if self.active:
            self.send(text.encode("utf-8"))

    # -- what LiveConnections and LiveConnection tell -----------------------------------------

    def opened(self, connection: LiveConnection) -> None:
        self._writers[connection.number] = EntryWriter()
        self._sent[connection.number] = (0, 0)
        alive = {c.number for c in self.live.connections}
        for number in [n for n in self._writers if n not in alive]:
            del self._writers[number], self._sent[number]
        self._out(self._opening(connection))

    def updated(self, connection: LiveConnection) -> None:
        if self.active:
            self._out("".join(self._new_events(connection)))

    def noted(self, connection: LiveConnection, text: str) -> None:
        self._out(_frame("note", connection.number, dump_line(text)))

    def closed(self, connection: LiveConnection) -> None:
        if self.active:
            self._out("".join(self._new_events(connection)) + self._closing(connection))

    def refused(self, refusal: Refusal) -> None:
        self._out(self._refusal(refusal))

    def said(self, line: str) -> None:
        self._out(_frame("log", "-", dump_line(line)))

    def show_title(self, text: str) -> None:
        self.title = text
        self._out(_frame("title", "-", dump_line(text)))

    # -- frames ---------------------------------------------------------------------------------

    def _opening(self, connection: LiveConnection) -> str:
        return _frame("open", connection.number, dump_line({"peer": connection.peer,
                                                            "created": connection.trace.header.created}))

    def _closing(self, connection: LiveConnection) -> str:
        header = connection.trace.header
        return _frame("close", connection.number, dump_line({"client_address": header.client_address,
                                                             "server_address": header.server_address}))

    def _refusal(self, refusal: Refusal) -> str:
        return _frame("refused", "-", dump_line({"address": refusal.address, "reason": refusal.reason,
                                                 "count": refusal.count}))

    def _new_events(self, connection: LiveConnection):
        """Frames for the events a watcher has not seen as they are now: new ones, and the
        newest sent if it got more changes since."""
        events = connection.trace.events
        count = len(events)  # the server's thread may add to them: this reads a moment's state
        sent, changes = self._sent.get(connection.number, (0, 0))
        start = sent - 1 if sent and len(events[sent - 1].changes) != changes else sent
        writer = self._writers.setdefault(connection.number, EntryWriter())
        for index in range(start, count):
            event = self._as_sent(connection, index, count)
            yield _frame("event", connection.number, str(index), writer.line(event))
        if count:
            self._sent[connection.number] = (count, len(events[count - 1].changes))

    @staticmethod
    def _as_sent(connection: LiveConnection, index: int, count: int):
        """Event ``index``; the newest as it will be once complete (bulk data shortened)."""
        if index == count - 1 and not connection.closed:
            newest = connection.recorder.newest()
            if newest is not None and newest.index == index:
                return newest
        return connection.trace.events[index]

    def state(self) -> bytes:
        """Everything so far, for a watcher that joins now: the hello, each connection kept
        with its events, notes and end, the refusals, the log, the title, then ``live``."""
        parts = [HELLO + "\n"]
        self._writers, self._sent = {}, {}
        for connection in list(self.live.connections):
            parts.append(self._opening(connection))
            parts.extend(self._new_events(connection))
            parts.extend(_frame("note", connection.number, dump_line(text)) for text in connection.notes)
            if connection.closed:
                parts.append(self._closing(connection))
        parts.extend(self._refusal(refusal) for refusal in list(self.live.refusals.values()))
        parts.extend(_frame("log", "-", dump_line(line)) for line in list(self.live.log))
        if self.title:
            parts.append(_frame("title", "-", dump_line(self.title)))
        parts.append(_frame("live", "-"))
        return "".join(parts).encode("utf-8")


class FeedReader:
    """A watcher's side: frames taken in order into ``live`` (a LiveConnections made with
    ``elide_after=None``: the events come shortened already). ``on_title`` gets the server's
    title; ``caught_up`` is True once the state so far has come."""

    def __init__(self, live: LiveConnections, on_title: Callable[[str], None] | None = None):
        self.live = live
        self.on_title = on_title
        self.greeted = False
        self.caught_up = False
        self.lines = 0
        self._readers: dict[int, EntryReader] = {}

    def take(self, line: str) -> None:
        """One line of the feed (without its line end)."""
        self.lines += 1
        try:
            self._take(line)
        except FeedRefused:
            raise
        except FeedError as exc:
            raise FeedError(f"line {self.lines}: {exc}") from None
        except (CodecError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise FeedError(f"line {self.lines}: {exc}") from None

    def _take(self, line: str) -> None:
        if not self.greeted:
            if line == FULL:
                raise FeedRefused("the server has as many watchers as it takes; try again later")
            if not line.startswith(MAGIC + " "):
                raise FeedError("not an sshviz feed")
            if line != HELLO:
                raise FeedRefused(f"a feed of another version ({line[len(MAGIC) + 1:][:20]!r}; "
                                f"this sshviz reads {VERSION}): update sshviz")
            self.greeted = True
            return
        kind, number, *rest = line.split(" ", 2)
        value = rest[0] if rest else ""
        handler = self._HANDLERS.get(kind)
        if handler is None:
            raise FeedError(f"unknown frame {kind[:20]!r}")
        handler(self, number, value)

    def _connection(self, number: str) -> LiveConnection:
        wanted = int(number)
        for connection in reversed(self.live.connections):
            if connection.number == wanted:
                return connection
        raise FeedError(f"connection {wanted} was never opened")

    def _open(self, number: str, value: str) -> None:
        data = _mapping(value)
        self.live.add(str(data["peer"]), created=str(data.get("created", "")), number=int(number))
        self._readers[int(number)] = EntryReader()
        alive = {c.number for c in self.live.connections}
        for gone in [n for n in self._readers if n not in alive]:
            del self._readers[gone]

    def _event(self, number: str, value: str) -> None:
        connection = self._connection(number)
        index, _, entry = value.partition(" ")
        index = int(index)
        events = connection.trace.events
        if index not in (len(events), len(events) - 1):
            raise FeedError(f"connection {connection.number}: event {index} after {len(events)} events")
        event = self._readers[connection.number].event(index, entry)
        if index == len(events):
            events.append(event)
        else:
            events[index] = event
        connection.took()

    def _note(self, number: str, value: str) -> None:
        self._connection(number).note(str(load_line(value)))

    def _close(self, number: str, value: str) -> None:
        connection = self._connection(number)
        data = _mapping(value)
        connection.trace.header.client_address = str(data.get("client_address", ""))
        connection.trace.header.server_address = str(data.get("server_address", ""))
        connection.close()

    def _refused(self, _: str, value: str) -> None:
        data = _mapping(value)
        self.live.tally(str(data["address"]), str(data["reason"]), int(data["count"]))

    def _log(self, _: str, value: str) -> None:
        self.live.say(str(load_line(value)))

    def _title(self, _: str, value: str) -> None:
        if self.on_title is not None:
            self.on_title(str(load_line(value)))

    def _live(self, _: str, value: str) -> None:
        self.caught_up = True

    _HANDLERS = {"open": _open, "event": _event, "note": _note, "close": _close, "refused": _refused,
                 "log": _log, "title": _title, "live": _live}


def _mapping(value: str) -> dict:
    data = load_line(value)
    if not isinstance(data, dict):
        raise FeedError("expected a mapping")
    return data
