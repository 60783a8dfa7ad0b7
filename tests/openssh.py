"""Helpers for tests that talk to real OpenSSH programs: a temporary sshd, the ssh client with
throwaway known_hosts, an sshviz server on a free loopback port, and a password-only test user.

Every helper makes its own keys and configs in a temporary directory. When OpenSSH is missing,
``require`` skips with the reason (scripts/test installs it from Debian's packages).

Two OpenSSH installations: the host's (Debian 12's 9.2 in CI) and Debian 13's 10.0 from the root
filesystem of tests/rootfs.py. The ``openssh`` fixture runs a test with each (ids
``openssh-host`` and ``openssh10``); ``sshd``, ``ssh_command`` and ``ensure_test_user`` take the
installation (the host's when not given). ssh-keygen is always the host's: the key files are the
same for both."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .rootfs import DEBIAN13, HOST, Programs

SSHD = "/usr/sbin/sshd"
SSH = shutil.which("ssh") or "/usr/bin/ssh"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
TEST_USER = "sshviztest"
TEST_PASSWORD = "pw-Interop-1"


OPENSSH_IDS = {HOST: "openssh-host", DEBIAN13: "openssh10"}


@pytest.fixture(scope="module", params=[HOST, DEBIAN13], ids=OPENSSH_IDS.get)
def openssh(request) -> Programs:
    """The OpenSSH installation to test against (import it into a test module to use it): the
    host's, then Debian 13's, which skips when it cannot run here or is the host's own version
    (a Debian 13 host)."""
    programs = request.param
    programs.require("/usr/sbin/sshd", "/usr/bin/ssh")
    if programs is not HOST and programs.ssh_version.split(" ")[0] == HOST.ssh_version.split(" ")[0]:
        pytest.skip(f"the host's OpenSSH is {HOST.ssh_version.split(',')[0]} already")
    return programs


def require(*programs: str) -> None:
    for program in programs:
        if not (os.path.exists(program) or shutil.which(program)):
            pytest.skip(f"{program} is not installed (scripts/test installs OpenSSH from Debian's packages)")


@functools.cache
def _queried(openssh: Programs, what: str) -> frozenset[str]:
    done = subprocess.run(openssh.argv(SSH if openssh is HOST else "/usr/bin/ssh", "-Q", what),
                          capture_output=True, text=True, timeout=30)
    return frozenset(done.stdout.split())


def supported(openssh: Programs, what: str) -> frozenset[str]:
    """The algorithms of a kind (kex, cipher, mac, key, ...) ``openssh``'s ssh knows: ``ssh -Q``."""
    return _queried(openssh, what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port}")


def keygen(directory: Path, name: str, key_type: str, bits: int | None = None) -> Path:
    path = directory / name
    if not path.exists():
        args = [SSH_KEYGEN, "-q", "-N", "", "-C", f"{name}@sshviz-test", "-t", key_type, "-f", str(path)]
        if bits:
            args += ["-b", str(bits)]
        subprocess.run(args, check=True)
    return path


_KEYS_DIR: Path | None = None


def shared_keys() -> Path:
    """One directory of keys per test run: host keys of each type and user keys of each type."""
    global _KEYS_DIR
    if _KEYS_DIR is None:
        _KEYS_DIR = Path(tempfile.mkdtemp(prefix="sshviz-keys-"))
        for kind, key_type, bits in (("ed25519", "ed25519", None), ("ecdsa256", "ecdsa", 256),
                                     ("ecdsa384", "ecdsa", 384), ("ecdsa521", "ecdsa", 521),
                                     ("rsa", "rsa", 2048)):
            keygen(_KEYS_DIR, f"host_{kind}", key_type, bits)
            keygen(_KEYS_DIR, f"user_{kind}", key_type, bits)
    return _KEYS_DIR


def ensure_test_user(openssh: Programs = HOST) -> bool:
    """A local user with a known password, for password and keyboard-interactive auth against
    sshd (of the root filesystem: a user there). Needs root; returns False (callers skip)
    otherwise."""
    if os.geteuid() != 0:
        return False
    if subprocess.run(openssh.argv("/usr/bin/id", TEST_USER), capture_output=True).returncode != 0:
        subprocess.run(openssh.argv("/usr/sbin/useradd", "-m", "-s", "/bin/sh", TEST_USER), check=True,
                       capture_output=True)
    subprocess.run(openssh.argv("/usr/sbin/chpasswd"), input=f"{TEST_USER}:{TEST_PASSWORD}\n", text=True,
                   check=True)
    return True


