"""Captures into traces: TCP reassembly, IPv4 and IPv6, pcap and pcapng, the key log in both
forms, damaged packets and gaps, and what is shown without keys."""

from __future__ import annotations

import dataclasses

import pytest

from sshviz.events import ChannelData, KexComputed, SftpMessage
from sshviz.scenario import Scenario, run_scenario
from sshviz.trace.capture import CaptureError, import_capture
from sshviz.trace.export import write_keylog, write_pcap
from sshviz.trace.files import open_traces, redecode
from sshviz.trace.keylog import KeyLog, KeyLogError, keylog_lines

from .captures import SegmentWriter, trace_capture, write_capture


def messages(trace):
    return [(e.direction, e.name) for e in trace.events]


def payloads(trace):
    return [(e.direction, e.record.payload if e.kind == "packet" else e.record.wire) for e in trace.events]


def keylog_for(trace, form="auto") -> KeyLog:
    return KeyLog.parse("\n".join(keylog_lines(trace, form)), "test.keylog")


@pytest.fixture(scope="module")
def session():
    return run_scenario(Scenario(command="echo pong")).trace


def test_an_exported_capture_imports_as_the_same_session(session, tmp_path):
    write_pcap(session, tmp_path / "s.pcap")
    write_keylog(session, tmp_path / "s.keylog")
    (trace,) = open_traces(str(tmp_path / "s.pcap"), str(tmp_path / "s.keylog"))
    assert messages(trace) == messages(session)
    assert payloads(trace) == payloads(session)
    assert trace.header.source == "capture" and trace.header.server_address == "127.0.0.2:22"
    assert trace.header.algorithms == session.header.algorithms
    outputs = [c.data for e in trace.events for s, c in e.changes if isinstance(c, ChannelData)]
    assert outputs == [b"pong\n"]
    kex = [c for e in trace.events for _, c in e.changes if isinstance(c, KexComputed)]
    original = [c for e in session.events for s, c in e.changes if isinstance(c, KexComputed) and s == "client"]
    assert [k.H for k in kex] == [k.H for k in original]
    assert [k.keys for k in kex] == [k.keys for k in original]


@pytest.mark.parametrize("scenario", [
    Scenario(cipher="aes128-ctr", mac="hmac-sha2-512", compression="zlib@openssh.com", rekey=True),
    Scenario(kex="diffie-hellman-group-exchange-sha256", hostkey="ecdsa-sha2-nistp384",
             cipher="aes256-gcm@openssh.com", auth="password"),
    Scenario(kex="ecdh-sha2-nistp256", cipher="aes192-ctr", mac="hmac-sha1-etm@openssh.com",
             compression="zlib"),
    Scenario(kex="mlkem768x25519-sha256", guess_kex=True),
    Scenario(kex="sntrup761x25519-sha512@openssh.com", cipher="aes256-ctr", mac="hmac-sha2-256-etm@openssh.com"),
], ids=lambda s: f"{s.kex}-{s.cipher}-{s.compression}")
@pytest.mark.parametrize("form", ["auto", "shared"])
def test_every_kex_family_cipher_and_mac_decodes_from_a_capture(scenario, form, tmp_path):
    session = run_scenario(scenario).trace
    path = trace_capture(session, tmp_path / "c.pcap", seed=3)
    (trace,) = import_capture(path, keylog_for(session, form))
    assert messages(trace) == messages(session)
    assert payloads(trace) == payloads(session)


@pytest.mark.parametrize("layout", [
    dict(reorder=True, retransmit=True),
    dict(ipv6=True, link="null", max_size=7),
    dict(ipv6=True, link="raw", pcapng=True, reorder=True),
    dict(handshake=False, retransmit=True),
], ids=["reordered-retransmitted", "ipv6-bsd-loopback-tiny-segments", "ipv6-pcapng", "no-handshake"])
def test_tcp_streams_are_reassembled(session, layout, tmp_path):
    path = trace_capture(session, tmp_path / "c.cap", seed=7, **layout)
    (trace,) = import_capture(path, keylog_for(session))
    assert payloads(trace) == payloads(session)
    assert trace.header.client_version == "SSH-2.0-sshviz_0.1"
    assert trace.events[-1].frame is not None


