"""Live sessions with real OpenSSH peers, recorded three ways at once: the sshviz side's own
trace (--trace), and a capture taken off the loopback interface with dumpcap. The key log
exported from the trace is the real one: with it tshark and sshviz both decrypt the capture,
and all three agree on every message.

Debian's OpenSSH 9.2 has strict KEX (backported), which tshark 4.0 does not know: it keeps
counting sequence numbers across NEWKEYS, so it cannot open ChaCha20-Poly1305 packets (their
nonce is the sequence number). These sessions use AES-GCM and AES-CTR, whose keystream does not
depend on it; sshviz reads every cipher (tests/test_trace_capture.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sshviz.trace.capture import import_capture
from sshviz.trace.fileformat import load_trace
from sshviz.trace.keylog import KeyLog

from .captures import loopback_capture, tshark_messages
from .openssh import (SSH, free_port, require, shared_keys, ssh_command, sshd, sshviz_cli,
                      wait_for_port)

pytestmark = pytest.mark.interop


def by_direction(events, direction):
    return [e.record.payload for e in events if e.kind == "packet" and e.direction == direction]


def numbers(trace):
    return [(e.direction, e.message.number) for e in trace.events if e.kind == "packet"]


def check_three_views(trace_path: Path, capture: Path, port: int, tmp_path: Path) -> None:
    trace = load_trace(trace_path)
    exported = sshviz_cli("export", str(trace_path), "--keylog", str(tmp_path / "real.keylog"))
    assert exported.returncode == 0, exported.stderr
    keylog = KeyLog.load(tmp_path / "real.keylog")

    (imported,) = import_capture(capture, keylog)
    assert not imported.header.extra.get("problems"), imported.header.extra
    for direction in ("c2s", "s2c"):
        assert by_direction(imported.events, direction) == by_direction(trace.events, direction)

    theirs = tshark_messages(capture, tmp_path / "real.keylog", port)
    for direction in ("c2s", "s2c"):
        assert [n for d, n in theirs if d == direction] == [n for d, n in numbers(trace) if d == direction]


def test_openssh_client_against_sshviz_serve(tmp_path):
    require(SSH)
    keys = shared_keys()
    port = free_port()
    trace_path = tmp_path / "serve.yaml"
    server = subprocess.Popen(
        [sys.executable, "-m", "sshviz", "serve", "--port", str(port), "--user", "alice",
         "--authorized-keys", str(keys / "user_ed25519.pub"), "--host-key", str(keys / "host_ed25519"),
         "--trace", str(trace_path)],
        cwd=Path(__file__).parent.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        with loopback_capture(tmp_path / "serve.pcapng", port, pcapng=True) as capture:
            done = subprocess.run(ssh_command(port, "alice", tmp_path, "-c", "aes128-gcm@openssh.com",
                                              identity=keys / "user_ed25519",
                                              command="echo hello from OpenSSH"),
                                  capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
            assert done.returncode == 0, done.stderr
            assert done.stdout == b"hello from OpenSSH\n"
            deadline = time.monotonic() + 10
            while not trace_path.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(10)
    assert trace_path.exists(), server.stdout.read().decode(errors="replace")
    trace = load_trace(trace_path)
    assert trace.header.source == "serve" and trace.header.client_version.startswith("SSH-2.0-OpenSSH")
    check_three_views(trace_path, capture, port, tmp_path)


def test_sshviz_connect_against_openssh_sshd(tmp_path):
    with sshd() as server:
        trace_path = tmp_path / "connect.yaml"
        with loopback_capture(tmp_path / "connect.pcap", server.port) as capture:
            done = sshviz_cli("connect", f"root@127.0.0.1", "-p", str(server.port),
                              "-i", str(shared_keys() / "user_ed25519"),
                              "--known-hosts", str(server.known_hosts_file()),
                              "--cipher", "aes256-ctr", "--mac", "hmac-sha2-256",
                              "--exec", "echo pong", "--trace", str(trace_path))
            assert done.returncode == 0, done.stderr
            assert done.stdout == b"pong\n"
    trace = load_trace(trace_path)
    assert trace.header.source == "connect" and trace.header.server_version.startswith("SSH-2.0-OpenSSH")
    check_three_views(trace_path, capture, server.port, tmp_path)
