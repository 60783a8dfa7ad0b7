"""The SFTP server against bad input and escapes: each case asserts the exact answer and that
the next request is still served."""

from __future__ import annotations

import os
import struct

import pytest

from sshviz.fs.confined import ConfinedFS
from sshviz.fs.memory import MemoryFS
from sshviz.sftp import server as server_module
from sshviz.sftp.server import MAX_HANDLES, MAX_READ
from sshviz.wire.sftp import OpenFlag, StatusCode, packet

from .sftp_helpers import DirectServer

S = StatusCode


@pytest.fixture(params=["disk", "memory"])
def fs(request, tmp_path):
    if request.param == "memory":
        fs = MemoryFS()
        fs.mkdir("/dir")
        fs.write_file("/dir/file.txt", b"inside\n")
        return fs
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    (root / "dir" / "file.txt").write_bytes(b"inside\n")
    (tmp_path / "secret.txt").write_bytes(b"outside\n")
    return ConfinedFS(str(root))


def still_works(server: DirectServer) -> None:
    reply = server.request("STAT", id=4242, path="/dir/file.txt")
    assert reply.spec.name == "ATTRS" and reply["id"] == 4242 and reply["size"] == 7


def status(reply, code, text=None):
    assert reply.spec.name == "STATUS", reply
    assert reply["code"] == code, reply
    if text is not None:
        assert reply["error_message"] == text
    return reply


def test_request_before_init_gets_bad_message(fs):
    server = DirectServer(fs, init=False)
    status(server.request("STAT", id=1, path="/dir"), S.BAD_MESSAGE, "request before SSH_FXP_INIT")
    [version] = server.send(packet("INIT", version=3, extensions=[]))
    assert version.spec.name == "VERSION" and version["version"] == 3
    still_works(server)


def test_version_announces_the_openssh_extensions(fs):
    server = DirectServer(fs, init=False)
    [version] = server.send(packet("INIT", version=3, extensions=[]))
    assert {e["extension_name"] for e in version["extensions"]} == set(server_module.EXTENSIONS)


def test_second_init_closes_the_channel(fs):
    server = DirectServer(fs)
    assert server.send(packet("INIT", version=3, extensions=[])) == []
    assert server.io.exit_status == 1 and b"second" in server.io.stderr


def test_unknown_request_type_gets_op_unsupported(fs):
    server = DirectServer(fs)
    [reply] = server.send(struct.pack(">IBI", 5, 99, 77))
    status(reply, S.OP_UNSUPPORTED)
    assert reply["id"] == 77
    still_works(server)


def test_reply_type_sent_as_request_gets_op_unsupported(fs):
    server = DirectServer(fs)
    status(server.request("STATUS", id=5, code=0, error_message="", language_tag=""), S.OP_UNSUPPORTED)
    still_works(server)


def test_answered_extended_requests_are_forgotten(fs):
    # The decoder remembers each EXTENDED request's name until its reply; the server's replies
    # must clear them, or every request (with a name of up to 256 KiB) stays in memory.
    server = DirectServer(fs)
    for i in range(20):
        assert server.request("EXTENDED", id=i, extended_request="limits@openssh.com").spec.name == "EXTENDED_REPLY"
        status(server.request("EXTENDED", id=100 + i, extended_request="fsync@openssh.com",
                              handle=b"forged"), S.FAILURE)
        body = struct.pack(">BI", 200, 200 + i) + struct.pack(">I", 1000) + b"x" * 1000
        status(server.send(struct.pack(">I", len(body)) + body)[0], S.OP_UNSUPPORTED)
    assert server.server.decoder._extensions == {}


def test_unknown_extension_gets_op_unsupported(fs):
    server = DirectServer(fs)
    body = struct.pack(">BI", 200, 8) + struct.pack(">I", 11) + b"nope@x.org!"
    [reply] = server.send(struct.pack(">I", len(body)) + body)
    status(reply, S.OP_UNSUPPORTED)
    assert reply["id"] == 8
    still_works(server)


def test_truncated_request_gets_bad_message_with_its_id(fs):
    server = DirectServer(fs)
    body = struct.pack(">BI", 17, 31) + struct.pack(">I", 50) + b"/dir"  # path claims 50 bytes
    [reply] = server.send(struct.pack(">I", len(body)) + body)
    status(reply, S.BAD_MESSAGE)
    assert reply["id"] == 31 and "truncated" in reply["error_message"]
    still_works(server)


