"""Export: the capture and key log sshviz writes are read by tshark (Debian 12's 4.0 and Debian
13's 4.4, the ``tshark`` fixture), which must decrypt every message and list the same messages
as sshviz, but for what each tshark is known not to decrypt, recorded here message by message."""

from __future__ import annotations

import pytest

from sshviz.events import KexComputed
from sshviz.scenario import Scenario, run_scenario
from sshviz.trace.export import ExportError, write_keylog, write_pcap
from sshviz.trace.fileformat import load_trace

from .captures import tshark, tshark_major, tshark_messages, what_tshark_shows  # noqa: F401
from .openssh import sshviz_cli

# What tshark 4.0 and 4.4 both decrypt: curve25519 (either name) and finite-field Diffie-Hellman
# with the private-key form of the key log; ChaCha20-Poly1305, AES-GCM, and AES-CTR with
# hmac-sha2-256; one key exchange per session (they stop at a rekey). Neither knows strict KEX
# (its sequence number reset at NEWKEYS), which matters to every cipher but AES-GCM: the strict
# sessions here are AES-GCM ones. sshviz's own import handles all of these and everything below
# (tests/test_trace_capture.py).
TSHARK_CAN_DECRYPT = [
    dict(strict_kex=False),
    dict(strict_kex=False, cipher="aes128-gcm@openssh.com", hostkey="ecdsa-sha2-nistp256"),
    dict(strict_kex=False, cipher="aes256-gcm@openssh.com", kex="diffie-hellman-group14-sha256"),
    dict(strict_kex=False, cipher="aes128-ctr", mac="hmac-sha2-256", auth="password"),
    dict(strict_kex=False, cipher="aes256-ctr", mac="hmac-sha2-256", kex="curve25519-sha256@libssh.org"),
    dict(cipher="aes128-gcm@openssh.com"),
    dict(cipher="aes256-gcm@openssh.com", kex="diffie-hellman-group16-sha512"),
]


def sshviz_messages(trace) -> list[tuple[str, int]]:
    return [(e.direction, e.message.spec.number) for e in trace.events if e.kind == "packet"]


def scenario_id(options: dict) -> str:
    return ",".join(f"{k}={v}" if k in ("strict_kex", "keylog") else f"{v}" for k, v in options.items()) or "default"


def export_and_read(options: dict, tmp_path, tshark_programs):
    """(sshviz's messages, tshark's) of a session exported with its key log."""
    options = dict(options)
    form = options.pop("keylog", "auto")
    trace = run_scenario(Scenario(**options)).trace
    write_pcap(trace, tmp_path / "s.pcap")
    write_keylog(trace, tmp_path / "s.keylog", form)
    return sshviz_messages(trace), tshark_messages(tmp_path / "s.pcap", tmp_path / "s.keylog",
                                                   tshark=tshark_programs)


@pytest.mark.parametrize("options", TSHARK_CAN_DECRYPT, ids=scenario_id)
def test_tshark_decrypts_every_message_of_an_export(tshark, options, tmp_path):
    ours, theirs = export_and_read(options, tmp_path, tshark)
    assert all(code >= 0 for _, code in theirs), "tshark could not decrypt some"
    assert theirs == ours


