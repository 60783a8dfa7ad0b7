"""A filesystem in memory with the interface of ``ConfinedFS``, for seeded in-process runs:
no disk, and times come from the injected clock, so a run repeats byte for byte.

Paths follow the same rules as ``ConfinedFS``: components are resolved one at a time, symlinks
are followed by the walk (absolute targets from the root), and a ``..`` above the root is a
missing file.
"""

from __future__ import annotations

import errno
import os
import stat as st
from dataclasses import dataclass, field
from typing import Callable

from .confined import (MAX_SYMLINK_HOPS, FSError, check_name, join_virtual, relative_target,
                       split_virtual)

DEMO_EPOCH = 1_700_000_000  # clock 0 of a seeded run, as a plausible date in listings


@dataclass
class MemoryStat:
    """The fields of ``os.stat_result`` that SFTP and the built-in shell read."""

    st_mode: int
    st_size: int
    st_uid: int
    st_gid: int
    st_atime: float
    st_mtime: float
    st_nlink: int = 1
    st_ino: int = 0


@dataclass
class MemoryStatVFS:
    f_bsize: int = 4096
    f_frsize: int = 4096
    f_blocks: int = 262144
    f_bfree: int = 131072
    f_bavail: int = 131072
    f_files: int = 65536
    f_ffree: int = 65000
    f_favail: int = 65000
    f_fsid: int = 0
    f_flag: int = 0
    f_namemax: int = 255


@dataclass(eq=False)
class Node:
    mode: int
    ino: int
    mtime: float
    atime: float
    uid: int = 1000
    gid: int = 1000
    data: bytearray = field(default_factory=bytearray)  # regular files
    entries: dict = field(default_factory=dict)  # directories: name -> Node
    target: str = ""  # symlinks
    nlink: int = 1

    def stat(self) -> MemoryStat:
        size = len(self.data) if st.S_ISREG(self.mode) else len(self.target) if st.S_ISLNK(self.mode) else 4096
        return MemoryStat(self.mode, size, self.uid, self.gid, self.atime, self.mtime, self.nlink, self.ino)


def _error(code: int, path: str) -> FSError:
    return FSError(code, os.strerror(code), path)


class MemoryFile:
    """An open file of a MemoryFS (the FileHandle interface)."""

    def __init__(self, fs: "MemoryFS", node: Node, path: str, writable: bool = False):
        self.fs = fs
        self.node = node
        self.path = path
        self.writable = writable  # opened for writing, as a descriptor would be

    def pread(self, length: int, offset: int) -> bytes:
        return bytes(self.node.data[offset: offset + length])

    def pwrite(self, data: bytes, offset: int) -> None:
        if not self.writable:
            raise _error(errno.EBADF, self.path)
        buf = self.node.data
        if offset > len(buf):
            buf.extend(bytes(offset - len(buf)))
        buf[offset: offset + len(data)] = data
        self.node.mtime = self.fs.now()

    def append(self, data: bytes) -> None:
        self.pwrite(data, len(self.node.data))

    def fstat(self) -> MemoryStat:
        return self.node.stat()

    def fsync(self) -> None:
        pass

    def statvfs(self) -> MemoryStatVFS:
        return self.fs.statvfs("/")

    def set_attributes(self, size=None, mode=None, uid=None, gid=None, times=None) -> None:
        self.fs._writable(self.path)
        self.fs._set(self.node, size, mode, uid, gid, times)

    def close(self) -> None:
        self.node = None


