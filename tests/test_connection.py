"""The connection layer (RFC 4254): windows, and the built-in commands a server session runs."""

from __future__ import annotations

import os

from sshviz.connection.builtin import BuiltinShell
from sshviz.events import ChannelData
from sshviz.scenario import Scenario, make_conductor

# -- connection layer ---------------------------------------------------------------------------


def test_large_output_flows_through_small_windows():
    """A 300 KB file through a 4 KB window and 1 KB packets: every byte arrives in order."""
    import tempfile

    from sshviz.fs import ConfinedFS

    with tempfile.TemporaryDirectory() as root:
        data = os.urandom(300_000)
        with open(os.path.join(root, "f"), "wb") as f:
            f.write(data)
        conductor = make_conductor(Scenario(command="cat /f"), fs=ConfinedFS(root))
        conductor.client.config.connection.window_size = 4096
        conductor.client.config.connection.max_packet = 1024
        conductor.run()
        received = b"".join(e.data for step in conductor.steps for side, e in step.changes
                            if side == "client" and isinstance(e, ChannelData))
        assert received == data
        adjusts = [s for s in conductor.steps if s.name == "CHANNEL_WINDOW_ADJUST"]
        assert len(adjusts) >= 300_000 // 4096  # refilled at half the window each time
        sizes = {len(s.message["data"]) for s in conductor.steps if s.name == "CHANNEL_DATA"}
        assert max(sizes) <= 1024


# -- built-in commands --------------------------------------------------------------------------


class RecordingIO:
    """The ChannelIO interface; nothing it is given is ever read by a client."""

    def __init__(self):
        self.out, self.err, self.status = b"", b"", None
        self.paused = False

    @property
    def pending_bytes(self):
        return len(self.out) + len(self.err)

    def pause_reading(self):
        self.paused = True

    def resume_reading(self):
        self.paused = False

    def write(self, data):
        self.out += data
        self.writes = getattr(self, "writes", 0) + 1

    def write_stderr(self, data):
        self.err += data

    def exit(self, status):
        self.status = status


def run_builtin(command, fs=None, pty=False):
    io = RecordingIO()
    BuiltinShell("alice", fs, command, pty).start(io)
    return io


def test_builtin_commands(tmp_path):
    from sshviz.fs import ConfinedFS

    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "file.txt").write_text("content\n")
    os.symlink("/etc/passwd", tmp_path / "escape")
    os.symlink("dir/file.txt", tmp_path / "inside")
    fs = ConfinedFS(str(tmp_path))
    assert run_builtin("echo a b  c").out == b"a b c\n"
    assert run_builtin("whoami").out == b"alice\n"
    assert run_builtin("pwd; cd dir; pwd", fs).out == b"/\n/dir\n"
    assert run_builtin("ls", fs).out == b"dir/\nescape\ninside\n"
    assert run_builtin("cat /dir/file.txt inside", fs).out == b"content\ncontent\n"
    escape = run_builtin("cat escape ../../../etc/passwd", fs)
    assert escape.out == b"" and escape.err.count(b"No such file or directory") == 2 and escape.status == 1
    assert run_builtin("exit 3").status == 3
    assert run_builtin("nosuch").status == 127
    assert run_builtin("false && echo x || echo y").out == b"y\n"
    assert run_builtin("echo a | cat").status == 2
    assert b"no sandbox root" in run_builtin("ls").err


def test_builtin_shell_echoes_a_piece_of_input_in_one_write():
    # Each write is a CHANNEL_DATA packet: one per typed byte would make 32 KiB of pasted
    # input cost 32,768 packets of work.
    io = RecordingIO()
    shell = BuiltinShell("alice", None, None, pty=True)
    shell.start(io)
    io.out, io.writes = b"", 0
    shell.data(b"x" * 30_000 + b"\x7f\x7f\x15echo hi\r" + b"y" * 1000)
    assert io.writes <= 5
    assert io.out == (b"x" * 30_000 + b"\b \b" * 2 + b"\b \b" * 29_998 + b"echo hi\r\n"
                      + b"hi\r\nalice@sshviz:/$ " + b"y" * 1000)
    shell.data(b"\x03")
    assert io.out.endswith(b"y" * 1000 + b"^C\r\nalice@sshviz:/$ ")


def test_builtin_exit_with_a_strange_number_is_not_a_crash():
    assert run_builtin("exit \u00b2").status == 0  # a digit to str.isdigit, not to int()
    assert run_builtin("exit " + "9" * 5000).status == 0  # more digits than int() takes


def test_builtin_cat_streams_any_size_at_the_pace_the_client_reads(tmp_path):
    from sshviz.connection import builtin
    from sshviz.fs import ConfinedFS

    data = os.urandom(3 << 20)
    (tmp_path / "big").write_bytes(data)
    fs = ConfinedFS(str(tmp_path))
    io = RecordingIO()
    shell = BuiltinShell("alice", fs, "cat" + " big" * 10 + "; echo done", False)  # 30 MiB
    shell.start(io)
    received = b""
    for _ in range(1000):
        # Nobody has read yet: the output waiting stays bounded and the command waits.
        assert io.pending_bytes <= builtin.OUTPUT_HIGH + builtin.CAT_CHUNK
        if io.status is not None:
            break
        received, io.out = received + io.out, b""  # the client reads it all
        shell.writable()
    received += io.out
    assert io.status == 0 and received == data * 10 + b"done\n"


def test_builtin_output_nobody_reads_is_bounded(tmp_path):
    from sshviz.connection import builtin
    from sshviz.fs import ConfinedFS

    (tmp_path / "big").write_bytes(bytes(1 << 20))
    fs = ConfinedFS(str(tmp_path))
    io = run_builtin("cat" + " big" * 50, fs)  # 50 MiB asked for by a 200-byte command
    assert len(io.out) <= builtin.OUTPUT_HIGH + builtin.CAT_CHUNK
    assert io.status is None  # still running: it goes on when the client reads
    (tmp_path / "many").mkdir()
    for i in range(1000):
        (tmp_path / "many" / f"{i:04}{'x' * 200}").touch()
    io = run_builtin("ls" + " many" * 100, fs)  # 20 MiB of listings
    assert len(io.out) <= builtin.OUTPUT_HIGH + 300_000 and b"not reading" in io.err
    # An interactive shell stops taking input (its window is not refilled) until the
    # client reads, and a line without an end cannot grow without bound.
    io = RecordingIO()
    shell = BuiltinShell("alice", fs, None, pty=False)
    shell.start(io)
    for _ in range(20):
        shell.data(b"cat big\n")
    assert len(io.out) <= builtin.OUTPUT_HIGH + builtin.CAT_CHUNK and io.paused
    while io.paused:
        io.out = io.err = b""  # the client reads it all, and the typed-ahead lines run
        shell.writable()
    assert not io.paused
    for _ in range(100):
        shell.data(b"x" * 65536)
    assert len(shell.line) <= builtin.MAX_LINE


def test_builtin_shell_with_a_pty_echoes_and_edits():
    io = RecordingIO()
    shell = BuiltinShell("alice", None, None, pty=True)
    shell.start(io)
    shell.data(b"echo hellx\x7fo\r")
    assert b"hellx\b \bo\r\n" in io.out
    assert io.out.endswith(b"hello\r\nalice@sshviz:/$ ")
    shell.data(b"\x04")
    assert io.status == 0
