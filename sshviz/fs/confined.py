"""A directory tree served as "/": nothing outside it can be read, written, listed or detected.

Clients name files with virtual paths ("/docs/a.txt"). Every operation walks the path one
component at a time from an open descriptor of the root, opening each directory with
O_NOFOLLOW relative to the previous one, so a symlink can never be followed by the kernel
behind our back. Symlinks are followed by us: an absolute target is read inside the root (as in
a chroot), a relative one from the link's directory. A ``..`` above the root, or a link that
climbs out, is an escape, and an escape fails exactly like a missing file (ENOENT).
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
        dir_fd, name, _ = self._walk(path, cwd)
        try:
            if not name:
                raise FSError(errno.EISDIR, "Is a directory", path)
            fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
        except FileNotFoundError:
            raise _enoent(path) from None
        finally:
            os.close(dir_fd)
        if st.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise FSError(errno.EISDIR, "Is a directory", path)
        return fd

    def read_file(self, path: str, limit: int = 1 << 20, cwd: str = "/") -> bytes:
        fd = self.open(path, os.O_RDONLY, cwd=cwd)
        try:
            chunks, total = [], 0
            while total < limit:
                chunk = os.read(fd, min(65536, limit - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def is_dir(self, path: str, cwd: str = "/") -> bool:
        try:
            return st.S_ISDIR(self.stat(path, cwd).st_mode)
        except OSError:
            return False
