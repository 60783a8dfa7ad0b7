"""SFTP version 3 messages (draft-ietf-secsh-filexfer-02, as OpenSSH implements it) and
OpenSSH's SFTP extensions (PROTOCOL section 4), declared once for the spec engine.

An SFTP packet is ``uint32 length || byte type || body``. SFTP has its own numbering, so its
messages live in their own ``Catalog``. Two things depend on context the packet does not carry:

- an EXTENDED_REPLY's body depends on the EXTENDED request it answers; ``decode_packet`` takes
  the request's name as ``extension`` (a decoder that saw the request remembers it by id);
- ATTRS is a structure inlined in many messages; its optional fields are present when their
  bit is set in ``flags`` (``When``).
"""

from __future__ import annotations

import struct
from enum import IntEnum, IntFlag

from .codes import enum_names, file_mode, flag_names
from .spec import (STRING, TEXT, UINT32, UINT64, Catalog, DecodedField, Field, Message, MessageSpec,
                   Repeat, Switch, When, decode_layout)
from .types import DecodeError, Reader

SFTP_VERSION = 3
DRAFT = "draft-ietf-secsh-filexfer-02"
OPENSSH = "OpenSSH PROTOCOL"

_U32 = struct.Struct(">I")


class FileXferType(IntEnum):
    """SSH_FXP_ packet types (draft 3)."""

    INIT = 1
    VERSION = 2
    OPEN = 3
    CLOSE = 4
    READ = 5
    WRITE = 6
    LSTAT = 7
    FSTAT = 8
    SETSTAT = 9
    FSETSTAT = 10
    OPENDIR = 11
    READDIR = 12
    REMOVE = 13
    MKDIR = 14
    RMDIR = 15
    REALPATH = 16
    STAT = 17
    RENAME = 18
    READLINK = 19
    SYMLINK = 20
    STATUS = 101
    HANDLE = 102
    DATA = 103
    NAME = 104
    ATTRS = 105
    EXTENDED = 200
    EXTENDED_REPLY = 201


class StatusCode(IntEnum):
    """SSH_FX_ status codes (draft 7)."""

    OK = 0
    EOF = 1
    NO_SUCH_FILE = 2
    PERMISSION_DENIED = 3
    FAILURE = 4
    BAD_MESSAGE = 5
    NO_CONNECTION = 6
    CONNECTION_LOST = 7
    OP_UNSUPPORTED = 8


class AttrFlag(IntFlag):
    """SSH_FILEXFER_ATTR_ flags: which ATTRS fields are present (draft 5)."""

    SIZE = 0x00000001
    UIDGID = 0x00000002
    PERMISSIONS = 0x00000004
    ACMODTIME = 0x00000008
    EXTENDED = 0x80000000


class OpenFlag(IntFlag):
    """SSH_FXF_ pflags of OPEN (draft 6.3)."""

    READ = 0x00000001
    WRITE = 0x00000002
    APPEND = 0x00000004
    CREAT = 0x00000008
    TRUNC = 0x00000010
    EXCL = 0x00000020


STATVFS_READ_ONLY = 0x1  # SSH_FXE_STATVFS_ST_RDONLY
STATVFS_NO_SUID = 0x2  # SSH_FXE_STATVFS_ST_NOSUID


def _has(flag: int):
    return lambda values: bool(values.get("flags", 0) & flag)


ATTRS = (
    Field("flags", UINT32, "which attributes follow: SIZE 0x1, UIDGID 0x2, PERMISSIONS 0x4, "
                           "ACMODTIME 0x8, EXTENDED 0x80000000", names=flag_names(AttrFlag)),
    When(_has(AttrFlag.SIZE), (Field("size", UINT64, "file size in bytes"),), "SIZE"),
    When(_has(AttrFlag.UIDGID), (Field("uid", UINT32, "owner's user id"),
                                 Field("gid", UINT32, "owner's group id")), "UIDGID"),
    When(_has(AttrFlag.PERMISSIONS), (Field("permissions", UINT32,
                                            "st_mode: file type and permission bits", names=file_mode),),
         "PERMISSIONS"),
    When(_has(AttrFlag.ACMODTIME), (Field("atime", UINT32, "last access, seconds since 1970"),
                                    Field("mtime", UINT32, "last modification, seconds since 1970")),
         "ACMODTIME"),
    When(_has(AttrFlag.EXTENDED), (
        Field("extended_count", UINT32, "number of extended attribute pairs",
              count_for="extended_attrs"),
        Repeat("extended_attrs", (Field("extended_type", TEXT, "name@domain of the attribute"),
                                  Field("extended_data", STRING, "its value")),
               count="extended_count", doc="vendor-specific attributes")), "EXTENDED"),
)
ATTR_NAMES = ("flags", "size", "uid", "gid", "permissions", "atime", "mtime", "extended_attrs")