@dataclass
class SshdServer:
    port: int
    directory: Path
    process: subprocess.Popen
    host_keys: list[Path]
    log: Path

    def known_hosts_file(self) -> Path:
        """A known_hosts file naming this server's host keys."""
        path = self.directory / "known_hosts"
        lines = [f"[127.0.0.1]:{self.port} {(Path(str(k) + '.pub')).read_text().split(' ', 2)[0]} "
                 f"{(Path(str(k) + '.pub')).read_text().split()[1]}" for k in self.host_keys]
        path.write_text("\n".join(lines) + "\n")
        return path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def sshd(extra: list[str] | None = None, host_keys: tuple[str, ...] = ("ed25519", "ecdsa256", "rsa"),
         authorized: tuple[str, ...] = ("ed25519", "ecdsa256", "rsa"), pam: bool = False,
         subsystem: str = "internal-sftp", openssh: Programs = HOST):
    """A real OpenSSH sshd (of ``openssh``) on a free loopback port with a temporary config;
    ``subsystem`` is its SFTP server (internal-sftp, or a program such as
    /usr/lib/openssh/sftp-server)."""
    require(SSH_KEYGEN)
    openssh.require(SSHD)
    if openssh is HOST:
        os.makedirs("/run/sshd", exist_ok=True)
    keys = shared_keys()
    directory = Path(tempfile.mkdtemp(prefix="sshviz-sshd-"))
    authorized_keys = directory / "authorized_keys"
    authorized_keys.write_text("".join((keys / f"user_{k}.pub").read_text() for k in authorized))
    port = free_port()
    host_key_paths = [keys / f"host_{k}" for k in host_keys]
    config = directory / "sshd_config"
    lines = [f"Port {port}", "ListenAddress 127.0.0.1",
             *[f"HostKey {p}" for p in host_key_paths],
             f"AuthorizedKeysFile {authorized_keys}", "StrictModes no",
             f"UsePAM {'yes' if pam else 'no'}", "PermitRootLogin yes",
             f"PidFile {directory / 'pid'}", "LogLevel VERBOSE",
             f"Subsystem sftp {subsystem}", *(extra or [])]
    config.write_text("\n".join(lines) + "\n")
    log = directory / "log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(openssh.argv(SSHD, "-D", "-e", "-f", str(config)), stdout=log_file,
                                   stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield SshdServer(port, directory, process, host_key_paths, log)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        shutil.rmtree(directory, ignore_errors=True)


def askpass_env(password: str, directory: Path) -> dict:
    """Environment that makes OpenSSH's ssh read a password from a script, without a tty."""
    script = directory / "askpass.sh"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' '{password}'\n")
    script.chmod(0o700)
    env = dict(os.environ, SSH_ASKPASS=str(script), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    return env


def ssh_command(port: int, user: str, directory: Path, *options: str, identity: Path | None = None,
                command: str | None = None, openssh: Programs = HOST) -> list[str]:
    """OpenSSH's ssh (of ``openssh``) to ``user``@127.0.0.1, with a known_hosts file in
    ``directory`` (which must be under the temporary directory for the root filesystem's)."""
    args = ["-p", str(port)]
    # ssh keeps the first value given for an option, so the caller's come first.
    for option in options:
        args += ["-o", option] if "=" in option and not option.startswith("-") else [option]
    args += ["-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={directory / 'ssh_known_hosts'}",
             "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-F", "/dev/null"]
    if identity is not None:
        args += ["-i", str(identity), "-o", "IdentitiesOnly=yes"]
    args.append(f"{user}@127.0.0.1")
    if command is not None:
        args.append(command)
    return openssh.argv(SSH if openssh is HOST else "/usr/bin/ssh", *args)


@dataclass
class ServerThread:
    """An sshviz server (the asyncio adapter) on a free loopback port, in a background thread."""

    port: int
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    connections: list = field(default_factory=list)  # every ServerConnection made

    def internal_errors(self) -> list[str]:
        return [c.internal_error for c in self.connections if c.internal_error]


@contextlib.contextmanager
def sshviz_server(make_config, allow_forward=None):
    """Run ``make_config()`` -> ServerConfig per connection behind the asyncio adapter."""
    from sshviz.endpoint import ServerConnection
    from sshviz.net.adapter import start_server

    port = free_port()
    loop = asyncio.new_event_loop()
    state = ServerThread(port, loop, None)  # type: ignore[arg-type]
    ready = threading.Event()

    def make():
        connection = ServerConnection(make_config())
        state.connections.append(connection)
        return connection

    async def main():
        server = await start_server("127.0.0.1", port, make, allow_forward=allow_forward)
        ready.set()
        async with server:
            await server.serve_forever()

    def run():
        asyncio.set_event_loop(loop)
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            loop.run_until_complete(main())

    state.thread = threading.Thread(target=run, daemon=True)
    state.thread.start()
    ready.wait(10)
    try:
        yield state
    finally:
        for task in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(task.cancel)
        state.thread.join(5)


def sshviz_cli(*args: str, env: dict | None = None, timeout: float = 60, input: bytes | None = None):
    """Run the sshviz command in a subprocess (as users do)."""
    return subprocess.run([sys.executable, "-m", "sshviz", *args], capture_output=True, timeout=timeout,
                          env=env, input=input, cwd=Path(__file__).parent.parent)


def stop(process: subprocess.Popen, timeout: float = 5.0) -> None:
    """Ask a helper process to end, and make sure it does."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
