"""The SFTP client, sans-I/O: bytes from the server go into ``receive``, bytes for the server
come out through the ``send`` function it was given, and every packet both ways is reported as
an ``SftpMessage`` event. Every operation returns a ``Pending``; whoever feeds the bytes (the
conductor, an asyncio protocol) makes it progress.

Transfers are pipelined: ``download`` keeps ``max_requests`` READs in flight and ``upload`` as
many WRITEs, each as large as the server's limits@openssh.com allows (up to about 255 KiB; 32 KiB
without it). A short read asks again for the rest. ``get`` and ``put`` copy whole directories;
names the server lists are checked before they become local paths.

Local files are reached through a filesystem object with the ``ConfinedFS`` interface
(``ConfinedFS("/")`` for the real disk, ``MemoryFS`` for seeded demos).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat as st
from typing import Callable

from ..wire.sftp import SFTP, OpenFlag, StatusCode, encode_packet
from ..wire.spec import Message
from .attrs import Attributes
from .pending import Pending, spawn
from .stream import MAX_PACKET, SftpFramingError, SftpStreamDecoder, sftp_event
from .symlink_order import DRAFT, server_symlink_order

S = StatusCode
DEFAULT_CHUNK = 32 * 1024  # without limits@openssh.com, what every server accepts
MAX_CHUNK = MAX_PACKET - 1024
DEFAULT_REQUESTS = 16


def _only_name(reply, asked: str) -> str:
    """The one name a REALPATH-like reply must hold; anything else is the server's mistake."""
    names = reply.get("names") or []
    if len(names) != 1:
        raise SftpProtocolError(f"{asked} answered {len(names)} names, not 1")
    return names[0]["filename"]


class SftpError(Exception):
    """The server answered with a STATUS other than OK (or the session ended)."""

    def __init__(self, code: int, message: str, path: str | None = None):
        self.code = code
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class SftpProtocolError(SftpError):
    """The server broke the protocol; the session cannot go on."""

    def __init__(self, message: str):
        super().__init__(S.BAD_MESSAGE, message)


def unsafe_name(name: str) -> bool:
    """True for a name from a directory listing that must not become a local path: empty,
    '.', '..', or holding a separator or NUL (a server could use them to write elsewhere)."""
    return name in ("", ".", "..") or "/" in name or "\\" in name or "\x00" in name