def test_ssh_is_found_on_any_port_among_other_traffic(session, tmp_path):
    other = SegmentWriter(client=("10.0.0.5", 5000), server=("10.0.0.6", 80))
    noise = [*other.handshake(), other.data("c2s", b"GET / HTTP/1.1\r\n\r\n"), other.data("s2c", b"HTTP/1.1 200 OK\r\n")]
    ssh = SegmentWriter(client=("10.0.0.1", 40001), server=("10.0.0.2", 4444))
    packets = [*noise[:2], *ssh.handshake(), *noise[2:]]
    packets += [ssh.data(e.direction, e.record.wire) for e in session.events]
    (trace,) = import_capture(write_capture(tmp_path / "mixed.pcap", packets), keylog_for(session))
    assert trace.header.server_address == "10.0.0.2:4444"
    assert payloads(trace) == payloads(session)


def test_without_keys_the_encrypted_part_shows_sizes_and_why(tmp_path):
    gcm = run_scenario(Scenario(cipher="aes128-gcm@openssh.com")).trace
    (trace,) = import_capture(trace_capture(gcm, tmp_path / "gcm.pcap"))
    sealed = [e for e in trace.events if not e.opened]
    assert len(trace.events) == len(gcm.events), "AES-GCM keeps the length in clear: one event per packet"
    assert [len(e.record.wire) for e in sealed] == [len(gcm.events[e.index].record.wire) for e in sealed]
    assert all(e.name == "ENCRYPTED" for e in sealed)
    assert "no key log was given" in sealed[0].notes[0]
    # Strict KEX restarts the sequence numbers at NEWKEYS, keys or not; the cipher is known.
    assert [e.record.seq for e in sealed] == [gcm.events[e.index].record.seq for e in sealed]
    assert {e.record.cipher for e in sealed} == {"aes128-gcm@openssh.com"}

    chacha = run_scenario(Scenario()).trace
    (trace,) = import_capture(trace_capture(chacha, tmp_path / "chacha.pcap"))
    hidden = [e for e in trace.events if e.kind == "raw"]
    assert hidden and "packet boundaries hidden" in hidden[0].notes[0]
    assert b"".join(e.record.wire for e in hidden if e.direction == "s2c") == b"".join(
        e.record.wire for e in chacha.events
        if e.direction == "s2c" and e.kind == "packet" and e.record.cipher != "none")


def test_a_damaged_packet_is_marked_and_the_rest_still_decodes(session, tmp_path):
    target = next(e for e in session.events if e.name == "USERAUTH_REQUEST")
    damaged = dataclasses.replace(target.record, wire=target.record.wire[:-20] + bytes([target.record.wire[-20] ^ 1]) + target.record.wire[-19:])
    events = [dataclasses.replace(e, record=damaged) if e is target else e for e in session.events]
    tampered = dataclasses.replace(session, events=events)
    (trace,) = import_capture(trace_capture(tampered, tmp_path / "d.pcap"), keylog_for(session))
    marked = trace.events[target.index]
    assert marked.name == "ENCRYPTED" and marked.notes[0].startswith("damaged: packet")
    assert messages(trace)[target.index + 1:] == messages(session)[target.index + 1:]


def test_a_gap_in_the_capture_stops_that_direction_only(session, tmp_path):
    writer = SegmentWriter()
    packets = list(writer.handshake())
    lost = next(e.index for e in session.events if e.name == "CHANNEL_OPEN")
    for event in session.events:
        packet = writer.data(event.direction, event.record.wire)
        if event.index != lost:
            packets.append(packet)
    (trace,) = import_capture(write_capture(tmp_path / "gap.pcap", packets), keylog_for(session))
    problems = trace.header.extra["problems"]
    assert any("missing from the capture" in p for p in problems), problems
    server_side = [e.name for e in trace.events if e.direction == "s2c"]
    assert server_side[-3:] == ["CHANNEL_REQUEST", "CHANNEL_EOF", "CHANNEL_CLOSE"]  # it goes on


