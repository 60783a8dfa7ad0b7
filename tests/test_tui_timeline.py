"""The UI's model without Textual: the timeline (rows, phases, milestones, moving) and what the
panels are given (field items with byte coordinates, hex sections, key state, search)."""

from __future__ import annotations

import dataclasses

from sshviz.events import SftpMessage
from sshviz.scenario import Scenario, run_scenario
from sshviz.trace.model import Trace, TraceEvent, sftp_messages, sftp_name
from sshviz.transport.packet import PacketRecord
from sshviz.tui.present import (PAYLOAD_OFFSET, find_in, hex_sections, key_state, message_items,
                                search_matcher, walk)
from sshviz.tui.timeline import Timeline
from sshviz.wire.catalog import MSG, SSH
from sshviz.wire.spec import TEXT, UINT32, DecodedField, Field, Message, MessageSpec, decode_layout
from sshviz.wire.types import Reader


def complete(sc: Scenario | None = None) -> Timeline:
    return Timeline(run_scenario(sc or Scenario()).trace)


def test_a_live_timeline_produces_messages_as_it_steps():
    timeline = Timeline.from_scenario(Scenario())
    assert len(timeline) == 1 and not timeline.complete
    assert timeline.go(5) and len(timeline) == 6
    assert timeline.step(-2) and timeline.position == 3
    timeline.to_end()
    assert timeline.complete and timeline.current.name == "DISCONNECT"
    assert not timeline.step(1) and not timeline.go(-1)


def test_rows_have_phase_headings_and_encryption_markers():
    timeline = complete()
    headings = [row.text for row in timeline.rows if row.kind == "phase"]
    assert headings == ["version exchange", "key exchange", "authentication", "connection"]
    markers = [(timeline.events[row.event].direction, row.text) for row in timeline.rows if row.kind == "marker"]
    assert markers == [("s2c", "s→c encrypted: chacha20-poly1305"), ("c2s", "c→s encrypted: chacha20-poly1305")]
    # Every message has exactly one row, and rows are in message order.
    rows = [row.event for row in timeline.rows if row.kind == "message"]
    assert rows == list(range(len(timeline)))
    assert all(timeline.rows[timeline.row_of_event[i]].event == i for i in range(len(timeline)))


def test_phase_jumps():
    timeline = complete()
    names = []
    while timeline.next_phase():
        names.append(timeline.current.name)
    assert names == ["KEXINIT", "SERVICE_REQUEST", "CHANNEL_OPEN"]
    timeline.go(12)
    assert timeline.previous_phase() and timeline.current.name == "SERVICE_REQUEST"
    assert timeline.previous_phase() and timeline.current.name == "KEXINIT"


def test_a_rekey_is_a_second_key_exchange_phase_and_a_second_kex_in_the_key_state():
    timeline = complete(Scenario(rekey=True))
    headings = [row.text for row in timeline.rows if row.kind == "phase"]
    assert "key exchange again (rekey 1)" in headings
    state = key_state(timeline.milestones_until(len(timeline) - 1))
    assert state.kex_count == 2
    assert state.result.session_id != state.result.H  # the session id stays the first H


def test_key_state_fills_in_as_the_session_goes():
    timeline = complete()
    assert key_state(timeline.milestones_until(1)).negotiated is None
    at_kexinit = key_state(timeline.milestones_until(2))
    assert at_kexinit.negotiated.chosen("kex") == "curve25519-sha256" and at_kexinit.result is None
    after = key_state(timeline.milestones_until(8))
    assert set(after.kex) == {"client", "server"} and after.kex_index == {"server": 4, "client": 5}
    assert set(after.active) == {"c2s", "s2c"} and after.auth is None
    assert key_state(timeline.milestones_until(len(timeline) - 1)).auth.user == "alice"


def test_field_spans_point_at_their_bytes_in_every_view():
    timeline = complete()
    kexinit = timeline.events[2]
    record = kexinit.record
    for item in walk(message_items(kexinit)):
        start, end = item.span
        if item.space == "payload" and item.field.type == "name":
            assert record.payload[start:end].decode() == item.field.value
            assert record.plain[PAYLOAD_OFFSET + start:PAYLOAD_OFFSET + end].decode() == item.field.value
    packet = next(item for item in message_items(kexinit) if item.field.name == "packet")
    assert [child.field.name for child in packet.children] == \
        ["packet_length", "padding_length", "payload", "padding", "mac"]


def test_the_mac_field_says_what_protects_the_packet():
    def mac_doc(event):
        packet = next(item for item in message_items(event) if item.field.name == "packet")
        return next(child for child in packet.children if child.field.name == "mac").explanation

    events = complete().events  # chacha20-poly1305: an AEAD cipher, its tag and no MAC
    assert mac_doc(events[2]) == "none: no MAC before the first NEWKEYS"
    assert mac_doc(events[9]) == ("the authentication tag of chacha20-poly1305@openssh.com: it checks "
                                  "the packet, no separate MAC")
    ctr = run_scenario(Scenario(cipher="aes128-ctr", mac="hmac-sha2-256")).trace.events
    assert mac_doc(ctr[9]) == "integrity check (hmac-sha2-256)"


