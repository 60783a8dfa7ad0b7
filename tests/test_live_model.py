"""The live views' model without sockets or Textual: a timeline on a trace someone else fills
(messages and late changes taken in as they come), a LiveConnection fed an endpoint's events
(software, offer, user, state, bytes), refusals counted per address and limit, old closed
connections forgotten; and serve's --max-channels limit and its refusal event, in memory."""

from __future__ import annotations

import pytest

from sshviz.cli import main
from sshviz.connection.layer import MAX_CHANNELS
from sshviz.events import (ChannelRefused, KexComputed, PacketReceived, PacketSent, VersionReceived,
                           VersionRecord, VersionSent)
from sshviz.presentation.live import LiveConnection, LiveConnections
from sshviz.scenario import Scenario, run_scenario
from sshviz.trace.model import Trace, TraceHeader
from sshviz.tui.timeline import Timeline
from sshviz.wire.catalog import SSH
from sshviz.wire.codes import OpenFailureReason

from .conftest import SentMessages


def test_a_live_timeline_takes_in_messages_and_late_changes_as_they_come():
    whole = run_scenario(Scenario()).trace
    trace = Trace(TraceHeader("serve"))
    timeline = Timeline(trace, live=True)
    assert not timeline.complete and len(timeline) == 0
    reply = next(e.index for e in whole.events if any(isinstance(c, KexComputed) for _, c in e.changes))
    for event in whole.events[:reply + 1]:
        changes = event.changes
        # The recorder appends the message first; a slow job's result (K, H) can come later.
        trace.events.append(type(event)(event.index, event.time, event.direction, event.record, [],
                                        event.interception, event.delivered))
        assert timeline.catch_up() == 1
        trace.events[-1].changes.extend(changes)
    assert not any(isinstance(m.event, KexComputed) for m in timeline.milestones)
    timeline.catch_up()  # nothing new on the ladder, but the last message's changes are read
    assert any(isinstance(m.event, KexComputed) for m in timeline.milestones)
    assert timeline.produce(5) == 0 and timeline.go(reply) and not timeline.go(reply + 1)
    timeline.produce_all()  # must not wait for messages that have not come
    timeline.end()
    assert timeline.complete and len(timeline.rows) > reply


def test_a_connection_fed_a_servers_events_says_who_what_and_how_much():
    conductor = run_scenario(Scenario())
    connection = LiveConnection(1, "server", "127.0.0.1:5000", "serve")
    for event in conductor.trace.events:  # what the server's endpoint saw, as its recorder gets it
        plumbing = isinstance(event.record, VersionRecord)
        kind = ((VersionReceived if event.direction == "c2s" else VersionSent) if plumbing else
                (PacketReceived if event.direction == "c2s" else PacketSent))
        connection.feed([kind(event.record), *(c for side, c in event.changes if side == "server")])
    connection.close()
    assert connection.software == "SSH-2.0-sshviz_0.1" and connection.software_text() == "sshviz_0.1"
    assert connection.offer.side == "client" and connection.offer.strict_kex
    assert connection.user == Scenario().user and connection.closed
    assert connection.bytes_in == sum(len(e.record.wire) for e in conductor.trace.events if e.direction == "c2s")
    assert connection.bytes_out == sum(len(e.record.wire) for e in conductor.trace.events if e.direction == "s2c")
    assert [e.name for e in connection.trace.events] == [e.name for e in conductor.trace.events]
    assert connection.state.startswith("client ended: ")


def test_refusals_are_one_row_per_address_and_limit_and_old_connections_go():
    live = LiveConnections("server", "serve", keep_closed=2)
    live.refused("127.0.2.1:4000", "50 connections from 127.0.2.1 not authenticated yet (--per-source-max-startups 50)")
    live.refused("127.0.2.1:4001", "51 connections from 127.0.2.1 not authenticated yet (--per-source-max-startups 50)")
    live.refused("127.0.2.1:4002", "101 connections not authenticated yet (--max-startups 100:30:200)")
    live.refused("[::1]:4003", "101 connections not authenticated yet (--max-startups 100:30:200)")
    rows = sorted((r.address, r.count, r.reason) for r in live.refusals.values())
    assert rows == [("127.0.2.1", 1, "101 connections not authenticated yet (--max-startups 100:30:200)"),
                    ("127.0.2.1", 2, "51 connections from 127.0.2.1 not authenticated yet (--per-source-max-startups 50)"),
                    ("[::1]", 1, "101 connections not authenticated yet (--max-startups 100:30:200)")]
    connections = [live.add(f"127.0.0.1:{port}") for port in range(5)]
    for connection in connections[:4]:
        connection.close()
    live.add("127.0.0.1:6000")  # a new connection makes room: the two newest closed stay
    assert [c.number for c in live.connections] == [3, 4, 5, 6]


def test_a_refused_channel_is_noted_on_its_connection():
    connection = LiveConnection(1, "server", "127.0.0.1:5000", "serve")
    connection.feed([ChannelRefused("session", OpenFailureReason.RESOURCE_SHORTAGE, "too many channels (at most 3 at once)")])
    assert connection.state_text() == "connected · refused a session channel: too many channels (at most 3 at once)"


def test_the_channel_limit_refuses_one_more_with_resource_shortage():
    """A connection layer in memory: with max_channels 3, the fourth CHANNEL_OPEN gets
    CHANNEL_OPEN_FAILURE (RESOURCE_SHORTAGE) and a ChannelRefused event; a closed channel frees
    its place."""
    from sshviz.connection.layer import Connection, ConnectionConfig

    transport, events = SentMessages(), []
    connection = Connection("server", ConnectionConfig(max_channels=3), transport, events)

    def open_session(sender: int) -> None:
        connection.handle(SSH.build("CHANNEL_OPEN", channel_type="session", sender_channel=sender,
                                    initial_window_size=1000, maximum_packet_size=1000))

    for sender in range(4):
        open_session(sender)
    answers = [m.spec.name for m in transport.sent]
    assert answers == ["CHANNEL_OPEN_CONFIRMATION"] * 3 + ["CHANNEL_OPEN_FAILURE"]
    failure = transport.sent[-1]
    assert failure["recipient_channel"] == 3 and failure["reason_code"] == OpenFailureReason.RESOURCE_SHORTAGE
    assert failure["description"] == "too many channels (at most 3 at once)"
    assert [e for e in events if isinstance(e, ChannelRefused)] == [
        ChannelRefused("session", OpenFailureReason.RESOURCE_SHORTAGE, "too many channels (at most 3 at once)")]
    first = next(iter(connection.channels))
    connection.close(first)
    connection.handle(SSH.build("CHANNEL_CLOSE", recipient_channel=first))
    open_session(9)
    assert transport.sent[-1].spec.name == "CHANNEL_OPEN_CONFIRMATION"


@pytest.mark.parametrize("value, message", [("0", "'0' is not a positive whole number"),
                                            (str(MAX_CHANNELS + 1), f"at most {MAX_CHANNELS}")])
def test_max_channels_must_be_a_whole_number_up_to_the_hard_limit(capsys, value, message):
    with pytest.raises(SystemExit) as exit:
        main(["serve", "--max-channels", value])
    assert exit.value.code == 2
    assert f"argument --max-channels: {message}" in capsys.readouterr().err
