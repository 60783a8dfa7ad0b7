"""File names that are not text: any SFTP user can create a name with bytes that are not UTF-8,
a newline or a terminal escape sequence. The built-in commands print such names escaped (as
GNU ls -b does, with one \\xNN per byte) and take the escaped form back; nothing a name holds
can end a connection or reach the client's terminal raw."""

from __future__ import annotations

import os
import subprocess

import pytest

from sshviz.connection.builtin import shown_name, typed_name
from sshviz.fs import ConfinedFS
from sshviz.fs.memory import MemoryFS
from sshviz.wire.sftp import OpenFlag

from .conftest import run_builtin, started_shell
from .openssh import require, shared_keys, ssh_command, sshviz_server
from .sftp_helpers import run_client, sftp_options, sftp_server_config

# name on disk -> what ls prints (sorted as ls sorts: by the name's text)
HOSTILE = {
    b"back\\slash": "back\\\\slash",
    b"caf\xe9.txt": "caf\\xe9.txt",  # Latin-1, not UTF-8
    b"esc\x1b[2J": "esc\\x1b[2J",  # would clear the screen
    b"new\nline": "new\\x0aline",  # would forge a line of output
    b"ok.txt": "ok.txt",
    b"rtl\xe2\x80\xaetxt.exe": "rtl\\xe2\\x80\\xaetxt.exe",  # U+202E turns the text around
    "\u00e9t\u00e9.txt".encode(): "\u00e9t\u00e9.txt",  # valid UTF-8 stays as it is
}
LISTING = b"".join(line.encode() + b"\n" for line in [
    "back\\\\slash", "caf\\xe9.txt", "dir\\xff/", "esc\\x1b[2J", "new\\x0aline", "ok.txt",
    "rtl\\xe2\\x80\\xaetxt.exe", "\u00e9t\u00e9.txt"])


def plant_on_disk(root) -> ConfinedFS:
    for name in HOSTILE:
        with open(os.path.join(os.fsencode(root), name), "wb") as f:
            f.write(b"contents of " + name)
    os.mkdir(os.path.join(os.fsencode(root), b"dir\xff"))
    with open(os.path.join(os.fsencode(root), b"dir\xff", b"inner\xfe"), "wb") as f:
        f.write(b"inner\n")
    return ConfinedFS(str(root))


def plant_in_memory() -> MemoryFS:
    fs = MemoryFS()
    for name in HOSTILE:
        fs.write_file("/" + os.fsdecode(name), b"contents of " + name)
    fs.mkdir("/" + os.fsdecode(b"dir\xff"))
    fs.write_file("/" + os.fsdecode(b"dir\xff/inner\xfe"), b"inner\n")
    return fs


@pytest.fixture(params=["disk", "memory"])
def hostile_fs(request, tmp_path):
    return plant_on_disk(tmp_path) if request.param == "disk" else plant_in_memory()


def test_shown_and_typed_names_round_trip():
    for raw, shown in HOSTILE.items():
        name = os.fsdecode(raw)
        assert shown_name(name) == shown
        assert typed_name(shown) == name
    assert typed_name("a\\b\\x4") == "a\\b\\x4"  # not an escape: taken as typed
    assert typed_name("\\x41\\\\x41") == "A\\x41"
    assert shown_name("\ud800") == "\\xed\\xa0\\x80"  # a surrogate no byte decoded to (MemoryFS)


def test_ls_prints_names_escaped_and_the_command_line_goes_on(hostile_fs):
    io = run_builtin("ls; echo after", hostile_fs)
    assert io.out == LISTING + b"after\n"
    assert (io.err, io.status) == (b"", 0)
    io = run_builtin("ls 'dir\\xff'", hostile_fs)
    assert (io.out, io.err, io.status) == (b"inner\\xfe\n", b"", 0)
    io = run_builtin("ls 'caf\\xe9.txt' 'new\\x0aline' dir\\\\xff", hostile_fs)
    assert io.out == b"caf\\xe9.txt\nnew\\x0aline\ndir\\xff:\ninner\\xfe\n"


