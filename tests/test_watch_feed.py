"""The event feed of ``serve`` without sockets: frames of a server's LiveConnections read back
into a watcher's, which then shows the same list and the same traces; a watcher that joins late
gets the state so far first; bad lines stop the reader with a FeedError naming the line; bulk
data goes over the feed as short as the server keeps it."""

from __future__ import annotations

import os

import pytest

from sshviz.events import PacketReceived, PacketSent, VersionReceived, VersionRecord, VersionSent
from sshviz.fs import ConfinedFS
from sshviz.presentation.feed import HELLO, FeedError, FeedReader, FeedWriter
from sshviz.presentation.live import KEEP_CLOSED, LiveConnections
from sshviz.scenario import Scenario, make_conductor, run_scenario
from sshviz.trace.fileformat import dumps_trace
from sshviz.trace.model import Trace


def server_events(trace: Trace):
    """What the server's endpoint saw of an in-process run, a unit at a time, as its recorder
    gets it."""
    for event in trace.events:
        plumbing = isinstance(event.record, VersionRecord)
        kind = ((VersionReceived if event.direction == "c2s" else VersionSent) if plumbing else
                (PacketReceived if event.direction == "c2s" else PacketSent))
        yield [kind(event.record), *(c for side, c in event.changes if side == "server")]


class Watcher:
    """A watcher in memory: the state when it joins, then every frame sent."""

    def __init__(self, writer: FeedWriter):
        self.live = LiveConnections("server", "serve", elide_after=None)
        self.titles = []
        self.reader = FeedReader(self.live, on_title=self.titles.append)
        self.pending = b""
        self.take(writer.state())
        writer.active = True

    def take(self, data: bytes) -> None:
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            self.reader.take(line.decode())


def shown(live: LiveConnections) -> list:
    """What the list shows of each connection, and its trace as a file would hold it."""
    return [(c.number, c.peer, c.user_text(), c.software_text(), c.offer and c.offer.hassh, c.state_text(),
             c.bytes_in, c.bytes_out, c.closed, dumps_trace(c.saved_trace(), None) if c.closed else len(c.trace))
            for c in live.connections]


