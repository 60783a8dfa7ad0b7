"""OpenSSH's ssh client, the host's (9.2 in CI) and Debian 13's 10.0 (the ``openssh`` fixture),
against the sshviz server: algorithms, auth methods, exec, shells with and without a pty,
rekeying, forwarding, and the `sshviz serve` command itself."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from sshviz.auth.passwords import hash_password
from sshviz.auth.server import ServerAuthConfig, UserRecord
from sshviz.connection.layer import ConnectionConfig
from sshviz.crypto.keyfiles import read_private_key, read_public_key
from sshviz.endpoint import ServerConfig
from sshviz.fs import ConfinedFS
from sshviz.transport.transport import TransportConfig

from .openssh import (askpass_env, free_port, openssh, shared_keys, ssh_command,  # noqa: F401
                      sshviz_cli, sshviz_server, stop, supported, wait_for_port)

pytestmark = pytest.mark.interop
USER = "tester"
PASSWORD = "s3cret-for-tests"


@pytest.fixture(scope="module")
def world(openssh):
    keys = shared_keys()
    directory = Path(tempfile.mkdtemp(prefix="sshviz-server-test-"))
    root = directory / "root"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("hello file\n")
    (root / "big.txt").write_bytes(b"0123456789abcdef" * 25_000)  # 400 KB
    host_keys = [read_private_key(str(keys / f"host_{k}")) for k in ("ed25519", "ecdsa256", "ecdsa384",
                                                                       "ecdsa521", "rsa")]
    authorized = [read_public_key(str(keys / f"user_{k}.pub"))[0]
                  for k in ("ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa")]
    password_hash = hash_password(PASSWORD)
    return {"dir": directory, "root": root, "host_keys": host_keys, "authorized": authorized,
            "password_hash": password_hash, "openssh": openssh}


def make_config(world, banner=None, allow_forwarding=False, **transport):
    def build():
        return ServerConfig(
            TransportConfig(host_keys=world["host_keys"], **transport),
            ServerAuthConfig(users={USER: UserRecord(world["password_hash"], world["authorized"])},
                             banner=banner),
            ConnectionConfig(allow_forwarding=allow_forwarding),
            ConfinedFS(str(world["root"])))
    return build


@pytest.fixture(scope="module")
def server(world):
    with sshviz_server(make_config(world)) as s:
        yield s
        assert s.internal_errors() == []


def ssh(world, port, *options, key="ed25519", command="echo out; echo err; nosuch; exit 7",
        env=None, input=None, timeout=30):
    identity = shared_keys() / f"user_{key}" if key else None
    args = ssh_command(port, USER, world["dir"], *options, identity=identity, command=command,
                       openssh=world["openssh"])
    return subprocess.run(args, capture_output=True, timeout=timeout, env=env,
                          input=input if input is not None else b"", check=False)


def assert_exec_ok(result):
    assert result.returncode == 7, result.stderr
    assert result.stdout == b"out\nerr\n"
    assert b"nosuch: command not found" in result.stderr


KEX = ["mlkem768x25519-sha256", "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
       "ecdh-sha2-nistp521", "diffie-hellman-group-exchange-sha256", "diffie-hellman-group14-sha256",
       "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"]


@pytest.mark.parametrize("kex", KEX)
def test_kex(world, server, kex):
    if kex not in supported(world["openssh"], "kex"):
        pytest.skip(f"{world['openssh'].ssh_version.split(',')[0]} has no {kex}")  # mlkem768x25519: 9.9 on
    assert_exec_ok(ssh(world, server.port, f"KexAlgorithms={kex}"))


@pytest.mark.parametrize("kex", ["sntrup761x25519-sha512@openssh.com", "sntrup761x25519-sha512"])
def test_sntrup761_when_offered(world, kex):
    """OpenSSH 9.x's default key exchange, under either name, once the server offers it."""
    with sshviz_server(make_config(world, kex=[kex, "curve25519-sha256"])) as s:
        result = ssh(world, s.port, f"KexAlgorithms={kex}", "LogLevel=DEBUG1")
        assert_exec_ok(result)
        assert f"kex: algorithm: {kex}".encode() in result.stderr
        assert s.internal_errors() == []


