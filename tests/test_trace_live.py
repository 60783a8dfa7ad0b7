"""Live sessions with real OpenSSH peers, recorded three ways at once: the sshviz side's own
trace (--trace), and a capture taken off the loopback interface with dumpcap. The key log
exported from the trace is the real one: with it tshark and sshviz both decrypt the capture,
and all three agree on every message.

Each runs with the host's OpenSSH and Debian 13's 10.0 (the ``openssh`` fixture), and each
capture is read by every tshark there is (the host's, 4.0 in CI, and Debian 13's 4.4). OpenSSH
has strict KEX (Debian's 9.2 backported it), which neither tshark knows: they keep counting
sequence numbers across NEWKEYS, so they cannot open ChaCha20-Poly1305 packets (their nonce is
the sequence number), and 4.4, which checks MACs, loses the first packets each way of an
AES-CTR session (tests/test_trace_export.py records what each does not decrypt). These sessions
use AES-GCM and AES-CTR. Neither tshark knows mlkem768x25519-sha256, OpenSSH 10's default key
exchange, which the first session uses with OpenSSH 10 (sshviz decrypts it from the capture
all the same); the others name curve25519-sha256. sshviz reads every cipher
(tests/test_trace_capture.py)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sshviz.trace.capture import import_capture
from sshviz.trace.fileformat import load_trace
from sshviz.trace.keylog import KeyLog

from .captures import (available_tsharks, loopback_capture, tshark_major, tshark_messages,
                       what_tshark_shows)
from .openssh import (free_port, openssh, shared_keys, ssh_command, sshd, sshviz_cli,  # noqa: F401
                      stop, supported, wait_for_port)
from .rootfs import HOST
from .test_illustrated import assert_page_commands

pytestmark = pytest.mark.interop


def by_direction(events, direction):
    return [e.record.payload for e in events if e.kind == "packet" and e.direction == direction]


def numbers(trace):
    return [(e.direction, e.message.spec.number) for e in trace.events if e.kind == "packet"]


def check_three_views(trace_path: Path, capture: Path, port: int, tmp_path: Path,
                      tshark_loses=lambda version: None) -> None:
    """sshviz decrypts the capture with the exported key log into the trace's messages, and
    every tshark lists them too, but for what ``tshark_loses((major, minor))`` says it does not
    decrypt (see ``what_tshark_shows``)."""
    trace = load_trace(trace_path)
    exported = sshviz_cli("export", str(trace_path), "--keylog", str(tmp_path / "real.keylog"))
    assert exported.returncode == 0, exported.stderr
    keylog = KeyLog.load(tmp_path / "real.keylog")

    # The capture keeps TCP port ``port`` either end: a connection of another program whose
    # own (ephemeral) port happens to be that one may be in it too.
    (imported,) = [t for t in import_capture(capture, keylog) if t.header.server_address == f"127.0.0.1:{port}"]
    client_port = int(imported.header.client_address.rsplit(":", 1)[1])
    assert not imported.header.extra.get("problems"), imported.header.extra
    for direction in ("c2s", "s2c"):
        assert by_direction(imported.events, direction) == by_direction(trace.events, direction)

    for tshark in available_tsharks():
        theirs = tshark_messages(capture, tmp_path / "real.keylog", port, tshark=tshark, client_port=client_port)
        lost = tshark_loses(tshark_major(tshark))
        expected = what_tshark_shows(numbers(trace), lost)
        for direction in ("c2s", "s2c"):
            mine = [n for d, n in expected if d == direction]
            shown = [n for d, n in theirs if d == direction]
            what = f"tshark {tshark.tshark_version}, {direction}"
            if lost is None:
                assert shown == mine, what
            elif lost == "the first after NEWKEYS":
                # One frame it cannot open is one -1, however many packets the frame holds.
                assert [n for n in shown if n >= 0] == [n for n in mine if n >= 0] and -1 in shown, what
            else:  # after NEWKEYS it shows nothing or garbage (4.0 checks no AES-GCM tag)
                newkeys = mine.index(21) + 1
                assert shown[:newkeys] == mine[:newkeys], what


def sigint_stops() -> None:
    """In the server's process: SIGINT stops it, even when the tests run with SIGINT ignored
    (as a background job does), which it would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def serve_and_capture(tmp_path: Path, client_command, *serve_options: str) -> tuple[Path, Path, int]:
    """Run ``sshviz serve --trace`` and ``client_command(port)`` while dumpcap records; returns
    (the trace, the capture, the port)."""
    keys = shared_keys()
    port = free_port()
    trace_path = tmp_path / "serve.yaml"
    server = subprocess.Popen(
        [sys.executable, "-m", "sshviz", "serve", "--port", str(port), "--user", "alice",
         "--authorized-keys", str(keys / "user_ed25519.pub"), "--host-key", str(keys / "host_ed25519"),
         "--trace", str(trace_path), *serve_options],
        cwd=Path(__file__).parent.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=sigint_stops)
    try:
        wait_for_port(port)
        with loopback_capture(tmp_path / "serve.pcapng", port, pcapng=True) as capture:
            client_command(port)
            deadline = time.monotonic() + 10
            while not trace_path.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(10)
        finally:
            stop(server)  # never left running, even if SIGINT did not stop it
    assert trace_path.exists(), server.stdout.read().decode(errors="replace")
    return trace_path, capture, port