def test_trailing_bytes_get_bad_message(fs):
    server = DirectServer(fs)
    good = packet("STAT", id=3, path="/dir")[4:] + b"junk"
    status(server.send(struct.pack(">I", len(good)) + good)[0], S.BAD_MESSAGE)
    still_works(server)


@pytest.mark.parametrize("length", [0, 256 * 1024 + 1])
def test_framing_error_closes_the_channel_cleanly(fs, length):
    server = DirectServer(fs)
    assert server.send(struct.pack(">I", length) + b"\x11" * 8) == []
    assert server.io.exit_status == 1 and b"out of range" in server.io.stderr
    assert server.send(packet("STAT", id=1, path="/")) == []  # nothing after the close


def test_packet_without_id_closes_the_channel(fs):
    server = DirectServer(fs)
    assert server.send(struct.pack(">IB", 1, 17)) == []
    assert server.io.exit_status == 1


@pytest.mark.parametrize("request_name, values", [
    ("READ", dict(offset=0, len=10)), ("WRITE", dict(offset=0, data=b"x")), ("CLOSE", {}),
    ("FSTAT", {}), ("READDIR", {}), ("FSETSTAT", dict(flags=0)),
])
def test_fabricated_handle_gets_failure(fs, request_name, values):
    server = DirectServer(fs)
    status(server.request(request_name, id=9, handle=b"forged", **values), S.FAILURE, "invalid handle")
    still_works(server)


def test_directory_handle_is_not_a_file_handle(fs):
    server = DirectServer(fs)
    handle = server.request("OPENDIR", id=1, path="/dir")["handle"]
    status(server.request("READ", id=2, handle=handle, offset=0, len=5), S.FAILURE, "invalid handle")
    names = server.request("READDIR", id=3, handle=handle)
    assert [n["filename"] for n in names["names"]] == ["file.txt"]
    status(server.request("READDIR", id=4, handle=handle), S.EOF)
    status(server.request("CLOSE", id=5, handle=handle), S.OK)
    status(server.request("CLOSE", id=6, handle=handle), S.FAILURE, "invalid handle")


def test_open_handles_are_bounded(fs):
    server = DirectServer(fs)
    handles = [server.request("OPEN", id=i, filename="/dir/file.txt", pflags=1, flags=0)["handle"]
               for i in range(MAX_HANDLES)]
    status(server.request("OPEN", id=999, filename="/dir/file.txt", pflags=1, flags=0), S.FAILURE)
    status(server.request("CLOSE", id=1000, handle=handles[0]), S.OK)
    assert server.request("OPEN", id=1001, filename="/dir/file.txt", pflags=1, flags=0).spec.name == "HANDLE"


def test_read_length_is_bounded(fs):
    server = DirectServer(fs)
    big = os.urandom(MAX_READ + 5000)
    handle = server.request("OPEN", id=1, filename="/big", pflags=int(OpenFlag.WRITE | OpenFlag.CREAT
                                                                         | OpenFlag.READ), flags=0)["handle"]
    status(server.request("WRITE", id=2, handle=handle, offset=0, data=big[:200_000]), S.OK)
    status(server.request("WRITE", id=3, handle=handle, offset=200_000, data=big[200_000:]), S.OK)
    reply = server.request("READ", id=4, handle=handle, offset=0, len=0xFFFFFFFF)
    assert reply.spec.name == "DATA" and reply["data"] == big[:MAX_READ]


def test_huge_offset_gets_bad_message(fs):
    server = DirectServer(fs)
    handle = server.request("OPEN", id=1, filename="/dir/file.txt", pflags=1, flags=0)["handle"]
    reply = server.request("READ", id=2, handle=handle, offset=2**64 - 1, len=10)
    assert reply.spec.name == "STATUS" and reply["code"] in (S.BAD_MESSAGE, S.EOF)
    still_works(server)


def test_replies_waiting_for_window_pause_reading(fs, monkeypatch):
    monkeypatch.setattr(server_module, "OUTPUT_HIGH", 10)
    server = DirectServer(fs)
    server.io.pending_bytes = 100  # the client has not made room for earlier replies
    assert server.send(packet("STAT", id=1, path="/dir") + packet("STAT", id=2, path="/dir")) == []
    assert server.io.paused
    server.io.pending_bytes = 0
    server.server.writable()
    out = bytes(server.io.output)
    assert [m["id"] for m in (u.message for u in server.decoder.feed("s2c", out))] == [1, 2]
    assert not server.io.paused