def test_version_line_is_split_into_its_parts():
    version = complete().events[0]
    (line,) = message_items(version)
    assert [(child.field.name, child.field.value) for child in line.children] == [
        ("protoversion", "2.0"), ("softwareversion", "sshviz_0.1"), ("CR LF", b"\r\n")]
    section, = hex_sections(version, wire=True)
    start, end = line.children[1].span
    assert section.data[start:end] == b"sshviz_0.1"


def channel_data_carrying_sftp() -> tuple[TraceEvent, bytes]:
    """A CHANNEL_DATA packet whose data is one SFTP packet, reported as an SftpMessage (as the
    SFTP layer does, whatever its catalog): an SSH_FXP_OPEN with a request id and a path."""
    spec = MessageSpec(3, "OPEN", (Field("id", UINT32, "request id"), Field("filename", TEXT, "path")),
                       "draft-ietf-secsh-filexfer-02 6.3", "opens a file", "sftp")
    body = b"\x03" + (7).to_bytes(4, "big") + b"\x00\x00\x00\x05hello"
    packet = len(body).to_bytes(4, "big") + body
    fields: list[DecodedField] = []
    decode_layout(spec.fields, Reader(packet, 5), {}, fields)  # spans count from the packet's start
    payload = MSG.CHANNEL_DATA.build(recipient_channel=0, data=packet).encode()
    message = SSH.decode(payload)
    padding = bytes(8 - (5 + len(payload)) % 8 + 8)
    plain = (1 + len(payload) + len(padding)).to_bytes(4, "big") + bytes((len(padding),)) + payload + padding
    record = PacketRecord("c2s", 9, plain, plain, b"", payload, len(plain) - 4, len(padding),
                          "none", "none", "none", 0, message)
    sftp = SftpMessage(0, "c2s", packet, Message(spec, {}, fields))
    return TraceEvent(0, 0.0, "c2s", record, [("client", sftp), ("server", sftp)]), packet


def test_sftp_packets_hang_under_channel_data_with_their_bytes():
    event, packet = channel_data_carrying_sftp()
    items = message_items(event)
    data = next(item for item in items if item.field.name == "data")
    (group,) = data.children  # reported by both sides, shown once
    assert group.title.startswith("SSH_FXP_OPEN")
    filename = next(child for child in group.children if child.field.name == "filename")
    start, end = filename.span
    assert event.record.payload[start:end] == b"\x00\x00\x00\x05hello"
    section, = hex_sections(event, wire=False)
    low, high = section.spaces["payload"] + start, section.spaces["payload"] + end
    assert section.data[low:high] == b"\x00\x00\x00\x05hello"


def test_sftp_messages_make_an_sftp_phase_and_show_on_the_ladder_row():
    trace = run_scenario(Scenario()).trace
    event, _ = channel_data_carrying_sftp()
    trace.events.insert(22, dataclasses.replace(event, index=22))
    for index, each in enumerate(trace.events):
        each.index = index
    timeline = Timeline(trace)
    assert timeline.phase_at(22) == "sftp"
    assert "SFTP" in [row.text for row in timeline.rows if row.kind == "phase"]
    assert list(timeline.search(search_matcher("fxp_open"))) == [22]


def test_a_real_sftp_session_nests_each_packet_where_its_bytes_are():
    timeline = complete(Scenario(sftp_actions=["put hello.txt", "get readme.txt", "ls"]))
    carrying = [e for e in timeline.events if sftp_messages(e)]
    assert carrying and all(e.name == "CHANNEL_DATA" for e in carrying)
    assert {timeline.phase_at(e.index) for e in carrying} == {"sftp"}
    for event in carrying:
        data = next(item for item in message_items(event) if item.field.name == "data")
        for group in data.children:
            # Each SFTP field's span, counted in the SSH payload, holds that field's bytes.
            start, end = group.span
            packet = event.record.payload[start:end]
            assert packet in [m.packet for m in sftp_messages(event)]
            for item in walk(group.children):
                low, high = item.span
                assert event.record.payload[low:high] == packet[item.field.start:item.field.end]
    names = [sftp_name(m) for e in carrying for m in sftp_messages(e)]
    assert names[:2] == ["SSH_FXP_INIT", "SSH_FXP_VERSION"] and "SSH_FXP_WRITE" in names
    assert "SSH_FXP_READDIR" in names


def test_search_by_name_and_by_value():
    timeline = complete()
    assert list(timeline.search(search_matcher("kexinit"))) == [2, 3]
    assert list(timeline.search(search_matcher("Hello, SSH"))) == [19, 21]  # the command, its output
    assert list(timeline.search(search_matcher("SSH-2.0-sshviz"))) == [0, 1]
    assert list(timeline.search(search_matcher("  "))) == []
    assert find_in(timeline.events[11], "ALICE") == "user_name = 'alice'"
    assert find_in(timeline.events[2], "kexinit") == "name KEXINIT"


def test_a_trace_without_any_message_is_an_empty_timeline():
    timeline = Timeline(Trace(run_scenario(Scenario()).trace.header))
    assert timeline.current is None and len(timeline.rows) == 0 and not timeline.go(0)


def test_an_undelivered_message_keeps_its_phase():
    trace = run_scenario(Scenario()).trace
    last = trace.events[-1]
    trace.events.append(TraceEvent(len(trace.events), last.time, "s2c", last.record, [], delivered=False))
    timeline = Timeline(trace)
    assert timeline.phase_at(len(timeline) - 1) == "connection"
