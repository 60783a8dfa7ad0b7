"""``sshviz serve`` in a subprocess, for tests that treat it as a hostile classroom would: it
listens on a free loopback port, its output is collected line by line (so a chatty server never
blocks on a full pipe), and ``login`` is a real OpenSSH login from any loopback source address."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .openssh import SSH, require, shared_keys, ssh_command, stop

USER = "tester"
PASSWORD = "pw-for-hostile-tests"
PROJECT = Path(__file__).parent.parent


@dataclass
class Served:
    process: subprocess.Popen
    port: int
    directory: Path
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def alive(self) -> bool:
        return self.process.poll() is None

    def login(self, source: str = "127.0.0.1", command: str = "echo hello", timeout: float = 60
              ) -> subprocess.CompletedProcess:
        """OpenSSH's ssh from ``source`` with the shared Ed25519 key, running ``command``."""
        args = ssh_command(self.port, USER, self.directory, f"BindAddress={source}",
                           identity=shared_keys() / "user_ed25519", command=command)
        return subprocess.run(args, capture_output=True, timeout=timeout, input=b"", check=False)

    def wait_for_line(self, pattern: str, timeout: float = 10, stream: str = "stdout") -> str:
        """The first line of ``stream`` matching ``pattern``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        lines = self.stdout if stream == "stdout" else self.stderr
        while True:
            for line in list(lines):
                if re.search(pattern, line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no {stream} line matches {pattern!r}: {lines[-20:]}")
            time.sleep(0.05)


def _collect(stream, into: list[str]) -> None:
    for raw in iter(stream.readline, b""):
        into.append(raw.decode("utf-8", "replace").rstrip("\n"))


@contextlib.contextmanager
def serve(tmp_path: Path, *options: str, preexec_fn=None, env: dict | None = None,
          program: list[str] | None = None):
    """``sshviz serve --port 0`` for user ``tester`` (the shared Ed25519 key, or the password
    in ``SSHVIZ_TEST_PW``); yields a Served once it listens, stops it afterwards. ``program``
    replaces ``python -m sshviz`` (a script that plants a bug first, say)."""
    require(SSH)
    authorized = tmp_path / "authorized_keys"
    authorized.write_text((shared_keys() / "user_ed25519.pub").read_text())
    environment = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), SSHVIZ_TEST_PW=PASSWORD,
                       **(env or {}))
    process = subprocess.Popen([*(program or [sys.executable, "-m", "sshviz"]), "serve", "--port", "0", "--user", USER,
                                "--authorized-keys", str(authorized), "--password-env", "SSHVIZ_TEST_PW",
                                *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               env=environment, cwd=PROJECT, preexec_fn=preexec_fn)
    try:
        first = process.stdout.readline().decode()
        found = re.search(r"listening on \S+ port (\d+);", first)
        assert found, (first, process.stderr.read1(4096) if process.poll() is not None else b"")
        served = Served(process, int(found.group(1)), tmp_path)
        served.stdout.append(first.rstrip("\n"))
        for stream, into in ((process.stdout, served.stdout), (process.stderr, served.stderr)):
            threading.Thread(target=_collect, args=(stream, into), daemon=True).start()
        yield served
    finally:
        stop(process)


def hit_and_run(port: int, count: int, source: str = "127.0.0.1", payload: bytes = b"SSH-2.0-hit\r\n") -> int:
    """Connect ``count`` times, send ``payload`` and close at once without reading; returns how
    many connections were made before one was refused."""
    for done in range(count):
        try:
            with socket.create_connection(("127.0.0.1", port), 5, source_address=(source, 0)) as s:
                s.sendall(payload)
        except (ConnectionRefusedError, ConnectionResetError):
            return done
    return count


def first_bytes(sockets: list[socket.socket]) -> list[bytes]:
    """What each socket receives first: the server's version line, or b"" when it was closed."""
    seen = []
    for sock in sockets:
        sock.settimeout(15)
        try:
            seen.append(sock.recv(64))
        except ConnectionResetError:
            seen.append(b"")
    return seen


def hold_idle(addresses: list[str], port: int) -> list[socket.socket]:
    """Connections that never say anything, one per source address given."""
    return [socket.create_connection(("127.0.0.1", port), 10, source_address=(address, 0))
            for address in addresses]
