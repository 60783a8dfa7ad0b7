"""Long trace files opened to browse (sshviz/trace/longfile.py): the same trace as load_trace
reads, each packet line read when first looked at; what the UI asks of every message answered
without reading it; damaged lines and changed files a note, not a crash."""

from __future__ import annotations

import os

import pytest

import sshviz.tui
from sshviz.cli import main
from sshviz.events import AuthSucceeded, ChannelData, KexComputed, SftpMessage
from sshviz.fs import ConfinedFS
from sshviz.scenario import Scenario, make_conductor, run_scenario
from sshviz.trace import files, longfile
from sshviz.trace.compare import trace_differences
from sshviz.trace.fileformat import TraceFileError, load_trace, save_trace
from sshviz.trace.longfile import open_long_trace
from sshviz.trace.model import LazyEvent
from sshviz.trace.samples import find_sample, sample_names
from sshviz.tui.app import SshvizApp
from sshviz.tui.timeline import Timeline
from sshviz.tui.widgets.keypanel import KeyPanel

SCENARIOS = {
    "default": Scenario(),
    "rekey-zlib": Scenario(cipher="aes128-ctr", mac="hmac-sha2-256", compression="zlib@openssh.com", rekey=True),
    "sftp": Scenario(command=None, sftp_actions=["put hello.txt", "ls -l", "get readme.txt"]),
}


def bulk_trace(tmp_path, kib: int = 300):
    """A session whose bulk data is elided when saved, in 1 KiB channel packets (many lines)."""
    (tmp_path / "big").write_bytes(bytes(range(256)) * 4 * kib)
    conductor = make_conductor(Scenario(command="cat big"), fs=ConfinedFS(str(tmp_path)))
    conductor.client.connection.config.max_packet = 1024
    conductor.run()
    return conductor.trace


def saved(tmp_path, trace, name="session.yaml"):
    path = tmp_path / name
    save_trace(trace, path)
    return path


@pytest.fixture(params=[64 << 10, 1500])
def chunk(request, monkeypatch):
    """The file read in big chunks, and in small ones (lines cut at every chunk's end, chunks
    with and without a multi-line entry)."""
    monkeypatch.setattr(longfile, "CHUNK", request.param)
    return request.param


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_long_file_opens_to_the_trace_load_trace_reads(tmp_path, name, chunk):
    path = saved(tmp_path, run_scenario(SCENARIOS[name]).trace)
    lazy = open_long_trace(path)
    assert any(isinstance(e, LazyEvent) for e in lazy.events)
    assert trace_differences(load_trace(path), lazy) == []


def test_what_the_ui_asks_of_every_message_is_answered_without_reading_its_line(tmp_path, chunk):
    path = saved(tmp_path, run_scenario(SCENARIOS["sftp"]).trace)
    eager, lazy = load_trace(path).events, open_long_trace(path).events
    lines = [e for e in lazy if isinstance(e, LazyEvent)]
    assert len(lines) > 20 and any(e.carries_sftp() for e in lines)
    for before in lines:
        other = eager[before.index]
        for question in (lambda e: e.spec, lambda e: e.direction, lambda e: e.carries_sftp(),
                         lambda e: e.holds(KexComputed), lambda e: e.holds((AuthSucceeded, KexComputed)),
                         lambda e: e.interception):
            assert question(before) == question(other)
    assert not any(e._source is None for e in lines), "nothing above reads a line"
    assert [(e.kind, e.opened) for e in lines] == [(eager[e.index].kind, eager[e.index].opened) for e in lines]
    assert [e.holds(SftpMessage) for e in lines] == [eager[e.index].holds(SftpMessage) for e in lines]
    assert all(e._source is None for e in lines if e.holds(SftpMessage) or e.changes)


def test_a_long_bulk_file_and_its_timeline(tmp_path, chunk):
    trace = bulk_trace(tmp_path)
    path = saved(tmp_path, trace)
    lazy = open_long_trace(path)
    read = [e for e in lazy.events if isinstance(e, LazyEvent)]
    assert len(read) > 300 and any(e.elided for e in lazy.events[-50:])
    timeline = Timeline(lazy)
    assert sum(1 for e in read if e._source is None) < 20, "indexing the timeline reads no line"
    eager = Timeline(load_trace(path))
    assert timeline.phase_of_event == eager.phase_of_event and timeline.rows.items == eager.rows.items
    assert [m.index for m in timeline.milestones] == [m.index for m in eager.milestones]
    timeline.to_end()
    assert timeline.key_context(len(lazy) - 1) == eager.key_context(len(lazy) - 1)
    assert trace_differences(load_trace(path), lazy) == []


def test_replay_opens_a_long_file_to_browse(tmp_path, monkeypatch):
    path = saved(tmp_path, bulk_trace(tmp_path, 100))
    opened = []
    monkeypatch.setattr(sshviz.tui, "run_app", lambda scenario=None, trace=None: opened.append(trace) or 0)
    monkeypatch.setattr(files, "LONG_FILE", path.stat().st_size + 1)
    assert main(["replay", str(path)]) == 0 and main(["inspect", str(path), "--brief"]) == 0
    monkeypatch.setattr(files, "LONG_FILE", path.stat().st_size)
    assert main(["replay", str(path)]) == 0 and main(["inspect", str(path), "--brief"]) == 0
    small, long = opened
    assert not any(isinstance(e, LazyEvent) for e in small.events)
    assert any(isinstance(e, LazyEvent) for e in long.events)  # inspect reads every line anyway


