"""RFC 4251 section 5 data types: reading with byte spans, and writing.

Every reader method returns the decoded value and leaves ``pos`` just past it, so a caller that
notes ``pos`` before and after knows the exact bytes a field came from.
"""

from __future__ import annotations

import re
import struct

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")

UINT32_MAX = 0xFFFFFFFF


class DecodeError(ValueError):
    """Bytes that do not form the value they should (truncated, invalid mpint, bad name-list)."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.offset = offset


class Reader:
    """Reads RFC 4251 values from ``data[pos:end]``."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int, what: str) -> int:
        start = self.pos
        if n < 0 or start + n > self.end:
            raise DecodeError(
                f"truncated {what}: needs {n} bytes at offset {start}, {self.end - start} left", start
            )
        self.pos = start + n
        return start

    def raw(self, n: int, what: str = "bytes") -> bytes:
        start = self._need(n, what)
        return bytes(self.data[start : start + n])

    def rest(self) -> bytes:
        start, self.pos = self.pos, self.end
        return bytes(self.data[start : self.end])

    def byte(self) -> int:
        start = self._need(1, "byte")
        return self.data[start]

    def boolean(self) -> bool:
        # RFC 4251: any non-zero value is TRUE.
        return self.byte() != 0

    def uint32(self) -> int:
        start = self.pos
        if start + 4 > self.end:  # the usual case checked here, the error made by _need
            self._need(4, "uint32")
        self.pos = start + 4
        return _U32.unpack_from(self.data, start)[0]

    def uint64(self) -> int:
        start = self._need(8, "uint64")
        return _U64.unpack_from(self.data, start)[0]

    def string(self) -> bytes:
        # uint32 and raw written out: every packet's strings come through here.
        start = self.pos
        if start + 4 > self.end:
            self._need(4, "uint32")
        length = _U32.unpack_from(self.data, start)[0]
        self.pos = start = start + 4
        if start + length > self.end:
            self._need(length, "string body")
        self.pos = start + length
        return bytes(self.data[start: start + length])

    def mpint(self) -> int:
        at = self.pos
        body = self.string()
        if body:
            # RFC 4251: no unnecessary leading 0x00 or 0xff bytes.
            if len(body) > 1 and (
                (body[0] == 0 and body[1] < 0x80) or (body[0] == 0xFF and body[1] >= 0x80)
            ):
                raise DecodeError(f"invalid mpint at offset {at}: unnecessary leading byte", at)
            if body == b"\x00":
                raise DecodeError(f"invalid mpint at offset {at}: zero must be empty", at)
        return int.from_bytes(body, "big", signed=True)

    def name_list(self) -> list[str]:
        at = self.pos
        body = self.string()
        return parse_name_list(body, at)

    def expect_end(self, what: str) -> None:
        if self.pos != self.end:
            raise DecodeError(
                f"{self.end - self.pos} unexpected trailing bytes after {what} at offset {self.pos}",
                self.pos,
            )


# An empty name (a comma first, last or doubled) or a character no name may hold (RFC 4251 5).
_INVALID_NAME = re.compile(r"^,|,$|,,|[\x00-\x20\x7f]|^$")


def parse_name_list(body: bytes, at: int = 0) -> list[str]:
    if not body:
        return []
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError(f"name-list at offset {at} is not US-ASCII", at) from None
    names = text.split(",")
    if _INVALID_NAME.search(text):  # one search for the whole list: a KEXINIT holds hundreds
        name = next(n for n in names if not n or _INVALID_NAME.search(n))
        raise DecodeError(f"name-list at offset {at} has an empty or invalid name {name!r}", at)
    return names


def byte(value: int) -> bytes:
    return bytes((value,))


def boolean(value: bool) -> bytes:
    return b"\x01" if value else b"\x00"


def uint32(value: int) -> bytes:
    return _U32.pack(value)


def uint64(value: int) -> bytes:
    return _U64.pack(value)


def string(value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return _U32.pack(len(value)) + value


def mpint_body(value: int) -> bytes:
    """The two's-complement body of an mpint, minimal length (empty for zero)."""
    if value == 0:
        return b""
    length = (value.bit_length() + 8) // 8  # room for the sign bit
    body = value.to_bytes(length, "big", signed=True)
    # to_bytes may leave one redundant sign byte; strip it the way RFC 4251 asks.
    if len(body) > 1 and ((body[0] == 0 and body[1] < 0x80) or (body[0] == 0xFF and body[1] >= 0x80)):
        body = body[1:]
    return body


def mpint(value: int) -> bytes:
    return string(mpint_body(value))


def name_list(names: list[str] | tuple[str, ...]) -> bytes:
    return string(",".join(names).encode("ascii"))
