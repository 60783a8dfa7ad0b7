"""The event feed's sockets: ``serve`` publishes on a Unix domain socket (mode 0600, in a
directory only its user may enter), ``watch`` reads it line by line. Local and private by
construction: a feed carries decrypted sessions, passwords typed included, so it is never on a
network address, and only the user who runs the server (and root) may connect.

The server never waits for a watcher: what a watcher has not read piles up in its own buffer,
and one whose buffer passes its bound is dropped (logged). What a watcher sends is read and
thrown away (it has nothing to say), and after a few bytes no longer read at all."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path
from typing import Callable

MAX_WATCHERS = 50  # a class, and a web server's tabs
WATCHER_BUFFER = 32 * 1024 * 1024  # bytes a watcher may be behind (past what it was sent on joining)
MAX_LINE = 64 * 1024 * 1024  # the longest line a watcher reads (a packet's hex, with its changes)
IGNORED_INPUT = 4096  # bytes read from a watcher before its input is no longer read
MAX_PATH = 100  # a Unix socket's path must fit sockaddr_un (108 bytes on Linux)


class FeedPathError(OSError):
    """A feed path that cannot be used; the text says why, in one line."""


def private_directory(directory: Path) -> None:
    """Make ``directory`` (mode 0700) or check that it is this user's and closed to others."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = directory.stat()
    if info.st_uid != os.getuid():
        raise FeedPathError(f"{directory} belongs to another user")
    if info.st_mode & 0o077:
        raise FeedPathError(f"{directory} is open to other users (mode {stat.S_IMODE(info.st_mode):o}); "
                            f"chmod 700 it")


class _Watcher(asyncio.Protocol):
    def __init__(self, server: "FeedServer"):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.allowance = WATCHER_BUFFER
        self.ignored = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.server._joined(self)

    def data_received(self, data: bytes) -> None:
        self.ignored += len(data)
        if self.ignored > IGNORED_INPUT:
            self.transport.pause_reading()

    def connection_lost(self, exc) -> None:
        self.server._left(self)


class FeedServer:
    """A Unix socket at ``path`` that sends each watcher ``greeting()`` when it joins, then
    every ``broadcast``. At most ``max_watchers`` at once (one more is sent ``full`` and
    closed); ``on_watchers(n)`` is told how many there are; ``log`` gets a line when one is
    dropped for being slow."""

    def __init__(self, path: str | os.PathLike, greeting: Callable[[], bytes], full: bytes,
                 log: Callable[[str], None], on_watchers: Callable[[int], None] = lambda n: None,
                 max_watchers: int = MAX_WATCHERS, buffer: int | None = None):
        self.path = Path(path)
        self.greeting = greeting
        self.full = full
        self.log = log
        self.on_watchers = on_watchers
        self.max_watchers = max_watchers
        self.buffer = WATCHER_BUFFER if buffer is None else buffer
        self.watchers: list[_Watcher] = []
        self.dropped = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if len(os.fsencode(self.path)) > MAX_PATH:
            raise FeedPathError(f"{self.path}: too long for a Unix socket (at most {MAX_PATH} bytes)")
        private_directory(self.path.parent)
        await self._clear_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is made 0600: never open to others, not for a moment
        try:
            sock.bind(str(self.path))
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self._server = await asyncio.get_running_loop().create_unix_server(lambda: _Watcher(self), sock=sock)

    async def _clear_stale(self) -> None:
        """A socket left by a server that has gone is removed; one that answers is in use."""
        try:
            info = self.path.lstat()
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise FeedPathError(f"{self.path} exists and is not a socket")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(self.path)), 2)
        except (OSError, asyncio.TimeoutError):
            self.path.unlink(missing_ok=True)
            return
        writer.close()
        raise FeedPathError(f"{self.path} is in use by another sshviz serve (give --feed PATH)")

    def _joined(self, watcher: _Watcher) -> None:
        if len(self.watchers) >= self.max_watchers:
            watcher.transport.write(self.full)
            watcher.transport.close()
            return
        greeting = self.greeting()
        watcher.allowance = self.buffer + len(greeting)
        self.watchers.append(watcher)
        watcher.transport.write(greeting)
        self.on_watchers(len(self.watchers))

    def _left(self, watcher: _Watcher) -> None:
        if watcher in self.watchers:
            self.watchers.remove(watcher)
            self.on_watchers(len(self.watchers))

    def broadcast(self, data: bytes) -> None:
        for watcher in list(self.watchers):
            transport = watcher.transport
            behind = transport.get_write_buffer_size()
            if behind + len(data) > watcher.allowance:
                self.dropped += 1
                self.log(f"feed: a watcher fell {behind // 1024} KiB behind and was dropped")
                self.watchers.remove(watcher)
                transport.abort()
                self.on_watchers(len(self.watchers))
                continue
            if behind < self.buffer:  # what it was sent on joining has mostly gone
                watcher.allowance = self.buffer
            transport.write(data)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for watcher in list(self.watchers):
            watcher.transport.abort()
        self.watchers.clear()
        try:
            if stat.S_ISSOCK(self.path.lstat().st_mode):
                self.path.unlink()
        except OSError:
            pass


class FeedClosed(Exception):
    """The feed ended (the server stopped, or dropped this watcher)."""


def connect_feed(path: str | os.PathLike) -> socket.socket:
    """A connected socket to the feed at ``path``; FeedPathError (one line) when there is none."""
    path = Path(path)
    if not path.exists():
        raise FeedPathError(f"no sshviz feed at {path}: is `sshviz serve` running? (it prints where its "
                            "feed is when it starts)")
    if not stat.S_ISSOCK(path.stat().st_mode):
        raise FeedPathError(f"{path} is not a feed (not a socket)")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as exc:
        sock.close()
        if isinstance(exc, ConnectionRefusedError):
            raise FeedPathError(f"no sshviz serve at {path} any more (its feed is left over)") from None
        raise FeedPathError(f"cannot open the feed {path}: {exc.strerror or exc}") from None
    return sock


async def read_feed(sock: socket.socket, take: Callable[[str], None]) -> None:
    """Hand each line of the feed to ``take`` until it ends (FeedClosed says how)."""
    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=MAX_LINE)
    try:
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                raise FeedClosed("the server stopped" if not exc.partial else
                                 "the feed ended in the middle of a line") from None
            except asyncio.LimitOverrunError:
                raise FeedClosed(f"a line of the feed was longer than {MAX_LINE} bytes") from None
            except ConnectionResetError:
                raise FeedClosed("the server dropped this watcher (it fell behind)") from None
            take(line[:-1].decode("utf-8", "replace"))
    finally:
        writer.close()
