"""Every SFTP request and extension through the conductor, with decoded events on both sides;
the pipelined transfers; the seeded demo scenario."""

from __future__ import annotations

import hashlib
import os

import pytest

from sshviz.events import SftpMessage
from sshviz.fs.memory import MemoryFS
from sshviz.scenario import Scenario, run_scenario
from sshviz.sftp.attrs import Attributes
from sshviz.sftp.client import SftpError
from sshviz.wire.sftp import OpenFlag, StatusCode

from .conftest import changes
from .sftp_helpers import run_client


def memory_fs():
    fs = MemoryFS()
    fs.mkdir("/docs")
    fs.write_file("/docs/a.txt", b"alpha\n")
    fs.write_file("/b.bin", bytes(range(256)) * 10)
    return fs


class Sink:
    def __init__(self):
        self.data = bytearray()

    def pwrite(self, data, offset):
        self.data[offset: offset + len(data)] = data


class Source:
    def __init__(self, data):
        self.data = data

    def pread(self, length, offset):
        return self.data[offset: offset + length]


async def every_request(c):
    """Touches every request type and every extension once; returns what it saw."""
    seen = {"home": await c.realpath(".")}
    seen["stat"] = await c.stat("/b.bin")
    seen["lstat"] = await c.lstat("/docs")
    seen["list"] = [name for name, _, _ in await c.listdir("/")]
    await c.mkdir("/new", 0o750)
    handle = await c.open("/new/f.txt", OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL,
                          Attributes(permissions=0o600))
    await c.write(handle, 0, b"hello world")
    await c.fsync(handle)
    seen["fstatvfs"] = (await c.fstatvfs(handle))["f_namemax"]
    await c.fsetstat(handle, Attributes(size=5))
    seen["fstat"] = await c.fstat(handle)
    await c.close(handle)
    handle = await c.open("/new/f.txt", OpenFlag.READ)
    seen["read"] = await c.read(handle, 0, 100)
    seen["eof"] = await c.read(handle, 5, 100)
    copy = await c.open("/new/copy.txt", OpenFlag.WRITE | OpenFlag.CREAT)
    await c.copy_data(handle, 1, 0, copy, 0)
    await c.close(copy)
    await c.close(handle)
    await c.setstat("/new/f.txt", Attributes(permissions=0o640, atime=10, mtime=20))
    await c.symlink("f.txt", "/new/link")
    await c.lsetstat("/new/link", Attributes(atime=1, mtime=2))
    seen["readlink"] = await c.readlink("/new/link")
    await c.hardlink("/new/f.txt", "/new/hard")
    await c.rename("/new/hard", "/new/hard2")
    await c.rename("/new/copy.txt", "/new/hard2", posix=True)
    seen["statvfs"] = (await c.statvfs("/"))["f_bsize"]
    seen["expand"] = await c.expand_path("~/new")
    seen["home_directory"] = await c.home_directory("")
    await c.remove("/new/hard2")
    await c.remove("/new/link")
    await c.remove("/new/f.txt")
    await c.rmdir("/new")
    return seen


def test_every_request_and_extension_through_the_conductor():
    fs = memory_fs()
    task, conductor = run_client(every_request, fs)
    seen = task.result()
    assert seen["home"] == "/"
    assert seen["stat"].size == 2560 and seen["stat"].is_file
    assert seen["lstat"].is_dir
    assert seen["list"] == ["b.bin", "docs"]
    assert seen["fstat"].size == 5
    assert seen["read"] == b"hello" and seen["eof"] == b""
    assert seen["readlink"] == "f.txt"
    assert seen["statvfs"] == 4096 and seen["fstatvfs"] == 255
    assert seen["expand"] == "/new" and seen["home_directory"] == "/"
    assert not fs.is_dir("/new")
    names = {e.message.spec.name for e in changes(conductor, SftpMessage)}
    assert names == {"INIT", "VERSION", "OPEN", "CLOSE", "READ", "WRITE", "LSTAT", "FSTAT", "SETSTAT",
                     "FSETSTAT", "OPENDIR", "READDIR", "REMOVE", "MKDIR", "RMDIR", "REALPATH", "STAT",
                     "RENAME", "READLINK", "SYMLINK", "STATUS", "HANDLE", "DATA", "NAME", "ATTRS",
                     "EXTENDED", "EXTENDED_REPLY"}
    extensions = {e.message["extended_request"] for e in changes(conductor, SftpMessage)
                  if e.message.spec.name == "EXTENDED"}
    assert extensions == {"posix-rename@openssh.com", "statvfs@openssh.com", "fstatvfs@openssh.com",
                          "hardlink@openssh.com", "fsync@openssh.com", "lsetstat@openssh.com",
                          "limits@openssh.com", "expand-path@openssh.com", "copy-data", "home-directory"}