class MemoryFS:
    def __init__(self, clock: Callable[[], float] = lambda: 0.0, read_only: bool = False,
                 epoch: float = DEMO_EPOCH):
        self.clock = clock
        self.epoch = epoch
        self.read_only = read_only
        self._inodes = 1
        self.root = self._node(st.S_IFDIR | 0o755)

    def now(self) -> int:
        return int(self.epoch + self.clock())

    def _node(self, mode: int) -> Node:
        self._inodes += 1
        now = self.now()
        return Node(mode, self._inodes, now, now)

    # -- the walk -----------------------------------------------------------------------------

    def _walk(self, path: str, cwd: str = "/", follow_last: bool = True) -> tuple[Node, str, list[str]]:
        """(directory node holding the last component, its name, canonical parts); the name
        is "" for the root. Same rules as ConfinedFS._walk."""
        parts = split_virtual(path, cwd)
        hops = 0
        while True:
            node, done, restart = self.root, [], None
            for index, comp in enumerate(parts):
                last = index == len(parts) - 1
                child = node.entries.get(comp)
                if child is None:
                    if last:
                        return node, comp, done + [comp]
                    raise _error(errno.ENOENT, path)
                if st.S_ISLNK(child.mode) and (not last or follow_last):
                    hops += 1
                    if hops > MAX_SYMLINK_HOPS:
                        raise _error(errno.ELOOP, path)
                    base = "/" if child.target.startswith("/") else join_virtual(done)
                    rest = "/".join(parts[index + 1:])
                    restart = split_virtual(child.target + ("/" + rest if rest else ""), base)
                    break
                if last:
                    return node, comp, done + [comp]
                if not st.S_ISDIR(child.mode):
                    raise _error(errno.ENOTDIR, path)
                node = child
                done.append(comp)
            else:
                return node, "", done
            parts = restart

    def _lookup(self, path: str, cwd: str = "/", follow: bool = True) -> Node:
        parent, name, _ = self._walk(path, cwd, follow)
        if not name:
            return parent
        node = parent.entries.get(name)
        if node is None:
            raise _error(errno.ENOENT, path)
        return node

    def _writable(self, path: str) -> None:
        if self.read_only:
            raise FSError(errno.EACCES, "Permission denied (read-only)", path)

    # -- the ConfinedFS interface -------------------------------------------------------------

    def realpath(self, path: str, cwd: str = "/") -> str:
        return join_virtual(self._walk(path, cwd)[2])

    def stat(self, path: str, cwd: str = "/", follow: bool = True) -> MemoryStat:
        return self._lookup(path, cwd, follow).stat()

    def lstat(self, path: str) -> MemoryStat:
        return self.stat(path, follow=False)

    def listdir(self, path: str, cwd: str = "/") -> list[tuple[str, MemoryStat]]:
        node = self._lookup(path, cwd)
        if not st.S_ISDIR(node.mode):
            raise _error(errno.ENOTDIR, path)
        return [(name, child.stat()) for name, child in sorted(node.entries.items())]

    def is_dir(self, path: str, cwd: str = "/") -> bool:
        try:
            return st.S_ISDIR(self.stat(path, cwd).st_mode)
        except OSError:
            return False

    def open_file(self, path: str, flags: int, mode: int = 0o666, cwd: str = "/") -> MemoryFile:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
            self._writable(path)
        exclusive = bool(flags & os.O_CREAT and flags & os.O_EXCL)  # as ConfinedFS.open
        parent, name, _ = self._walk(path, cwd, follow_last=not exclusive)
        if not name:
            raise _error(errno.EISDIR, path)
        node = parent.entries.get(name)
        if node is None:
            if not flags & os.O_CREAT:
                raise _error(errno.ENOENT, path)
            node = parent.entries[name] = self._node(st.S_IFREG | (mode & 0o7777 & ~0o022))
            parent.mtime = self.now()
        elif flags & os.O_CREAT and flags & os.O_EXCL:
            raise _error(errno.EEXIST, path)
        if st.S_ISDIR(node.mode):
            raise _error(errno.EISDIR, path)
        if flags & os.O_TRUNC:
            node.data.clear()
            node.mtime = self.now()
        return MemoryFile(self, node, path, bool(flags & (os.O_WRONLY | os.O_RDWR)))

    def _entry(self, path: str, must_exist: bool = True, follow: bool = False
               ) -> tuple[Node, str, Node | None]:
        """(parent, name, node) of the path's last component, which is not the root."""
        parent, name, _ = self._walk(path, follow_last=follow)
        check_name(path, name)
        node = parent.entries.get(name)
        if node is None and must_exist:
            raise _error(errno.ENOENT, path)
        return parent, name, node

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        self._writable(path)
        parent, name, node = self._entry(path, must_exist=False)
        if node is not None:
            raise _error(errno.EEXIST, path)
        parent.entries[name] = self._node(st.S_IFDIR | (mode & 0o7777 & ~0o022))
        parent.mtime = self.now()

    def rmdir(self, path: str) -> None:
        self._writable(path)
        parent, name, node = self._entry(path)
        if not st.S_ISDIR(node.mode):
            raise _error(errno.ENOTDIR, path)
        if node.entries:
            raise _error(errno.ENOTEMPTY, path)
        del parent.entries[name]
        parent.mtime = self.now()

    def remove(self, path: str) -> None:
        self._writable(path)
        parent, name, node = self._entry(path)
        if st.S_ISDIR(node.mode):
            raise _error(errno.EISDIR, path)
        del parent.entries[name]
        node.nlink -= 1
        parent.mtime = self.now()

    def rename(self, old: str, new: str, replace: bool = False) -> None:
        self._writable(new)
        old_parent, old_name, node = self._entry(old)
        new_parent, new_name, existing = self._entry(new, must_exist=False)
        if existing is not None and not replace:
            raise _error(errno.EEXIST, new)
        if existing is not None and st.S_ISDIR(existing.mode) and existing.entries:
            raise _error(errno.ENOTEMPTY, new)
        del old_parent.entries[old_name]
        new_parent.entries[new_name] = node
        old_parent.mtime = new_parent.mtime = self.now()

    def link(self, old: str, new: str) -> None:
        self._writable(new)
        _, _, node = self._entry(old)
        new_parent, new_name, existing = self._entry(new, must_exist=False)
        if existing is not None:
            raise _error(errno.EEXIST, new)
        if st.S_ISDIR(node.mode):
            raise _error(errno.EPERM, old)
        new_parent.entries[new_name] = node
        node.nlink += 1

    def symlink(self, target: str, link: str) -> None:
        self._writable(link)
        parent, name, existing = self._entry(link, must_exist=False)
        if existing is not None:
            raise _error(errno.EEXIST, link)
        link_parts = self._walk(link, follow_last=False)[2]
        target_parts = split_virtual(target, join_virtual(link_parts[:-1]))
        resolved = self._walk(join_virtual(target_parts))[2]
        node = self._node(st.S_IFLNK | 0o777)
        node.target = relative_target(link_parts, resolved)
        parent.entries[name] = node

    def readlink(self, path: str) -> str:
        _, _, node = self._entry(path)
        if not st.S_ISLNK(node.mode):
            raise _error(errno.EINVAL, path)
        return node.target

    def set_attributes(self, path: str, follow: bool = True, size=None, mode=None, uid=None,
                       gid=None, times=None) -> None:
        self._writable(path)
        _, _, node = self._entry(path, follow=follow)  # never the root
        if st.S_ISLNK(node.mode) and (size is not None or mode is not None):
            raise _error(errno.EOPNOTSUPP, path)
        self._set(node, size, mode, uid, gid, times)

    def _set(self, node: Node, size, mode, uid, gid, times) -> None:
        if size is not None:
            if not st.S_ISREG(node.mode):
                raise _error(errno.EINVAL, "")
            del node.data[size:]
            node.data.extend(bytes(size - len(node.data)))
        if mode is not None:
            node.mode = st.S_IFMT(node.mode) | (mode & 0o7777)
        if uid is not None:
            node.uid, node.gid = uid, gid
        if times is not None:
            node.atime, node.mtime = times

    def statvfs(self, path: str) -> MemoryStatVFS:
        self._lookup(path)
        return MemoryStatVFS(f_flag=1 if self.read_only else 0)

    # -- for setting up demos -----------------------------------------------------------------

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        read_only, self.read_only = self.read_only, False
        try:
            self.open_file(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode).pwrite(data, 0)
        finally:
            self.read_only = read_only
