"""File attributes: ATTRS values from a stat result, an ``ls -l`` line, and the attributes a
SETSTAT asks to change. ``Attributes`` is what the client hands its callers."""

from __future__ import annotations

import stat as st
import time
from dataclasses import dataclass

from ..wire.sftp import ATTR_NAMES, AttrFlag

_UINT32 = 0xFFFFFFFF
# Permission bits a client may set: never setuid or setgid, so a server running as root
# cannot be made to plant a privileged program in the served tree.
SETTABLE_MODE = 0o1777


def attrs_from_stat(info) -> dict:
    """ATTRS field values for a stat result (os.stat_result or MemoryStat)."""
    return {
        "flags": int(AttrFlag.SIZE | AttrFlag.UIDGID | AttrFlag.PERMISSIONS | AttrFlag.ACMODTIME),
        "size": info.st_size, "uid": info.st_uid & _UINT32, "gid": info.st_gid & _UINT32,
        "permissions": info.st_mode & _UINT32,
        "atime": int(info.st_atime) & _UINT32, "mtime": int(info.st_mtime) & _UINT32,
    }


def mode_string(mode: int) -> str:
    return st.filemode(mode)


def format_time(seconds: int) -> str:
    # A fixed format (no "recent file" rule against today's date), so seeded runs repeat.
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(seconds))


def longname(name: str, info) -> str:
    """An ``ls -l`` line, with numeric owners (no user database lookups)."""
    return (f"{mode_string(info.st_mode)} {getattr(info, 'st_nlink', 1):3} {info.st_uid:<8} "
            f"{info.st_gid:<8} {info.st_size:>8} {format_time(int(info.st_mtime))} {name}")


def requested_mode(values: dict, default: int) -> int:
    """The mode for a file or directory being created (OPEN, MKDIR): the ATTRS', made safe."""
    return values["permissions"] & SETTABLE_MODE if values.get("flags", 0) & AttrFlag.PERMISSIONS else default


def settable_attributes(values: dict) -> dict:
    """The keyword arguments of ``set_attributes`` for the ATTRS in a SETSTAT-like message."""
    flags = values.get("flags", 0)
    changes: dict = {}
    if flags & AttrFlag.SIZE:
        changes["size"] = values["size"]
    if flags & AttrFlag.PERMISSIONS:
        changes["mode"] = values["permissions"] & SETTABLE_MODE
    if flags & AttrFlag.UIDGID:
        changes["uid"], changes["gid"] = values["uid"], values["gid"]
    if flags & AttrFlag.ACMODTIME:
        changes["times"] = (values["atime"], values["mtime"])
    return changes


@dataclass(frozen=True)
class Attributes:
    """A file's attributes as the server reported them; None where it did not."""

    size: int | None = None
    uid: int | None = None
    gid: int | None = None
    permissions: int | None = None
    atime: int | None = None
    mtime: int | None = None

    @classmethod
    def from_values(cls, values: dict) -> "Attributes":
        return cls(**{name: values.get(name) for name in ATTR_NAMES[1:-1]})

    def to_values(self) -> dict:
        """ATTRS field values with the flags for what is set."""
        values: dict = {"flags": 0}
        if self.size is not None:
            values["flags"] |= AttrFlag.SIZE
            values["size"] = self.size
        if self.uid is not None and self.gid is not None:
            values["flags"] |= AttrFlag.UIDGID
            values["uid"], values["gid"] = self.uid, self.gid
        if self.permissions is not None:
            values["flags"] |= AttrFlag.PERMISSIONS
            values["permissions"] = self.permissions
        if self.atime is not None and self.mtime is not None:
            values["flags"] |= AttrFlag.ACMODTIME
            values["atime"], values["mtime"] = self.atime, self.mtime
        values["flags"] = int(values["flags"])
        return values

    @property
    def is_dir(self) -> bool:
        return self.permissions is not None and st.S_ISDIR(self.permissions)

    @property
    def is_link(self) -> bool:
        return self.permissions is not None and st.S_ISLNK(self.permissions)

    @property
    def is_file(self) -> bool:
        return self.permissions is not None and st.S_ISREG(self.permissions)