def test_cat_and_cd_take_the_escaped_form(hostile_fs):
    for raw, shown in HOSTILE.items():
        io = run_builtin(f"cat '{shown}'", hostile_fs)
        assert (io.out, io.err, io.status) == (b"contents of " + raw, b"", 0), shown
    io = run_builtin("cd 'dir\\xff'; pwd; ls; cat 'inner\\xfe'", hostile_fs, pty=True)
    assert io.out == b"/dir\\xff\r\ninner\\xfe\r\ninner\r\n"
    assert io.status == 0
    io = run_builtin("cd ok.txt; cd 'caf\\xe9.txt'; pwd", hostile_fs)
    assert io.err == b"cd: ok.txt: Not a directory\ncd: caf\\xe9.txt: Not a directory\n"
    assert io.out == b"/\n"


def test_a_name_typed_without_its_escape_fails_clearly(hostile_fs):
    io = run_builtin("cat caf\\xe9.txt; cat 'caf\\xe9.txt\\x1b'", hostile_fs)  # unquoted: sh eats the \
    assert io.err == (b"cat: cafxe9.txt: No such file or directory\n"
                      b"cat: caf\\xe9.txt\\x1b: No such file or directory\n")
    assert io.status == 1


def test_raw_bytes_on_the_command_line_are_not_a_crash(hostile_fs):
    # An exec command is decoded with surrogateescape: its raw bytes reach the commands.
    io = run_builtin(os.fsdecode(b"echo \xff\xfe; cat caf\xe9.txt; ls caf\xe9.txt; cd nothing\xff"),
                     hostile_fs)
    assert io.out == b"\xff\xfe\ncontents of caf\xe9.txt" + b"caf\\xe9.txt\n"
    assert io.err == b"cd: nothing\\xff: No such file or directory\n"
    # Typed into an interactive shell, ahead of a running command line too.
    shell, io = started_shell(hostile_fs, pty=False)
    shell.data(b"cat 'caf\\xe9.txt' caf\xe9.txt\necho \xff\n")
    shell.eof()
    assert io.out == b"contents of caf\xe9.txt" * 2 + b"\xff\n"
    assert io.status == 0


def test_a_name_planted_over_sftp_in_process():
    fs = MemoryFS()

    async def plant(client):
        handle = await client.open(os.fsdecode(b"/planted\xff\x1b]0;owned\x07"),
                                   OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC)
        await client.write(handle, 0, b"planted\n")
        await client.close(handle)

    task, _ = run_client(plant, fs)
    assert task.error is None, task.error
    io = run_builtin("ls; cat 'planted\\xff\\x1b]0;owned\\x07'", fs)
    assert io.out == b"planted\\xff\\x1b]0;owned\\x07\nplanted\n"
    assert io.status == 0


@pytest.mark.interop
def test_openssh_sftp_plants_a_name_and_openssh_ssh_lists_it(tmp_path):
    """Real clients against the sshviz server: sftp puts a file whose name is not UTF-8, ls
    over ssh prints it escaped, exits 0, and the connection is still good for the next
    command; a second connection works too."""
    require("sftp", "ssh")
    root = tmp_path / "served"
    root.mkdir()
    key = shared_keys() / "user_ed25519"
    user = "student"
    config, known_line = sftp_server_config(root, (shared_keys() / "user_ed25519.pub").read_text().strip(),
                                            user)
    local = tmp_path / "payload"
    local.write_bytes(b"payload\n")
    with sshviz_server(lambda: config) as server:
        known = tmp_path / "known_hosts"
        known.write_text(known_line(server.port) + "\n")
        batch = b"put " + bytes(local) + b" \"caf\xe9\x1b[2J.txt\"\n"
        planted = subprocess.run(["sftp", "-b", "-", *sftp_options(server.port, key, known),
                                  f"{user}@127.0.0.1"], input=batch, capture_output=True, timeout=60)
        assert planted.returncode == 0, planted.stderr
        assert os.listdir(os.fsencode(root)) == [b"caf\xe9\x1b[2J.txt"]
        for _ in range(2):
            listed = subprocess.run(ssh_command(server.port, user, tmp_path, identity=key,
                                                command="ls; cat 'caf\\xe9\\x1b[2J.txt'; whoami"),
                                    capture_output=True, timeout=60)
            assert (listed.returncode, listed.stderr) == (0, b"")
            assert listed.stdout == b"caf\\xe9\\x1b[2J.txt\npayload\nstudent\n"
        assert server.internal_errors() == []