def test_each_packet_is_reported_by_both_sides_with_spans_nested_under_channel_data():
    task, conductor = run_client(lambda c: c.stat("/b.bin"), memory_fs())
    task.result()
    for step in conductor.steps:
        sftp = [e for _, e in step.changes if type(e).__name__ == "SftpMessage"]
        if sftp:
            assert step.name in ("CHANNEL_DATA", "CHANNEL_SUCCESS"), step.name
    client = [(e.direction, e.message.spec.name) for e in changes(conductor, SftpMessage, "client")]
    server = [(e.direction, e.message.spec.name) for e in changes(conductor, SftpMessage, "server")]
    assert client == server
    assert ("c2s", "STAT") in client and ("s2c", "ATTRS") in client
    for event in changes(conductor, SftpMessage):
        fields = event.message.fields
        assert fields[0].name == "length" and fields[-1].end == len(event.packet)


def test_failures_become_sftp_errors_with_the_status_code():
    async def fail(c):
        codes = []
        for action in (lambda: c.stat("/missing"), lambda: c.rmdir("/docs"),
                       lambda: c.rename("/docs/a.txt", "/b.bin"), lambda: c.stat("/../../etc/passwd")):
            try:
                await action()
            except SftpError as exc:
                codes.append((exc.code, exc.message))
        return codes
    task, _ = run_client(fail, memory_fs())
    assert task.result() == [
        (StatusCode.NO_SUCH_FILE, "No such file or directory"),
        (StatusCode.FAILURE, "Directory not empty"),
        (StatusCode.FAILURE, "File exists"),
        (StatusCode.NO_SUCH_FILE, "No such file or directory"),
    ]


def test_the_client_cannot_change_the_root():
    fs = memory_fs()
    before = fs.stat("/")

    async def change(c):
        answers = []
        for path in ("/", ".", "//", "/docs/.."):
            for action in (lambda: c.setstat(path, Attributes(permissions=0)),
                           lambda: c.setstat(path, Attributes(uid=0, gid=0)),
                           lambda: c.lsetstat(path, Attributes(atime=1, mtime=1)),
                           lambda: c.rename(path, "/moved"), lambda: c.rmdir(path)):
                try:
                    await action()
                    answers.append("changed")
                except SftpError as exc:
                    answers.append((exc.code, exc.message))
        await c.setstat("/docs", Attributes(permissions=0o700))  # below the root: as usual
        return answers

    task, _ = run_client(change, fs)
    assert task.result() == [(StatusCode.PERMISSION_DENIED,
                              "Operation not permitted on the root directory")] * 20
    after = fs.stat("/")
    assert (after.st_mode, after.st_uid, after.st_mtime) == (before.st_mode, before.st_uid,
                                                              before.st_mtime)
    assert fs.stat("/docs").st_mode & 0o7777 == 0o700


@pytest.mark.parametrize("size", [0, 1, 255 * 1024, 255 * 1024 + 1, 3 * 1024 * 1024 + 17])
def test_pipelined_upload_and_download_round_trip(size):
    data = os.urandom(size)

    async def transfer(c):
        await c.upload(Source(data), "/up.bin", len(data))
        sink = Sink()
        count = await c.download("/up.bin", sink)
        return count, bytes(sink.data), c.read_size

    fs = MemoryFS()
    task, conductor = run_client(transfer, fs)
    count, got, read_size = task.result()
    assert read_size == 255 * 1024  # from limits@openssh.com
    assert count == size and hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    in_flight = max_in_flight(conductor)
    assert size < 4 * read_size or in_flight > 1
    # Bulk data is summarized in the events: they never hold the whole file.
    held = sum(len(e.packet) for e in changes(conductor, SftpMessage))
    assert held < 64 * 1024


