"""The feed's socket (sshviz.net.feed) on its own, in one asyncio loop: mode 0600 in a private
directory, a watcher that stops reading dropped while the others go on and ``broadcast``
never waits, what a watcher sends read and thrown away, at most ``max_watchers`` at once, a
stale socket replaced and one in use refused; and ``watch``'s one-line errors."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import tempfile
from pathlib import Path

import pytest

from sshviz.cli import main
from sshviz.net.feed import FeedPathError, FeedServer, connect_feed


@pytest.fixture
def feed_dir():
    """A short directory (a Unix socket's path has at most 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="feed", dir="/tmp") as directory:
        yield Path(directory) / "private"


def make_server(path: Path, logged: list, **options) -> FeedServer:
    return FeedServer(path, lambda: b"hello\n", b"full\n", logged.append, **options)


async def read_some(reader: asyncio.StreamReader, size: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(size), 10)


async def test_the_feed_is_a_socket_only_its_user_may_open(feed_dir):
    server = make_server(feed_dir / "feed", [])
    await server.start()
    try:
        assert stat.S_IMODE(feed_dir.stat().st_mode) == 0o700
        info = (feed_dir / "feed").stat()
        assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == os.getuid()
    finally:
        server.close()
    assert not (feed_dir / "feed").exists()  # removed when the server stops


async def test_a_directory_open_to_others_is_refused(feed_dir):
    feed_dir.mkdir(mode=0o755)
    feed_dir.chmod(0o755)
    with pytest.raises(FeedPathError) as raised:
        await make_server(feed_dir / "feed", []).start()
    assert str(raised.value) == f"{feed_dir} is open to other users (mode 755); chmod 700 it"


async def test_a_stale_socket_is_replaced_and_one_in_use_refused(feed_dir):
    feed_dir.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(feed_dir / "feed"))
    stale.close()  # the file stays, nobody listens
    first = make_server(feed_dir / "feed", [])
    await first.start()
    try:
        with pytest.raises(FeedPathError) as raised:
            await make_server(feed_dir / "feed", []).start()
        assert str(raised.value) == f"{feed_dir / 'feed'} is in use by another sshviz serve (give --feed PATH)"
    finally:
        first.close()


async def test_a_stalled_watcher_is_dropped_and_the_others_go_on(feed_dir):
    logged: list[str] = []
    server = make_server(feed_dir / "feed", logged, buffer=256 * 1024)
    await server.start()
    try:
        stalled = socket.socket(socket.AF_UNIX)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(str(feed_dir / "feed"))  # reads nothing from now on
        reader, writer = await asyncio.open_unix_connection(str(feed_dir / "feed"))
        assert await read_some(reader, 6) == b"hello\n"
        while len(server.watchers) < 2:
            await asyncio.sleep(0.01)
        chunk = b"x" * 65535 + b"\n"
        for _ in range(64):  # 4 MiB: far past what the stalled one's buffers hold
            server.broadcast(chunk)  # returns at once: nothing here waits for a watcher
            assert await read_some(reader, len(chunk)) == chunk
        assert len(server.watchers) == 1 and server.dropped == 1
        assert len(logged) == 1 and logged[0].startswith("feed: a watcher fell ")
        assert logged[0].endswith(" KiB behind and was dropped")
        writer.close()
        stalled.close()
    finally:
        server.close()


async def test_what_a_watcher_sends_costs_nothing(feed_dir):
    server = make_server(feed_dir / "feed", [])
    await server.start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(feed_dir / "feed"))
        assert await read_some(reader, 6) == b"hello\n"
        writer.write(os.urandom(1 << 20))  # never read past the first few KiB
        server.broadcast(b"still here\n")
        assert await read_some(reader, 11) == b"still here\n"
        assert server.watchers[0].ignored < 1 << 20
        writer.transport.abort()
    finally:
        server.close()


async def test_one_watcher_more_than_the_limit_is_told_and_closed(feed_dir):
    server = make_server(feed_dir / "feed", [], max_watchers=2)
    await server.start()
    try:
        kept = []
        for _ in range(2):
            reader, writer = await asyncio.open_unix_connection(str(feed_dir / "feed"))
            assert await read_some(reader, 6) == b"hello\n"
            kept.append(writer)
        reader, _ = await asyncio.open_unix_connection(str(feed_dir / "feed"))
        assert await asyncio.wait_for(reader.read(), 10) == b"full\n"
        assert len(server.watchers) == 2
    finally:
        server.close()


def test_watch_on_a_missing_feed_is_one_line(feed_dir, capsys, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(feed_dir.parent))
    assert main(["watch", str(feed_dir / "nothing")]) == 1
    assert capsys.readouterr().err == (f"sshviz: error: no sshviz feed at {feed_dir / 'nothing'}: is `sshviz serve` "
                                       "running? (it prints where its feed is when it starts)\n")
    assert main(["watch", "2299"]) == 1  # a port: serve's default feed for it
    assert capsys.readouterr().err == (f"sshviz: error: no sshviz feed at {feed_dir.parent / 'sshviz' / 'feed-2299'}: "
                                       "is `sshviz serve` running? (it prints where its feed is when it starts)\n")


def test_watch_on_a_left_over_feed_is_one_line(feed_dir, capsys):
    feed_dir.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(feed_dir / "feed"))
    stale.close()
    assert main(["watch", str(feed_dir / "feed")]) == 1
    assert capsys.readouterr().err == f"sshviz: error: no sshviz serve at {feed_dir / 'feed'} any more (its feed is left over)\n"
    with pytest.raises(FeedPathError):
        connect_feed(feed_dir)
