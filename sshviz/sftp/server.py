"""The SFTP server: a session program for the ``sftp`` subsystem, serving one filesystem.

Sans-I/O like every layer: bytes arrive through ``data()``, replies leave through the
channel's ``ChannelIO``, files are reached only through the injected filesystem (``ConfinedFS``
or ``MemoryFS``), and every packet both ways is reported as an ``SftpMessage`` event.

What it promises a client that misbehaves:

- a request before INIT gets STATUS BAD_MESSAGE; a packet whose body does not decode gets
  BAD_MESSAGE; an unknown packet type or extension gets OP_UNSUPPORTED; a handle it never
  gave out gets FAILURE ("invalid handle"); each answer carries the request's id and the next
  request is served as usual;
- a length field of 0 or above 256 KiB, a second INIT or a packet without an id (which cannot
  be answered) closes the channel cleanly with exit status 1;
- at most ``MAX_HANDLES`` handles are open at once, a READ returns at most ``MAX_READ`` bytes,
  and while its replies wait (for window space, or for the network to take them) it stops
  reading requests (and stops refilling the client's window); requests it has not reached
  wait as the bytes they came in, so memory stays bounded.
"""

from __future__ import annotations

import errno
import os
from collections import deque

from ..connection.layer import SessionProgram
from ..wire.sftp import (SFTP, STATVFS_NO_SUID, STATVFS_READ_ONLY, FileXferType, OpenFlag,
                         StatusCode, encode_packet, request_id)
from ..wire.spec import Message
from .attrs import attrs_from_stat, longname, requested_mode, settable_attributes
from .stream import MAX_PACKET, SftpFramingError, SftpStreamDecoder, SftpUnit, sftp_event
from .symlink_order import DRAFT, client_symlink_order

T = FileXferType
S = StatusCode

MAX_READ = MAX_PACKET - 1024  # as OpenSSH: a DATA reply fits in one packet
MAX_HANDLES = 256
READDIR_BATCH = 100  # names per NAME reply, as OpenSSH
OUTPUT_HIGH = 8 * 1024 * 1024  # replies waiting for window space: pause reading above this
COPY_CHUNK = 64 * 1024

EXTENSIONS = {  # announced in VERSION, with their versions (OpenSSH PROTOCOL 4)
    "posix-rename@openssh.com": b"1",
    "statvfs@openssh.com": b"2",
    "fstatvfs@openssh.com": b"2",
    "hardlink@openssh.com": b"1",
    "fsync@openssh.com": b"1",
    "lsetstat@openssh.com": b"1",
    "limits@openssh.com": b"1",
    "expand-path@openssh.com": b"1",
    "copy-data": b"1",
    "home-directory": b"1",
}

# errno -> status as OpenSSH's sftp-server maps it (errno_to_portable), plus EOPNOTSUPP.
_ERRNO_STATUS = {
    0: S.OK,
    errno.ENOENT: S.NO_SUCH_FILE, errno.ENOTDIR: S.NO_SUCH_FILE, errno.EBADF: S.NO_SUCH_FILE,
    errno.ELOOP: S.NO_SUCH_FILE,
    errno.EPERM: S.PERMISSION_DENIED, errno.EACCES: S.PERMISSION_DENIED,
    errno.EFAULT: S.PERMISSION_DENIED,
    errno.ENAMETOOLONG: S.BAD_MESSAGE, errno.EINVAL: S.BAD_MESSAGE,
    errno.ENOSYS: S.OP_UNSUPPORTED, errno.EOPNOTSUPP: S.OP_UNSUPPORTED,
}

STATUS_TEXT = {
    S.OK: "Success", S.EOF: "End of file", S.NO_SUCH_FILE: "No such file",
    S.PERMISSION_DENIED: "Permission denied", S.FAILURE: "Failure", S.BAD_MESSAGE: "Bad message",
    S.NO_CONNECTION: "No connection", S.CONNECTION_LOST: "Connection lost",
    S.OP_UNSUPPORTED: "Operation unsupported",
}


class SftpStatus(Exception):
    """Answer the request with this status."""

    def __init__(self, code: int, message: str = ""):
        super().__init__(message or STATUS_TEXT.get(code, "Failure"))
        self.code = code


def status_for_os_error(exc: OSError) -> SftpStatus:
    code = _ERRNO_STATUS.get(exc.errno or 0, S.FAILURE)
    # A missing file and an escape read the same: the text is fixed for NO_SUCH_FILE.
    text = "No such file or directory" if code == S.NO_SUCH_FILE else (exc.strerror or STATUS_TEXT[code])
    return SftpStatus(code, text)


class _File:
    def __init__(self, handle, path: str, append: bool):
        self.handle = handle
        self.path = path
        self.append = append


class _Directory:
    def __init__(self, path: str, entries: list):
        self.path = path
        self.entries = deque(entries)