def _id():
    return Field("id", UINT32, "request id; the reply carries the same id")


def _path(name: str = "path", doc: str = "a path on the server"):
    return Field(name, TEXT, doc)


def _handle(name: str = "handle", doc: str = "a handle from OPEN or OPENDIR"):
    return Field(name, STRING, doc)


_EXTENSION_PAIRS = Repeat("extensions", (Field("extension_name", TEXT, "extension name"),
                                         Field("extension_data", STRING, "its data (a version "
                                                                         "number as text)")),
                          doc="extension pairs, to the end of the packet")

_STATVFS_REPLY = tuple(Field(name, UINT64, doc) for name, doc in (
    ("f_bsize", "file system block size"), ("f_frsize", "fundamental block size"),
    ("f_blocks", "number of blocks (unit f_frsize)"), ("f_bfree", "free blocks"),
    ("f_bavail", "free blocks for non-root"), ("f_files", "total file inodes"),
    ("f_ffree", "free file inodes"), ("f_favail", "free file inodes for non-root"),
    ("f_fsid", "file system id"), ("f_flag", "flags: 0x1 read-only, 0x2 no setuid"),
    ("f_namemax", "maximum file name length")))

# The body of an EXTENDED request after its name, by name (OpenSSH PROTOCOL 4.3-4.11).
EXTENDED_REQUESTS = {
    "posix-rename@openssh.com": (_path("oldpath", "the file to rename"),
                                 _path("newpath", "its new name (replaced if it exists)")),
    "statvfs@openssh.com": (_path("path", "any path on the file system"),),
    "fstatvfs@openssh.com": (_handle(),),
    "hardlink@openssh.com": (_path("oldpath", "an existing file"),
                             _path("newpath", "the new link to it")),
    "fsync@openssh.com": (_handle("handle", "an open file's handle"),),
    "lsetstat@openssh.com": (_path("path", "the path; a final symlink is not followed"), *ATTRS),
    "limits@openssh.com": (),
    "expand-path@openssh.com": (_path("path", "a path, possibly starting with ~ or ~user"),),
    "copy-data": (_handle("read_from_handle", "the file to read from"),
                  Field("read_from_offset", UINT64, "where to start reading"),
                  Field("read_data_length", UINT64, "bytes to copy; 0: up to end of file"),
                  _handle("write_to_handle", "the file to write to"),
                  Field("write_to_offset", UINT64, "where to start writing")),
    "home-directory": (Field("username", TEXT, "whose home directory; empty: the current user"),),
}

_NAME_ENTRY = (Field("filename", TEXT, "a name (a path for REALPATH and READLINK)"),
               Field("longname", TEXT, "an 'ls -l' style line, for display only"),
               *ATTRS)
_NAME_REPLY = (Field("count", UINT32, "number of names", count_for="names"),
               Repeat("names", _NAME_ENTRY, count="count", doc="the names"))

# The body of an EXTENDED_REPLY after its id, by the name of the request it answers.
EXTENDED_REPLIES = {
    "statvfs@openssh.com": _STATVFS_REPLY,
    "fstatvfs@openssh.com": _STATVFS_REPLY,
    "limits@openssh.com": (
        Field("max_packet_length", UINT64, "largest SFTP packet the server accepts"),
        Field("max_read_length", UINT64, "largest READ length it serves in one DATA"),
        Field("max_write_length", UINT64, "largest WRITE it accepts"),
        Field("max_open_handles", UINT64, "most handles open at once (0: no fixed limit)")),
    "expand-path@openssh.com": _NAME_REPLY,
    "home-directory": _NAME_REPLY,
}


def _msg(number: FileXferType, section: str, doc: str, *fields) -> MessageSpec:
    return MessageSpec(int(number), number.name, tuple(fields), section, doc, "sftp")


