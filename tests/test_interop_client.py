"""The sshviz client against a real OpenSSH sshd, the host's (9.2 in CI) and Debian 13's 10.0
(the ``openssh`` fixture): every algorithm sshd has, every auth method, rekeying started by
either side, strict KEX, forwarding, and the sshviz command."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from dataclasses import dataclass

import pytest

from sshviz.auth.client import ClientAuthConfig
from sshviz.crypto.keyfiles import read_private_key
from sshviz.endpoint import ClientConfig, ClientConnection
from sshviz.events import AlgorithmsNegotiated, HostKeyChecked, KexComputed
from sshviz.net.adapter import open_client
from sshviz.scenario import SessionDriver
from sshviz.trace.model import Trace, TraceHeader, TraceRecorder
from sshviz.transport.transport import TransportConfig

from .conftest import assert_no_internal_error
from .openssh import (TEST_PASSWORD, TEST_USER, ensure_test_user, free_port, openssh,  # noqa: F401
                      shared_keys, sshd, sshviz_cli, stop, supported)

pytestmark = pytest.mark.interop

COMMAND = "echo out; echo err >&2; exit 7"


@dataclass
class Result:
    driver: SessionDriver
    client: ClientConnection
    trace: Trace

    def changes(self, kind):
        return [e for ev in self.trace.events for _, e in ev.changes if isinstance(e, kind)]


def connect(port: int, user: str = "root", keys=("ed25519",), passwords=(), command=COMMAND,
            timeout: float = 20, **transport) -> Result:
    key_objects = [read_private_key(str(shared_keys() / f"user_{k}")) for k in keys]
    config = ClientConfig(TransportConfig(**transport),
                          ClientAuthConfig(user=user, keys=key_objects, passwords=list(passwords)))
    client = ClientConnection(config)
    driver = SessionDriver(client, command)
    trace = Trace(TraceHeader("connect"))
    recorder = TraceRecorder("client", trace)

    def on_events(protocol, events):
        recorder.feed(events)
        for event in events:
            driver.handle(event)

    async def main():
        protocol = await open_client("127.0.0.1", port, client, on_events)
        await asyncio.wait_for(protocol.closed, timeout)

    asyncio.run(main())
    assert_no_internal_error(client)
    return Result(driver, client, trace)


def assert_ran(result: Result) -> None:
    assert result.driver.error is None, result.driver.error
    assert bytes(result.driver.stdout) == b"out\n"
    assert b"err\n" in bytes(result.driver.stderr)
    assert result.driver.exit_status == 7


# Every finite-field group sshviz has, named: OpenSSH 10's sshd offers none of them by default.
FINITE_FIELD = ["diffie-hellman-group-exchange-sha256", "diffie-hellman-group14-sha256",
                "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
                "diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1"]


@pytest.fixture(scope="module")
def server(openssh):
    extra = ["KexAlgorithms +" + ",".join(FINITE_FIELD + ["sntrup761x25519-sha512"]),
             "HostKeyAlgorithms +ssh-rsa", "PubkeyAcceptedAlgorithms +ssh-rsa",
             "Ciphers +aes192-ctr", "MACs +hmac-sha1,hmac-sha1-etm@openssh.com", "Compression yes"]
    with sshd(extra, host_keys=("ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"),
              authorized=("ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"), openssh=openssh) as s:
        yield s


KEX = ["mlkem768x25519-sha256", "sntrup761x25519-sha512@openssh.com", "sntrup761x25519-sha512",
       "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
       "ecdh-sha2-nistp521", "diffie-hellman-group-exchange-sha256", "diffie-hellman-group14-sha256",
       "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha1",
       "diffie-hellman-group1-sha1"]
HOST_KEYS = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"]
CIPHERS = ["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
           "aes128-ctr", "aes192-ctr", "aes256-ctr"]
MACS = ["hmac-sha2-256", "hmac-sha2-512", "hmac-sha1", "hmac-sha2-256-etm@openssh.com",
        "hmac-sha2-512-etm@openssh.com", "hmac-sha1-etm@openssh.com"]


def negotiated(result: Result) -> AlgorithmsNegotiated:
    return result.changes(AlgorithmsNegotiated)[0]


@pytest.mark.parametrize("kex", KEX)
def test_kex(openssh, server, kex):
    if kex not in supported(openssh, "kex"):
        pytest.skip(f"{openssh.ssh_version.split(',')[0]} has no {kex}")  # mlkem768x25519: 9.9 on
    result = connect(server.port, kex=[kex])
    assert_ran(result)
    assert negotiated(result).chosen("kex") == kex
    assert negotiated(result).strict_kex  # Debian's OpenSSH 9.2 has strict KEX (backported), 10.0 too


@pytest.mark.parametrize("host_key", HOST_KEYS)
def test_host_keys(server, host_key):
    result = connect(server.port, host_key_algorithms=[host_key])
    assert_ran(result)
    assert negotiated(result).chosen("host_key") == host_key


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("mac", MACS)
def test_ciphers_and_macs(server, cipher, mac):
    result = connect(server.port, ciphers=[cipher], macs=[mac])
    assert_ran(result)
    assert negotiated(result).chosen("cipher_s2c") == cipher


def test_delayed_compression(server):
    result = connect(server.port, compression=["zlib@openssh.com"])
    assert_ran(result)
    assert negotiated(result).chosen("compression_c2s") == "zlib@openssh.com"


@pytest.mark.parametrize("key", ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"])
def test_publickey_auth_with_each_key_type(server, key):
    assert_ran(connect(server.port, keys=(key,)))


def test_known_hosts_check_accepts_the_right_key_and_refuses_another(server):
    from sshviz.crypto.known_hosts import KnownHosts

    known = KnownHosts.load(str(server.known_hosts_file()))
    good = connect(server.port, verify_host_key=lambda k: known.check("127.0.0.1", server.port, k),
                   host_key_algorithms=["ssh-ed25519"])
    assert_ran(good)
    assert good.changes(HostKeyChecked)[0].status == "known"
    other = KnownHosts.parse(f"[127.0.0.1]:{server.port} " + (shared_keys() / "user_ed25519.pub").read_text())
    bad = connect(server.port, verify_host_key=lambda k: other.check("127.0.0.1", server.port, k),
                  host_key_algorithms=["ssh-ed25519"])
    assert bad.driver.error and "HAS CHANGED" in bad.driver.error
    assert bad.client.transport.disconnect_reason.reason == 9  # HOST_KEY_NOT_VERIFIABLE


@pytest.fixture(scope="module")
def pam_server(openssh):
    if not ensure_test_user(openssh):
        pytest.skip("password tests need root to create a local test user")
    with sshd(["KbdInteractiveAuthentication yes", "PasswordAuthentication yes"], pam=True,
              openssh=openssh) as s:
        yield s


def test_password_auth(pam_server):
    result = connect(pam_server.port, user=TEST_USER, keys=(), passwords=[TEST_PASSWORD],
                     command="id -un", timeout=30)
    assert result.driver.error is None
    assert bytes(result.driver.stdout) == f"{TEST_USER}\n".encode()


def test_keyboard_interactive_with_a_wrong_password_first(pam_server):
    from sshviz.events import AuthFailed, AuthSucceeded

    config_passwords = ["not the password", TEST_PASSWORD]
    result = connect(pam_server.port, user=TEST_USER, keys=(), passwords=config_passwords,
                     command="echo ok", timeout=60)
    assert bytes(result.driver.stdout) == b"ok\n"
    assert [e.method for e in result.changes(AuthFailed)][:2] == ["none", "keyboard-interactive"]
    assert result.changes(AuthSucceeded)[0].method == "keyboard-interactive"


def test_rekey_started_by_the_server_with_traffic_in_flight(openssh):
    with sshd(["RekeyLimit 32K"], openssh=openssh) as s:
        result = connect(s.port, command="head -c 400000 /dev/zero | tr '\\0' x")
        assert result.driver.error is None
        assert bytes(result.driver.stdout) == b"x" * 400000
        kexes = result.changes(KexComputed)
        assert len(kexes) >= 3
        assert all(k.session_id == kexes[0].H for k in kexes)


def test_rekey_started_by_the_client_with_traffic_in_flight(server):
    # The sleep keeps the session open until the exchange started mid-transfer has finished.
    result = connect(server.port, command="head -c 300000 /dev/zero | tr '\\0' y; sleep 0.5",
                     rekey_bytes=50_000)
    assert result.driver.error is None
    assert bytes(result.driver.stdout) == b"y" * 300000
    # How many rekeys depends on how much data was in flight while one ran; at least one,
    # and the client started it.
    assert len(result.changes(KexComputed)) >= 2
    kexinits = [e for e in result.trace.events if e.name == "KEXINIT"]
    assert kexinits[2].direction == "c2s"


def test_connect_command_prints_output_and_exits_with_status(server, tmp_path):
    known = server.known_hosts_file()
    run = sshviz_cli("connect", f"root@127.0.0.1", "-p", str(server.port), "-i",
                     str(shared_keys() / "user_ed25519"), "--known-hosts", str(known), "--exec", COMMAND)
    assert run.returncode == 7, run.stderr
    assert run.stdout == b"out\n"
    assert run.stderr.endswith(b"err\n")


def test_connect_refuses_an_unknown_host_in_one_line_and_learns_it_with_accept_new(server, tmp_path):
    known = tmp_path / "known_hosts"
    args = ["connect", "root@127.0.0.1", "-p", str(server.port), "-i", str(shared_keys() / "user_ed25519"),
            "--known-hosts", str(known), "--exec", "echo hi"]
    refused = sshviz_cli(*args)
    assert refused.returncode == 255
    assert b"not in" in refused.stderr and b"--accept-new" in refused.stderr
    assert b"Traceback" not in refused.stderr
    learned = sshviz_cli(*args, "--accept-new")
    assert learned.returncode == 0 and learned.stdout == b"hi\n"
    assert known.read_text().startswith("|1|")  # hashed, as OpenSSH writes by default
    again = sshviz_cli(*args)
    assert again.returncode == 0 and again.stdout == b"hi\n"


def test_local_forwarding_through_sshd(server):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    target_port = listener.getsockname()[1]

    def echo_once():
        conn, _ = listener.accept()
        with conn:
            data = conn.recv(100)
            conn.sendall(b"echo:" + data)

    threading.Thread(target=echo_once, daemon=True).start()
    local_port = free_port()
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "sshviz", "connect", "root@127.0.0.1", "-p", str(server.port),
                             "-i", str(shared_keys() / "user_ed25519"),
                             "--known-hosts", str(server.known_hosts_file()),
                             "-L", f"127.0.0.1:{local_port}:127.0.0.1:{target_port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", local_port), 1) as s:
                    s.sendall(b"ping")
                    assert s.recv(100) == b"echo:ping"
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, proc.stderr.read1() if proc.poll() is not None else "timeout"
                time.sleep(0.1)
    finally:
        stop(proc)
