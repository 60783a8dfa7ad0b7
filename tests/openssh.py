"""Helpers for tests against real OpenSSH programs: keys made with ssh-keygen, an sshd started
on a free loopback port with a temporary configuration, and the options that make OpenSSH's
clients talk to a test server without touching ~/.ssh.

    with Sshd(tmp_path, authorized_keys=[user_key.public_line]) as sshd:
        sshd.port, sshd.host_keys, sshd.known_hosts ...

Everything lives under the given temporary directory; nothing is left running.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"


def require(*programs: str) -> None:
    """Skip the test, saying which, when an OpenSSH program is not installed."""
    for program in programs:
        found = os.access(program, os.X_OK) if program.startswith("/") else shutil.which(program)
        if not found:
            pytest.skip(f"{program} is not installed (Debian packages openssh-client/openssh-server)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1 port {port} after {timeout} s")


def keygen(path: Path, key_type: str = "ed25519", comment: str = "sshviz test") -> tuple[Path, str]:
    """Make a key pair without a passphrase; returns (private key path, public key line)."""
    require("ssh-keygen")
    path = Path(path)
    for old in (path, Path(str(path) + ".pub")):  # ssh-keygen would ask before replacing
        old.unlink(missing_ok=True)
    args = ["ssh-keygen", "-q", "-N", "", "-t", key_type, "-C", comment, "-f", str(path)]
    if key_type == "rsa":
        args += ["-b", "2048"]
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL)
    return path, Path(str(path) + ".pub").read_text().strip()


class Sshd:
    """OpenSSH's sshd on 127.0.0.1, in the foreground, with its own keys and configuration."""

    def __init__(self, workdir: Path, authorized_keys: list[str], host_key_types=("ed25519",),
                 extra_config: list[str] | tuple = (), port: int | None = None,
                 user: str | None = None):
        require(SSHD)
        self.dir = Path(workdir) / "sshd"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.user = user or getpass.getuser()
        self.host_keys: dict[str, tuple[Path, str]] = {
            kind: keygen(self.dir / f"ssh_host_{kind}_key", kind, "sshviz test host")
            for kind in host_key_types}
        self.authorized_keys = self.dir / "authorized_keys"
        self.authorized_keys.write_text("".join(line + "\n" for line in authorized_keys))
        self.known_hosts = self.dir / "known_hosts"
        self.known_hosts.write_text("".join(f"[127.0.0.1]:{self.port} {line}\n"
                                            for _, line in self.host_keys.values()))
        self.config = self.dir / "sshd_config"
        lines = [f"ListenAddress 127.0.0.1:{self.port}",
                 *[f"HostKey {path}" for path, _ in self.host_keys.values()],
                 f"AuthorizedKeysFile {self.authorized_keys}",
                 f"PidFile {self.dir / 'sshd.pid'}",
                 "StrictModes no", "UsePAM no", "PasswordAuthentication no",
                 "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
                 "LogLevel ERROR", *extra_config]
        self.config.write_text("\n".join(lines) + "\n")
        self.log = self.dir / "sshd.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Sshd":
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        check = subprocess.run([SSHD, "-t", "-f", str(self.config)], capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(f"sshd rejected its test configuration: {check.stderr.strip()}")
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=self.log.open("wb"))
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> "Sshd":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def client_options(port: int, identity: Path, known_hosts: Path, port_flag: str = "-p") -> list[str]:
    """Options for OpenSSH's ssh (port_flag "-p") or sftp/scp ("-P") against a test server:
    only this identity, only this known_hosts, never a prompt."""
    return [port_flag, str(port), "-i", str(identity), "-F", "/dev/null",
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
