"""``sshviz serve`` with its UI running headless (Pilot) in the test's own loop, for tests that
run real clients against it: the server is the CLI's own code (``run_serve``), started by the
app as the command starts it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from pathlib import Path

from sshviz.cli import build_parser
from sshviz.cli.serve import run_serve
from sshviz.presentation.live import LiveConnections
from sshviz.tui.live import LiveApp

from .openssh import shared_keys

USER = "tester"
SIZE = (120, 40)


def serve_args(tmp_path: Path, *options: str):
    """serve's parsed options: --port 0, user ``tester`` with the shared Ed25519 key, unless
    ``options`` name --accounts."""
    who = [] if "--accounts" in options else ["--user", USER, "--authorized-keys", str(authorized(tmp_path))]
    return build_parser("serve").parse_args(["serve", "--port", "0", "--workers", "1", *who, *options])


def authorized(tmp_path: Path) -> Path:
    path = tmp_path / "authorized_keys"
    path.write_text((shared_keys() / "user_ed25519.pub").read_text())
    return path


def live_app(args) -> LiveApp:
    live = LiveConnections("server", "serve")
    return LiveApp(live, lambda app: run_serve(args, live, app))


async def port_of(app: LiveApp, timeout: float = 20) -> int:
    """The port the server listens on, from its first log line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in app.connections.log:
            found = re.search(r"listening on \S+ port (\d+);", line)
            if found:
                return int(found.group(1))
        if app.error is not None:
            raise app.error
        await asyncio.sleep(0.05)
    raise AssertionError(f"the server did not start: {list(app.connections.log)}")


async def until(pilot, condition, timeout: float = 30, what: str = "") -> None:
    """Wait (letting the app run) until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}: "
                                 f"{[(c.peer, c.state, c.notes) for c in pilot.app.connections.connections]} "
                                 f"{list(pilot.app.connections.log)[-5:]}")
        await pilot.pause(0.05)


async def run_process(*argv: str, input: bytes = b"", timeout: float = 120, env=None) -> tuple[int, bytes, bytes]:
    """A program run without blocking the loop (the server and the UI share it)."""
    process = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE,
                                                   stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE, env=env)
    try:
        out, err = await asyncio.wait_for(process.communicate(input), timeout)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    return process.returncode, out, err
