"""A directory tree served as "/": nothing outside it can be read, written, listed or detected.

Clients name files with virtual paths ("/docs/a.txt"). Every operation walks the path one
component at a time from an open descriptor of the root, opening each directory with
O_NOFOLLOW relative to the previous one, so a symlink can never be followed by the kernel
behind our back. Symlinks are followed by us: an absolute target is read inside the root (as in
a chroot), a relative one from the link's directory. A ``..`` above the root, or a link that
climbs out, is an escape, and an escape fails exactly like a missing file (ENOENT).

Operations that name an entry rather than its target (lstat, remove, rename, link, symlink,
readlink, mkdir, rmdir) walk to the entry's directory the same way and then act on the name
with the ``*at`` system calls relative to that directory's descriptor. Files are opened into
a ``FileHandle``; ``fs/memory.py`` offers the same interface without a disk.
"""

from __future__ import annotations

import errno
import os
import stat as st

MAX_SYMLINK_HOPS = 32


class FSError(OSError):
    """An operation failed; ``errno`` says why (ENOENT for escapes too)."""


def _enoent(path: str) -> FSError:
    return FSError(errno.ENOENT, "No such file or directory", path)


def split_virtual(path: str, cwd: str = "/") -> list[str]:
    """Lexically normalize ``path`` (relative to ``cwd``) into components under the root.
    Raises ENOENT for a ``..`` that would climb above the root."""
    if "\x00" in path:
        raise _enoent(path)
    full = path if path.startswith("/") else cwd.rstrip("/") + "/" + path
    parts: list[str] = []
    for comp in full.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                raise _enoent(path)
            parts.pop()
        else:
            parts.append(comp)
    return parts


def join_virtual(parts: list[str]) -> str:
    return "/" + "/".join(parts)


def check_name(path: str, name: str) -> None:
    """The entry an operation creates, removes, renames or changes must have a name: the
    served root itself (name "", however the path spells it) is never changed, so no client
    can lock everyone out of it (chmod 0) or hand it to another owner."""
    if not name:
        raise FSError(errno.EPERM, "Operation not permitted on the root directory", path)


def relative_target(link_parts: list[str], target_parts: list[str]) -> str:
    """The target as a path relative to the link's directory, so the link stays inside the
    root for every program that follows it, not only for us."""
    base = link_parts[:-1]
    common = 0
    while common < len(base) and common < len(target_parts) and base[common] == target_parts[common]:
        common += 1
    rel = [".."] * (len(base) - common) + target_parts[common:]
    return "/".join(rel) or "."


class FileHandle:
    """An open file of a ConfinedFS: positional reads and writes on its descriptor."""

    def __init__(self, fd: int, path: str, read_only: bool = False):
        self.fd = fd
        self.path = path
        # fchmod, fchown and futimens work on a descriptor opened for reading: a read-only
        # filesystem refuses them here.
        self.read_only = read_only

    def pread(self, length: int, offset: int) -> bytes:
        return os.pread(self.fd, length, offset)

    def pwrite(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:  # a short write is retried from where it stopped
            written = os.pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def fstat(self) -> os.stat_result:
        return os.fstat(self.fd)

    def fsync(self) -> None:
        os.fsync(self.fd)

    def statvfs(self) -> os.statvfs_result:
        return os.fstatvfs(self.fd)

    def set_attributes(self, size=None, mode=None, uid=None, gid=None, times=None) -> None:
        if self.read_only:
            raise FSError(errno.EACCES, "Permission denied (read-only)", self.path)
        if size is not None:
            os.ftruncate(self.fd, size)
        if mode is not None:
            os.fchmod(self.fd, mode & 0o7777)
        if uid is not None:
            os.fchown(self.fd, uid, gid)
        if times is not None:
            os.utime(self.fd, times)

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)  # errors (EIO, a full disk on NFS) reach the caller