T = FileXferType
MESSAGES = [
    _msg(T.INIT, f"{DRAFT} 4", "the client's hello: its protocol version",
         Field("version", UINT32, "highest version the client speaks (3)"), _EXTENSION_PAIRS),
    _msg(T.VERSION, f"{DRAFT} 4; {OPENSSH} 4.2", "the server's hello: the version used and the "
         "extensions it supports", Field("version", UINT32, "version both will use (3)"),
         _EXTENSION_PAIRS),
    _msg(T.OPEN, f"{DRAFT} 6.3", "open or create a file", _id(),
         _path("filename", "the file"),
         Field("pflags", UINT32, "READ 0x1, WRITE 0x2, APPEND 0x4, CREAT 0x8, TRUNC 0x10, EXCL 0x20",
               names=flag_names(OpenFlag)),
         *ATTRS),
    _msg(T.CLOSE, f"{DRAFT} 6.3", "close a handle", _id(), _handle()),
    _msg(T.READ, f"{DRAFT} 6.4", "read from an open file", _id(), _handle(),
         Field("offset", UINT64, "where to read, from the start of the file"),
         Field("len", UINT32, "most bytes to read")),
    _msg(T.WRITE, f"{DRAFT} 6.4", "write to an open file", _id(), _handle(),
         Field("offset", UINT64, "where to write, from the start of the file"),
         Field("data", STRING, "the bytes to write")),
    _msg(T.LSTAT, f"{DRAFT} 6.8", "attributes of a path; a final symlink is not followed", _id(),
         _path()),
    _msg(T.FSTAT, f"{DRAFT} 6.8", "attributes of an open file", _id(), _handle()),
    _msg(T.SETSTAT, f"{DRAFT} 6.9", "change attributes of a path", _id(), _path(), *ATTRS),
    _msg(T.FSETSTAT, f"{DRAFT} 6.9", "change attributes of an open file", _id(), _handle(), *ATTRS),
    _msg(T.OPENDIR, f"{DRAFT} 6.7", "open a directory for reading", _id(), _path()),
    _msg(T.READDIR, f"{DRAFT} 6.7", "the next names of an open directory", _id(),
         _handle("handle", "a handle from OPENDIR")),
    _msg(T.REMOVE, f"{DRAFT} 6.5", "remove a file", _id(), _path("filename", "the file")),
    _msg(T.MKDIR, f"{DRAFT} 6.6", "create a directory", _id(), _path(), *ATTRS),
    _msg(T.RMDIR, f"{DRAFT} 6.6", "remove an empty directory", _id(), _path()),
    _msg(T.REALPATH, f"{DRAFT} 6.11", "the canonical absolute form of a path", _id(), _path()),
    _msg(T.STAT, f"{DRAFT} 6.8", "attributes of a path, following symlinks", _id(), _path()),
    _msg(T.RENAME, f"{DRAFT} 6.5", "rename a file; fails if the new name exists", _id(),
         _path("oldpath", "the file"), _path("newpath", "its new name")),
    _msg(T.READLINK, f"{DRAFT} 6.10", "the target of a symbolic link", _id(), _path()),
    _msg(T.SYMLINK, f"{DRAFT} 6.10; {OPENSSH} 4.1", "create a symbolic link (OpenSSH order: the "
         "target first, the reverse of the draft)", _id(),
         _path("targetpath", "what the link points to"), _path("linkpath", "the link to create")),
    _msg(T.STATUS, f"{DRAFT} 7", "the result of a request", _id(),
         Field("code", UINT32, "SSH_FX_ status: 0 OK, 1 EOF, 2 NO_SUCH_FILE, 3 PERMISSION_DENIED, "
                               "4 FAILURE, 5 BAD_MESSAGE, 6 NO_CONNECTION, 7 CONNECTION_LOST, "
                               "8 OP_UNSUPPORTED", names=enum_names(StatusCode)),
         Field("error_message", TEXT, "readable message", default=""),
         Field("language_tag", TEXT, "RFC 1766 tag", default="")),
    _msg(T.HANDLE, f"{DRAFT} 7", "a handle for an open file or directory", _id(),
         _handle("handle", "opaque, at most 256 bytes")),
    _msg(T.DATA, f"{DRAFT} 7", "bytes read from a file", _id(),
         Field("data", STRING, "the bytes (fewer than asked at end of file)")),
    _msg(T.NAME, f"{DRAFT} 7", "names: a directory listing, or one path", _id(), *_NAME_REPLY),
    _msg(T.ATTRS, f"{DRAFT} 7", "a file's attributes", _id(), *ATTRS),
    _msg(T.EXTENDED, f"{DRAFT} 8; {OPENSSH} 4", "a vendor extension request, by name", _id(),
         Field("extended_request", TEXT, "the extension's name"),
         Switch("extended_request", EXTENDED_REQUESTS)),
    _msg(T.EXTENDED_REPLY, f"{DRAFT} 8; {OPENSSH} 4", "the reply to an extension request; its "
         "format depends on the request", _id(), Switch("extension", EXTENDED_REPLIES)),
]

SFTP = Catalog(MESSAGES)
BULK_TYPES = frozenset((T.DATA, T.WRITE))