def test_sshviz_serve_with_sntrup761_is_what_openssh_chooses(world, tmp_path):
    """`serve --kex` offering sntrup761: OpenSSH 9.x's ssh, left to its defaults, picks it (its
    server-side arithmetic runs in serve's worker processes)."""
    port = free_port()
    authorized = tmp_path / "authorized_keys"
    authorized.write_text((shared_keys() / "user_ed25519.pub").read_text())
    proc = subprocess.Popen([sys.executable, "-m", "sshviz", "serve", "--port", str(port), "--user", USER,
                             "--authorized-keys", str(authorized), "--root", str(world["root"]),
                             "--kex", "sntrup761x25519-sha512@openssh.com,curve25519-sha256"],
                            env=dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).parent.parent)
    try:
        wait_for_port(port)
        result = ssh(world, port, "LogLevel=DEBUG1", command="echo served")
        assert result.stdout == b"served\n", result.stderr
        assert b"kex: algorithm: sntrup761x25519-sha512@openssh.com" in result.stderr
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert b"Traceback" not in err


@pytest.mark.parametrize("kex", ["diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1"])
def test_legacy_sha1_kex_only_when_configured(world, server, kex):
    refused = ssh(world, server.port, f"KexAlgorithms={kex}", "LogLevel=INFO")
    assert refused.returncode == 255
    assert b"no matching key exchange method" in refused.stderr  # ssh sees our offer lacks it
    with sshviz_server(make_config(world, kex=[kex])) as s:
        assert_exec_ok(ssh(world, s.port, f"KexAlgorithms={kex}"))


@pytest.mark.parametrize("host_key", ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                                      "ecdsa-sha2-nistp521", "rsa-sha2-256", "rsa-sha2-512"])
def test_host_keys(world, server, host_key):
    assert_exec_ok(ssh(world, server.port, f"HostKeyAlgorithms={host_key}"))


def test_legacy_ssh_rsa_host_key_when_configured(world):
    with sshviz_server(make_config(world, host_key_algorithms=["ssh-rsa"])) as s:
        assert_exec_ok(ssh(world, s.port, "HostKeyAlgorithms=ssh-rsa"))


@pytest.mark.parametrize("cipher", ["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com",
                                    "aes256-gcm@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr"])
@pytest.mark.parametrize("mac", ["hmac-sha2-256", "hmac-sha2-512", "hmac-sha1", "hmac-sha2-256-etm@openssh.com",
                                 "hmac-sha2-512-etm@openssh.com", "hmac-sha1-etm@openssh.com"])
def test_ciphers_and_macs(world, server, cipher, mac):
    assert_exec_ok(ssh(world, server.port, f"Ciphers={cipher}", f"MACs={mac}"))


def test_delayed_zlib_compression(world, server):
    assert_exec_ok(ssh(world, server.port, "Compression=yes"))


def test_plain_zlib_compression(world):
    # OpenSSH's ssh offers plain zlib (compression from the first packet on) up to 9.x; 10.0's
    # offers zlib@openssh.com only, so with a server that has nothing else the negotiation
    # fails, and ssh says why.
    with sshviz_server(make_config(world, compression=["zlib"])) as s:
        if "zlib" in supported(world["openssh"], "compression"):
            assert_exec_ok(ssh(world, s.port, "Compression=yes"))
        else:
            refused = ssh(world, s.port, "Compression=yes", "LogLevel=INFO")
            assert refused.returncode == 255 and refused.stdout == b""
            assert b"no matching compression method found. Their offer: zlib\r\n" in refused.stderr