def kex_of(trace) -> str:
    from sshviz.events import AlgorithmsNegotiated

    return next(c for e in trace.events for _, c in e.changes if isinstance(c, AlgorithmsNegotiated)).chosen("kex")


def test_openssh_client_against_sshviz_serve(openssh, tmp_path):
    def exec_command(port: int) -> None:  # OpenSSH's own choice of key exchange
        done = subprocess.run(ssh_command(port, "alice", tmp_path, "-c", "aes128-gcm@openssh.com",
                                          identity=shared_keys() / "user_ed25519",
                                          command="echo hello from OpenSSH", openssh=openssh),
                              capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        assert done.stdout == b"hello from OpenSSH\n"

    trace_path, capture, port = serve_and_capture(tmp_path, exec_command)
    trace = load_trace(trace_path)
    assert trace.header.source == "serve" and trace.header.client_version.startswith("SSH-2.0-OpenSSH")
    kex = kex_of(trace)
    assert kex == ("mlkem768x25519-sha256" if "mlkem768x25519-sha256" in supported(openssh, "kex")
                   else "curve25519-sha256")
    check_three_views(trace_path, capture, port, tmp_path,
                      lambda version: "after NEWKEYS" if kex.startswith("mlkem") else None)
    # The illustrated page of a real session: each of its commands prints the page's value. K
    # has none when the server's side of an ML-KEM hybrid is all there is: it encapsulated with
    # randomness no trace keeps (the client's decapsulation key gives K; tests/test_illustrated.py).
    assert_page_commands(trace, {"K", "H", "keys", "fingerprint", "host-signature", "packet-c2s",
                                 "packet-s2c", "user-signature"} - ({"K"} if kex.startswith("mlkem") else set()))


def test_openssh_sftp_against_sshviz_serve_decodes_sftp_from_the_capture(openssh, tmp_path):
    from sshviz.events import SftpMessage

    root = tmp_path / "root"
    root.mkdir()
    (root / "notes.txt").write_bytes(b"sftp through a capture\n" * 100)
    batch = tmp_path / "batch"
    batch.write_text(f"ls\nget notes.txt {tmp_path / 'copy.txt'}\n")

    sftp = (shutil.which("sftp") or "/usr/bin/sftp") if openssh is HOST else "/usr/bin/sftp"
    openssh.require(sftp)

    def sftp_session(port: int) -> None:
        done = subprocess.run(
            openssh.argv(sftp, "-P", str(port), "-b", str(batch), "-c", "aes256-gcm@openssh.com",
                         "-o", "KexAlgorithms=curve25519-sha256",
                         "-i", str(shared_keys() / "user_ed25519"), "-o", "IdentitiesOnly=yes",
                         "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={tmp_path / 'known_hosts'}",
                         "-o", "LogLevel=ERROR", "-F", "/dev/null", "alice@127.0.0.1"),
            capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr

    trace_path, capture, port = serve_and_capture(tmp_path, sftp_session, "--root", str(root))
    assert (tmp_path / "copy.txt").read_bytes() == (root / "notes.txt").read_bytes()
    check_three_views(trace_path, capture, port, tmp_path)
    trace = load_trace(trace_path)
    # Only the connection to serve: a capture filtered by port can also hold another program's
    # connection whose ephemeral port happened to be this one (check_three_views filters so too).
    (imported,) = [t for t in import_capture(capture, KeyLog.load(tmp_path / "real.keylog"))
                   if t.header.server_address == f"127.0.0.1:{port}"]

    def sftp_names(events, direction):
        return [c.message.spec.name for e in events for _, c in e.changes
                if isinstance(c, SftpMessage) and c.direction == direction and c.message is not None]

    for direction in ("c2s", "s2c"):
        assert sftp_names(imported.events, direction) == sftp_names(trace.events, direction)
    assert {"OPEN", "READ", "CLOSE"} <= set(sftp_names(imported.events, "c2s"))
    assert "DATA" in sftp_names(imported.events, "s2c")


def test_sshviz_connect_against_openssh_sshd(openssh, tmp_path):
    with sshd(openssh=openssh) as server:
        trace_path = tmp_path / "connect.yaml"
        with loopback_capture(tmp_path / "connect.pcap", server.port) as capture:
            done = sshviz_cli("connect", f"root@127.0.0.1", "-p", str(server.port),
                              "-i", str(shared_keys() / "user_ed25519"),
                              "--known-hosts", str(server.known_hosts_file()),
                              "--kex", "curve25519-sha256", "--cipher", "aes256-ctr", "--mac", "hmac-sha2-256",
                              "--exec", "echo pong", "--trace", str(trace_path))
            assert done.returncode == 0, done.stderr
            assert done.stdout == b"pong\n"
    trace = load_trace(trace_path)
    assert trace.header.source == "connect" and trace.header.server_version.startswith("SSH-2.0-OpenSSH")
    # Strict KEX: 4.4 checks hmac-sha2-256 over the sequence number it did not reset.
    check_three_views(trace_path, capture, server.port, tmp_path,
                      lambda version: "the first after NEWKEYS" if version >= (4, 4) else None)
    assert_page_commands(trace, {"K", "H", "keys", "fingerprint", "host-signature", "packet-c2s",
                                 "packet-s2c", "user-signature"})


# sntrup761x25519-sha512, OpenSSH 9.x's default, live both ways. Its K is a hash of two
# secrets, so the key log carries it as SHARED_SECRET lines, which tshark 4.0 does not read:
# here sshviz alone decrypts the capture with the exported key log.
SNTRUP = "sntrup761x25519-sha512@openssh.com"


def NO_SHARED_SECRET(version):  # noqa: N802 - read as a constant: neither tshark opens these
    return "everything after NEWKEYS"


def negotiated_kex(trace) -> str:
    from sshviz.events import AlgorithmsNegotiated

    return next(c for e in trace.events for _, c in e.changes
                if isinstance(c, AlgorithmsNegotiated)).chosen("kex")


def test_sshviz_connect_against_openssh_sshd_with_sntrup761(tmp_path):
    with sshd() as server:
        trace_path = tmp_path / "connect.yaml"
        with loopback_capture(tmp_path / "connect.pcap", server.port) as capture:
            done = sshviz_cli("connect", "root@127.0.0.1", "-p", str(server.port),
                              "-i", str(shared_keys() / "user_ed25519"),
                              "--known-hosts", str(server.known_hosts_file()), "--kex", SNTRUP,
                              "--exec", "echo pong", "--trace", str(trace_path))
            assert done.returncode == 0, done.stderr
            assert done.stdout == b"pong\n"
    trace = load_trace(trace_path)
    assert negotiated_kex(trace) == SNTRUP
    check_three_views(trace_path, capture, server.port, tmp_path, NO_SHARED_SECRET)
    assert " SHARED_SECRET " in (tmp_path / "real.keylog").read_text()
    # K again from the client's sntrup761 secret key and the real server's ciphertext.
    assert_page_commands(trace, {"K", "H", "keys", "fingerprint", "host-signature", "packet-c2s",
                                 "packet-s2c", "user-signature"})


def test_openssh_client_against_sshviz_serve_with_sntrup761(tmp_path):
    def exec_command(port: int) -> None:  # ssh's own preference: sntrup761 first
        done = subprocess.run(ssh_command(port, "alice", tmp_path, identity=shared_keys() / "user_ed25519",
                                          command="echo hello from OpenSSH"),
                              capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        assert done.stdout == b"hello from OpenSSH\n"

    trace_path, capture, port = serve_and_capture(tmp_path, exec_command, "--kex",
                                                  f"{SNTRUP},curve25519-sha256")
    trace = load_trace(trace_path)
    assert negotiated_kex(trace) == SNTRUP
    check_three_views(trace_path, capture, port, tmp_path, NO_SHARED_SECRET)
    # The server only encapsulates: K cannot be recomputed from its side's values alone.
    assert_page_commands(trace, {"H", "keys", "fingerprint", "host-signature", "packet-c2s",
                                 "packet-s2c", "user-signature"})