def build(name: str, /, **values) -> Message:
    return SFTP.build(name, **values)


def encode_packet(message: Message) -> bytes:
    """The whole SFTP packet: uint32 length || type || body."""
    parts = message.encoded_parts()
    return b"".join([_U32.pack(sum(map(len, parts))), *parts])


def packet(name: str, /, **values) -> bytes:
    return encode_packet(SFTP.build(name, **values))


def decode_packet(data: bytes, extension: str | None = None, spans: bool = True) -> Message:
    """Decode one whole packet (length first); spans are offsets into ``data``.

    ``extension`` names the request an EXTENDED_REPLY answers. Raises DecodeError, or KeyError
    for an unknown type (the server answers OP_UNSUPPORTED)."""
    if len(data) < 5:
        raise DecodeError(f"SFTP packet of {len(data)} bytes: needs a length and a type", 0)
    length = _U32.unpack_from(data)[0]
    if length != len(data) - 4:
        raise DecodeError(f"SFTP length {length} does not match the {len(data) - 4} bytes given", 0)
    number = data[4]
    spec = SFTP.spec_for(number)
    if spec is None:
        raise KeyError(number)
    if not spans and number in BULK_TYPES:
        return _decode_bulk(spec, data, None)[1]
    values: dict = {}
    if number == T.EXTENDED_REPLY:
        values["extension"] = extension
    out: list[DecodedField] | None = None
    if spans:
        out = [DecodedField("length", "uint32", length, 0, 4, "bytes that follow in this packet"),
               DecodedField("type", "byte", number, 4, 5, f"packet type {number}: {spec.rfc_name}")]
    reader = Reader(data, 5)
    try:
        decode_layout(spec.fields, reader, values, out)
        reader.expect_end(spec.rfc_name)
    except DecodeError as exc:
        raise DecodeError(f"{spec.rfc_name}: {exc}", exc.offset) from None
    return Message(spec, values, out)


def request_id(data: bytes) -> int | None:
    """The id of a packet (all but INIT and VERSION have one), if it is long enough to hold one."""
    if len(data) >= 9 and data[4] not in (T.INIT, T.VERSION):
        return _U32.unpack_from(data, 5)[0]
    return None


def _decode_bulk(spec: MessageSpec, data: bytes, keep: int | None, total: int | None = None
                 ) -> tuple[bytes, Message]:
    """DATA or WRITE, whose last field is the file data. With ``keep`` None the data is a
    memoryview of ``data`` (no copy: the bulk path) and no spans are made; with ``keep`` set,
    fields get spans but only ``keep`` bytes of data are kept (for display), and the packet is
    returned cut after them. ``total``: the whole packet's length when ``data`` is only its
    first bytes (enough for the fields and the kept data)."""
    total = len(data) if total is None else total
    values: dict = {}
    out = None if keep is None else [
        DecodedField("length", "uint32", total - 4, 0, 4, "bytes that follow in this packet"),
        DecodedField("type", "byte", data[4], 4, 5, f"packet type {data[4]}: {spec.rfc_name}")]
    head, data_field = spec.fields[:-1], spec.fields[-1]
    reader = Reader(data, 5)
    try:
        decode_layout(head, reader, values, out)
        start = reader.pos
        size = reader.uint32()
        if size != total - reader.pos:
            raise DecodeError(f"field {data_field.name!r}: string of {size} bytes with "
                              f"{total - reader.pos} left", start)
    except DecodeError as exc:
        raise DecodeError(f"{spec.rfc_name}: {exc}", exc.offset) from None
    body = start + 4
    if keep is None:
        values[data_field.name] = memoryview(data)[body:]
        return data, Message(spec, values)
    shown = bytes(data[body: body + min(size, keep)])
    if len(shown) < min(size, keep):
        raise DecodeError(f"{spec.rfc_name}: the first {len(data)} bytes do not hold the data to keep", body)
    values[data_field.name] = shown
    values["data_length"] = size
    out.append(DecodedField(data_field.name, "string", shown, start, body + size,
                            f"{data_field.doc} ({size} bytes; the first {len(shown)} kept for display)"))
    return data[: body + len(shown)], Message(spec, values, out)


def elided_bulk_message(data: bytes, keep: int, total: int | None = None) -> tuple[bytes, Message]:
    """A DATA or WRITE packet summarized for display: all fields decoded with spans, but only
    the first ``keep`` bytes of file data kept. Returns (the packet cut after those bytes, the
    message); the data field's span still covers the whole data in the original packet.
    ``data`` may be only the packet's first bytes, its whole length ``total``."""
    return _decode_bulk(SFTP.spec_for(data[4]), data, keep, total)