# -- confinement: an escape answers exactly like a missing file --------------------------------

ESCAPES = ["/../secret.txt", "../secret.txt", "/dir/../../secret.txt", "/dir/../../../etc/passwd",
           "/nonexistent"]


@pytest.mark.parametrize("path", ESCAPES)
@pytest.mark.parametrize("request_name", ["STAT", "LSTAT", "OPENDIR", "REMOVE", "RMDIR", "READLINK",
                                          "REALPATH-parent", "OPEN"])
def test_escapes_answer_like_missing_files(fs, path, request_name):
    server = DirectServer(fs)
    if request_name == "OPEN":
        reply = server.request("OPEN", id=1, filename=path, pflags=1, flags=0)
    elif request_name == "REMOVE":
        reply = server.request("REMOVE", id=1, filename=path)
    elif request_name == "REALPATH-parent":
        reply = server.request("REALPATH", id=1, path=path + "/x")
    else:
        reply = server.request(request_name, id=1, path=path)
    status(reply, S.NO_SUCH_FILE, "No such file or directory")
    still_works(server)


def test_symlinks_that_leave_the_root_are_missing(tmp_path):
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    (tmp_path / "secret.txt").write_bytes(b"outside\n")
    os.symlink("../secret.txt", root / "up")
    os.symlink(str(tmp_path), root / "abs")  # absolute: read inside the root, as in a chroot
    os.symlink("..", root / "dir" / "parent")  # fine: the root itself
    server = DirectServer(ConfinedFS(str(root)))
    for path in ("/up", "/abs/secret.txt", "/dir/parent/../secret.txt"):
        status(server.request("STAT", id=1, path=path), S.NO_SUCH_FILE, "No such file or directory")
        status(server.request("OPEN", id=2, filename=path, pflags=1, flags=0), S.NO_SUCH_FILE)
    assert server.request("STAT", id=3, path="/dir/parent/dir").spec.name == "ATTRS"
    # Writing through a link that leads out is refused the same way.
    status(server.request("OPEN", id=4, filename="/up", pflags=0x1A, flags=0), S.NO_SUCH_FILE)
    assert (tmp_path / "secret.txt").read_bytes() == b"outside\n"


def test_symlink_targets_are_checked_and_kept_inside(fs):
    server = DirectServer(fs)
    for target in ("../../secret.txt", "/../secret.txt", "/dir/../../x"):
        status(server.request("SYMLINK", id=1, targetpath=target, linkpath="/dir/l"), S.NO_SUCH_FILE)
    status(server.request("SYMLINK", id=2, targetpath="/dir/file.txt", linkpath="/dir/sub-link"), S.OK)
    # An absolute target is stored relative to the link, so it stays inside for everyone.
    assert server.request("READLINK", id=3, path="/dir/sub-link")["names"][0]["filename"] == "file.txt"
    assert server.request("STAT", id=4, path="/dir/sub-link")["size"] == 7


def test_exclusive_create_on_a_dangling_symlink_fails(fs):
    # POSIX: with O_CREAT|O_EXCL a symlink in the last component is never followed, dangling
    # or not; the open fails because the name exists.
    server = DirectServer(fs)
    status(server.request("SYMLINK", id=1, targetpath="made-by-link", linkpath="/dir/link"), S.OK)
    exclusive = int(OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL)
    status(server.request("OPEN", id=2, filename="/dir/link", pflags=exclusive, flags=0), S.FAILURE)
    status(server.request("LSTAT", id=3, path="/dir/made-by-link"), S.NO_SUCH_FILE)
    assert server.request("OPEN", id=4, filename="/dir/new", pflags=exclusive, flags=0).spec.name == "HANDLE"
    status(server.request("OPEN", id=5, filename="/dir/new", pflags=exclusive, flags=0), S.FAILURE)


