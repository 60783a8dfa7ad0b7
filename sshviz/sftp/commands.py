"""The everyday SFTP commands (ls, get, put, mkdir, rm, ...), as one interpreter shared by the
interactive ``sshviz connect --sftp``, batch files (``--sftp-batch``, like ``sftp -b``) and the
in-process scenario's ``sftp_actions``. It only awaits the sans-I/O client's Pendings, so it
runs wherever the client does.
"""

from __future__ import annotations

import posixpath
import shlex
import stat as st
from typing import Callable

from .attrs import Attributes, format_time, longname
from .client import SftpClient, SftpError

HELP = """Available commands:
  ls [-l] [path]               list a remote directory
  cd path / pwd                change / show the remote directory
  lcd path / lpwd / lls [path] change / show / list the local directory
  get [-r] remote [local]      download a file (-r: a directory and all below it)
  put [-r] local [remote]      upload a file (-r: a directory and all below it)
  mkdir path / rmdir path      make / remove a remote directory
  rm path                      remove a remote file
  rename old new               rename a remote file
  ln [-s] old new              make a hard link (-s: a symbolic link) to old
  stat path                    show a remote file's attributes
  chmod mode path              change a remote file's permissions (octal)
  df [path]                    show free space of the remote file system
  help / ?                     this text
  exit / quit / bye            leave
A batch command that starts with '-' may fail without stopping the batch."""


class CommandError(Exception):
    """A command used wrongly; reported in one line."""