def max_in_flight(conductor) -> int:
    waiting, most = set(), 0
    for event in changes(conductor, SftpMessage, "client"):
        if event.message.spec.name == "READ":
            waiting.add(event.message["id"])
        elif event.message.spec.name in ("DATA", "STATUS"):
            waiting.discard(event.message["id"])
        most = max(most, len(waiting))
    return most


def test_short_reads_ask_for_the_rest(monkeypatch):
    import sshviz.sftp.server as server_module

    monkeypatch.setattr(server_module, "MAX_READ", 1000)  # the server answers shorter than asked
    data = os.urandom(10_000)
    fs = MemoryFS()
    fs.write_file("/f", data)

    async def get(c):
        sink = Sink()
        await c.download("/f", sink)
        return bytes(sink.data)
    task, conductor = run_client(get, fs)
    assert task.result() == data


def test_seeded_sftp_scenario_repeats_byte_for_byte():
    actions = ["put hello.txt", "ls -l", "get readme.txt", "mkdir d", "rename hello.txt d/h.txt",
               "ln -s d/h.txt link", "stat link", "df", "get -r docs", "put -r photos", "rm nosuch"]
    runs = [run_scenario(Scenario(sftp_actions=actions)) for _ in range(2)]
    wires = [[step.record.wire for step in run.steps] for run in runs]
    assert wires[0] == wires[1]
    script = runs[0].driver_state.sftp_script
    assert script.failed == ["rm nosuch"]
    assert "Uploading /hello.txt to /hello.txt" in script.output
    assert runs[0].driver_state.error is None


@pytest.mark.parametrize("bad_name", ["../evil", "/etc/evil", "a/b", "..", ".", "", "a\\b", "nul\x00"])
def test_recursive_get_never_trusts_names_from_the_server(bad_name, monkeypatch):
    fs = memory_fs()
    real_listdir = fs.listdir

    def lying_listdir(path, cwd="/"):
        entries = real_listdir(path, cwd)
        return entries + [(bad_name, entries[0][1])] if path == "/docs" else entries
    monkeypatch.setattr(fs, "listdir", lying_listdir)
    local = MemoryFS()

    async def get_tree(c):
        return await c.get("/docs", local, "/copy", recursive=True)
    task, _ = run_client(get_tree, fs)
    if bad_name in (".", ".."):
        assert task.result() == 1  # skipped like the server's own . and ..
    else:
        with pytest.raises(SftpError, match="unsafe name"):
            task.result()
    assert [name for name, _ in local.listdir("/")] == ["copy"]
    assert [name for name, _ in local.listdir("/copy")] in ([], ["a.txt"])


def test_close_and_fsync_errors_reach_the_uploader(monkeypatch):
    from sshviz.fs.memory import MemoryFile

    def failing_close(self):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(MemoryFile, "close", failing_close)

    async def upload(c):
        await c.upload(Source(b"x" * 1000), "/f", 1000, fsync=True)
    task, _ = run_client(upload, MemoryFS())
    with pytest.raises(SftpError, match="No space left on device") as error:
        task.result()
    assert error.value.code == StatusCode.FAILURE


def test_sshviz_run_plays_sftp_commands_and_prints_them(capsys):
    from sshviz.cli import main

    assert main(["run", "--sftp", "put hello.txt", "--sftp", "ls", "--print"]) == 0
    out = capsys.readouterr().out
    assert "server: SFTP received SSH_FXP_WRITE" in out
    assert "filename                     string     '/hello.txt'" in out
    assert out.rstrip().endswith("sftp> ls\n  docs\n  hello.txt\n  readme.txt")


def test_missing_batch_file_is_one_line(capsys, tmp_path):
    from sshviz.cli import main

    status = main(["connect", "nobody@127.0.0.1", "-p", "1", "--sftp-batch", str(tmp_path / "missing.txt")])
    err = capsys.readouterr().err
    assert status == 2 and err.strip().splitlines() == [
        f"sshviz: error: --sftp-batch: {tmp_path / 'missing.txt'}: No such file or directory"]


def test_a_reply_with_no_name_is_a_protocol_error_not_a_crash():
    from sshviz.sftp.client import SftpProtocolError, _only_name
    from sshviz.wire.sftp import SFTP

    with pytest.raises(SftpProtocolError, match="answered 0 names"):
        _only_name(SFTP.build("NAME", id=1, names=[]), "expand-path@openssh.com")
