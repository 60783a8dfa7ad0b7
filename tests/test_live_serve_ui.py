"""``sshviz serve`` with the UI (headless, Pilot) against OpenSSH's ssh and sftp, asyncssh and
raw sockets: the connection list and the ladder show each session's messages as they arrive,
follow and pause, saving a connection as a trace, the client's HASSH against one computed here
from its KEXINIT, escaped client software, limit refusals in the list, and the channel limit."""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket

import pytest

from sshviz.trace.fileformat import load_trace
from sshviz.tui.screens.connections import ConnectionsScreen
from sshviz.tui.screens.session import LiveSessionScreen
from sshviz.wire.catalog import MSG

from .live_ui import SIZE, USER, live_app, port_of, run_process, serve_args, until
from .openssh import SSH, require, shared_keys, ssh_command
from .serving import serve
from .sftp_helpers import sftp_options

pytestmark = pytest.mark.interop


def kexinit_hassh(kexinit) -> str:
    """HASSH as its definition says, computed here: MD5 of the client's kex, cipher, MAC and
    compression lists (client to server), comma-joined, joined by ';'."""
    lists = [kexinit["kex_algorithms"], kexinit["encryption_algorithms_client_to_server"],
             kexinit["mac_algorithms_client_to_server"], kexinit["compression_algorithms_client_to_server"]]
    return hashlib.md5(";".join(",".join(names) for names in lists).encode()).hexdigest()


def ssh(port: int, tmp_path, command: str | None, *options: str, source: str = "127.0.0.1") -> list[str]:
    return ssh_command(port, USER, tmp_path, f"BindAddress={source}", *options,
                       identity=shared_keys() / "user_ed25519", command=command)


