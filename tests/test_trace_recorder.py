"""The live recorder: times from the session's start, and big transfers shortened as they are
recorded, so a long session does not pile up in memory."""

from __future__ import annotations

import os

from sshviz.fs import ConfinedFS
from sshviz.scenario import Scenario, make_conductor
from sshviz.trace.elide import ELIDE_AFTER, ELIDED_KEEP
from sshviz.trace.fileformat import dumps_trace, loads_trace
from sshviz.trace.model import Trace, TraceHeader, TraceRecorder


def _recorded(tmp_path, size: int, elide_after):
    (tmp_path / "big").write_bytes(os.urandom(size))
    conductor = make_conductor(Scenario(command="cat /big"), fs=ConfinedFS(str(tmp_path)))
    conductor.run()
    recorder = TraceRecorder("client", Trace(TraceHeader("connect")), elide_after=elide_after)
    recorder.feed(conductor.client_events)
    recorder.finish()
    return recorder.trace


def _data(trace):
    return [e for e in trace.events if e.name == "CHANNEL_DATA"]


def test_big_output_is_shortened_while_recording(tmp_path):
    trace = _recorded(tmp_path, 1_000_000, ELIDE_AFTER)
    data = _data(trace)
    kept = sum(len(e.message["data"]) for e in data)
    elided = sum(e.elided for e in data)
    assert kept + elided == 1_000_000
    assert kept < ELIDE_AFTER + 64 * 1024
    assert all(len(e.record.wire) < 200 for e in data if e.elided)
    assert all(len(e.message["data"]) == ELIDED_KEEP for e in data if e.elided)
    assert trace.events[0].time == 0.0
    # and it saves and loads like any trace
    again = loads_trace(dumps_trace(trace))
    assert [e.elided for e in again.events] == [e.elided for e in trace.events]


def test_full_data_keeps_every_byte(tmp_path):
    trace = _recorded(tmp_path, 300_000, None)
    assert sum(len(e.message["data"]) for e in _data(trace)) == 300_000
    assert not any(e.elided for e in trace.events)


def test_sent_sftp_reports_sit_with_the_data_that_carries_them():
    """Sender and receiver report each SFTP packet on the same event, in-process and in a
    one-sided recording, however the packets were split into CHANNEL_DATA."""
    from sshviz.events import SftpMessage

    conductor = make_conductor(Scenario(sftp_actions=["put hello.txt", "get readme.txt", "ls -l"]))
    conductor.client.config.connection.max_packet = 40  # SFTP packets split over many messages
    conductor.run()

    def reports(trace):
        return [(e.index, side, c.direction, c.packet) for e in trace.events for side, c in e.changes
                if isinstance(c, SftpMessage)]

    placed = reports(conductor.trace)
    sent = [(i, d, p) for i, side, d, p in placed if (side == "client") == (d == "c2s")]
    received = [(i, d, p) for i, side, d, p in placed if (side == "client") != (d == "c2s")]
    assert sent == received and len(sent) > 20
    for side, events in (("client", conductor.client_events), ("server", conductor.server_events)):
        recorder = TraceRecorder(side, Trace(TraceHeader("live")))
        recorder.feed(events)
        recorder.finish()
        assert len(reports(recorder.trace)) == len(sent)
        assert not any(recorder.sftp._held.values())


def test_capture_import_shortens_big_transfers_unless_asked(tmp_path):
    from sshviz.trace.capture import import_capture
    from sshviz.trace.export import write_keylog, write_pcap
    from sshviz.trace.keylog import KeyLog

    (tmp_path / "big").write_bytes(os.urandom(400_000))
    conductor = make_conductor(Scenario(command="cat /big"), fs=ConfinedFS(str(tmp_path)))
    conductor.run()
    write_pcap(conductor.trace, tmp_path / "c.pcap")
    write_keylog(conductor.trace, tmp_path / "c.keylog")
    keys = KeyLog.load(tmp_path / "c.keylog")
    (short,) = import_capture(tmp_path / "c.pcap", keys)
    (full,) = import_capture(tmp_path / "c.pcap", keys, elide_after=None)
    assert sum(len(e.message["data"]) for e in _data(full)) == 400_000
    assert sum(len(e.message["data"]) + e.elided for e in _data(short)) == 400_000
    assert sum(e.elided for e in _data(short)) > 300_000
    assert [e.name for e in short.events] == [e.name for e in full.events]