class ConfinedFS:
    def __init__(self, root: str, read_only: bool = False):
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"root directory {root!r} does not exist")
        self.read_only = read_only

    # -- the walk -----------------------------------------------------------------------------

    def _root_fd(self) -> int:
        return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def _walk(self, path: str, cwd: str = "/", follow_last: bool = True) -> tuple[int, str, list[str]]:
        """Open the directory holding the last component. Returns (dir_fd, last_name, parts),
        where parts is the canonical (symlink-free) virtual path; last_name is "" for the root.
        The caller closes dir_fd."""
        parts = split_virtual(path, cwd)
        hops = 0
        while True:
            fd = self._root_fd()
            done: list[str] = []
            restart = None
            try:
                for index, comp in enumerate(parts):
                    last = index == len(parts) - 1
                    try:
                        info = os.stat(comp, dir_fd=fd, follow_symlinks=False)
                    except FileNotFoundError:
                        if last:
                            return fd, comp, done + [comp]
                        raise _enoent(path) from None
                    if st.S_ISLNK(info.st_mode) and (not last or follow_last):
                        hops += 1
                        if hops > MAX_SYMLINK_HOPS:
                            raise FSError(errno.ELOOP, "Too many levels of symbolic links", path)
                        target = os.readlink(comp, dir_fd=fd)
                        base = "/" if target.startswith("/") else join_virtual(done)
                        rest = "/".join(parts[index + 1:])
                        restart = split_virtual(target + ("/" + rest if rest else ""), base)
                        break
                    if last:
                        return fd, comp, done + [comp]
                    if not st.S_ISDIR(info.st_mode):
                        raise FSError(errno.ENOTDIR, "Not a directory", path)
                    next_fd = os.open(comp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                      dir_fd=fd)
                    os.close(fd)
                    fd = next_fd
                    done.append(comp)
                else:
                    return fd, "", done  # the root itself
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
            parts = restart

    def _open_dir(self, path: str, cwd: str = "/") -> tuple[int, list[str]]:
        dir_fd, name, parts = self._walk(path, cwd)
        if not name:
            return dir_fd, parts
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except FileNotFoundError:
            raise _enoent(path) from None
        finally:
            os.close(dir_fd)
        return fd, parts

    # -- operations ---------------------------------------------------------------------------

    def realpath(self, path: str, cwd: str = "/") -> str:
        dir_fd, _, parts = self._walk(path, cwd)
        os.close(dir_fd)
        return join_virtual(parts)

    def stat(self, path: str, cwd: str = "/", follow: bool = True) -> os.stat_result:
        dir_fd, name, _ = self._walk(path, cwd, follow_last=follow)
        try:
            if not name:
                return os.fstat(dir_fd)
            try:
                return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                raise _enoent(path) from None
        finally:
            os.close(dir_fd)

    def listdir(self, path: str, cwd: str = "/") -> list[tuple[str, os.stat_result]]:
        fd, _ = self._open_dir(path, cwd)
        try:
            entries = []
            for name in sorted(os.listdir(fd)):
                try:
                    entries.append((name, os.stat(name, dir_fd=fd, follow_symlinks=False)))
                except FileNotFoundError:
                    continue
            return entries
        finally:
            os.close(fd)

    def open(self, path: str, flags: int, mode: int = 0o644, cwd: str = "/") -> int:
        """Open a file (never a directory, never through a final symlink) and return its fd."""
        writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
        if writing and self.read_only:
            raise FSError(errno.EACCES, "Permission denied (read-only)", path)
        # O_CREAT|O_EXCL never follows a final symlink, even a dangling one (POSIX): the name
        # exists, so the open fails.
        exclusive = bool(flags & os.O_CREAT and flags & os.O_EXCL)
        dir_fd, name, _ = self._walk(path, cwd, follow_last=not exclusive)
        try:
            if not name:
                raise FSError(errno.EISDIR, "Is a directory", path)
            # O_NONBLOCK: opening a FIFO (or a device) must not wait for its other end, which
            # would stop the one thread that serves every connection. Regular files ignore it.
            fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode,
                         dir_fd=dir_fd)
        except FileNotFoundError:
            raise _enoent(path) from None
        finally:
            os.close(dir_fd)
        if st.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise FSError(errno.EISDIR, "Is a directory", path)
        return fd

    def _writable(self, path: str) -> None:
        if self.read_only:
            raise FSError(errno.EACCES, "Permission denied (read-only)", path)

    def _entry(self, path: str):
        """The directory descriptor and name of a path's last component, not followed."""
        dir_fd, name, parts = self._walk(path, follow_last=False)
        return dir_fd, name, parts

    def open_file(self, path: str, flags: int, mode: int = 0o666) -> FileHandle:
        return FileHandle(self.open(path, flags, mode & 0o7777), path, self.read_only)

    def lstat(self, path: str) -> os.stat_result:
        return self.stat(path, follow=False)

    def _at_entry(self, path: str, action, writing: bool = True):
        """Run ``action(name, dir_fd)`` on the path's last component (not followed)."""
        if writing:
            self._writable(path)
        dir_fd, name, _ = self._entry(path)
        try:
            check_name(path, name)
            return action(name, dir_fd)
        except FileNotFoundError:
            raise _enoent(path) from None
        finally:
            os.close(dir_fd)

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        self._at_entry(path, lambda name, fd: os.mkdir(name, mode & 0o7777, dir_fd=fd))

    def rmdir(self, path: str) -> None:
        self._at_entry(path, lambda name, fd: os.rmdir(name, dir_fd=fd))

    def remove(self, path: str) -> None:
        def unlink(name: str, fd: int) -> None:
            if st.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                raise FSError(errno.EISDIR, "Is a directory", path)
            os.unlink(name, dir_fd=fd)
        self._at_entry(path, unlink)

    def _two_entries(self, old: str, new: str, action) -> None:
        self._writable(new)
        old_fd, old_name, _ = self._entry(old)
        try:
            new_fd, new_name, _ = self._entry(new)
            try:
                check_name(old, old_name)
                check_name(new, new_name)
                action(old_name, old_fd, new_name, new_fd)
            finally:
                os.close(new_fd)
        except FileNotFoundError:
            raise _enoent(old) from None
        finally:
            os.close(old_fd)

    def rename(self, old: str, new: str, replace: bool = False) -> None:
        """Rename; without ``replace`` an existing ``new`` is an error (SFTP's RENAME), with it
        the POSIX rename (posix-rename@openssh.com)."""
        def action(old_name, old_fd, new_name, new_fd):
            if not replace:
                try:
                    os.stat(new_name, dir_fd=new_fd, follow_symlinks=False)
                    raise FSError(errno.EEXIST, "File exists", new)
                except FileNotFoundError:
                    pass
            os.rename(old_name, new_name, src_dir_fd=old_fd, dst_dir_fd=new_fd)
        self._two_entries(old, new, action)

    def link(self, old: str, new: str) -> None:
        def action(old_name, old_fd, new_name, new_fd):
            os.link(old_name, new_name, src_dir_fd=old_fd, dst_dir_fd=new_fd, follow_symlinks=False)
        self._two_entries(old, new, action)

    def symlink(self, target: str, link: str) -> None:
        """Create ``link`` pointing at ``target``. The target is checked like any path (from
        the link's directory; an absolute one from the root): one that leaves the root fails
        as missing. It is stored relative to the link, so it stays inside for everyone."""
        self._writable(link)
        dir_fd, name, link_parts = self._entry(link)
        try:
            check_name(link, name)
            base = join_virtual(link_parts[:-1])
            target_parts = split_virtual(target, base)
            # Existing symlinks along the target must not lead out either.
            target_fd, _, resolved = self._walk(join_virtual(target_parts))
            os.close(target_fd)
            os.symlink(relative_target(link_parts, resolved), name, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)

    def readlink(self, path: str) -> str:
        return self._at_entry(path, lambda name, fd: os.readlink(name, dir_fd=fd), writing=False)

    def set_attributes(self, path: str, follow: bool = True, size=None, mode=None, uid=None,
                       gid=None, times=None) -> None:
        self._writable(path)
        dir_fd, name, _ = self._walk(path, follow_last=follow)
        try:
            check_name(path, name)
            # O_PATH opens the entry itself (never through a symlink) without reading it;
            # truncate and chmod go through it because they would follow a symlink by name.
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                is_link = st.S_ISLNK(os.fstat(fd).st_mode)
                if is_link and (size is not None or mode is not None):
                    raise FSError(errno.EOPNOTSUPP, "Operation not supported on a symlink", path)
                if size is not None:
                    os.truncate(f"/proc/self/fd/{fd}", size)
                if mode is not None:
                    os.chmod(f"/proc/self/fd/{fd}", mode & 0o7777)
            finally:
                os.close(fd)
            if uid is not None:
                os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
            if times is not None:
                os.utime(name, times, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise _enoent(path) from None
        finally:
            os.close(dir_fd)

    def statvfs(self, path: str) -> os.statvfs_result:
        fd = self._root_fd() if path in ("", "/") else None
        if fd is None:
            dir_fd, name, _ = self._walk(path)
            try:
                fd = os.open(name or ".", os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            except FileNotFoundError:
                raise _enoent(path) from None
            finally:
                os.close(dir_fd)
        try:
            return os.fstatvfs(fd)
        finally:
            os.close(fd)

    def is_dir(self, path: str, cwd: str = "/") -> bool:
        try:
            return st.S_ISDIR(self.stat(path, cwd).st_mode)
        except OSError:
            return False