def test_statvfs_never_follows_a_symlink_swapped_in_after_the_walk(tmp_path):
    # Another process may replace a checked directory with a symlink that leads out before
    # the final open; every open by name must refuse to follow it.
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    fs = ConfinedFS(str(root))
    real_walk = fs._walk

    def walk_then_swap(*args, **kwargs):
        found = real_walk(*args, **kwargs)
        os.rmdir(root / "d")
        os.symlink(str(tmp_path / "outside-and-missing"), root / "d")
        return found
    fs._walk = walk_then_swap
    assert fs.statvfs("/d").f_bsize > 0  # the link itself, not where it leads


def test_hardlink_and_rename_out_of_the_root_are_missing(fs):
    server = DirectServer(fs)
    for name, values in (("hardlink@openssh.com", dict(oldpath="/../secret.txt", newpath="/stolen")),
                         ("hardlink@openssh.com", dict(oldpath="/dir/file.txt", newpath="/../planted")),
                         ("posix-rename@openssh.com", dict(oldpath="/dir/file.txt", newpath="/../x"))):
        status(server.request("EXTENDED", id=1, extended_request=name, **values), S.NO_SUCH_FILE)
    status(server.request("RENAME", id=2, oldpath="/dir/file.txt", newpath="/../moved"), S.NO_SUCH_FILE)
    still_works(server)


# Every way to name the served root: "/..", above it, is missing like any escape.
ROOT_PATHS = ["/", ".", "", "//", "/.", "./", "/dir/..", "dir/../.", "/up", "/dir/up/"]
ROOT_CHANGES = [dict(flags=4, permissions=0), dict(flags=4, permissions=0o777),
                dict(flags=2, uid=0, gid=0), dict(flags=8, atime=1, mtime=1), dict(flags=1, size=0),
                dict(flags=15, size=0, uid=0, gid=0, permissions=0, atime=1, mtime=1)]
ON_THE_ROOT = "Operation not permitted on the root directory"


def root_state(fs):
    info = fs.stat("/")
    return info.st_mode, info.st_uid, info.st_gid, int(info.st_mtime)


def test_the_root_cannot_be_changed(fs):
    fs.symlink("/", "/up")  # a link to the root, and one through a directory
    fs.symlink("..", "/dir/up")
    before = root_state(fs)
    server = DirectServer(fs)
    for path in ROOT_PATHS:
        for attrs in ROOT_CHANGES:
            status(server.request("SETSTAT", id=1, path=path, **attrs), S.PERMISSION_DENIED, ON_THE_ROOT)
            if "up" not in path:  # lsetstat of a link changes the link, not the root
                status(server.request("EXTENDED", id=2, extended_request="lsetstat@openssh.com",
                                      path=path, **attrs), S.PERMISSION_DENIED, ON_THE_ROOT)
    for attrs in ROOT_CHANGES:
        status(server.request("SETSTAT", id=3, path="/..", **attrs), S.NO_SUCH_FILE)
    # The root cannot be opened as a file, and a directory handle is not a file handle.
    status(server.request("OPEN", id=4, filename="/", pflags=0x1A, flags=0), S.FAILURE, "Is a directory")
    handle = server.request("OPENDIR", id=5, path="/")["handle"]
    for attrs in ROOT_CHANGES:
        status(server.request("FSETSTAT", id=6, handle=handle, **attrs), S.FAILURE, "invalid handle")
    assert root_state(fs) == before
    still_works(server)


def test_the_root_cannot_be_removed_renamed_or_linked(fs):
    server = DirectServer(fs)
    for path in ("/", ".", "//", "/dir/.."):
        for name, values in (("REMOVE", dict(filename=path)), ("RMDIR", dict(path=path)),
                             ("MKDIR", dict(path=path, flags=0)),
                             ("RENAME", dict(oldpath=path, newpath="/moved")),
                             ("RENAME", dict(oldpath="/dir", newpath=path)),
                             ("SYMLINK", dict(targetpath="dir", linkpath=path))):
            status(server.request(name, id=1, **values), S.PERMISSION_DENIED, ON_THE_ROOT)
        for name, values in (("posix-rename@openssh.com", dict(oldpath=path, newpath="/moved")),
                             ("posix-rename@openssh.com", dict(oldpath="/dir", newpath=path)),
                             ("hardlink@openssh.com", dict(oldpath=path, newpath="/hard"))):
            status(server.request("EXTENDED", id=2, extended_request=name, **values),
                   S.PERMISSION_DENIED, ON_THE_ROOT)
    assert [name for name, _ in fs.listdir("/")] == ["dir"]
    still_works(server)