def test_a_capture_without_ssh_says_so(tmp_path):
    other = SegmentWriter(client=("10.0.0.5", 5000), server=("10.0.0.6", 80))
    path = write_capture(tmp_path / "web.pcap", [*other.handshake(), other.data("c2s", b"GET /\r\n")])
    with pytest.raises(CaptureError, match=r"web.pcap: no SSH connection in this capture \(1 TCP "
                                           r"connection, none starting with an 'SSH-' identification line\)"):
        import_capture(path)


def test_foreign_and_truncated_capture_files(session, tmp_path):
    path = tmp_path / "notes.pcap"
    path.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 5)
    with pytest.raises(CaptureError, match="notes.pcap: the capture's file header is damaged"):
        import_capture(path)
    whole = trace_capture(session, tmp_path / "whole.pcap", max_size=100000)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole.read_bytes()[:-30])
    (trace,) = import_capture(cut, keylog_for(session))
    assert messages(trace)[:-1] == messages(session)[:-1]
    assert trace.events[-1].kind == "raw" and "capture ends inside" in trace.events[-1].notes[0]


def test_key_log_lines_that_do_not_match(session, tmp_path):
    path = trace_capture(session, tmp_path / "s.pcap")
    other = run_scenario(Scenario(seed=99)).trace
    (trace,) = import_capture(path, keylog_for(other))
    problem = trace.header.extra["problems"][0]
    assert "has no line for this key exchange (KEXINIT cookies: client " in problem
    cookie = next(e.message["cookie"] for e in session.events if e.name == "KEXINIT" and e.direction == "c2s")
    wrong_key = KeyLog.parse(f"{cookie.hex()} {'11' * 32}", "wrong.keylog")
    (trace,) = import_capture(path, wrong_key)
    assert ("wrong.keylog line 1 (private key for cookie" in trace.header.extra["problems"][0]
            and "does not fit this key exchange: its public value does not match the client's"
            in trace.header.extra["problems"][0])


@pytest.mark.parametrize("text, message", [
    ("zz 1234", "k line 1: the cookie and the key must be hex digits"),
    ("00 1234", "k line 1: a KEXINIT cookie is 16 bytes (32 hex digits), not 1"),
    ("# only a comment\n", "k: no key log lines in it"),
    (f"{'00' * 16} SOMETHING 12 34", "k line 1: expected '<cookie-hex> <private-key-hex>'"),
])
def test_unreadable_key_logs(text, message):
    with pytest.raises(KeyLogError) as caught:
        KeyLog.parse(text, "k")
    assert str(caught.value).startswith(message)


def test_a_saved_trace_of_an_unopened_capture_opens_with_the_key_log_later(session, tmp_path):
    (sealed,) = import_capture(trace_capture(session, tmp_path / "s.pcap"))
    assert any(not e.opened for e in sealed.events)
    opened = redecode(sealed, keylog_for(session))
    assert payloads(opened) == payloads(session)


def test_sftp_inside_the_channel_is_decoded(tmp_path):
    if "sftp_actions" not in {f.name for f in dataclasses.fields(Scenario)}:
        pytest.skip("the SFTP layer (Scenario.sftp_actions) is not in this build yet")
    session = run_scenario(Scenario(command=None, sftp_actions=["put hello.txt", "ls", "get readme.txt"])).trace
    (trace,) = import_capture(trace_capture(session, tmp_path / "sftp.pcap"), keylog_for(session))
    sftp = [c.message.spec.name for e in trace.events for _, c in e.changes if isinstance(c, SftpMessage)]
    original = [c.message.spec.name for e in session.events for s, c in e.changes
                if isinstance(c, SftpMessage) and s == ("server" if c.direction == "c2s" else "client")]
    assert sftp and sftp == original


