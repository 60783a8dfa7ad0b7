"""A class at once against `sshviz serve --accounts` with the UI running (headless): 50 OpenSSH
clients, each from its own loopback address, each running a command and putting and getting
4 MiB over SFTP with checksums, while one client sends garbage, one stalls after its version
line and another address opens 200 idle TCP connections. No failure, no corrupt file, and the
UI answers every key press with a frame throughout (the figures are printed; bench/live_load.py
measures them against sshd). Bounded: every client has a time limit."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics

import pytest

from sshviz.tui.screens.connections import ConnectionsScreen
from sshviz.tui.screens.session import LiveSessionScreen

from .live_ui import (KeyToFrame, live_app, port_of, serve_args, student_accounts, student_session,
                      until)
from .openssh import SSH, require
from .serving import hold_idle

pytestmark = [pytest.mark.slow, pytest.mark.interop]

STUDENTS = 50
SIZE = 4 * 1024 * 1024
IDLE = 200


def garbage(port: int) -> bytes:
    """Random bytes where a version line should be; returns what the server answered."""
    with socket.create_connection(("127.0.0.1", port), 10, source_address=("127.0.3.1", 0)) as sock:
        sock.sendall(os.urandom(4096))
        sock.settimeout(20)
        answer = b""
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except OSError:
            pass
        return answer


async def test_a_class_of_50_with_attackers_and_the_ui_answering(tmp_path, monkeypatch):
    require(SSH, "sftp")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    names = student_accounts(tmp_path / "accounts.yaml", STUDENTS)
    root = tmp_path / "root"
    root.mkdir()
    # MaxStartups above the class plus the 50 idle connections one address may hold.
    args = serve_args(tmp_path, "--accounts", str(tmp_path / "accounts.yaml"), "--root", str(root),
                      "--max-startups", "150:30:300")
    app = live_app(args)
    async with app.run_test(size=(120, 40)) as pilot:
        port = await port_of(app)
        clock = KeyToFrame(app)
        idle = await asyncio.to_thread(hold_idle, ["127.0.2.1"] * IDLE, port)
        stalled = socket.create_connection(("127.0.0.1", port), 10, source_address=("127.0.3.2", 0))
        stalled.sendall(b"SSH-2.0-stalls\r\n")
        garbage_task = asyncio.ensure_future(asyncio.to_thread(garbage, port))
        # The class runs from a thread and loop of its own: starting 100 programs from the UI's
        # loop would hold it up, as no class's laptops do.
        async def the_class() -> list[list[str]]:
            return await asyncio.gather(*(student_session(port, name, f"127.0.1.{number}", tmp_path, SIZE)
                                          for number, name in enumerate(names, 1)))

        students = asyncio.ensure_future(asyncio.to_thread(asyncio.run, the_class()))
        times = []
        try:
            # Key presses while the class works: the list's cursor, then one session's ladder.
            await until(pilot, lambda: app.screen.query_one("DataTable").row_count > 5, what="rows")
            table = app.screen.query_one("DataTable")
            for number in range(20):
                times.append(await clock.key("down" if number % 2 == 0 else "up", lambda: table.cursor_row))
            await pilot.press("enter")
            assert isinstance(app.screen, LiveSessionScreen)
            for number in range(20):
                if app.timeline.position == 0:
                    break
                times.append(await clock.key("p" if number % 2 == 0 else "n", lambda: app.timeline.position))
            await pilot.press("escape")
            assert isinstance(app.screen, ConnectionsScreen)
            while not students.done():
                times.append(await clock.key("down", lambda: table.cursor_row) if table.cursor_row == 0
                             else await clock.key("up", lambda: table.cursor_row))
                await asyncio.sleep(0.2)
            problems = [problem for student in await students for problem in student]
        finally:
            for sock in [*idle, stalled]:
                sock.close()
        answer = await garbage_task
        print(f"\nkey press to frame under load: median {statistics.median(times) * 1000:.1f} ms, "
              f"slowest {max(times) * 1000:.1f} ms over {len(times)} keys")
        assert not problems, problems
        for name in names:
            assert (root / name / "data.bin").stat().st_size == SIZE
        assert answer.startswith(b"SSH-2.0-") or answer == b""  # the server's line, then closed
        live = app.connections
        logged_in = [c for c in live.connections if c.user in names]
        assert len(logged_in) == 2 * STUDENTS  # an exec and an sftp each
        refused = {r.address: r.count for r in live.refusals.values()}
        assert refused == {"127.0.2.1": IDLE - 50}  # one address holds at most 50 startups
        await until(pilot, lambda: any("127.0.2.1" in str(table.get_row_at(row)[1])
                                       for row in range(table.row_count)), what="the refusal row")
        await pilot.press("q")