def test_changes_below_the_root_still_work(fs):
    server = DirectServer(fs)
    status(server.request("SETSTAT", id=1, path="/dir", flags=4, permissions=0o700), S.OK)
    status(server.request("SETSTAT", id=2, path="dir/file.txt", flags=8, atime=5, mtime=7), S.OK)
    assert fs.stat("/dir").st_mode & 0o7777 == 0o700
    assert int(fs.stat("/dir/file.txt").st_mtime) == 7


def test_read_only_refuses_every_change(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    server = DirectServer(ConfinedFS(str(tmp_path), read_only=True))
    for name, values in (("OPEN", dict(filename="/f", pflags=2, flags=0)),
                         ("OPEN", dict(filename="/new", pflags=0x0A, flags=0)),
                         ("REMOVE", dict(filename="/f")), ("MKDIR", dict(path="/d", flags=0)),
                         ("RMDIR", dict(path="/f")), ("RENAME", dict(oldpath="/f", newpath="/g")),
                         ("SETSTAT", dict(path="/f", flags=4, permissions=0o777)),
                         ("SYMLINK", dict(targetpath="f", linkpath="/l"))):
        status(server.request(name, id=1, **values), S.PERMISSION_DENIED)
    assert server.request("OPEN", id=2, filename="/f", pflags=1, flags=0).spec.name == "HANDLE"
    statvfs = server.request("EXTENDED", id=3, extended_request="statvfs@openssh.com", path="/")
    assert statvfs["f_flag"] & 1
    assert sorted(os.listdir(tmp_path)) == ["f"]


@pytest.mark.parametrize("kind", ["disk", "memory"])
def test_read_only_handles_cannot_change_the_file(tmp_path, kind):
    if kind == "disk":
        (tmp_path / "f").write_bytes(b"data")
        os.chmod(tmp_path / "f", 0o644)
        fs = ConfinedFS(str(tmp_path), read_only=True)
    else:
        fs = MemoryFS()
        fs.write_file("/f", b"data")
        fs.read_only = True
    before = fs.stat("/f")
    server = DirectServer(fs)
    handle = server.request("OPEN", id=1, filename="/f", pflags=1, flags=0)["handle"]
    for values in (dict(flags=4, permissions=0o600), dict(flags=1, size=0),
                   dict(flags=8, atime=1, mtime=1)):
        status(server.request("FSETSTAT", id=2, handle=handle, **values), S.PERMISSION_DENIED)
    assert server.request("WRITE", id=3, handle=handle, offset=0, data=b"XX")["code"] != S.OK
    after = fs.stat("/f")
    assert (after.st_mode, after.st_size, after.st_mtime) == (before.st_mode, before.st_size,
                                                              before.st_mtime)
    assert server.request("READ", id=4, handle=handle, offset=0, len=10)["data"] == b"data"


def test_a_handle_opened_for_reading_cannot_write(fs):
    server = DirectServer(fs)
    handle = server.request("OPEN", id=1, filename="/dir/file.txt", pflags=1, flags=0)["handle"]
    assert server.request("WRITE", id=2, handle=handle, offset=0, data=b"XX")["code"] != S.OK
    assert server.request("READ", id=3, handle=handle, offset=0, len=10)["data"] == b"inside\n"


def test_copy_data_into_the_file_it_reads_ends(fs):
    # Two handles on one file: copying "to the end" into the file's own end must stop where
    # the file ended when the copy began, not chase the bytes it is writing.
    server = DirectServer(fs)
    source = server.request("OPEN", id=1, filename="/dir/file.txt", pflags=1, flags=0)["handle"]
    target = server.request("OPEN", id=2, filename="/dir/file.txt", pflags=2, flags=0)["handle"]
    handle = server.server.handles[target].handle
    real_pwrite, written = handle.pwrite, []

    def pwrite(data, offset):
        written.append(len(data))
        if sum(written) > 1000:
            raise RuntimeError("the copy does not stop")
        real_pwrite(data, offset)
    handle.pwrite = pwrite
    status(server.request("EXTENDED", id=3, extended_request="copy-data", read_from_handle=source,
                          read_from_offset=0, read_data_length=0, write_to_handle=target,
                          write_to_offset=7), S.OK)
    reply = server.request("READ", id=4, handle=source, offset=0, len=100)
    assert reply["data"] == b"inside\ninside\n"


@pytest.mark.parametrize("pflags, unblock", [(1, os.O_WRONLY), (2, os.O_RDONLY | os.O_NONBLOCK)])
def test_opening_a_fifo_does_not_block_the_server(tmp_path, pflags, unblock):
    # One server serves every connection: an open that waits for the FIFO's other end
    # would stop them all.
    import threading

    os.mkfifo(tmp_path / "fifo")
    server = DirectServer(ConfinedFS(str(tmp_path)))
    thread = threading.Thread(target=server.request, args=("OPEN",),
                              kwargs=dict(id=1, filename="/fifo", pflags=pflags, flags=0), daemon=True)
    thread.start()
    thread.join(2)
    blocked = thread.is_alive()
    if blocked:  # let the stuck open return, so the test ends
        os.close(os.open(tmp_path / "fifo", unblock))
        thread.join(5)
    assert not blocked
    still_works_on = server.request("STAT", id=2, path="/fifo")
    assert still_works_on.spec.name == "ATTRS"


def test_close_errors_reach_the_client(fs):
    server = DirectServer(fs)
    handle = server.request("OPEN", id=1, filename="/dir/file.txt", pflags=1, flags=0)["handle"]

    def broken_close():
        raise OSError(5, "Input/output error")
    server.server.handles[handle].handle.close = broken_close
    status(server.request("CLOSE", id=2, handle=handle), S.FAILURE, "Input/output error")
    still_works(server)


def test_short_writes_are_retried(tmp_path, monkeypatch):
    from sshviz.fs import confined

    real_pwrite = os.pwrite
    monkeypatch.setattr(confined.os, "pwrite", lambda fd, data, offset: real_pwrite(fd, bytes(data)[:7], offset))
    server = DirectServer(ConfinedFS(str(tmp_path)))
    handle = server.request("OPEN", id=1, filename="/f", pflags=0x1A, flags=0)["handle"]
    data = os.urandom(1000)
    status(server.request("WRITE", id=2, handle=handle, offset=0, data=data), S.OK)
    status(server.request("CLOSE", id=3, handle=handle), S.OK)
    assert (tmp_path / "f").read_bytes() == data


def test_setuid_and_setgid_bits_are_never_set(tmp_path):
    server = DirectServer(ConfinedFS(str(tmp_path)))
    handle = server.request("OPEN", id=1, filename="/f", pflags=0x1A, flags=4, permissions=0o6755)["handle"]
    status(server.request("CLOSE", id=2, handle=handle), S.OK)
    status(server.request("SETSTAT", id=3, path="/f", flags=4, permissions=0o4777), S.OK)
    status(server.request("MKDIR", id=4, path="/d", flags=4, permissions=0o3777), S.OK)
    assert os.stat(tmp_path / "f").st_mode & 0o7777 == 0o777
    assert os.stat(tmp_path / "d").st_mode & 0o6000 == 0


# -- clients over TCP that misbehave: do not read, or drop the connection ------------------------


class SftpOverTcp:
    """A sshviz server serving ``root`` over loopback (``with`` it), and SFTP sessions on it
    from a sans-I/O client pumped by hand on a blocking socket, so a test can stop reading
    or drop the connection whenever it likes."""

    def __init__(self, root):
        from sshviz.auth.server import ServerAuthConfig, UserRecord
        from sshviz.connection.layer import ConnectionConfig
        from sshviz.crypto.keys import PrivateKey
        from sshviz.endpoint import ServerConfig
        from sshviz.sftp.server import sftp_subsystem
        from sshviz.transport.transport import TransportConfig

        from .openssh import sshviz_server

        host, self.user = PrivateKey.generate("ssh-ed25519"), PrivateKey.generate("ssh-ed25519")
        self.running = sshviz_server(lambda: ServerConfig(
            TransportConfig(host_keys=[host]), ServerAuthConfig(users={"u": UserRecord(None, [self.user.public])}),
            ConnectionConfig(), ConfinedFS(str(root)), {"sftp": sftp_subsystem}))

    def __enter__(self):
        self.server = self.running.__enter__()
        return self

    def __exit__(self, *exc):
        self.running.__exit__(*exc)
        assert self.server.internal_errors() == []

    def session(self, window: int = 2 * 1024 * 1024) -> "SftpOverTcp":
        """Log in and start SFTP (INIT sent); ``send`` and ``until`` go on with it."""
        import socket

        from sshviz.auth.client import ClientAuthConfig
        from sshviz.connection.layer import ConnectionConfig
        from sshviz.endpoint import ClientConfig, ClientConnection
        from sshviz.events import AuthSucceeded, ChannelOpened, ChannelRequestDone

        self.client = ClientConnection(ClientConfig(
            auth=ClientAuthConfig(user="u", methods=["publickey"], keys=[self.user]),
            connection=ConnectionConfig(window_size=window, max_packet=256 * 1024)))
        self.socket = socket.create_connection(("127.0.0.1", self.server.port), 5)
        self.socket.settimeout(10)
        self.client.start()
        channel = []

        def started(client, event):
            if isinstance(event, AuthSucceeded):
                channel.append(client.open_session())
            elif isinstance(event, ChannelOpened):
                client.connection.request(channel[0], "subsystem", subsystem_name="sftp")
            return isinstance(event, ChannelRequestDone)
        self.until(started)
        self.channel = channel[0]
        self.send(packet("INIT", version=3, extensions=[]))
        return self

    def send(self, *sftp_packets: bytes) -> None:
        for data in sftp_packets:
            self.client.connection.send_data(self.channel, data)
        self.socket.sendall(self.client.data_to_send())
        self.client.take_events()

    def until(self, wanted) -> None:
        """Exchange packets until an event of the client satisfies ``wanted(client, event)``."""
        while True:
            self.send()
            for event in self.client.receive_data(self.socket.recv(65536)):
                if wanted(self.client, event):
                    return

    def replies(self, size: int) -> bytes:
        """Read the SFTP channel until ``size`` bytes have come."""
        from sshviz.events import ChannelData

        received = bytearray()
        self.until(lambda client, event: isinstance(event, ChannelData)
                   and received.extend(event.data) is None and len(received) >= size)
        return bytes(received)


def test_replies_a_client_does_not_read_pause_the_server(tmp_path, monkeypatch):
    # The client opens a huge window and asks for many reads, then reads nothing: the server
    # must stop serving once its replies pile up unsent, not fill its memory with them; and
    # go on when the client reads again.
    import time

    from sshviz.sftp.server import SftpServer

    (tmp_path / "big").write_bytes(os.urandom(1 << 20))
    served = []
    real_read = SftpServer._do_read
    monkeypatch.setattr(SftpServer, "_do_read", lambda self, m: served.append(m["id"]) or real_read(self, m))
    with SftpOverTcp(tmp_path) as tcp:
        peer = tcp.session(window=0xFFFFFFFF)
        reads = 300  # 75 MiB of replies
        peer.send(packet("OPEN", id=1, filename="/big", pflags=1, flags=0),
                  *(packet("READ", id=100 + i, handle=b"1", offset=0, len=255 * 1024) for i in range(reads)))
        time.sleep(1.5)
        assert len(served) < reads // 2, f"served {len(served)} of {reads} reads nobody read"
        assert tcp.server.connections[0].unsent_bytes < 16 * 1024 * 1024
        peer.replies(9 + 13 + reads * (13 + 255 * 1024))  # the client reads again: all of them
        assert len(served) == reads


def test_a_dropped_connection_closes_its_open_files(tmp_path):
    # A client that goes away without closing its handles (a network drop, a killed sftp)
    # must not leave the server holding their descriptors: a few such clients would use up
    # what the one process serving everybody may open.
    import time

    served = tmp_path / "f"
    served.write_bytes(b"x")

    def descriptors_of_the_file():  # this process's: the server runs in a thread of it
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                count += os.readlink(f"/proc/self/fd/{fd}") == str(served)
            except OSError:  # closed meanwhile
                pass
        return count

    with SftpOverTcp(tmp_path) as tcp:
        peer = tcp.session()
        peer.send(*(packet("OPEN", id=i, filename="/f", pflags=1, flags=0) for i in range(100)))
        peer.replies(100 * 14)
        assert descriptors_of_the_file() == 100
        peer.socket.close()
        deadline = time.monotonic() + 5
        while descriptors_of_the_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert descriptors_of_the_file() == 0
