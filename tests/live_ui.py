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
    return LiveApp(live, lambda app: run_serve(args, live, app), in_thread=True)  # as serve runs it


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


class FrameRecorder:
    """Counts the frames Textual hands over and when the last one was (rendering each as a
    terminal would, so a headless run costs what a real one does)."""

    def __init__(self, app):
        self.app = app
        self.frames = 0
        self.last = 0.0
        original = app._display

        def display(screen, renderable):
            original(screen, renderable)
            if renderable is not None:
                render = getattr(renderable, "render_segments", None)
                if render is not None:
                    render(app.console)
                self.last = time.perf_counter()
                self.frames += 1

        app._display = display

    def send_key(self, key: str) -> float:
        """Deliver ``key`` as the terminal driver does; returns when it was sent."""
        from textual import events

        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(self.app)
        started = time.perf_counter()
        self.app._driver.send_message(event)
        return started


class KeyToFrame(FrameRecorder):
    """Key press to frame while the screen keeps changing (live traffic redraws it): a key is
    sent as the terminal driver delivers it; it has been handled once ``changed()`` (what the
    key changes) differs; the time is that of the first frame Textual hands over after that."""

    async def key(self, key: str, changed, timeout: float = 10.0) -> float:
        """Seconds from sending ``key`` to the first frame after it took effect."""
        before = changed()
        started = self.send_key(key)
        deadline = started + timeout
        while changed() == before:
            if time.perf_counter() > deadline:
                raise AssertionError(f"the key {key!r} was not handled in {timeout:g} s")
            await asyncio.sleep(0.0005)
        frames = self.frames
        while self.frames == frames:
            if time.perf_counter() > deadline:
                raise AssertionError(f"no frame after the key {key!r} in {timeout:g} s")
            await asyncio.sleep(0.0005)
        return self.last - started


def student_accounts(path: Path, count: int) -> list[str]:
    """An accounts file of ``count`` students (s01, s02, ...), each with the shared Ed25519 key."""
    from sshviz.auth.accounts import Account, dump_accounts

    key = (shared_keys() / "user_ed25519.pub").read_text().strip()
    names = [f"s{number:02d}" for number in range(1, count + 1)]
    path.write_text(dump_accounts({name: Account(name, None, [key]) for name in names}))
    return names


async def student_session(port: int, name: str, source: str, directory: Path, size: int) -> list[str]:
    """One student: an exec, then an SFTP put and get of ``size`` random bytes, from ``source``;
    returns what went wrong (nothing: an empty list)."""
    import hashlib
    import os

    from .openssh import ssh_command
    from .sftp_helpers import sftp_options

    problems = []
    directory = directory / name  # its own known_hosts files and transfers
    directory.mkdir(exist_ok=True)
    status, out, err = await run_process(*ssh_command(port, name, directory, f"BindAddress={source}",
                                                      identity=shared_keys() / "user_ed25519",
                                                      command=f"echo hello {name}"))
    if (status, out) != (0, f"hello {name}\n".encode()):
        problems.append(f"{name} exec: {status} {out[-100:]!r} {err[-300:]!r}")
    data = os.urandom(size)
    upload, download = directory / f"{name}.up", directory / f"{name}.down"
    upload.write_bytes(data)
    options = [("StrictHostKeyChecking=no" if o == "StrictHostKeyChecking=yes" else o)
               for o in sftp_options(port, shared_keys() / "user_ed25519", directory / "known_hosts_sftp")]
    batch = f"put {upload} data.bin\nget data.bin {download}\n".encode()
    status, _, err = await run_process("sftp", "-b", "-", "-o", f"BindAddress={source}", *options,
                                       f"{name}@127.0.0.1", input=batch, timeout=300)
    if status != 0:
        problems.append(f"{name} sftp: {status} {err[-300:]!r}")
    elif hashlib.sha256(download.read_bytes()).digest() != hashlib.sha256(data).digest():
        problems.append(f"{name} sftp: the file came back different")
    return problems