def test_a_private_key_that_does_not_fit_gives_way_to_the_shared_secret(session, tmp_path):
    """A key log whose private key lines are wrong for the session (another session's, say)
    still opens it with the SHARED_SECRET lines found by the same cookies."""
    private = keylog_lines(session)
    shared = keylog_lines(session, form="shared")
    assert len(private) == len(shared) == 2
    wrong = [f"{line.split()[0]} {'11' * 32}" for line in private]
    path = trace_capture(session, tmp_path / "c.pcap")
    (trace,) = import_capture(path, KeyLog.parse("\n".join(wrong + shared)))
    assert payloads(trace) == payloads(session)
    (alone,) = import_capture(path, KeyLog.parse("\n".join(wrong)))
    assert "does not fit this key exchange" in alone.header.extra["problems"][0]


def dpkt_segments(path, damaged):
    """What the capture reader gives when dpkt reads every frame (its path for pcapng and
    unusual frames)."""
    from sshviz.trace import capture

    original_frames, original_plain = capture.read_frames, capture._plain_tcp
    capture.read_frames = lambda p, progress=None: capture._dpkt_frames(p, open(p, "rb"))
    capture._plain_tcp = lambda link, frame: capture._UNUSUAL
    try:
        return list(capture.tcp_segments(path, damaged))
    finally:
        capture.read_frames, capture._plain_tcp = original_frames, original_plain


@pytest.mark.parametrize("ipv6, link, cut, nanoseconds", [
    (False, "ethernet", 0, False), (True, "ethernet", 0, False), (False, "null", 0, False),
    (True, "raw", 0, False), (False, "ethernet", 30, False), (False, "ethernet", 0, True),
    (True, "null", 7, True),
])
def test_the_struct_reader_reads_frames_as_dpkt_does(session, tmp_path, ipv6, link, cut, nanoseconds):
    from sshviz.trace.capture import tcp_segments

    path = trace_capture(session, tmp_path / "s.pcap", ipv6=ipv6, link=link, retransmit=True, max_size=3000)
    data = bytearray(path.read_bytes())
    if nanoseconds:  # the same frames, times counted in nanoseconds (magic a1b23c4d, little-endian)
        data[:4] = b"\x4d\x3c\xb2\xa1"
        offset = 24
        while offset + 16 <= len(data):
            fraction = int.from_bytes(data[offset + 4: offset + 8], "little")
            data[offset + 4: offset + 8] = (fraction * 1000 + 123).to_bytes(4, "little")
            offset += 16 + int.from_bytes(data[offset + 8: offset + 12], "little")
    path.write_bytes(bytes(data[: len(data) - cut]))
    ours_damaged, theirs_damaged = [], []
    ours = list(tcp_segments(path, ours_damaged))
    assert ours and ours == dpkt_segments(path, theirs_damaged)
    assert ours_damaged == theirs_damaged and bool(ours_damaged) == bool(cut)


@pytest.mark.parametrize("block", [40, 700, 5000])
def test_frames_across_the_readers_blocks_read_as_dpkt_reads_them(session, tmp_path, monkeypatch, block):
    """The pcap reader reads a block at a time into one buffer: records cut by a block's end,
    frames longer than a block, and a file cut inside its last frame all read as dpkt reads
    them."""
    from sshviz.trace import capture

    path = trace_capture(session, tmp_path / "s.pcap", retransmit=True, max_size=3000)
    path.write_bytes(path.read_bytes()[:-11])
    theirs_damaged, ours_damaged = [], []
    theirs = dpkt_segments(path, theirs_damaged)
    monkeypatch.setattr(capture, "PCAP_BLOCK", block)
    ours = list(capture.tcp_segments(path, ours_damaged))
    assert len(ours) > 10 and ours == theirs and ours_damaged == theirs_damaged == [ours_damaged[0]]