class SftpClient:
    """The SFTP client, sans-I/O: each call sends its request and returns a ``Pending`` that
    settles with the reply; transfers keep many requests in flight (pipelining). Bytes go out
    through ``send``; the channel's bytes come in through ``data``."""

    def __init__(self, send: Callable[[bytes], None], report: Callable | None = None, channel: int = 0,
                 server_version: str | None = None):
        self._send_bytes = send
        # The server's identification line says in which order it reads SYMLINK's paths.
        self.symlink_order = server_symlink_order(server_version)
        self._report = report
        self.channel = channel
        self.decoder = SftpStreamDecoder()
        self.version: int | None = None
        self.extensions: dict[str, bytes] = {}
        self.read_size = DEFAULT_CHUNK
        self.write_size = DEFAULT_CHUNK
        self.max_requests = DEFAULT_REQUESTS
        self.max_handles = 0  # 0: the server did not say
        self.closed_reason: str | None = None
        self._next_id = 0
        self._waiting: dict[int, tuple[Pending, str]] = {}  # id -> (reply, what was asked)
        self._version = Pending()

    # -- bytes in and out ---------------------------------------------------------------------

    def _send(self, message: Message) -> None:
        packet = encode_packet(message)
        self.decoder.note_sent(message)
        # Reported before sent: a trace places the report on the CHANNEL_DATA that follows.
        if self._report is not None:
            self._report(sftp_event(self.channel, "c2s", packet, message))
        self._send_bytes(packet)

    def receive(self, data: bytes) -> None:
        """Bytes the server sent on the channel."""
        try:
            units = self.decoder.feed("s2c", data)
        except SftpFramingError as exc:
            return self.connection_lost(f"the server broke SFTP framing: {exc}")
        for unit in units:
            if self._report is not None:
                self._report(unit.event(self.channel))
            message = unit.message
            if message is None:
                return self.connection_lost(f"undecodable reply from the server: {unit.error}")
            if message.spec.name == "VERSION":
                self._on_version(message)
                continue
            waiting = self._waiting.pop(message.get("id"), None)
            if waiting is None:
                return self.connection_lost(f"a reply to request {message.get('id')}, which was not sent")
            waiting[0].resolve(message)

    def connection_lost(self, reason: str = "the SFTP session ended") -> None:
        """Fail everything still waiting; later requests fail at once."""
        if self.closed_reason is None:
            self.closed_reason = reason
        error = SftpError(S.CONNECTION_LOST, self.closed_reason)
        waiting, self._waiting = self._waiting, {}
        self._version.fail(error)
        for pending, _ in waiting.values():
            pending.fail(error)

    # -- requests -----------------------------------------------------------------------------

    def init(self) -> Pending:
        """Send INIT; resolves to the server's extensions once VERSION (and, when announced,
        the limits) have arrived."""
        self._send(SFTP.build("INIT", version=3, extensions=[]))
        return spawn(self._after_version())

    def _on_version(self, message: Message) -> None:
        if self.version is not None:
            return self.connection_lost("a second SSH_FXP_VERSION")
        self.version = message["version"]
        self.extensions = {e["extension_name"]: e["extension_data"] for e in message["extensions"]}
        self._version.resolve(self.extensions)

    async def _after_version(self) -> dict:
        await self._version
        if self.version != 3:
            raise SftpProtocolError(f"the server speaks SFTP version {self.version}, not 3")
        if self.has("limits@openssh.com"):
            limits = await self.extended("limits@openssh.com")
            if limits["max_read_length"]:
                self.read_size = min(limits["max_read_length"], MAX_CHUNK)
            if limits["max_write_length"]:
                self.write_size = min(limits["max_write_length"], MAX_CHUNK)
            if limits["max_packet_length"]:
                # Our WRITE packets carry a handle and offsets besides the data.
                self.write_size = min(self.write_size, limits["max_packet_length"] - 1024)
            self.max_handles = limits["max_open_handles"]
        return self.extensions

    def has(self, extension: str) -> bool:
        return extension in self.extensions

    def request(self, name: str, /, **values) -> Pending:
        """Send a request; resolves to the reply Message, whatever it is."""
        pending = Pending()
        if self.closed_reason is not None:
            pending.fail(SftpError(S.NO_CONNECTION, self.closed_reason))
            return pending
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        request = self._next_id
        self._waiting[request] = (pending, name)
        self._send(SFTP.build(name, id=request, **values))
        return pending

    async def _call(self, name: str, expect: str | None, path: str | None = None, /, **values):
        """A request whose success is ``expect`` (a reply type) or STATUS OK (``expect`` None)."""
        reply = await self.request(name, **values)
        return check(reply, expect, path)

    def extended(self, extension: str, expect: str | None = "EXTENDED_REPLY", path: str | None = None,
                 /, **values) -> Pending:
        return spawn(self._call("EXTENDED", expect, path, extended_request=extension, **values))

    # -- operations (each returns a Pending) --------------------------------------------------

    def realpath(self, path: str) -> Pending:
        return spawn(self._single_name("REALPATH", path, path=path))

    async def _single_name(self, name: str, shown: str, /, **values) -> str:
        return _only_name(await self._call(name, "NAME", shown, **values), name)

    def stat(self, path: str) -> Pending:
        return spawn(self._attrs("STAT", path, path=path))

    def lstat(self, path: str) -> Pending:
        return spawn(self._attrs("LSTAT", path, path=path))

    def fstat(self, handle: bytes) -> Pending:
        return spawn(self._attrs("FSTAT", None, handle=handle))

    async def _attrs(self, name: str, path: str | None, /, **values) -> Attributes:
        return Attributes.from_values((await self._call(name, "ATTRS", path, **values)).values)

    def setstat(self, path: str, attributes: Attributes) -> Pending:
        return spawn(self._call("SETSTAT", None, path, path=path, **attributes.to_values()))

    def lsetstat(self, path: str, attributes: Attributes) -> Pending:
        return self.extended("lsetstat@openssh.com", None, path, path=path, **attributes.to_values())

    def fsetstat(self, handle: bytes, attributes: Attributes) -> Pending:
        return spawn(self._call("FSETSTAT", None, None, handle=handle, **attributes.to_values()))

    def listdir(self, path: str) -> Pending:
        """Resolves to [(name, longname, Attributes)] in the server's order, without . and .."""
        return spawn(self._listdir(path))

    async def _listdir(self, path: str) -> list[tuple[str, str, Attributes]]:
        handle = (await self._call("OPENDIR", "HANDLE", path, path=path))["handle"]
        entries = []
        try:
            while True:
                reply = await self.request("READDIR", handle=handle)
                if reply.spec.name == "STATUS" and reply["code"] == S.EOF:
                    break
                for item in check(reply, "NAME", path)["names"]:
                    if item["filename"] not in (".", ".."):
                        entries.append((item["filename"], item["longname"], Attributes.from_values(item)))
        finally:
            await self.close(handle)
        return entries

    def mkdir(self, path: str, mode: int | None = None) -> Pending:
        return spawn(self._call("MKDIR", None, path, path=path,
                                **Attributes(permissions=mode).to_values()))

    def rmdir(self, path: str) -> Pending:
        return spawn(self._call("RMDIR", None, path, path=path))

    def remove(self, path: str) -> Pending:
        return spawn(self._call("REMOVE", None, path, filename=path))

    def rename(self, old: str, new: str, posix: bool = False) -> Pending:
        """RENAME, which refuses to replace ``new``; with ``posix`` the POSIX rename."""
        if posix:
            return self.extended("posix-rename@openssh.com", None, old, oldpath=old, newpath=new)
        return spawn(self._call("RENAME", None, old, oldpath=old, newpath=new))

    def readlink(self, path: str) -> Pending:
        return spawn(self._single_name("READLINK", path, path=path))

    def symlink(self, target: str, link: str) -> Pending:
        """Make ``link`` point at ``target``."""
        # The catalog names the fields in OpenSSH's order (PROTOCOL 4.1: the target first); a
        # server that reads the draft's order gets the link first (see symlink_order.py).
        first, second = (link, target) if self.symlink_order == DRAFT else (target, link)
        return spawn(self._call("SYMLINK", None, link, targetpath=first, linkpath=second))

    def hardlink(self, old: str, new: str) -> Pending:
        return self.extended("hardlink@openssh.com", None, old, oldpath=old, newpath=new)

    def statvfs(self, path: str) -> Pending:
        return self.extended("statvfs@openssh.com", "EXTENDED_REPLY", path, path=path)

    def fstatvfs(self, handle: bytes) -> Pending:
        return self.extended("fstatvfs@openssh.com", "EXTENDED_REPLY", None, handle=handle)

    def fsync(self, handle: bytes) -> Pending:
        return self.extended("fsync@openssh.com", None, None, handle=handle)

    def expand_path(self, path: str) -> Pending:
        return spawn(self._expand(path))

    async def _expand(self, path: str) -> str:
        reply = await self.extended("expand-path@openssh.com", "EXTENDED_REPLY", path, path=path)
        return _only_name(reply, "expand-path@openssh.com")

    def home_directory(self, user: str = "") -> Pending:
        return spawn(self._home(user))

    async def _home(self, user: str) -> str:
        reply = await self.extended("home-directory", "EXTENDED_REPLY", None, username=user)
        return _only_name(reply, "home-directory")

    def copy_data(self, source: bytes, offset: int, length: int, target: bytes, target_offset: int) -> Pending:
        return self.extended("copy-data", None, None, read_from_handle=source, read_from_offset=offset,
                             read_data_length=length, write_to_handle=target,
                             write_to_offset=target_offset)

    def open(self, path: str, pflags: int, attributes: Attributes | None = None) -> Pending:
        """Resolves to the handle."""
        return spawn(self._open(path, pflags, attributes or Attributes()))

    async def _open(self, path: str, pflags: int, attributes: Attributes) -> bytes:
        reply = await self._call("OPEN", "HANDLE", path, filename=path, pflags=int(pflags),
                                 **attributes.to_values())
        return reply["handle"]

    def close(self, handle: bytes) -> Pending:
        return spawn(self._call("CLOSE", None, None, handle=handle))

    def read(self, handle: bytes, offset: int, length: int) -> Pending:
        """Resolves to the bytes read, b"" at end of file."""
        return spawn(self._read(handle, offset, length))

    async def _read(self, handle: bytes, offset: int, length: int) -> bytes:
        reply = await self.request("READ", handle=handle, offset=offset, len=length)
        if reply.spec.name == "STATUS" and reply["code"] == S.EOF:
            return b""
        return bytes(check(reply, "DATA")["data"])

    def write(self, handle: bytes, offset: int, data: bytes) -> Pending:
        return spawn(self._call("WRITE", None, None, handle=handle, offset=offset, data=data))

    # -- transfers ----------------------------------------------------------------------------

    def download(self, path: str, sink, progress: Callable[[int, int | None], None] | None = None
                 ) -> Pending:
        """Copy remote ``path`` into ``sink`` (anything with ``pwrite(data, offset)``).
        Resolves to the number of bytes. ``progress(done, total)`` follows it."""
        return spawn(self._download(path, sink, progress))

    async def _download(self, path: str, sink, progress) -> int:
        handle = await self.open(path, OpenFlag.READ)
        try:
            size = (await self.fstat(handle)).size
            reader = _PipelinedRead(self, handle, sink, size, progress)
            return await reader.start()
        finally:
            await self.close(handle)

    def upload(self, source, path: str, size: int | None = None,
               progress: Callable[[int, int | None], None] | None = None, mode: int | None = None,
               fsync: bool = False) -> Pending:
        """Copy ``source`` (anything with ``pread(length, offset)``) to remote ``path``,
        created or truncated. Resolves to the number of bytes."""
        return spawn(self._upload(source, path, size, progress, mode, fsync))

    async def _upload(self, source, path, size, progress, mode, fsync) -> int:
        flags = OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC
        handle = await self.open(path, flags, Attributes(permissions=mode))
        try:
            written = await _PipelinedWrite(self, handle, source, size, progress).start()
            if fsync and self.has("fsync@openssh.com"):
                await self.fsync(handle)
        except BaseException:
            await _quietly(self.close(handle))
            raise
        await self.close(handle)  # a close error means the data may be lost: it is raised
        return written

    def get(self, remote: str, local_fs, local: str, recursive: bool = False,
            progress=None, on_file: Callable[[str, str], None] | None = None) -> Pending:
        """Download ``remote`` to ``local`` on ``local_fs``; with ``recursive`` a directory and
        everything in it (symlinks and special files are skipped). Resolves to the number of
        files copied. ``progress(name)`` gives a per-file progress callback or None."""
        return spawn(self._get(remote, local_fs, local, recursive, progress, on_file))

    async def _get(self, remote, local_fs, local, recursive, progress, on_file) -> int:
        attributes = await self.stat(remote)
        if attributes.is_dir:
            if not recursive:
                raise SftpError(S.FAILURE, "is a directory (use recursive)", remote)
            return await self._get_tree(remote, local_fs, local, progress, on_file)
        await self._get_file(remote, local_fs, local, attributes, progress, on_file)
        return 1

    async def _get_file(self, remote, local_fs, local, attributes, progress, on_file) -> None:
        if on_file is not None:
            on_file(remote, local)
        mode = (attributes.permissions or 0o644) & 0o777
        sink = local_fs.open_file(local, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            await self.download(remote, sink, progress(remote) if progress else None)
        finally:
            sink.close()

    async def _get_tree(self, remote, local_fs, local, progress, on_file) -> int:
        try:
            local_fs.mkdir(local, 0o755)
        except OSError as exc:
            if exc.errno != errno.EEXIST or not local_fs.is_dir(local):
                raise
        count = 0
        for name, _, attributes in await self.listdir(remote):
            if unsafe_name(name):
                raise SftpProtocolError(f"the server listed an unsafe name {name!r} in {remote}")
            source, target = posixpath.join(remote, name), posixpath.join(local, name)
            if attributes.is_dir:
                count += await self._get_tree(source, local_fs, target, progress, on_file)
            elif attributes.is_file:
                await self._get_file(source, local_fs, target, attributes, progress, on_file)
                count += 1
        return count

    def put(self, local_fs, local: str, remote: str, recursive: bool = False, progress=None,
            on_file: Callable[[str, str], None] | None = None, fsync: bool = False) -> Pending:
        """Upload ``local`` from ``local_fs`` to ``remote``; with ``recursive`` a directory.
        Resolves to the number of files copied."""
        return spawn(self._put(local_fs, local, remote, recursive, progress, on_file, fsync))

    async def _put(self, local_fs, local, remote, recursive, progress, on_file, fsync) -> int:
        info = local_fs.stat(local)
        if st.S_ISDIR(info.st_mode):
            if not recursive:
                raise SftpError(S.FAILURE, "is a directory (use recursive)", local)
            return await self._put_tree(local_fs, local, remote, progress, on_file, fsync)
        await self._put_file(local_fs, local, remote, info, progress, on_file, fsync)
        return 1

    async def _put_file(self, local_fs, local, remote, info, progress, on_file, fsync) -> None:
        if on_file is not None:
            on_file(local, remote)
        source = local_fs.open_file(local, os.O_RDONLY)
        try:
            await self.upload(source, remote, info.st_size, progress(local) if progress else None,
                              st.S_IMODE(info.st_mode), fsync)
        finally:
            source.close()

    async def _put_tree(self, local_fs, local, remote, progress, on_file, fsync) -> int:
        try:
            await self.mkdir(remote, 0o755)
        except SftpError:
            if not (await self.stat(remote)).is_dir:
                raise
        count = 0
        for name, info in local_fs.listdir(local):
            source, target = posixpath.join(local, name), posixpath.join(remote, name)
            if st.S_ISDIR(info.st_mode):
                count += await self._put_tree(local_fs, source, target, progress, on_file, fsync)
            elif st.S_ISREG(info.st_mode):
                await self._put_file(local_fs, source, target, info, progress, on_file, fsync)
                count += 1
        return count


def check(reply: Message, expect: str | None, path: str | None = None) -> Message:
    """The reply if it is what a success looks like; SftpError for a failure STATUS."""
    if reply.spec.name == "STATUS":
        if reply["code"] == S.OK and expect is None:
            return reply
        if reply["code"] != S.OK:
            raise SftpError(reply["code"], reply["error_message"] or S(reply["code"]).name, path)
    if expect is not None and reply.spec.name == expect:
        return reply
    raise SftpProtocolError(f"expected {expect or 'STATUS'}, got SSH_FXP_{reply.spec.name}")


async def _quietly(pending: Pending) -> None:
    try:
        await pending
    except SftpError:
        pass


class _Pipeline:
    """Keeps up to ``client.max_requests`` requests on one handle in flight: ``_send_next``
    sends one more (False when there is nothing left to send), each reply goes to the callback
    given to ``_send``. Done, with the byte count, once nothing is in flight or left to send;
    the first error fails it after the requests in flight have come back."""

    def __init__(self, client: SftpClient, handle: bytes, size: int | None, progress):
        self.client = client
        self.handle = handle
        self.size = size
        self.progress = progress
        self.in_flight = 0
        self.transferred = 0
        self.error: BaseException | None = None
        self.done = Pending()

    def start(self) -> Pending:
        self._fill()
        return self.done

    def _send_next(self) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def _send(self, name: str, on_reply, /, **values) -> None:
        self.in_flight += 1
        self.client.request(name, handle=self.handle, **values).then(
            lambda reply: self._on_reply(on_reply, reply))

    def _on_reply(self, on_reply, reply: Pending) -> None:
        self.in_flight -= 1
        try:
            on_reply(reply.result())
        except BaseException as exc:
            if self.error is None:
                self.error = exc
        self._fill()

    def _count(self, length: int) -> None:
        self.transferred += length
        if self.progress is not None:
            self.progress(self.transferred, self.size)

    def _fill(self) -> None:
        while self.in_flight < self.client.max_requests and self.error is None:
            try:
                if not self._send_next():
                    break
            except OSError as exc:  # the local file failed
                self.error = exc
        if self.in_flight == 0:
            if self.error is not None:
                self.done.fail(self.error)
            else:
                self.done.resolve(self.transferred)


class _PipelinedRead(_Pipeline):
    """READs in flight; each DATA is written where it belongs, a short one asks for the rest,
    and EOF stops requests past it."""

    def __init__(self, client: SftpClient, handle: bytes, sink, size: int | None, progress):
        super().__init__(client, handle, size, progress)
        self.sink = sink
        self.next_offset = 0
        self.eof_at: int | None = None

    def _send_next(self) -> bool:
        if self.eof_at is not None and self.next_offset >= self.eof_at:
            return False
        # Past the size fstat gave, one request at a time learns where the file ends.
        if self.size is not None and self.next_offset >= self.size and self.in_flight:
            return False
        self._ask(self.next_offset, self.client.read_size)
        self.next_offset += self.client.read_size
        return True

    def _ask(self, offset: int, length: int) -> None:
        self._send("READ", lambda message: self._take(offset, length, message), offset=offset, len=length)

    def _take(self, offset: int, length: int, message) -> None:
        if message.spec.name == "STATUS" and message["code"] == S.EOF:
            self.eof_at = offset if self.eof_at is None else min(self.eof_at, offset)
            return
        data = check(message, "DATA")["data"]
        if not data or len(data) > length:
            raise SftpProtocolError(f"DATA of {len(data)} bytes for a READ of {length}")
        self.sink.pwrite(data, offset)
        if len(data) < length:  # a short read: ask for the rest
            self._ask(offset + len(data), length - len(data))
        self._count(len(data))


class _PipelinedWrite(_Pipeline):
    """WRITEs in flight, reading the source as it goes."""

    def __init__(self, client: SftpClient, handle: bytes, source, size: int | None, progress):
        super().__init__(client, handle, size, progress)
        self.source = source
        self.offset = 0
        self.at_end = False

    def _send_next(self) -> bool:
        if self.at_end:
            return False
        data = self.source.pread(self.client.write_size, self.offset)
        if not data:
            self.at_end = True
            return False
        offset, self.offset = self.offset, self.offset + len(data)
        self._send("WRITE", lambda message: self._take(len(data), message), offset=offset, data=data)
        return True

    def _take(self, length: int, message) -> None:
        check(message, None)
        self._count(length)


__all__ = ["SftpClient", "SftpError", "SftpProtocolError", "unsafe_name", "check"]
