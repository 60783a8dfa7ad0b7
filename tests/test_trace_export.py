"""Export: the capture and key log sshviz writes are read by tshark (Debian's 4.0), which must
decrypt every message and list the same messages as sshviz."""

from __future__ import annotations

import pytest

from sshviz.events import KexComputed
from sshviz.scenario import Scenario, run_scenario
from sshviz.trace.export import ExportError, write_keylog, write_pcap
from sshviz.trace.fileformat import load_trace

from .captures import tshark_messages
from .openssh import sshviz_cli

# What tshark 4.0 can decrypt: curve25519 and finite-field Diffie-Hellman; ChaCha20-Poly1305,
# AES-GCM, and AES-CTR with a MAC over the plaintext; one key exchange per session (it stops
# at a rekey). It predates strict KEX (its sequence number reset), so these sessions turn it
# off. sshviz's own import handles all of them (tests/test_trace_capture.py).
TSHARK_CAN_DECRYPT = [
    dict(),
    dict(cipher="aes128-gcm@openssh.com", hostkey="ecdsa-sha2-nistp256"),
    dict(cipher="aes256-gcm@openssh.com", kex="diffie-hellman-group14-sha256"),
    dict(cipher="aes128-ctr", mac="hmac-sha2-256", auth="password"),
    dict(cipher="aes256-ctr", mac="hmac-sha2-512", kex="curve25519-sha256@libssh.org"),
]


def sshviz_messages(trace) -> list[tuple[str, int]]:
    return [(e.direction, e.message.spec.number) for e in trace.events if e.kind == "packet"]


@pytest.mark.parametrize("options", TSHARK_CAN_DECRYPT, ids=lambda o: ",".join(f"{v}" for v in o.values()) or "default")
def test_tshark_decrypts_every_message_of_an_export(options, tmp_path):
    trace = run_scenario(Scenario(strict_kex=False, **options)).trace
    write_pcap(trace, tmp_path / "s.pcap")
    write_keylog(trace, tmp_path / "s.keylog")
    theirs = tshark_messages(tmp_path / "s.pcap", tmp_path / "s.keylog")
    assert (None, -1) not in theirs and all(code >= 0 for _, code in theirs), "tshark could not decrypt some"
    assert theirs == sshviz_messages(trace)


def test_the_export_command_writes_a_capture_and_key_log(tmp_path):
    run = sshviz_cli("run", "--trace", str(tmp_path / "t.yaml"))
    assert run.returncode == 0, run.stderr
    done = sshviz_cli("export", str(tmp_path / "t.yaml"), "--pcap", str(tmp_path / "t.pcap"),
                      "--keylog", str(tmp_path / "t.keylog"))
    assert done.returncode == 0, done.stderr
    assert b"wrote" in done.stderr
    assert (tmp_path / "t.pcap").read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"
    lines = (tmp_path / "t.keylog").read_text().splitlines()
    # The client's and the server's private keys, and each one's SHARED_SECRET line.
    assert [len(line.split()) for line in lines] == [2, 3, 2, 3]
    assert [line.split()[1] for line in lines[1::2]] == ["SHARED_SECRET"] * 2
    shared = sshviz_cli("export", str(tmp_path / "t.yaml"), "--keylog", str(tmp_path / "k2"),
                        "--keylog-form", "shared")
    assert shared.returncode == 0
    assert (tmp_path / "k2").read_text().splitlines() == lines[1::2]
    nothing = sshviz_cli("export", str(tmp_path / "t.yaml"))
    assert nothing.returncode == 2
    assert nothing.stderr.decode().strip() == ("sshviz: error: nothing to write: give --pcap OUT, "
                                               "--keylog OUT and/or --trace OUT")


def test_an_elided_trace_cannot_become_a_capture(tmp_path):
    from sshviz.fs import ConfinedFS
    from sshviz.scenario import make_conductor
    from sshviz.trace.fileformat import save_trace

    (tmp_path / "big").write_bytes(b"x" * 300_000)
    conductor = make_conductor(Scenario(command="cat big"), fs=ConfinedFS(str(tmp_path)))
    conductor.run()
    save_trace(conductor.trace, tmp_path / "t.yaml")
    with pytest.raises(ExportError, match=r"had bulk channel data left out when the trace was saved; "
                                          r"a capture needs every byte \(save the trace again with --full-data\)"):
        write_pcap(load_trace(tmp_path / "t.yaml"), tmp_path / "t.pcap")
    save_trace(conductor.trace, tmp_path / "full.yaml", elide_after=None)
    write_pcap(load_trace(tmp_path / "full.yaml"), tmp_path / "t.pcap")


def test_a_capture_imported_without_keys_has_no_key_log_to_export(tmp_path):
    from sshviz.trace.capture import import_capture

    trace = run_scenario(Scenario()).trace
    write_pcap(trace, tmp_path / "s.pcap")
    (imported,) = import_capture(tmp_path / "s.pcap")
    with pytest.raises(ExportError, match="this trace holds no key exchange secrets"):
        write_keylog(imported, tmp_path / "k")