def _os_flags(pflags: int) -> int:
    readable, writable = pflags & OpenFlag.READ, pflags & OpenFlag.WRITE
    flags = os.O_RDWR if readable and writable else os.O_WRONLY if writable else os.O_RDONLY
    if pflags & OpenFlag.APPEND:
        flags |= os.O_APPEND
    if pflags & OpenFlag.CREAT:
        flags |= os.O_CREAT
    if pflags & OpenFlag.TRUNC:
        flags |= os.O_TRUNC
    if pflags & OpenFlag.EXCL:
        flags |= os.O_EXCL
    return flags


class SftpServer(SessionProgram):
    """One SFTP session (see the module). The program interface: start, data, eof, writable,
    closed."""

    def __init__(self, user: str, fs, home: str = "/", client_version: str | None = None):
        self.user = user
        self.fs = fs
        self.home = home
        self.symlink_order = client_symlink_order(client_version)
        self.io = None
        self.decoder = SftpStreamDecoder()
        self.initialized = False
        self.finished = False
        self.handles: dict[bytes, _File | _Directory] = {}
        self._next_handle = 0
        self._input: deque[bytes] = deque()  # bytes not yet decoded: requests not reached
        self._backlog: deque[SftpUnit] = deque()  # decoded from one piece of input

    # -- program interface --------------------------------------------------------------------

    def start(self, io) -> None:
        self.io = io

    def data(self, data: bytes) -> None:
        if self.finished:
            return
        self._input.append(data)
        self._serve()

    def writable(self) -> None:
        if (self._backlog or self._input) and not self.finished:
            self._serve()

    def eof(self) -> None:
        if not self.finished:
            self._close_all()
            self.finished = True
            self.io.exit(0)

    def closed(self) -> None:
        self.finished = True
        self._close_all()

    # -- the loop -----------------------------------------------------------------------------

    def _serve(self) -> None:
        io = self.io
        while not self.finished:
            if not self._backlog:
                # Decoded a piece at a time: a waiting request costs its bytes, not a Message.
                if not self._input:
                    break
                try:
                    self._backlog.extend(self.decoder.feed("c2s", self._input.popleft()))
                except SftpFramingError as exc:
                    return self._fail(str(exc))
                continue
            if io.pending_bytes > OUTPUT_HIGH:
                io.pause_reading()  # go on when the client has made room (writable)
                return
            self._handle(self._backlog.popleft())
        io.resume_reading()

    def _fail(self, reason: str) -> None:
        """A framing error or a packet that cannot be answered: end the session cleanly."""
        self.finished = True
        self._backlog.clear()
        self._input.clear()
        self._close_all()
        self.io.write_stderr(f"sftp: {reason}\n".encode())
        self.io.exit(1)

    def _send(self, message: Message) -> None:
        packet = encode_packet(message)
        self.decoder.note_sent(message)
        # Reported before written: a trace places the report on the CHANNEL_DATA that follows.
        self.io.report(sftp_event(self.io.channel_id, "s2c", packet, message))
        self.io.write(packet)

    def _status(self, request: int, code: int, text: str = "") -> None:
        self._send(SFTP.build("STATUS", id=request, code=int(code),
                              error_message=text or STATUS_TEXT.get(code, "Failure"),
                              language_tag="en"))

    def _handle(self, unit: SftpUnit) -> None:
        self.io.report(unit.event(self.io.channel_id))
        number = unit.type
        if number == T.INIT:
            if self.initialized or unit.message is None:
                return self._fail("a second or malformed SSH_FXP_INIT")
            self.initialized = True
            return self._send(SFTP.build("VERSION", version=3, extensions=[
                {"extension_name": name, "extension_data": version}
                for name, version in EXTENSIONS.items()]))
        request = request_id(unit.packet)
        if request is None:
            return self._fail(f"packet of type {number} has no request id to answer")
        if not self.initialized:
            return self._status(request, S.BAD_MESSAGE, "request before SSH_FXP_INIT")
        message = unit.message
        if message is None:
            if unit.unknown_type:
                return self._status(request, S.OP_UNSUPPORTED, f"unknown request type {number}")
            return self._status(request, S.BAD_MESSAGE, unit.error or "malformed request")
        name = message.spec.name
        if name == "EXTENDED":
            handler = getattr(self, "_ext_" + message["extended_request"].split("@")[0]
                              .replace("-", "_"), None)
            if message["extended_request"] not in EXTENSIONS:
                handler = None
        else:
            handler = getattr(self, "_do_" + name.lower(), None)
        try:
            if handler is None:
                raise SftpStatus(S.OP_UNSUPPORTED, f"{message.spec.rfc_name} "
                                 f"{message.get('extended_request', '')} is not supported".strip())
            reply = handler(message)
        except SftpStatus as status:
            return self._status(request, status.code, str(status))
        except OSError as exc:
            status = status_for_os_error(exc)
            return self._status(request, status.code, str(status))
        except (OverflowError, ValueError) as exc:  # an offset or length the OS cannot take
            return self._status(request, S.BAD_MESSAGE, f"invalid argument: {exc}")
        if reply is None:
            self._status(request, S.OK)
        else:
            self._send(reply)

    # -- handles ------------------------------------------------------------------------------

    def _new_handle(self, thing) -> Message:
        if len(self.handles) >= MAX_HANDLES:
            if isinstance(thing, _File):
                thing.handle.close()
            raise SftpStatus(S.FAILURE, f"too many open handles (at most {MAX_HANDLES})")
        self._next_handle += 1
        handle = str(self._next_handle).encode()
        self.handles[handle] = thing
        return handle

    def _lookup(self, handle: bytes, kind: type):
        thing = self.handles.get(handle)
        if not isinstance(thing, kind):
            raise SftpStatus(S.FAILURE, "invalid handle")
        return thing

    def _close_all(self) -> None:
        handles, self.handles = self.handles, {}
        for thing in handles.values():
            if isinstance(thing, _File):
                try:
                    thing.handle.close()
                except OSError:
                    pass

    # -- requests -----------------------------------------------------------------------------

    def _attrs_reply(self, message: Message, info) -> Message:
        return SFTP.build("ATTRS", id=message["id"], **attrs_from_stat(info))

    def _name_reply(self, message: Message, path: str) -> Message:
        return SFTP.build("NAME", id=message["id"],
                          names=[{"filename": path, "longname": path, "flags": 0}])

    def _do_open(self, m: Message) -> Message:
        handle = self.fs.open_file(m["filename"], _os_flags(m["pflags"]), requested_mode(m.values, 0o666))
        thing = _File(handle, m["filename"], bool(m["pflags"] & OpenFlag.APPEND))
        return SFTP.build("HANDLE", id=m["id"], handle=self._new_handle(thing))

    def _do_close(self, m: Message) -> None:
        thing = self.handles.get(m["handle"])
        if thing is None:
            raise SftpStatus(S.FAILURE, "invalid handle")
        del self.handles[m["handle"]]
        if isinstance(thing, _File):
            thing.handle.close()  # a close error (a full disk on NFS) reaches the client

    def _do_read(self, m: Message) -> Message:
        thing = self._lookup(m["handle"], _File)
        data = thing.handle.pread(min(m["len"], MAX_READ), m["offset"])
        if not data:
            raise SftpStatus(S.EOF)
        return SFTP.build("DATA", id=m["id"], data=data)

    def _do_write(self, m: Message) -> None:
        thing = self._lookup(m["handle"], _File)
        if thing.append:
            thing.handle.append(m["data"])
        else:
            thing.handle.pwrite(m["data"], m["offset"])

    def _do_lstat(self, m: Message) -> Message:
        return self._attrs_reply(m, self.fs.lstat(m["path"]))

    def _do_stat(self, m: Message) -> Message:
        return self._attrs_reply(m, self.fs.stat(m["path"]))

    def _do_fstat(self, m: Message) -> Message:
        return self._attrs_reply(m, self._lookup(m["handle"], _File).handle.fstat())

    def _do_setstat(self, m: Message, follow: bool = True) -> None:
        self.fs.set_attributes(m["path"], follow, **settable_attributes(m.values))

    def _do_fsetstat(self, m: Message) -> None:
        self._lookup(m["handle"], _File).handle.set_attributes(**settable_attributes(m.values))

    def _do_opendir(self, m: Message) -> Message:
        entries = self.fs.listdir(m["path"])
        return SFTP.build("HANDLE", id=m["id"], handle=self._new_handle(_Directory(m["path"], entries)))

    def _do_readdir(self, m: Message) -> Message:
        directory = self._lookup(m["handle"], _Directory)
        if not directory.entries:
            raise SftpStatus(S.EOF)
        names = []
        while directory.entries and len(names) < READDIR_BATCH:
            name, info = directory.entries.popleft()
            names.append({"filename": name, "longname": longname(name, info), **attrs_from_stat(info)})
        return SFTP.build("NAME", id=m["id"], names=names)

    def _do_remove(self, m: Message) -> None:
        self.fs.remove(m["filename"])

    def _do_mkdir(self, m: Message) -> None:
        self.fs.mkdir(m["path"], requested_mode(m.values, 0o777))

    def _do_rmdir(self, m: Message) -> None:
        self.fs.rmdir(m["path"])

    def _do_realpath(self, m: Message) -> Message:
        return self._name_reply(m, self.fs.realpath(m["path"] or ".", self.home))

    def _do_rename(self, m: Message) -> None:
        self.fs.rename(m["oldpath"], m["newpath"], replace=False)

    def _do_readlink(self, m: Message) -> Message:
        return self._name_reply(m, self.fs.readlink(m["path"]))

    def _do_symlink(self, m: Message) -> None:
        # The catalog names the fields in OpenSSH's order (target first); a client that sends
        # the draft's order put the link first (see symlink_order.py).
        first, second = m["targetpath"], m["linkpath"]
        target, link = (second, first) if self.symlink_order == DRAFT else (first, second)
        self.fs.symlink(target, link)

    # -- extensions ---------------------------------------------------------------------------

    def _ext_posix_rename(self, m: Message) -> None:
        self.fs.rename(m["oldpath"], m["newpath"], replace=True)

    def _statvfs_reply(self, m: Message, info) -> Message:
        flag = info.f_flag & (STATVFS_READ_ONLY | STATVFS_NO_SUID)
        if self.fs.read_only:
            flag |= STATVFS_READ_ONLY
        return SFTP.build("EXTENDED_REPLY", id=m["id"], extension=m["extended_request"],
                          f_bsize=info.f_bsize, f_frsize=info.f_frsize, f_blocks=info.f_blocks,
                          f_bfree=info.f_bfree, f_bavail=info.f_bavail, f_files=info.f_files,
                          f_ffree=info.f_ffree, f_favail=info.f_favail,
                          f_fsid=getattr(info, "f_fsid", 0), f_flag=flag,
                          f_namemax=info.f_namemax)

    def _ext_statvfs(self, m: Message) -> Message:
        return self._statvfs_reply(m, self.fs.statvfs(m["path"]))

    def _ext_fstatvfs(self, m: Message) -> Message:
        return self._statvfs_reply(m, self._lookup(m["handle"], _File).handle.statvfs())

    def _ext_hardlink(self, m: Message) -> None:
        self.fs.link(m["oldpath"], m["newpath"])

    def _ext_fsync(self, m: Message) -> None:
        self._lookup(m["handle"], _File).handle.fsync()

    def _ext_lsetstat(self, m: Message) -> None:
        self._do_setstat(m, follow=False)

    def _ext_limits(self, m: Message) -> Message:
        return SFTP.build("EXTENDED_REPLY", id=m["id"], extension=m["extended_request"],
                          max_packet_length=MAX_PACKET, max_read_length=MAX_READ,
                          max_write_length=MAX_READ, max_open_handles=MAX_HANDLES)

    def _home_of(self, user: str) -> str:
        if user not in ("", self.user):
            raise SftpStatus(S.NO_SUCH_FILE, f"no such user {user!r}")
        return self.home

    def _ext_expand_path(self, m: Message) -> Message:
        path = m["path"]
        if path.startswith("~"):
            user, _, rest = path[1:].partition("/")
            path = self._home_of(user).rstrip("/") + "/" + rest
        return SFTP.build("EXTENDED_REPLY", id=m["id"], extension=m["extended_request"], names=[
            {"filename": (p := self.fs.realpath(path or ".", self.home)), "longname": p, "flags": 0}])

    def _ext_home_directory(self, m: Message) -> Message:
        home = self._home_of(m["username"])
        return SFTP.build("EXTENDED_REPLY", id=m["id"], extension=m["extended_request"],
                          names=[{"filename": home, "longname": home, "flags": 0}])

    def _ext_copy_data(self, m: Message) -> None:
        source = self._lookup(m["read_from_handle"], _File)
        target = self._lookup(m["write_to_handle"], _File)
        if source is target:
            raise SftpStatus(S.FAILURE, "read and write handles are the same")
        # A length of 0 copies up to the end of the file; so does a length past it. The end
        # is where the file ends now: a source that grows as we copy (the target itself,
        # through another handle or name) must not keep this loop, and the server, going.
        offset, out = m["read_from_offset"], m["write_to_offset"]
        end = source.handle.fstat().st_size
        if m["read_data_length"]:
            end = min(end, offset + m["read_data_length"])
        while offset < end:
            chunk = source.handle.pread(min(COPY_CHUNK, end - offset), offset)
            if not chunk:
                break
            target.handle.pwrite(chunk, out)
            offset, out = offset + len(chunk), out + len(chunk)


def sftp_subsystem(user: str, fs, client_version: str | None = None) -> SftpServer | None:
    """The ``sftp`` subsystem factory for ``ServerConfig.subsystems``: no filesystem, no SFTP.
    ``client_version`` is the client's identification line (it decides SYMLINK's order)."""
    if fs is None:
        return None
    return SftpServer(user, fs, client_version=client_version)


__all__ = ["SftpServer", "sftp_subsystem", "SftpStatus", "status_for_os_error", "EXTENSIONS",
           "MAX_READ", "MAX_HANDLES"]
