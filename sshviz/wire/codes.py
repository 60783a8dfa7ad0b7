"""Numbers that stand for something (reason codes, flags, file modes) and how a field's value
is named for people: a catalog ``Field(..., names=...)`` turns the number into its meaning, so
every view shows ``5 (MAC_ERROR)`` and ``0x1a (WRITE|CREAT|TRUNC)``."""

from __future__ import annotations

import stat
from enum import IntEnum, IntFlag
from typing import Callable


class DisconnectReason(IntEnum):
    """RFC 4250 4.2.2 disconnect reason codes."""

    HOST_NOT_ALLOWED_TO_CONNECT = 1
    PROTOCOL_ERROR = 2
    KEY_EXCHANGE_FAILED = 3
    RESERVED = 4
    MAC_ERROR = 5
    COMPRESSION_ERROR = 6
    SERVICE_NOT_AVAILABLE = 7
    PROTOCOL_VERSION_NOT_SUPPORTED = 8
    HOST_KEY_NOT_VERIFIABLE = 9
    CONNECTION_LOST = 10
    BY_APPLICATION = 11
    TOO_MANY_CONNECTIONS = 12
    AUTH_CANCELLED_BY_USER = 13
    NO_MORE_AUTH_METHODS_AVAILABLE = 14
    ILLEGAL_USER_NAME = 15


class OpenFailureReason(IntEnum):
    """RFC 4254 5.1 channel open failure reason codes."""

    ADMINISTRATIVELY_PROHIBITED = 1
    CONNECT_FAILED = 2
    UNKNOWN_CHANNEL_TYPE = 3
    RESOURCE_SHORTAGE = 4


def enum_names(codes: type[IntEnum]) -> Callable[[int], str]:
    """The name of a code, or that it is not one the documents define."""
    known = {member.value: member.name for member in codes}
    return lambda value: known.get(value, "not a defined code")


def flag_names(flags: type[IntFlag]) -> Callable[[int], str]:
    """The flags set, joined with |, and any bits no flag names, in hex."""
    def name(value: int) -> str:
        parts = [member.name for member in flags if member.value & value]
        rest = value & ~sum(member.value for member in flags)
        if rest:
            parts.append(hex(rest))
        return f"{hex(value)}: " + ("|".join(parts) if parts else "none")
    return name


def file_mode(value: int) -> str:
    """st_mode as ls shows it, and in octal: drwxr-xr-x (040755); permission bits alone (no
    file type, as a client setting them sends) as rw-r--r-- (0644)."""
    if stat.S_IFMT(value) == 0:
        return f"{stat.filemode(value)[1:]} ({value:04o})"
    return f"{stat.filemode(value)} ({value:06o})"


class CertificateType(IntEnum):
    """OpenSSH PROTOCOL.certkeys: what a certificate certifies."""

    USER = 1
    HOST = 2


NO_EXPIRY = (1 << 64) - 1


def certificate_time(value: int) -> str:
    """A certificate's valid after / valid before: seconds since 1970 as UTC, 0 as the
    beginning of time and 2^64-1 as forever (what ssh-keygen writes for "always"/"forever")."""
    import datetime

    if value == 0:
        return "always (0)"
    if value == NO_EXPIRY:
        return "forever (2^64-1)"
    try:
        when = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "beyond the calendar"
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")
