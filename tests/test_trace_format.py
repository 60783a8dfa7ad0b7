"""The trace file: everything saved loads back as the same events (every message type, every
event type), big transfers are elided, and damaged or foreign files get one clear message."""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sshviz import events as ev
from sshviz.crypto.random import SeededRandom
from sshviz.events import RawUnit, VersionRecord
from sshviz.presentation.render import event_text
from sshviz.scenario import Scenario, make_conductor, run_scenario
from sshviz.trace import codec
from sshviz.trace.codec import EVENT_TYPES, CodecError, fast_compact_change, field_types
from sshviz.trace.compare import trace_differences
from sshviz.trace.elide import ELIDED_KEEP
from sshviz.trace.fileformat import (ELIDE_AFTER, FORMAT_VERSION, TraceFileError, dumps_trace,
                                     load_trace, loads_trace, save_trace)
from sshviz.trace.model import PLUMBING, Trace, TraceEvent, TraceHeader
from sshviz.transport.packet import PacketWriter
from sshviz.wire.catalog import SSH
from sshviz.wire.spec import Message

from .conftest import step_until
from .strategies import layout_values


def round_trip(trace: Trace, **options) -> Trace:
    text = dumps_trace(trace, **options)
    loaded = loads_trace(text)
    assert dumps_trace(loaded, **options) == text, "saving a loaded trace must give the same file"
    return loaded


SCENARIOS = [
    Scenario(),
    Scenario(auth="password", wrong_password_first=True, banner="Welcome\n"),
    Scenario(auth="keyboard-interactive", kex="diffie-hellman-group-exchange-sha256",
             hostkey="ecdsa-sha2-nistp256", cipher="aes128-ctr", mac="hmac-sha2-256",
             compression="zlib@openssh.com", rekey=True),
    Scenario(kex="mlkem768x25519-sha256", cipher="aes256-gcm@openssh.com", compression="zlib"),
    Scenario(kex="ecdh-sha2-nistp521", guess_kex=True, strict_kex=False, mac="hmac-sha1-etm@openssh.com",
             cipher="aes192-ctr"),
    Scenario(command=None, sftp_actions=["put hello.txt", "ls -l", "get readme.txt", "rename hello.txt hi.txt"]),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: f"{s.kex}-{s.auth}-{s.cipher}{'-sftp' if s.sftp_actions else ''}")
def test_in_process_sessions_load_back_unchanged(scenario):
    trace = run_scenario(scenario).trace
    assert trace_differences(trace, round_trip(trace)) == []


def test_what_ifs_and_raw_units_load_back_unchanged():
    conductor = make_conductor(Scenario())
    step_until(conductor, "USERAUTH_SUCCESS")
    conductor.inject("client", SSH.build("IGNORE", data=b"padding traffic"))
    conductor.inject("server", SSH.build("DEBUG", always_display=True, message="hello", language_tag=""))
    conductor.act("client", lambda client: client.ping(b"are you there"))
    conductor.inject_bytes("client", b"\x00\x00\x00\x0cnot a packet", note="bytes by hand")
    conductor.run()
    trace = conductor.trace
    assert any(e.kind == "raw" for e in trace.events)
    names = {e.name for e in trace.events}
    assert {"IGNORE", "DEBUG", "PING", "PONG"} <= names
    assert trace_differences(trace, round_trip(trace)) == []


# -- every message type and every event type --------------------------------------------------