def damage(path, old: str, new: str, after: str = "CHANNEL_DATA") -> int:
    """Replace ``old`` by ``new`` once in the first line holding ``after`` and ``old`` past the
    first 200 lines; the index of that line's event."""
    lines = path.read_text().split("\n")
    first = lines.index("events:") + 1
    at = next(i for i in range(first + 200, len(lines)) if after in lines[i] and old in lines[i])
    lines[at] = lines[at].replace(old, new, 1)
    path.write_text("\n".join(lines))
    return sum(1 for line in lines[first:at] if line.startswith("- "))


@pytest.mark.parametrize("old, new, why", [
    ("plain=0000", "plain=0z00", "plain= is not hex"),
    (" 0 =64 0", " 0 =6400 0", "ChannelData: bad value in '0 =6400 0'"),
])
def test_a_damaged_line_is_a_unit_that_says_why_and_the_rest_reads(tmp_path, old, new, why):
    path = saved(tmp_path, bulk_trace(tmp_path))
    index = damage(path, old, new)
    with pytest.raises(TraceFileError, match=why):
        load_trace(path)  # reading every line at once: the file is refused
    trace = open_long_trace(path)
    damaged = trace.events[index]
    assert damaged.spec is not None  # what its place says, until its line is read
    assert damaged.kind == "raw" and damaged.record.wire == b""  # the kind is the line's
    (note,) = damaged.notes
    assert note.startswith(f"{path}: event {index}: ") and why in note and "\n" not in note
    assert damaged.spec is None and damaged.changes == [] and not damaged.opened
    neighbour = trace.events[index + 1]
    assert neighbour.kind == "packet" and any(isinstance(c, ChannelData) for _, c in neighbour.changes)
    timeline = Timeline(trace)
    assert timeline.go(index) and timeline.go(len(trace) - 1)


def test_an_unknown_message_name_or_a_wrong_count_is_refused_at_once(tmp_path):
    path = saved(tmp_path, bulk_trace(tmp_path))
    index = damage(path, " CHANNEL_DATA ", " CHANNEL_NOPE ")
    for read in (load_trace, open_long_trace):
        with pytest.raises(TraceFileError) as caught:
            read(path)
        assert str(caught.value).startswith(f"{path}: event {index}")
        assert str(caught.value).endswith(": unknown message name 'CHANNEL_NOPE'")
    text = saved(tmp_path, bulk_trace(tmp_path), "other.yaml").read_text()
    truncated = tmp_path / "truncated.yaml"
    truncated.write_text(text[: text.rindex("\n- ")] + "\n")
    with pytest.raises(TraceFileError, match="truncated or edited: it declares"):
        open_long_trace(truncated)


def test_a_file_changed_after_opening_is_said_so_on_each_line_read(tmp_path):
    path = saved(tmp_path, bulk_trace(tmp_path))
    trace = open_long_trace(path)
    read_before = trace.events[-61].record
    last = trace.events[-60]
    with open(path, "a") as f:
        f.write("# appended\n")
    assert last.kind == "raw" and last.record.wire == b""
    assert last.notes == [f"{path}: event {last.index}: the file changed since it was opened"]
    assert trace.events[-61].record is read_before  # read before: kept as it was


def test_files_laid_out_otherwise_are_read_whole(tmp_path):
    trace = run_scenario(Scenario(banner="Grüße\n")).trace
    path = saved(tmp_path, trace)
    text = path.read_text()
    assert not text.isascii()
    assert trace_differences(load_trace(path), open_long_trace(path)) == []
    crlf = tmp_path / "crlf.yaml"
    crlf.write_bytes(text.replace("\n", "\r\n").encode())
    lazy = open_long_trace(crlf)
    assert not any(isinstance(e, LazyEvent) for e in lazy.events)
    assert trace_differences(load_trace(crlf), lazy) == []


def test_a_long_file_keeps_one_descriptor_and_closes_it(tmp_path):
    import gc

    path = saved(tmp_path, bulk_trace(tmp_path, 100))
    before = len(os.listdir("/proc/self/fd"))
    trace = open_long_trace(path)
    assert len(os.listdir("/proc/self/fd")) == before + 1
    del trace
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("sample", sample_names())
async def test_every_sample_trace_opened_to_browse_steps_to_its_end(sample):
    """As the UI test of each sample trace, with its packet lines read as they are shown."""
    trace = open_long_trace(find_sample(sample))  # (a short login has no packet lines)
    app = SshvizApp(trace=trace)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(len(trace.events)):
            await pilot.press("n")
        await pilot.press("w", "right_square_bracket", "left_square_bracket", "e")
        assert app.timeline.current is trace.events[-1]
        assert "Protection" in app.screen.query_one(KeyPanel).text()
    assert trace_differences(load_trace(find_sample(sample)), trace) == []


async def test_the_ui_shows_a_damaged_line_and_goes_on(tmp_path):
    path = saved(tmp_path, bulk_trace(tmp_path))
    lines = path.read_text().split("\n")
    at = max(i for i, line in enumerate(lines) if "CHANNEL_DATA" in line and "plain=0000" in line)
    lines[at] = lines[at].replace("plain=0000", "plain=0z00", 1)
    path.write_text("\n".join(lines))
    trace = open_long_trace(path)
    index = sum(1 for line in lines[lines.index("events:") + 1: at] if line.startswith("- "))
    app = SshvizApp(trace=trace)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        while app.timeline.position > index:
            await pilot.press("p")
        await pilot.pause()
        assert app.timeline.current.kind == "raw"
        assert "plain= is not hex" in app.timeline.current.notes[0]
        assert f"event {index}: plain= is not hex" in app.export_screenshot().replace("&#160;", " ")
        await pilot.press("p", "n", "n")
        assert app.timeline.position == index + 1 and app.timeline.current.kind == "packet"
