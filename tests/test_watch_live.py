"""``sshviz watch`` on a real ``sshviz serve`` (a subprocess on loopback) with real OpenSSH
clients: the watch UI (headless, Pilot) shows the connection and its messages as they arrive,
a second watcher at the same time sees the same, a watcher that joins late gets the sessions
so far, a stalled watcher is dropped while sessions go on, the feed's permissions, and a
server that goes away is one line in the UI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
import tempfile
from pathlib import Path

import pytest

from sshviz.cli.watch import watcher
from sshviz.net.feed import connect_feed
from sshviz.trace.fileformat import load_trace
from sshviz.tui.live import LiveApp
from sshviz.tui.screens.connections import ConnectionsScreen
from sshviz.tui.screens.session import LiveSessionScreen

from .live_ui import SIZE, USER, live_app, port_of, run_process, serve_args, until
from .openssh import SSH, require, shared_keys, ssh_command
from .serving import serve

pytestmark = pytest.mark.interop


@pytest.fixture
def feed_dir():
    """A short directory (a Unix socket's path has at most 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="watch", dir="/tmp") as directory:
        yield Path(directory) / "private"


def ssh(port: int, tmp_path, command: str | None, *options: str) -> list[str]:
    return ssh_command(port, USER, tmp_path, *options, identity=shared_keys() / "user_ed25519", command=command)


def watch_app(path: Path) -> LiveApp:
    """``sshviz watch PATH``'s app, as the command makes it."""
    live, follow = watcher(connect_feed(path), path)
    return LiveApp(live, follow, title=f"watching {path}", in_thread=True)


class Headless:
    """What a watcher's follow() needs of an app, for a second watcher without a UI."""

    def __init__(self):
        self.titles: list[str] = []
        self.endings: list[str] = []

    def show_listening(self, text: str) -> None:
        self.titles.append(text)

    def from_server(self, function, *args) -> None:
        function(*args)

    def ended(self, text: str, error: bool = False) -> None:
        self.endings.append(text)


def shown(live) -> list:
    return [(c.number, c.peer, c.user, c.software, c.offer and c.offer.hassh, c.state_text(), c.bytes_in,
             c.bytes_out, [e.name for e in c.trace.events]) for c in live.connections]


async def test_watch_shows_an_openssh_session_as_it_happens_and_a_second_watcher_sees_the_same(
        tmp_path, feed_dir, monkeypatch):
    require(SSH)
    monkeypatch.setenv("SSHVIZ_TRACES", str(tmp_path))
    feed = feed_dir / "feed"
    with serve(tmp_path, "--feed", str(feed)) as served:
        line = served.wait_for_line("^feed for watchers")
        assert line == f"feed for watchers: {feed} (only you can open it): run `sshviz watch {feed}`"
        assert stat.S_IMODE(feed.stat().st_mode) == 0o600 and stat.S_IMODE(feed_dir.stat().st_mode) == 0o700
        app = watch_app(feed)
        other = Headless()
        other_live, other_follow = watcher(connect_feed(feed), feed)
        second = asyncio.ensure_future(other_follow(other))
        async with app.run_test(size=SIZE) as pilot:
            assert isinstance(app.screen, ConnectionsScreen)
            live = app.connections
            await until(pilot, lambda: "listening on 127.0.0.1 port" in app.sub_title, what="the title")
            process = await asyncio.create_subprocess_exec(
                *ssh(served.port, tmp_path, None, "-T"), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            await until(pilot, lambda: live.connections and live.connections[0].state == "logged in: shell",
                        what="the login and the shell")
            connection = live.connections[0]
            assert connection.user == USER and connection.software.startswith("SSH-2.0-OpenSSH_")
            assert connection.offer is not None and connection.offer.strict_kex
            await until(pilot, lambda: app.screen.query_one("DataTable").row_count == 1, what="the row")
            await pilot.press("enter")
            assert isinstance(app.screen, LiveSessionScreen)
            before = len(app.timeline)
            process.stdin.write(b"echo one\n")
            await process.stdin.drain()
            # The command's messages come onto the ladder while it is shown, the newest selected.
            await until(pilot, lambda: len(app.timeline) > before and app.timeline.position == len(app.timeline) - 1,
                        what="new messages on the ladder")
            assert any(e.name == "CHANNEL_DATA" and b"one" in e.message["data"]
                       for e in app.timeline.events[before:] if e.message is not None)
            process.stdin.write(b"exit\n")
            await process.stdin.drain()
            out = await asyncio.wait_for(process.stdout.read(), 30)
            await process.wait()
            assert b"one" in out
            await until(pilot, lambda: connection.closed and app.timeline.complete, what="the end of the session")
            assert connection.state.startswith("client ended: ") or connection.state == "closed"
            assert connection.bytes_in > 1000 and connection.bytes_out > 1000
            # Saving works as in serve's UI.
            await pilot.press("v")
            path = tmp_path / f"sshviz-server-1-{connection.peer.replace(':', '_')}.yaml"
            await until(pilot, path.exists, what="the saved trace")
            assert [e.name for e in load_trace(path).events] == [e.name for e in connection.trace.events]
            # The second watcher, without a UI, holds the same.
            await until(pilot, lambda: shown(other_live) == shown(live), what="the second watcher")
            # A watcher that joins now gets the session so far.
            late_live, late_follow = watcher(connect_feed(feed), feed)
            late = asyncio.ensure_future(late_follow(Headless()))
            await until(pilot, lambda: shown(late_live) == shown(live), what="the late watcher")
            # The server goes away: one line in the UI, which stays open.
            served.process.terminate()
            await until(pilot, lambda: any("the server stopped" in line for line in live.log), what="the end")
            assert list(live.log)[-1] == "the server stopped: what came stays here (q quits)"
            assert app.error is None and app.is_running
            await asyncio.wait_for(second, 10)
            await asyncio.wait_for(late, 10)
            assert other.endings == ["the server stopped: what came stays here (q quits)"]
            assert other.titles and other.titles[0].startswith("watching: listening on 127.0.0.1 port")
            # The title no longer says the server listens.
            assert other.titles[-1].startswith("the server stopped · was 127.0.0.1 port ")
            await until(pilot, lambda: app.listening.startswith("the server stopped · was 127.0.0.1 port "),
                        what="the title")


async def test_a_stalled_watcher_is_dropped_while_sessions_go_on(tmp_path, feed_dir):
    """A watcher that never reads: once it is --feed-buffer behind, serve drops it, says so,
    and the clients' sessions and the other watchers are not held up."""
    require(SSH)
    root = tmp_path / "root"
    root.mkdir()
    (root / "big").write_bytes(os.urandom(3 << 20))
    feed = feed_dir / "feed"
    with serve(tmp_path, "--feed", str(feed), "--feed-buffer", "1", "--full-data", "--root", str(root)) as served:
        served.wait_for_line("^feed for watchers")
        stalled = socket.socket(socket.AF_UNIX)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(str(feed))  # and never reads
        status, out, err = await run_process(*ssh(served.port, tmp_path, "cat /big"), timeout=120)
        assert status == 0 and out == (root / "big").read_bytes(), err
        line = served.wait_for_line("^feed: a watcher fell", stream="stderr", timeout=30)
        assert line.endswith(" KiB behind and was dropped")
        assert stalled.recv(1 << 20)  # what it was sent before...
        stalled.settimeout(10)
        with contextlib.suppress(ConnectionResetError):  # ... then the server let it go
            while stalled.recv(1 << 20):
                pass
        # Sessions go on, and a new watcher is served.
        status, out, _ = await run_process(*ssh(served.port, tmp_path, "echo again"))
        assert (status, out) == (0, b"again\n")
        live, follow = watcher(connect_feed(feed), feed)
        task = asyncio.ensure_future(follow(Headless()))
        for _ in range(200):
            if len(live.connections) == 2 and live.connections[1].closed:
                break
            await asyncio.sleep(0.05)
        assert [c.closed for c in live.connections] == [True, True]
        assert live.connections[0].bytes_out > 3 << 20
        task.cancel()


@pytest.mark.parametrize("mode", ["--no-ui", "--print"])
async def test_the_default_feed_is_in_the_runtime_directory_and_private(tmp_path, feed_dir, mode):
    # Without the UI, --feed with no path asks for the default feed (and no feed without it).
    require(SSH)
    feed_dir.mkdir(mode=0o700)
    with serve(tmp_path, mode, "--feed", env={"XDG_RUNTIME_DIR": str(feed_dir)}) as served:
        feed = feed_dir / "sshviz" / f"feed-{served.port}"
        line = served.wait_for_line("^feed for watchers")
        assert line == f"feed for watchers: {feed} (only you can open it): run `sshviz watch {served.port}`"
        assert stat.S_IMODE(feed.stat().st_mode) == 0o600
        assert stat.S_IMODE(feed.parent.stat().st_mode) == 0o700
        live, follow = watcher(connect_feed(feed), feed)
        task = asyncio.ensure_future(follow(Headless()))
        status, out, _ = await run_process(*ssh(served.port, tmp_path, "echo hi"))
        assert (status, out) == (0, b"hi\n")
        for _ in range(200):
            if live.connections and live.connections[0].closed:
                break
            await asyncio.sleep(0.05)
        assert live.connections[0].user == USER and live.connections[0].closed
        task.cancel()
    assert not feed.exists()


async def test_a_watcher_of_serve_with_its_ui_holds_what_that_ui_shows(tmp_path, feed_dir, monkeypatch):
    """serve's own UI (headless) and a watcher of it: the same list, the same traces."""
    require(SSH)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    feed = feed_dir / "feed"
    app = live_app(serve_args(tmp_path, "--feed", str(feed)))
    async with app.run_test(size=SIZE) as pilot:
        port = await port_of(app)
        await until(pilot, feed.exists, what="the feed")
        live, follow = watcher(connect_feed(feed), feed)
        other = Headless()
        task = asyncio.ensure_future(follow(other))
        for command in ("echo one", "whoami"):
            status, _, err = await run_process(*ssh(port, tmp_path, command))
            assert status == 0, err
        served = app.connections
        await until(pilot, lambda: len(served.connections) == 2 and all(c.closed for c in served.connections),
                    what="both sessions")
        await until(pilot, lambda: shown(live) == shown(served), what="the watcher")
        assert [c.state for c in live.connections][0].startswith("client ended: ")
        assert other.titles[-1] == f"watching: {app.listening}"
        task.cancel()


def test_without_the_ui_serve_publishes_no_feed_unless_asked(tmp_path, feed_dir):
    require(SSH)
    feed_dir.mkdir(mode=0o700)
    with serve(tmp_path, "--no-ui", env={"XDG_RUNTIME_DIR": str(feed_dir)}) as served:
        status, out, _ = asyncio.run(run_process(*ssh(served.port, tmp_path, "echo hi")))
        assert (status, out) == (0, b"hi\n")
        assert not (feed_dir / "sshviz" / f"feed-{served.port}").exists()
        assert not any(line.startswith("feed for watchers") for line in served.stdout)