def sample_value(hint, name: str = ""):
    """A representative value of type ``hint`` (for building one event of each type)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return {"private_key": b"\x01" * 4, "count": 3} if name == "secrets" else b"\x00\xffany"
    if origin in (typing.Union, __import__("types").UnionType):
        return sample_value(next(a for a in args if a is not type(None)), name)
    if origin is list:
        return [sample_value(args[0], name), sample_value(args[0], name)]
    if origin is tuple:
        return tuple(sample_value(a, name) for a in args)
    if origin is dict:
        return {"one": sample_value(args[1], name)}
    if dataclasses.is_dataclass(hint):
        return hint(**{n: sample_value(t, n) for n, t in field_types(hint)})
    return {int: 7, str: "some text", bytes: b"\x01\x02\x03", bool: True, float: 1.5}[hint]


def one_of_each_event() -> list[tuple[str, ev.Event]]:
    made = []
    for name, cls in sorted(EVENT_TYPES.items()):
        if issubclass(cls, PLUMBING):
            continue
        values = {n: sample_value(t, n) for n, t in field_types(cls)}
        if cls is ev.SftpMessage:
            values["message"] = None
            values["direction"] = "c2s"
        made.append(("client" if len(made) % 2 else "server", cls(**values)))
    return made


def catalog_trace(values_by_spec: dict) -> Trace:
    """One packet per message spec of the SSH catalog, as a writer would make it (with keys
    on, so wire and plain differ), plus one event of every type among the changes."""
    writer = PacketWriter("c2s", SeededRandom(5))
    events = [TraceEvent(0, 0.0, "c2s", VersionRecord("c2s", b"SSH-2.0-test\r\n", [], 0.0)),
              TraceEvent(1, 0.5, "s2c", VersionRecord("s2c", b"SSH-2.0-x\r\n", [b"hello\r\n"], 0.5))]
    changes = one_of_each_event()
    for spec_name, values in values_by_spec.items():
        message = Message(SSH.by_name[spec_name], values)
        record = writer.encode(message.encode())
        record.message = message
        record.time = float(len(events))
        events.append(TraceEvent(len(events), record.time, "c2s", record,
                                 [changes.pop()] if changes else []))
    events.append(TraceEvent(len(events), 99.0, "s2c", RawUnit("s2c", b"\x99" * 10, 99.0, "raw"),
                             changes, delivered=False, notes=["a note"], frame=12))
    return Trace(TraceHeader("test", scenario={"seed": 3}, extra={"early_events": [ev.AuthBanner("hi")]}),
                 events)


SPEC_NAMES = [spec.name for spec in SSH.specs]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({name: layout_values(SSH.by_name[name].fields) for name in SPEC_NAMES}))
def test_every_message_type_and_event_type_loads_back_unchanged(values_by_spec):
    trace = catalog_trace(values_by_spec)
    loaded = round_trip(trace)
    assert trace_differences(trace, loaded) == []
    assert sorted(e.message.spec.name for e in loaded.events if e.kind == "packet") == sorted(SPEC_NAMES)
    for original, again in zip(trace.events, loaded.events):
        if original.kind == "packet":
            assert again.message.encode() == original.record.payload
    stored_types = {type(change).__name__ for e in loaded.events for _, change in e.changes}
    assert stored_types == {name for name, cls in EVENT_TYPES.items() if not issubclass(cls, PLUMBING)}


def test_big_sftp_transfers_are_summarized_and_load_back(tmp_path):
    from sshviz.events import SftpMessage
    from sshviz.fs import ConfinedFS

    (tmp_path / "big").write_bytes(bytes(range(256)) * 1200)
    conductor = make_conductor(Scenario(command=None, sftp_actions=["get big"]), fs=ConfinedFS(str(tmp_path)))
    conductor.run()
    trace = conductor.trace
    assert trace_differences(trace, round_trip(trace, elide_after=None)) == []
    loaded = round_trip(trace)
    data = [c.message for e in loaded.events for _, c in e.changes
            if isinstance(c, SftpMessage) and c.message is not None and c.message.spec.name == "DATA"]
    assert data and all(m.values["data_length"] > 256 and len(m.values["data"]) == 256 for m in data)
    assert data[0].values["data"] == bytes(range(256))
    assert [f.name for f in data[0].fields] == ["length", "type", "id", "data"]


def test_messages_are_decoded_with_spans_when_read():
    trace = round_trip(run_scenario(Scenario()).trace)
    data = next(e for e in trace.events if e.name == "CHANNEL_DATA")
    assert data.message["data"] == b"Hello, SSH!\n"
    names = [f.name for f in data.message.fields]
    assert names == ["msg_number", "recipient_channel", "data"]
    kexinit = next(e for e in trace.events if e.name == "KEXINIT")
    assert kexinit.message.fields[1].name == "cookie"


# -- big transfers ----------------------------------------------------------------------------


def big_output_trace(tmp_path, megabytes: int = 1) -> Trace:
    from sshviz.fs import ConfinedFS

    (tmp_path / "big").write_bytes(bytes(range(256)) * 4096 * megabytes)
    conductor = make_conductor(Scenario(command="cat big"), fs=ConfinedFS(str(tmp_path)))
    conductor.run()
    return conductor.trace


def test_bulk_channel_data_is_elided_after_the_first_64_kib(tmp_path):
    trace = big_output_trace(tmp_path)
    full = round_trip(trace, elide_after=None)
    assert trace_differences(trace, full) == []
    elided_text = dumps_trace(trace)
    assert len(elided_text) < len(dumps_trace(trace, elide_after=None)) / 10
    loaded = loads_trace(elided_text)
    data_events = [e for e in loaded.events if e.name == "CHANNEL_DATA"]
    kept = sum(len(e.message["data"]) for e in data_events if not e.elided)
    assert ELIDE_AFTER <= kept < ELIDE_AFTER + 64 * 1024
    cut = [e for e in data_events if e.elided]
    assert cut, "later data packets are elided"
    for event in cut:
        original = trace.events[event.index]
        assert event.message["data"] == original.message["data"][:ELIDED_KEEP]
        assert event.elided == len(original.message["data"]) - ELIDED_KEEP
        assert event.record.packet_length == original.record.packet_length
        assert event.record.mac == original.record.mac
        # What the packet took on the wire is still told whole (the bytes kept are fewer).
        assert len(event.record.wire) < event.record.wire_length == len(original.record.wire)
        assert f", {len(original.record.wire)} bytes on the wire, " in event_text(event, detail=False)
        (side, change), = event.changes
        assert change.data == event.message["data"]
    assert dumps_trace(loaded) == elided_text
    assert all(e.record.wire_length == len(e.record.wire) for e in data_events if not e.elided)


# -- files ------------------------------------------------------------------------------------


def test_save_and_load_a_file(tmp_path):
    trace = run_scenario(Scenario()).trace
    path = tmp_path / "session.yaml"
    save_trace(trace, path)
    assert path.read_text().startswith("# sshviz trace")
    assert trace_differences(trace, load_trace(path)) == []
    assert [p.name for p in tmp_path.iterdir()] == ["session.yaml"]  # no temporary left


def good_text() -> str:
    return dumps_trace(run_scenario(Scenario()).trace)


@pytest.mark.parametrize("mangle, message", [
    (lambda text: "just: [a, yaml, file]\n", r"not an sshviz trace \(it has no 'format: sshviz-trace' line\)"),
    (lambda text: "a: [unclosed\n", "not valid YAML at line 2"),
    (lambda text: text.replace(f"version: {FORMAT_VERSION}\n", "version: 99\n", 1),
     r"written by a newer sshviz \(trace format version 99; this sshviz reads version 1 and older\): update sshviz"),
    (lambda text: text[: text.rindex("\n- ")] + "\n", "truncated or edited: it declares 28 events but holds 27"),
    (lambda text: text.replace("plain=0000", "plain=zz00", 1), r"event 14 \(line \d+\): plain= is not hex"),
    (lambda text: text.replace("KEX_ECDH_INIT", "NO_SUCH_MESSAGE", 1), "unknown message name 'NO_SUCH_MESSAGE'"),
    (lambda text: text.replace("event: KexComputed", "event: Mystery", 1), "unknown event type 'Mystery'"),
])
def test_damaged_or_foreign_files_get_one_clear_message(mangle, message):
    with pytest.raises(TraceFileError) as caught:
        loads_trace(mangle(good_text()), "session.yaml")
    text = str(caught.value)
    assert text.startswith("session.yaml: ") and re.search(message, text), text
    assert "\n" not in text


def test_a_binary_file_is_not_a_trace(tmp_path):
    path = tmp_path / "noise.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(TraceFileError, match="neither a trace nor a packet capture \\(not UTF-8 text\\)"):
        load_trace(path)


def yaml_only(text: str) -> str:
    """The same document, laid out so that the reader's line-by-line path steps aside (a
    comment among the events) and YAML reads every entry."""
    return text.replace("\nevents:\n- ", "\nevents:\n# every entry through YAML\n- ", 1)


@pytest.mark.parametrize("scenario", SCENARIOS[2:], ids=["rekey-zlib", "mlkem-gcm", "guess", "sftp"])
def test_the_quick_reading_of_one_line_entries_gives_what_yaml_gives(scenario):
    text = dumps_trace(run_scenario(scenario).trace)
    assert yaml_only(text) != text
    assert trace_differences(loads_trace(yaml_only(text)), loads_trace(text)) == []


@pytest.mark.parametrize("edit, expected", [
    # YAML reads a ': ' as a key, a ' #' as a comment, a line going on below as one scalar:
    # such entries are left to it, and read as it reads them.
    (lambda line: line.replace(" plain=", ": plain=", 1), "a 'packet', 'version' or 'raw' entry"),
    (lambda line: line + " # a comment", None),
    (lambda line: line + "\n  frame=7", "frame 7"),
    (lambda line: line.replace("wire=", "wire=zz", 1), "wire= is not hex"),
    (lambda line: line.replace(" CHANNEL", " CHANNEL_NOPE", 1), "unknown message name"),
])
def test_unusual_one_line_entries_read_as_yaml_reads_them(edit, expected):
    text = dumps_trace(run_scenario(Scenario()).trace)
    start = text.index("\n- c2s ") + 3
    end = text.index("\n", start)
    edited = text[:start] + edit(text[start:end]) + text[end:]
    try:
        quick = loads_trace(edited, "x.yaml")
    except TraceFileError as exc:
        with pytest.raises(TraceFileError) as caught:
            loads_trace(yaml_only(edited), "x.yaml")
        # The same words; YAML's copy has the comment line more above the entry.
        line = edited[:start].count("\n") + 1
        assert str(exc) == str(caught.value).replace(f"(line {line + 1})", f"(line {line})")
        assert "\n" not in str(exc) and f"(line {line})" in str(exc)
        assert expected is not None and expected in str(exc), str(exc)
        return
    assert trace_differences(loads_trace(yaml_only(edited)), quick) == []
    if expected == "frame 7":
        assert any(e.frame == 7 for e in quick.events)


def test_a_yaml_error_after_one_line_entries_names_the_line_of_the_file():
    text = dumps_trace(run_scenario(Scenario()).trace)
    lines = text.split("\n")
    last_mapping = max(i for i, line in enumerate(lines) if line.startswith("- packet:"))
    lines.insert(last_mapping + 1, "  plain: [unclosed")
    with pytest.raises(TraceFileError, match=rf"not valid YAML at line {last_mapping + 3}, "):
        loads_trace("\n".join(lines), "x.yaml")


def test_a_one_line_change_read_again_is_what_it_was_the_first_time():
    # The reader keeps what a one-line change says; a payload too short for its reference is
    # refused the second time too, and the same words with another payload take that payload.
    line = "client ChannelData 0 =4 0"
    assert fast_compact_change(line, b"\x5eabcdef") == ("client", ev.ChannelData(0, b"cdef", 0))
    assert fast_compact_change(line, b"\x5e012345") == ("client", ev.ChannelData(0, b"2345", 0))
    for _ in range(2):
        with pytest.raises(CodecError, match="ChannelData: bad value in '0 =4 0'"):
            fast_compact_change(line, b"ab")
    assert fast_compact_change("server ChannelEOF 3", b"") == ("server", ev.ChannelEOF(3))


def test_a_trace_of_many_different_changes_keeps_a_bounded_number(monkeypatch):
    monkeypatch.setattr(codec, "_RECIPES", {})
    for number in range(codec.RECIPES_KEPT + 500):
        assert fast_compact_change(f"client ChannelEOF {number}") == ("client", ev.ChannelEOF(number))
    assert len(codec._RECIPES) == codec.RECIPES_KEPT
    assert fast_compact_change(f"client ChannelEOF {codec.RECIPES_KEPT + 7}")[1].channel == codec.RECIPES_KEPT + 7