async def test_an_openssh_exec_appears_in_the_list_and_on_the_ladder_as_it_runs(tmp_path, monkeypatch):
    require(SSH)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("SSHVIZ_TRACES", str(tmp_path))
    app = live_app(serve_args(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        port = await port_of(app)
        assert isinstance(app.screen, ConnectionsScreen)
        status, out, err = await run_process(*ssh(port, tmp_path, "echo hello"))
        assert (status, out) == (0, b"hello\n"), err
        live = app.connections
        await until(pilot, lambda: live.connections and live.connections[0].closed, what="the connection closes")
        connection = live.connections[0]
        assert connection.user == USER
        assert connection.software.startswith("SSH-2.0-OpenSSH_")
        assert connection.bytes_in > 1000 and connection.bytes_out > 1000
        # The HASSH shown is the MD5 of OpenSSH's own KEXINIT lists, computed here.
        kexinit = next(e.message for e in connection.trace.events
                       if e.direction == "c2s" and e.message is not None and e.message.spec is MSG.KEXINIT)
        assert connection.offer.hassh == kexinit_hassh(kexinit)
        assert connection.offer.strict_kex
        await until(pilot, lambda: app.screen.query_one("DataTable").row_count == 1, what="the row")
        table = app.screen.query_one("DataTable")
        row = [str(cell) for cell in table.get_row("c1")]
        assert row[1].startswith("127.0.0.1:") and row[2] == USER and row[3].startswith("OpenSSH_")
        assert row[4] == connection.offer.hassh[:8]
        detail = str(app.screen.query_one("#offer-detail").render())
        assert connection.offer.hassh in detail
        # Watch it: the ladder holds every message, the newest selected (following).
        await pilot.press("enter")
        assert isinstance(app.screen, LiveSessionScreen)
        assert len(app.timeline) == len(connection.trace.events)
        assert app.timeline.position == len(app.timeline) - 1
        assert app.timeline.complete
        await pilot.press("v")
        await until(pilot, lambda: list(tmp_path.glob("sshviz-server-1-*.yaml")), what="the saved trace")
        await pilot.pause(0.5)
        saved = load_trace(next(tmp_path.glob("sshviz-server-1-*.yaml")))
        assert [e.name for e in saved.events] == [e.name for e in connection.trace.events]
        assert saved.header.client_version.startswith("SSH-2.0-OpenSSH_")
        await pilot.press("escape")
        assert isinstance(app.screen, ConnectionsScreen)


async def test_messages_arrive_while_watched_and_pause_keeps_the_selection(tmp_path, monkeypatch):
    """A client that logs in and stays (a shell waiting for input): its messages arrive on the
    ladder while it is watched; paused, the selection stays while the client goes on."""
    require(SSH)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    app = live_app(serve_args(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        port = await port_of(app)
        process = await asyncio.create_subprocess_exec(
            *ssh(port, tmp_path, None, "-T"), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        live = app.connections
        await until(pilot, lambda: live.connections and live.connections[0].state == "logged in: shell",
                    what="the login and the shell")
        await pilot.pause(0.5)
        await pilot.press("enter")
        assert isinstance(app.screen, LiveSessionScreen)
        before = len(app.timeline)
        process.stdin.write(b"echo one\n")
        await process.stdin.drain()
        # Following: the newest message is selected as it arrives.
        await until(pilot, lambda: app.timeline.position >= before, what="new messages on the ladder")
        await until(pilot, lambda: app.timeline.position == len(app.timeline) - 1, what="the newest selected")
        await pilot.press("f")  # pause
        assert not app.following
        held = app.timeline.position
        rows = len(app.timeline.rows)
        process.stdin.write(b"echo two\n")
        await process.stdin.drain()
        await until(pilot, lambda: len(app.timeline.rows) > rows, what="messages while paused")
        assert app.timeline.position == held
        assert "paused" in app.screen.query_one("#ladder-pane").border_title
        await pilot.press("f")  # follow again: to the newest
        assert app.timeline.position == len(app.timeline) - 1
        process.stdin.write(b"exit\n")
        await process.stdin.drain()
        out = await asyncio.wait_for(process.stdout.read(), 30)
        await process.wait()
        assert b"one" in out and b"two" in out
        await until(pilot, lambda: app.timeline.complete, what="the end of the session")


async def test_openssh_sftp_put_and_get_are_shown_and_the_files_are_whole(tmp_path, monkeypatch):
    require(SSH, "sftp")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root = tmp_path / "root"
    root.mkdir()
    data = bytes(range(256)) * 4096  # 1 MiB
    (tmp_path / "up.bin").write_bytes(data)
    app = live_app(serve_args(tmp_path, "--root", str(root)))
    async with app.run_test(size=SIZE) as pilot:
        port = await port_of(app)
        batch = f"put {tmp_path / 'up.bin'} up.bin\nget up.bin {tmp_path / 'down.bin'}\n".encode()
        # The server's host key is new to this known_hosts: accepted on first use.
        options = [("StrictHostKeyChecking=accept-new" if option == "StrictHostKeyChecking=yes" else option)
                   for option in sftp_options(port, shared_keys() / "user_ed25519", tmp_path / "known")]
        status, _, err = await run_process("sftp", "-b", "-", *options, f"{USER}@127.0.0.1", input=batch)
        assert status == 0, err
        assert (root / "up.bin").read_bytes() == data == (tmp_path / "down.bin").read_bytes()
        live = app.connections
        await until(pilot, lambda: live.connections and live.connections[0].closed, what="the close")
        connection = live.connections[0]
        assert connection.state != "" and connection.bytes_in > len(data)
        names = {e.name for e in connection.trace.events}
        assert "CHANNEL_DATA" in names
        await until(pilot, lambda: app.screen.query_one("DataTable").row_count == 1, what="the row")
        await pilot.press("enter")
        sftp = [e for e in app.timeline.events if any(type(c).__name__ == "SftpMessage" for _, c in e.changes)]
        assert sftp, "no SFTP packet under any CHANNEL_DATA"


async def test_escaped_client_software_and_a_limit_refusal_in_the_list(tmp_path, monkeypatch):
    """A client version line with a terminal escape and markup shows escaped, as text; the
    per-address limit's refusals are one row for the address, with their count."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    app = live_app(serve_args(tmp_path, "--per-source-max-startups", "2"))
    async with app.run_test(size=SIZE) as pilot:
        port = await port_of(app)
        sockets = []
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", port), 5, source_address=("127.0.3.1", 0))
            sock.sendall(b"SSH-2.0-Evil\x1b[31m[b]red[/b]\r\n")
            sockets.append(sock)
        for _ in range(3):  # refused: two startups already from that address
            with socket.create_connection(("127.0.0.1", port), 5, source_address=("127.0.3.1", 0)):
                pass
        live = app.connections
        await until(pilot, lambda: sum(r.count for r in live.refusals.values()) == 3
                    and all(c.software for c in live.connections[:2]), what="refusals and versions")
        await pilot.pause(0.5)
        table = app.screen.query_one("DataTable")
        software = str(table.get_row("c1")[3])
        assert software == "Evil\\x1b[31m[b]red[/b]"
        refusal = [str(cell) for cell in table.get_row(next(k for k in app.screen._shown if k.startswith("r")))]
        assert refusal[1] == "127.0.3.1"
        assert refusal[6].startswith("refused ×3: ") and "--per-source-max-startups" in refusal[6]
        assert any("refused" in line for line in live.log)
        for sock in sockets:
            sock.close()


async def test_too_many_channels_are_refused_cleanly_and_shown(tmp_path, monkeypatch):
    """asyncssh opens one session more than --max-channels allows: that one gets
    CHANNEL_OPEN_FAILURE with RESOURCE_SHORTAGE, the others work, and the list says so."""
    asyncssh = pytest.importorskip("asyncssh")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    app = live_app(serve_args(tmp_path, "--max-channels", "3"))
    async with app.run_test(size=SIZE) as pilot:
        port = await port_of(app)
        async with asyncssh.connect("127.0.0.1", port, username=USER, known_hosts=None,
                                    client_keys=[str(shared_keys() / "user_ed25519")]) as conn:
            held = [await conn.create_session(asyncssh.SSHClientSession) for _ in range(3)]
            with pytest.raises(asyncssh.ChannelOpenError) as refused:
                await conn.create_session(asyncssh.SSHClientSession)
            assert refused.value.code == asyncssh.OPEN_RESOURCE_SHORTAGE
            assert "too many channels" in refused.value.reason
            held[0][0].close()
            await held[0][0].wait_closed()
            result = await conn.run("echo again", check=True)  # a place is free again
            assert result.stdout == "again\n"
        live = app.connections
        await until(pilot, lambda: live.connections and live.connections[0].closed, what="the close")
        assert any("too many channels" in note for note in live.connections[0].notes)
        assert any("channel refused" in line and "--max-channels" in line for line in live.log)
        await pilot.pause(0.5)
        state = str(app.screen.query_one("DataTable").get_row("c1")[6])
        assert "too many channels" in state


def on_a_terminal(args: list[str], keys: bytes = b"", wait: float = 6.0) -> tuple[int, bytes]:
    """Run sshviz on a pseudo-terminal for ``wait`` seconds, type ``keys``; (status, output)."""
    import os
    import pty
    import select
    import sys
    import time

    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-m", "sshviz", *args])
    shown = b""
    deadline = time.monotonic() + wait
    typed = False
    while True:
        if time.monotonic() > deadline:
            if typed:
                os.kill(pid, 9)
                break
            os.write(fd, keys)
            typed, deadline = True, time.monotonic() + 20
        if select.select([fd], [], [], 0.1)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            shown += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown


def test_serve_on_a_terminal_opens_the_ui_and_q_stops_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("PW", "pw")
    status, shown = on_a_terminal(["serve", "--port", "0", "--user", USER, "--password-env", "PW"], b"q")
    assert status == 0
    assert b"listening on 127.0.0.1 port" in shown and b"connections (enter: watch one)" in shown
    log = (tmp_path / "state" / "sshviz" / "serve.log").read_text()
    assert "sshviz server listening on 127.0.0.1 port" in log


def test_serve_on_a_terminal_says_in_one_line_that_the_port_is_taken(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("PW", "pw")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, shown = on_a_terminal(["serve", "--port", str(port), "--user", USER, "--password-env", "PW"],
                                      wait=3)
    assert status == 1
    assert shown.replace(b"\r\n", b"\n").endswith(
        f"sshviz: error: cannot listen on 127.0.0.1 port {port}: Address already in use\n".encode())
    assert b"Traceback" not in shown


async def test_paramiko_and_scp_are_listed_with_their_software_and_offers(tmp_path, monkeypatch):
    """Other clients a class brings: paramiko (exec) and OpenSSH's scp (SFTP underneath since
    OpenSSH 9), each a row with its own software and HASSH."""
    paramiko = pytest.importorskip("paramiko")
    require("scp")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "file.txt").write_bytes(b"copied by scp\n")
    app = live_app(serve_args(tmp_path, "--root", str(root)))
    async with app.run_test(size=SIZE) as pilot:
        port = await port_of(app)

        def paramiko_exec() -> bytes:
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            client.connect("127.0.0.1", port, USER, key_filename=str(shared_keys() / "user_ed25519"),
                           look_for_keys=False, allow_agent=False)
            try:
                _, out, _ = client.exec_command("echo from paramiko")
                return out.read()
            finally:
                client.close()

        assert await asyncio.to_thread(paramiko_exec) == b"from paramiko\n"
        options = [("StrictHostKeyChecking=accept-new" if option == "StrictHostKeyChecking=yes" else option)
                   for option in sftp_options(port, shared_keys() / "user_ed25519", tmp_path / "known")]
        status, _, err = await run_process("scp", *options, str(tmp_path / "file.txt"), f"{USER}@127.0.0.1:copy.txt")
        assert status == 0, err
        assert (root / "copy.txt").read_bytes() == b"copied by scp\n"
        live = app.connections
        await until(pilot, lambda: len(live.connections) == 2 and all(c.closed for c in live.connections),
                    what="both connections closed")
        by_software = {c.software_text().split("_")[0]: c for c in live.connections}
        assert set(by_software) == {"paramiko", "OpenSSH"}
        assert by_software["paramiko"].offer.hassh != by_software["OpenSSH"].offer.hassh
        assert any(type(change).__name__ == "SftpMessage"  # scp spoke SFTP
                   for event in by_software["OpenSSH"].trace.events for _, change in event.changes)
        assert by_software["paramiko"].state.startswith("client ended")


async def test_a_login_past_the_sessions_per_user_limit_is_refused_and_shown(tmp_path, monkeypatch):
    require(SSH)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    app = live_app(serve_args(tmp_path, "--max-sessions-per-user", "1"))
    async with app.run_test(size=SIZE) as pilot:
        port = await port_of(app)
        first = await asyncio.create_subprocess_exec(
            *ssh(port, tmp_path, None, "-T"), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        live = app.connections
        await until(pilot, lambda: live.connections and live.connections[0].state.startswith("logged in"),
                    what="the first login")
        status, out, err = await run_process(*ssh(port, tmp_path, "echo second"))
        assert status == 255 and out == b""
        await until(pilot, lambda: len(live.connections) == 2 and live.connections[1].closed, what="the refusal")
        refused = live.connections[1]
        assert refused.notes == ["refused: already 1 connections (--max-sessions-per-user)"]
        assert refused.state.startswith("server ended: too many connections for this user")
        assert any("refused: already 1 connections" in line for line in live.log)
        await until(pilot, lambda: app.screen.query_one("DataTable").row_count == 2, what="the rows")
        await pilot.pause(0.4)
        assert "refused: already 1" in str(app.screen.query_one("DataTable").get_row("c2")[6])
        first.stdin.close()
        await asyncio.wait_for(first.wait(), 30)


@pytest.mark.parametrize("mode", ["--no-ui", "--print"])
def test_without_the_ui_serve_logs_each_clients_software_and_hassh(tmp_path, mode):
    require(SSH)
    with serve(tmp_path, mode, "--trace", str(tmp_path / "session.yaml")) as served:
        done = served.login(command="echo hi")
        assert done.returncode == 0, done.stderr
        line = served.wait_for_line(r"HASSH [0-9a-f]{32}")
        served.wait_for_line("trace saved to")
    trace = load_trace(tmp_path / "session.yaml")
    kexinit = next(e.message for e in trace.events if e.direction == "c2s" and e.spec is MSG.KEXINIT)
    assert re.search(rf"^127\.0\.0\.1:\d+: SSH-2\.0-OpenSSH_\S+( .*)? HASSH {kexinit_hassh(kexinit)}", line), line
    assert sum("HASSH" in line for line in served.stdout) == 1