@pytest.mark.parametrize("key", ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"])
def test_publickey_auth(world, server, key):
    assert_exec_ok(ssh(world, server.port, key=key))


@pytest.mark.parametrize("method", ["password", "keyboard-interactive"])
def test_password_methods(world, server, method):
    env = askpass_env(PASSWORD, world["dir"])
    result = ssh(world, server.port, f"PreferredAuthentications={method}", "PubkeyAuthentication=no",
                 key=None, env=env, command="whoami")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{USER}\n".encode()


def test_wrong_password_then_right(world, server):
    counter = world["dir"] / "attempts"
    counter.write_text("")
    script = world["dir"] / "askpass-twice.sh"
    script.write_text(f"#!/bin/sh\necho x >> {counter}\n"
                      f"if [ $(wc -l < {counter}) -eq 1 ]; then echo wrong; else echo '{PASSWORD}'; fi\n")
    script.chmod(0o700)
    env = dict(askpass_env(PASSWORD, world["dir"]), SSH_ASKPASS=str(script))
    result = ssh(world, server.port, "PreferredAuthentications=password", "PubkeyAuthentication=no",
                 key=None, env=env, command="echo in")
    assert result.returncode == 0 and result.stdout == b"in\n", result.stderr
    assert counter.read_text().count("x") == 2


def test_banner_is_shown(world):
    with sshviz_server(make_config(world, banner="Welcome to the sshviz test server\n")) as s:
        result = ssh(world, s.port, "LogLevel=INFO", command="echo ok")
        assert result.stdout == b"ok\n"
        assert b"Welcome to the sshviz test server" in result.stderr


def test_interactive_shell_with_a_pty(world, server):
    result = ssh(world, server.port, "-tt", command=None,
                 input=b"echo hello from the pty\rcd docs\rpwd\rexit 3\r")
    assert result.returncode == 3, result.stderr
    text = result.stdout.replace(b"\r", b"")
    assert b"hello from the pty\n" in text
    assert b"/docs\n" in text


def test_shell_without_a_pty_reads_lines_until_eof(world, server):
    result = ssh(world, server.port, "-T", command=None, input=b"echo one\nwhoami\n")
    assert result.returncode == 0, result.stderr
    assert b"one\ntester\n" in result.stdout


def test_files_inside_the_root_only(world, server):
    result = ssh(world, server.port, command="cat /docs/a.txt; cat ../../etc/passwd; ls /")
    assert b"hello file\n" in result.stdout
    assert b"root:" not in result.stdout
    assert b"No such file or directory" in result.stderr


def test_rekey_started_by_openssh_with_traffic_in_flight(world, server):
    result = ssh(world, server.port, "RekeyLimit=16K", command="cat /big.txt")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (world["root"] / "big.txt").read_bytes()


def test_cat_streams_a_big_file_to_openssh(world, server):
    big = world["root"] / "twenty.bin"
    big.write_bytes(os.urandom(20 << 20))
    try:
        result = ssh(world, server.port, command="cat /twenty.bin", timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout == big.read_bytes()
    finally:
        big.unlink()


def _echo_server():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve():  # every connection (a readiness probe comes first)
        while True:
            conn, _ = listener.accept()
            with conn:
                data = conn.recv(100)
                if data:
                    conn.sendall(b"echo:" + data)

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def _through_forward(world, port, target_port):
    local = free_port()
    args = ssh_command(port, USER, world["dir"], "-L", f"127.0.0.1:{local}:127.0.0.1:{target_port}", "-N",
                       "ExitOnForwardFailure=yes", identity=shared_keys() / "user_ed25519",
                       openssh=world["openssh"])
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_port(local)
        with socket.create_connection(("127.0.0.1", local), 5) as s:
            s.sendall(b"ping")
            s.settimeout(5)
            try:
                return s.recv(100)
            except ConnectionResetError:  # ssh drops the local side of a refused channel
                return b""
    finally:
        stop(proc)


def test_direct_tcpip_forwarding_when_allowed(world):
    from sshviz.cli.serve import loopback_only

    with sshviz_server(make_config(world, allow_forwarding=True), allow_forward=loopback_only) as s:
        assert _through_forward(world, s.port, _echo_server()) == b"echo:ping"


def test_direct_tcpip_refused_by_default(world, server):
    assert _through_forward(world, server.port, _echo_server()) == b""


def test_remote_forwarding_is_refused_cleanly(world, server):
    result = ssh(world, server.port, "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9", command="echo no")
    assert result.returncode == 255
    assert b"remote port forwarding failed" in result.stderr.lower() or b"forwarding failed" in result.stderr.lower()


def test_sshviz_serve_command(world, tmp_path):
    port = free_port()
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), SSHVIZ_TEST_PW=PASSWORD)
    authorized = tmp_path / "authorized_keys"
    authorized.write_text((shared_keys() / "user_ed25519.pub").read_text())
    proc = subprocess.Popen([sys.executable, "-m", "sshviz", "serve", "--port", str(port), "--user", USER,
                             "--password-env", "SSHVIZ_TEST_PW", "--authorized-keys", str(authorized),
                             "--root", str(world["root"])],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=Path(__file__).parent.parent)
    try:
        wait_for_port(port)
        result = ssh(world, port, command="echo served; ls /docs")
        assert result.stdout == b"served\na.txt\n", result.stderr
        key = tmp_path / "state" / "sshviz" / "ssh_host_ed25519_key"
        assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
        first = ssh(world, port, "HostKeyAlgorithms=ssh-ed25519", command="echo again")
        assert first.stdout == b"again\n"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert b"listening on 127.0.0.1" in out
    assert b"Traceback" not in err


def test_serve_without_any_way_to_log_in_is_a_one_line_error(tmp_path):
    run = sshviz_cli("serve", "--port", "0", "--user", "x", env=dict(os.environ, XDG_STATE_HOME=str(tmp_path)))
    assert run.returncode == 2
    assert run.stderr.strip().count(b"\n") == 0
    assert re.search(rb"nobody could log in", run.stderr)