class SftpShell:
    """Runs command lines against an SftpClient. ``out`` prints one line; ``progress(name)``
    may return a per-file progress callback; the local side is a filesystem object (see the
    client) and local paths are taken from ``local_cwd``."""

    def __init__(self, client: SftpClient, local_fs, local_cwd: str = "/",
                 out: Callable[[str], None] = print, progress: Callable | None = None):
        self.client = client
        self.local_fs = local_fs
        self.local_cwd = local_cwd
        self.out = out
        self.progress = progress
        self.cwd = "/"
        self.finished = False

    async def setup(self) -> None:
        """Start in the server's idea of the current directory (REALPATH ".")."""
        self.cwd = await self.client.realpath(".")

    def remote(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.cwd, path)) if path else self.cwd

    def local(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.local_cwd, path)) if path else self.local_cwd

    async def run(self, line: str) -> bool:
        """Run one line; False if it failed (the error is printed)."""
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            self.out(f"error: {exc}")
            return False
        if not words:
            return True
        name, args = words[0], words[1:]
        command = getattr(self, "cmd_" + {"?": "help", "quit": "exit", "bye": "exit"}.get(name, name),
                          None)
        if command is None:
            self.out(f"error: unknown command {name!r}; try 'help'")
            return False
        try:
            await command(args)
        except CommandError as exc:
            self.out(f"error: {name}: {exc}")
            return False
        except SftpError as exc:
            self.out(f"error: {name}: {exc}")
            return False
        except OSError as exc:
            self.out(f"error: {name}: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
            return False
        return True

    async def run_batch(self, lines: list[str]) -> bool:
        """Like ``sftp -b``: echo each command, stop at the first failure unless the line
        starts with '-'."""
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            may_fail = line.startswith("-")
            if may_fail:
                line = line[1:].lstrip()
            self.out(f"sftp> {line}")
            if not await self.run(line) and not may_fail:
                return False
            if self.finished:
                break
        return True

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _options(args: list[str], allowed: str, counts: tuple[int, ...]) -> tuple[set, list[str]]:
        flags, rest = set(), []
        for arg in args:
            if arg.startswith("-") and len(arg) > 1 and not rest:
                for letter in arg[1:]:
                    if letter not in allowed:
                        raise CommandError(f"unknown option -{letter}")
                    flags.add(letter)
            else:
                rest.append(arg)
        if len(rest) not in counts:
            raise CommandError("wrong number of arguments; try 'help'")
        return flags, rest

    def _progress(self, name: str):
        return self.progress(name) if self.progress else None

    # -- commands -----------------------------------------------------------------------------

    async def cmd_help(self, args) -> None:
        for line in HELP.splitlines():
            self.out(line)

    async def cmd_exit(self, args) -> None:
        self.finished = True

    async def cmd_pwd(self, args) -> None:
        self.out(f"Remote working directory: {self.cwd}")

    async def cmd_lpwd(self, args) -> None:
        self.out(f"Local working directory: {self.local_cwd}")

    async def cmd_cd(self, args) -> None:
        _, rest = self._options(args, "", (0, 1))
        path = await self.client.realpath(self.remote(rest[0] if rest else "/"))
        if not (await self.client.stat(path)).is_dir:
            raise CommandError(f"{path}: not a directory")
        self.cwd = path

    async def cmd_lcd(self, args) -> None:
        _, rest = self._options(args, "", (1,))
        path = self.local(rest[0])
        if not self.local_fs.is_dir(path):
            raise CommandError(f"{path}: not a local directory")
        self.local_cwd = path

    async def cmd_ls(self, args) -> None:
        flags, rest = self._options(args, "la", (0, 1))
        path = self.remote(rest[0] if rest else "")
        attributes = await self.client.stat(path)
        if not attributes.is_dir:
            self.out(path)
            return
        for name, long, _ in sorted(await self.client.listdir(path)):
            if name.startswith(".") and "a" not in flags:
                continue
            self.out(long if "l" in flags else name)

    async def cmd_lls(self, args) -> None:
        _, rest = self._options(args, "l", (0, 1))
        for name, info in self.local_fs.listdir(self.local(rest[0] if rest else "")):
            self.out(longname(name, info))

    async def cmd_get(self, args) -> None:
        flags, rest = self._options(args, "rRp", (1, 2))
        source = self.remote(rest[0])
        target = self.local(rest[1] if len(rest) > 1 else posixpath.basename(source) or "download")
        if self.local_fs.is_dir(target):
            target = posixpath.join(target, posixpath.basename(source))
        count = await self.client.get(source, self.local_fs, target, recursive=bool(flags & {"r", "R"}),
                                      progress=self._progress,
                                      on_file=lambda s, t: self.out(f"Fetching {s} to {t}"))
        if count == 0:
            self.out(f"{source}: no regular files")

    async def cmd_put(self, args) -> None:
        flags, rest = self._options(args, "rRpf", (1, 2))
        source = self.local(rest[0])
        target = self.remote(rest[1] if len(rest) > 1 else posixpath.basename(source))
        try:
            if (await self.client.stat(target)).is_dir:
                target = posixpath.join(target, posixpath.basename(source))
        except SftpError:
            pass
        await self.client.put(self.local_fs, source, target, recursive=bool(flags & {"r", "R"}),
                              progress=self._progress, fsync="f" in flags,
                              on_file=lambda s, t: self.out(f"Uploading {s} to {t}"))

    async def cmd_mkdir(self, args) -> None:
        _, rest = self._options(args, "", (1,))
        await self.client.mkdir(self.remote(rest[0]))

    async def cmd_rmdir(self, args) -> None:
        _, rest = self._options(args, "", (1,))
        await self.client.rmdir(self.remote(rest[0]))

    async def cmd_rm(self, args) -> None:
        _, rest = self._options(args, "", (1,))
        await self.client.remove(self.remote(rest[0]))

    async def cmd_rename(self, args) -> None:
        _, rest = self._options(args, "", (2,))
        await self.client.rename(self.remote(rest[0]), self.remote(rest[1]))

    async def cmd_ln(self, args) -> None:
        flags, rest = self._options(args, "s", (2,))
        if "s" in flags:
            # The target is stored as given (relative to the link), like 'ln -s' and sftp.
            await self.client.symlink(rest[0], self.remote(rest[1]))
        else:
            await self.client.hardlink(self.remote(rest[0]), self.remote(rest[1]))

    async def cmd_stat(self, args) -> None:
        _, rest = self._options(args, "", (1,))
        path = self.remote(rest[0])
        a = await self.client.lstat(path)
        kind = "directory" if a.is_dir else "symbolic link" if a.is_link else "regular file" if a.is_file else "other"
        self.out(f"  File: {path}")
        self.out(f"  Type: {kind}   Size: {a.size}   Mode: "
                 f"{st.filemode(a.permissions) if a.permissions is not None else '?'} "
                 f"({oct(st.S_IMODE(a.permissions)) if a.permissions is not None else '?'})")
        self.out(f"  Owner: uid {a.uid} gid {a.gid}")
        if a.mtime is not None:
            self.out(f"  Modified: {format_time(a.mtime)}   Accessed: {format_time(a.atime)} (UTC)")
        if a.is_link:
            self.out(f"  Points to: {await self.client.readlink(path)}")

    async def cmd_chmod(self, args) -> None:
        _, rest = self._options(args, "", (2,))
        try:
            mode = int(rest[0], 8)
        except ValueError:
            raise CommandError(f"{rest[0]!r} is not an octal mode") from None
        await self.client.setstat(self.remote(rest[1]), Attributes(permissions=mode))

    async def cmd_df(self, args) -> None:
        _, rest = self._options(args, "h", (0, 1))
        if not self.client.has("statvfs@openssh.com"):
            raise CommandError("the server does not offer statvfs@openssh.com")
        v = await self.client.statvfs(self.remote(rest[0] if rest else ""))
        unit = v["f_frsize"] or v["f_bsize"]
        kib = lambda blocks: blocks * unit // 1024  # noqa: E731
        used = kib(v["f_blocks"] - v["f_bfree"])
        share = 100 * used // max(1, used + kib(v["f_bavail"]))
        self.out(f"{'Size (KiB)':>12} {'Used':>12} {'Avail':>12} {'Use%':>5}"
                 + ("  (read-only)" if v["f_flag"] & 1 else ""))
        self.out(f"{kib(v['f_blocks']):>12} {used:>12} {kib(v['f_bavail']):>12} {share:>4}%")


__all__ = ["SftpShell", "CommandError", "HELP"]