@pytest.mark.parametrize("options, reasons", [
    (dict(), ["strict KEX with chacha20-poly1305"]),
    (dict(strict_kex=False), []),
    (dict(cipher="aes128-gcm@openssh.com"), []),  # GCM's nonce is its own counter: strict KEX is fine
    (dict(strict_kex=False, kex="ecdh-sha2-nistp256", cipher="aes128-ctr", rekey=True),
     ["a rekey", "the key exchange ecdh-sha2-nistp256", "encrypt-then-MAC (hmac-sha2-256-etm@openssh.com)"]),
])
def test_what_wireshark_4_0_cannot_decrypt_is_said(options, reasons):
    from sshviz.trace.export import wireshark_cannot

    found = wireshark_cannot(run_scenario(Scenario(**options)).trace, (4, 0))
    assert [r for r in reasons if not any(f.startswith(r) for f in found)] == [] and len(found) == len(reasons)


def test_export_warns_when_the_installed_wireshark_cannot_decrypt(tmp_path):
    run = sshviz_cli("run", "--trace", str(tmp_path / "t.yaml"))
    assert run.returncode == 0, run.stderr
    done = sshviz_cli("export", str(tmp_path / "t.yaml"), "--pcap", str(tmp_path / "t.pcap"))
    assert done.returncode == 0
    from sshviz.cli.export import tshark_version

    if tshark_version() < (4, 4):
        assert b"sshviz: warning: the installed Wireshark (4." in done.stderr
        assert b"strict KEX with chacha20-poly1305" in done.stderr


@pytest.mark.parametrize("kex", ["sntrup761x25519-sha512", "mlkem768x25519-sha256", "curve25519-sha256"])
def test_an_export_imports_again_decrypted_with_its_key_log(kex, tmp_path):
    """A trace exported as a capture and a key log, imported again: sshviz opens every
    message, the hybrids with the SHARED_SECRET lines (their K needs more than one private
    value), the others with a private key (tried first) or K."""
    from sshviz.trace.capture import import_capture
    from sshviz.trace.keylog import KeyLog

    trace = run_scenario(Scenario(kex=kex)).trace
    write_pcap(trace, tmp_path / "s.pcap")
    write_keylog(trace, tmp_path / "s.keylog")
    lines = (tmp_path / "s.keylog").read_text().splitlines()
    assert sum(" SHARED_SECRET " in line for line in lines) == 2
    (imported,) = import_capture(tmp_path / "s.pcap", KeyLog.load(tmp_path / "s.keylog"))
    assert all(e.opened for e in imported.events)
    assert sshviz_messages(imported) == sshviz_messages(trace)
    [computed] = [c for e in imported.events for _, c in e.changes if isinstance(c, KexComputed)]
    assert computed.method == kex
    assert ("private_key" in computed.secrets) == (kex == "curve25519-sha256")


def test_a_key_log_of_several_sessions_opens_each_connection_of_a_capture(tmp_path):
    """Two connections in one capture, one key log holding their lines and those of a session
    not in the capture: inspect finds each connection's own lines by its cookies."""
    from .captures import SegmentWriter, write_capture

    sessions = [run_scenario(Scenario(kex="sntrup761x25519-sha512@openssh.com", command="echo one")).trace,
                run_scenario(Scenario(kex="curve25519-sha256", seed=5, command="echo two")).trace]
    other = run_scenario(Scenario(kex="ecdh-sha2-nistp256", seed=9)).trace
    packets = []
    writers = [SegmentWriter(client=("10.0.0.1", 40001 + n), server=("10.0.0.2", 22)) for n in range(2)]
    for writer in writers:
        packets += writer.handshake()
    for pair in zip(*(s.events for s in sessions)):  # the two connections interleaved
        packets += [w.data(e.direction, e.record.wire) for w, e in zip(writers, pair)]
    longer = max(sessions, key=lambda s: len(s.events))
    packets += [writers[sessions.index(longer)].data(e.direction, e.record.wire)
                for e in longer.events[min(len(s.events) for s in sessions):]]
    write_capture(tmp_path / "two.pcap", packets)
    for n, trace in enumerate([other, *sessions]):
        write_keylog(trace, tmp_path / f"k{n}")
    combined = "".join((tmp_path / f"k{n}").read_text() for n in range(3))
    (tmp_path / "all.keylog").write_text(combined)

    done = sshviz_cli("inspect", str(tmp_path / "two.pcap"), "--keylog", str(tmp_path / "all.keylog"),
                      "--brief")
    assert done.returncode == 0, done.stderr
    assert b"warning" not in done.stderr
    text = done.stdout.decode()
    first, second = text.split("=== SSH connection 2 of 2")
    assert "kex=sntrup761x25519-sha512@openssh.com" in first and "kex=curve25519-sha256" in second
    for connection in (first, second):
        assert "encrypted" in connection and "ENCRYPTED" not in connection
        assert connection.count("CHANNEL_DATA") == 1 and "DISCONNECT" in connection