# What each tshark does not decrypt (the rest it does), found by running them; a newer tshark
# is not checked against these. "after NEWKEYS": every packet after each side's NEWKEYS;
# "the first after NEWKEYS": as many packets each way as that side sent up to its NEWKEYS (3
# for an ECDH exchange), which is where a tshark that does not reset its count at NEWKEYS
# catches up with the real sequence numbers of a strict-KEX session and decrypts the rest.
CANNOT_DECRYPT = [
    # ChaCha20-Poly1305 under strict KEX (the default): the nonce is the sequence number.
    pytest.param(dict(), {(4, 0): "after NEWKEYS", (4, 4): "the first after NEWKEYS"}, id="strict-chacha20"),
    # AES-CTR and hmac-sha2-256 under strict KEX: 4.4 checks the MAC, over the sequence number.
    pytest.param(dict(cipher="aes128-ctr", mac="hmac-sha2-256"),
                 {(4, 0): None, (4, 4): "the first after NEWKEYS"}, id="strict-aes128-ctr,hmac-sha2-256"),
    # 4.4 checks MACs and has only hmac-sha2-256 ("ssh_hmac_init(): gcry_md_open failed Invalid
    # digest algorithm" in its ssh.debug_file); 4.0 skips MACs, but knows no encrypt-then-MAC.
    pytest.param(dict(strict_kex=False, cipher="aes256-ctr", mac="hmac-sha2-512"),
                 {(4, 0): None, (4, 4): "after NEWKEYS"}, id="aes256-ctr,hmac-sha2-512"),
    pytest.param(dict(strict_kex=False, cipher="aes128-ctr", mac="hmac-sha1"),
                 {(4, 0): None, (4, 4): "after NEWKEYS"}, id="aes128-ctr,hmac-sha1"),
    pytest.param(dict(strict_kex=False, cipher="aes128-ctr", mac="hmac-sha2-256-etm@openssh.com"),
                 {(4, 0): "after NEWKEYS", (4, 4): "after NEWKEYS"}, id="aes128-ctr,hmac-sha2-256-etm"),
    # Group exchange: 4.4 only.
    pytest.param(dict(strict_kex=False, kex="diffie-hellman-group-exchange-sha256"),
                 {(4, 0): "after NEWKEYS", (4, 4): None}, id="group-exchange"),
    # ECDH over the NIST curves: neither.
    pytest.param(dict(strict_kex=False, kex="ecdh-sha2-nistp256"),
                 {(4, 0): "after NEWKEYS", (4, 4): "after NEWKEYS"}, id="ecdh-sha2-nistp256"),
    # The ML-KEM hybrid (OpenSSH 10's default): neither knows it (nor sntrup761x25519), whatever
    # the key log (the hybrid's is SHARED_SECRET).
    pytest.param(dict(strict_kex=False, kex="mlkem768x25519-sha256"),
                 {(4, 0): "after NEWKEYS", (4, 4): "after NEWKEYS"}, id="mlkem768x25519-sha256"),
    # SHARED_SECRET lines: 4.4 reads them for curve25519 only, 4.0 not at all.
    pytest.param(dict(strict_kex=False, keylog="shared"),
                 {(4, 0): "after NEWKEYS", (4, 4): None}, id="curve25519,keylog=shared"),
    pytest.param(dict(strict_kex=False, kex="diffie-hellman-group14-sha256", keylog="shared"),
                 {(4, 0): "after NEWKEYS", (4, 4): "after NEWKEYS"}, id="group14,keylog=shared"),
]


@pytest.mark.parametrize("options, lost", CANNOT_DECRYPT)
def test_what_tshark_does_not_decrypt(tshark, options, lost, tmp_path):
    version = tshark_major(tshark)
    if version not in lost:
        pytest.skip(f"what tshark {tshark.tshark_version} does not decrypt is not recorded")
    ours, theirs = export_and_read(options, tmp_path, tshark)
    assert theirs == what_tshark_shows(ours, lost[version])


def test_the_export_command_writes_a_capture_and_key_log(tmp_path):
    run = sshviz_cli("run", "--trace", str(tmp_path / "t.yaml"))
    assert run.returncode == 0, run.stderr
    done = sshviz_cli("export", str(tmp_path / "t.yaml"), "--pcap", str(tmp_path / "t.pcap"),
                      "--keylog", str(tmp_path / "t.keylog"))
    assert done.returncode == 0, done.stderr
    assert b"wrote" in done.stderr
    assert (tmp_path / "t.pcap").read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"
    lines = (tmp_path / "t.keylog").read_text().splitlines()
    # The client's and the server's private keys: what tshark 4.0 and 4.4 read (given a
    # SHARED_SECRET line too, 4.4 takes that one, and reads it for curve25519 only).
    assert [len(line.split()) for line in lines] == [2, 2]
    shared = sshviz_cli("export", str(tmp_path / "t.yaml"), "--keylog", str(tmp_path / "k2"),
                        "--keylog-form", "shared")
    assert shared.returncode == 0
    shared_lines = (tmp_path / "k2").read_text().splitlines()
    assert [line.split()[1] for line in shared_lines] == ["SHARED_SECRET"] * 2
    assert [line.split()[0] for line in shared_lines] == [line.split()[0] for line in lines]  # same cookies
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
    """The reasons match what the tshark tests above find: 4.0 here, 4.4 below."""
    from sshviz.trace.export import wireshark_cannot

    found = wireshark_cannot(run_scenario(Scenario(**options)).trace, (4, 0))
    assert [r for r in reasons if not any(f.startswith(r) for f in found)] == [] and len(found) == len(reasons)


@pytest.mark.parametrize("options, reasons", [
    (dict(), ["strict KEX: it does not restart"]),
    (dict(cipher="aes128-gcm@openssh.com"), []),
    (dict(strict_kex=False, kex="mlkem768x25519-sha256", cipher="aes128-ctr", mac="hmac-sha2-512"),
     ["the key exchange mlkem768x25519-sha256", "the MAC hmac-sha2-512"]),
    (dict(strict_kex=False, kex="diffie-hellman-group-exchange-sha256", cipher="aes128-ctr",
          mac="hmac-sha2-256", rekey=True), []),
])
def test_what_wireshark_4_4_cannot_decrypt_is_said(options, reasons):
    from sshviz.trace.export import wireshark_cannot

    found = wireshark_cannot(run_scenario(Scenario(**options)).trace, (4, 4))
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
    assert sum(" SHARED_SECRET " in line for line in lines) == (0 if kex == "curve25519-sha256" else 2)
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