def test_a_watcher_joining_midway_shows_the_same_list_and_traces_as_the_server():
    runs = [run_scenario(Scenario()).trace, run_scenario(Scenario(command="whoami", seed=3)).trace]
    server = LiveConnections("server", "serve")
    watchers: list[Watcher] = []
    writer = FeedWriter(server, lambda data: [w.take(data) for w in watchers])
    writer.show_title("listening on 127.0.0.1 port 2222")
    first = server.add("127.0.0.1:5000", created="2026-11-30T05:00:00Z")
    units = list(server_events(runs[0]))
    for events in units[: len(units) // 2]:
        first.feed(events)
    watchers.append(Watcher(writer))  # joins in the middle of the first session
    server.refused("127.0.0.9:4000", "2 connections from 127.0.0.9 not authenticated yet (--per-source-max-startups 1)")
    for events in units[len(units) // 2:]:
        first.feed(events)
    second = server.add("[::1]:6000")
    watchers.append(Watcher(writer))  # joins between sessions
    for events in server_events(runs[1]):
        second.feed(events)
    second.note("refused: already 1 connections (--max-sessions-per-user)")
    first.close()
    second.close()
    server.say("127.0.0.1:5000: disconnected")
    for watcher in watchers:
        assert watcher.reader.caught_up and watcher.pending == b""
        assert shown(watcher.live) == shown(server)
        assert [(r.address, r.reason, r.count) for r in watcher.live.refusals.values()] == \
               [(r.address, r.reason, r.count) for r in server.refusals.values()]
        assert list(watcher.live.log)[-1] == "127.0.0.1:5000: disconnected"
        assert watcher.titles == ["listening on 127.0.0.1 port 2222"]
    assert second.state_text().endswith(" · refused: already 1 connections (--max-sessions-per-user)")
    assert first.user == Scenario().user and first.offer is not None


def test_nothing_is_encoded_while_nobody_watches():
    server = LiveConnections("server", "serve")
    sent = []
    FeedWriter(server, sent.append)
    connection = server.add("127.0.0.1:5000")
    for events in server_events(run_scenario(Scenario()).trace):
        connection.feed(events)
    assert sent == []


def test_bulk_data_goes_over_the_feed_as_short_as_the_server_keeps_it(tmp_path):
    """A 1 MiB download: each data packet is sent while it is the newest (shortened already,
    as the recorder will shorten it), never whole once past the first 64 KiB."""
    (tmp_path / "big").write_bytes(os.urandom(1 << 20))
    conductor = make_conductor(Scenario(command="cat /big"), fs=ConfinedFS(str(tmp_path)))
    conductor.run()
    trace = conductor.trace
    server = LiveConnections("server", "serve")
    sent = []
    writer = FeedWriter(server, sent.append)
    writer.state()
    writer.active = True
    connection = server.add("127.0.0.1:5000")
    for events in server_events(trace):
        connection.feed(events)
    connection.close()
    total = sum(map(len, sent))
    assert total < 600_000, total  # 64 KiB each way whole, in hex, and the rest in short lines
    watcher_live = LiveConnections("server", "serve", elide_after=None)
    reader = FeedReader(watcher_live)
    for line in (HELLO.encode() + b"\n" + b"".join(sent)).decode().splitlines():
        reader.take(line)
    assert shown(watcher_live) == shown(server)
    assert connection.bytes_out > 1 << 20  # the list counts every byte sent, elided or not


@pytest.mark.parametrize("lines, error", [
    (["SSH-2.0-OpenSSH_9.6"], "line 1: not an sshviz feed"),
    (["sshviz-feed 9"], "a feed of another version ('9'; this sshviz reads 1): update sshviz"),
    (["sshviz-feed full"], "the server has as many watchers as it takes; try again later"),
    ([HELLO, "bogus 1"], "line 2: unknown frame 'bogus'"),
    ([HELLO, 'event 3 0 "c2s 0.0 0 KEXINIT plain=00"'], "line 2: connection 3 was never opened"),
    ([HELLO, 'open 1 {"peer": "p"}', 'event 1 5 "c2s 0.0 0 KEXINIT plain=00"'],
     "line 3: connection 1: event 5 after 0 events"),
    ([HELLO, 'open 1 {"peer": "p"}', 'event 1 0 "c2s 0.0 0 KEXINIT plain=zz"'],
     "line 3: plain= is not hex: 'zz'"),
    ([HELLO, 'open 1 [unclosed'], "line 2: not valid YAML: while parsing a flow sequence"),
    ([HELLO, 'open x {"peer": "p"}'], "line 2: invalid literal for int() with base 10: 'x'"),
    ([HELLO, 'open 1 "just text"'], "line 2: expected a mapping"),
])
def test_a_bad_line_stops_the_reader_saying_which(lines, error):
    reader = FeedReader(LiveConnections("server", "serve", elide_after=None))
    with pytest.raises(FeedError) as raised:
        for line in lines:
            reader.take(line)
    assert str(raised.value) == error


def test_old_closed_connections_go_on_both_sides_alike():
    server = LiveConnections("server", "serve", keep_closed=3)
    watchers: list[Watcher] = []
    writer = FeedWriter(server, lambda data: [w.take(data) for w in watchers])
    watchers.append(Watcher(writer))
    watchers[0].live.keep_closed = 3
    for port in range(6):
        server.add(f"127.0.0.1:{port}").close()
    late = Watcher(writer)
    assert [c.number for c in watchers[0].live.connections] == [c.number for c in server.connections] == [3, 4, 5, 6]
    assert KEEP_CLOSED >= 4
    assert [c.number for c in late.live.connections] == [3, 4, 5, 6] and late.reader.caught_up
