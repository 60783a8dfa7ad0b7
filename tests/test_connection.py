"""Unit tests per layer: packets, key derivation, keys and key files, known_hosts, the
connection layer's windows, the built-in commands, ping, and the password store."""

from __future__ import annotations

import base64
import os
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sshviz.auth.passwords import hash_password, verify_password
from sshviz.connection.builtin import BuiltinShell
from sshviz.crypto.ciphers import CIPHERS
from sshviz.crypto.compression import COMPRESSION
from sshviz.crypto.keyfiles import (KeyFileError, format_rfc4716, load_private_key, load_public_key,
                                    parse_authorized_keys, private_key_bytes, read_private_key)
from sshviz.crypto.keys import KEY_TYPES, PrivateKey, PublicKey
from sshviz.crypto.known_hosts import KnownHosts, hash_host
from sshviz.crypto.macs import MACS
from sshviz.crypto.random import SeededRandom
from sshviz.events import ChannelData, PongReceived
from sshviz.scenario import Scenario, make_conductor
from sshviz.transport.derivation import derive_key
from sshviz.transport.errors import ProtocolError
from sshviz.transport.packet import PacketReader, PacketWriter, make_direction_keys
from sshviz.wire.types import DecodeError

from .openssh import SSH_KEYGEN, require

# -- packets ----------------------------------------------------------------------------------


def _keyed_pair(cipher: str, mac: str, compression: str):
    rng = SeededRandom(5)
    spec = CIPHERS[cipher]
    key, iv, mac_key = rng.bytes(spec.key_size), rng.bytes(spec.iv_size), rng.bytes(64)
    writer, reader = PacketWriter("c2s", rng.fork("pad")), PacketReader("c2s")
    writer.keys = make_direction_keys(spec, key, iv, MACS[mac], mac_key[:MACS[mac].key_size], compression,
                                      True, True)
    reader.keys = make_direction_keys(spec, key, iv, MACS[mac], mac_key[:MACS[mac].key_size], compression,
                                      False, True)
    return writer, reader


@pytest.mark.parametrize("cipher", CIPHERS.names())
@pytest.mark.parametrize("mac", ["hmac-sha2-256", "hmac-sha2-512-etm@openssh.com"])
@pytest.mark.parametrize("compression", COMPRESSION.names())
@settings(max_examples=15, deadline=None)
@given(payloads=st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=5),
       chunk=st.integers(1, 700))
def test_packets_round_trip_in_any_pieces(cipher, mac, compression, payloads, chunk):
    writer, reader = _keyed_pair(cipher, mac, compression)
    wire = b"".join(writer.encode(p).wire for p in payloads)
    received = []
    for start in range(0, len(wire), chunk):
        reader.feed(wire[start:start + chunk])
        while (record := reader.next_packet()) is not None:
            received.append(record)
    assert [r.payload for r in received] == payloads
    for record in received:
        block = max(8, CIPHERS[cipher].block_size)
        assert (len(record.plain) - record.aad_length) % block == 0
        assert 4 <= record.padding_length <= 255
        assert len(record.wire) == len(record.plain) + len(record.mac)
        spans = record.spans()
        body = record.plain[spans["payload"][0]:spans["payload"][1]]
        assert body == record.payload or compression != "none"


def test_unencrypted_packets_are_at_least_16_bytes_and_aligned():
    writer = PacketWriter("c2s", SeededRandom(1))
    for size in range(1, 40):
        record = writer.encode(b"x" * size)
        assert len(record.wire) >= 16 and len(record.wire) % 8 == 0


def test_truncated_mac_waits_and_corrupt_mac_fails():
    writer, reader = _keyed_pair("aes128-ctr", "hmac-sha2-256", "none")
    wire = bytearray(writer.encode(b"hello").wire)
    reader.feed(bytes(wire[:-1]))
    assert reader.next_packet() is None  # waits for the last byte
    wire[-1] ^= 1
    reader.feed(bytes(wire[-1:]))
    with pytest.raises(ProtocolError) as error:
        reader.next_packet()
    assert error.value.reason.name == "MAC_ERROR"


# -- key derivation -----------------------------------------------------------------------------


def test_key_derivation_extends_with_further_hashes():
    K, H = b"\x00\x00\x00\x01\x05", b"h" * 32
    short = derive_key("sha256", K, H, "C", H, 16)
    long = derive_key("sha256", K, H, "C", H, 64)
    assert long.value[:16] == short.value
    assert len(long.blocks) == 2 and long.blocks[0] == short.blocks[0]
    from sshviz.crypto.hashes import digest

    assert long.blocks[1] == digest("sha256", K, H, long.blocks[0])
    assert "K1 || ... || Kn" in long.formula


# -- keys and key files -------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_seeded_keys_are_reproducible_and_sign(key_type):
    a = PrivateKey.generate(key_type, SeededRandom(3), bits=2048)
    b = PrivateKey.generate(key_type, SeededRandom(3), bits=2048)
    if key_type != "ssh-rsa":
        assert a.public == b.public
    for algorithm in a.algorithms:
        signature = a.sign(algorithm, b"data")
        assert a.public.verify(algorithm, signature, b"data")
        assert not a.public.verify(algorithm, signature, b"other")
        if key_type.startswith(("ssh-ed25519", "ecdsa")):
            assert signature == a.sign(algorithm, b"data")  # deterministic signatures


@pytest.mark.parametrize("blob", [b"", b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x03abc",
                                  b"\x00\x00\x00\x07ssh-dss", b"\xff" * 20])
def test_bad_public_key_blobs_are_rejected(blob):
    with pytest.raises(DecodeError):
        PublicKey.from_blob(blob)


@pytest.mark.parametrize("key_type, flag", [("ed25519", []), ("ecdsa", ["-b", "384"]), ("rsa", ["-b", "2048"])])
def test_private_and_public_keys_from_ssh_keygen(tmp_path, key_type, flag):
    require(SSH_KEYGEN)
    path = tmp_path / "id"
    subprocess.run([SSH_KEYGEN, "-q", "-N", "", "-t", key_type, *flag, "-f", str(path)], check=True)
    key = read_private_key(str(path))
    public, comment = load_public_key((tmp_path / "id.pub").read_text())
    assert key.public == public
    fingerprint = subprocess.run([SSH_KEYGEN, "-lf", str(path) + ".pub"], capture_output=True,
                                 text=True).stdout.split()[1]
    assert public.fingerprint() == fingerprint
    # RFC 4716: what ssh-keygen -e writes we read, and what we write ssh-keygen -i reads.
    exported = subprocess.run([SSH_KEYGEN, "-e", "-f", str(path) + ".pub"], capture_output=True, text=True).stdout
    assert load_public_key(exported)[0] == public
    ours = tmp_path / "ours.rfc4716"
    ours.write_text(format_rfc4716(public, "a comment long enough to need a continuation line " * 2))
    imported = subprocess.run([SSH_KEYGEN, "-i", "-f", str(ours)], capture_output=True, text=True).stdout
    assert load_public_key(imported)[0] == public


def test_pem_and_openssh_private_formats_and_passphrases(tmp_path):
    key = PrivateKey.generate("ecdsa-sha2-nistp256", SeededRandom(9))
    for fmt in ("openssh", "pem"):
        data = private_key_bytes(key, "pass phrase", fmt)
        with pytest.raises(KeyFileError, match="passphrase is needed"):
            load_private_key(data)
        assert load_private_key(data, "pass phrase").public == key.public
        with pytest.raises(KeyFileError, match="wrong passphrase"):
            load_private_key(data, "not it")
        assert load_private_key(private_key_bytes(key, None, fmt)).public == key.public
    with pytest.raises(KeyFileError, match="not an OpenSSH or PEM private key"):
        load_private_key(b"hello")


def test_rfc4716_headers_and_continuations():
    key = PrivateKey.generate("ssh-ed25519", SeededRandom(1)).public
    text = format_rfc4716(key, "x" * 150)
    assert all(len(line.encode()) <= 72 for line in text.splitlines())
    parsed, comment = load_public_key(text)
    assert parsed == key and comment == "x" * 150
    with pytest.raises(KeyFileError, match="END SSH2 PUBLIC KEY"):
        load_public_key(text.replace("---- END SSH2 PUBLIC KEY ----", ""))


def test_authorized_keys_skip_keys_with_options_and_bad_lines():
    a = PrivateKey.generate("ssh-ed25519", SeededRandom(1)).public
    b = PrivateKey.generate("ecdsa-sha2-nistp256", SeededRandom(2)).public
    text = (f"# comment\n{a.openssh('alice')}\n"
            f'command="echo \\"hi there\\"",no-pty {b.openssh("bob")}\n'
            "ssh-ed25519 not-base64!!\n")
    keys, problems = parse_authorized_keys(text)
    assert keys == [a]  # bob's key carries options this server cannot enforce: skipped
    assert len(problems) == 2
    assert "authorized_keys:3" in problems[0] and "not supported" in problems[0]
    assert "authorized_keys:4" in problems[1]


# -- known_hosts --------------------------------------------------------------------------------


def test_known_hosts_plain_hashed_patterns_and_markers():
    key = PrivateKey.generate("ssh-ed25519", SeededRandom(1)).public
    other = PrivateKey.generate("ssh-ed25519", SeededRandom(2)).public
    revoked = PrivateKey.generate("ecdsa-sha2-nistp256", SeededRandom(3)).public
    salt = bytes(range(20))
    text = "\n".join([
        f"example.com,192.0.2.1 {key.openssh()}",
        f"{hash_host('[hashed.example]:2222', salt)} {key.openssh()}",
        f"*.wild.example,!bad.wild.example {key.openssh()}",
        f"@revoked * {revoked.openssh()}",
        "garbage line",
    ])
    known = KnownHosts.parse(text)
    assert known.check("example.com", 22, key)[0] == "known"
    assert known.check("192.0.2.1", 22, key)[0] == "known"
    assert known.check("example.com", 2222, key)[0] == "unknown"
    assert known.check("hashed.example", 2222, key)[0] == "known"
    assert known.check("a.wild.example", 22, key)[0] == "known"
    assert known.check("bad.wild.example", 22, key)[0] == "unknown"
    assert known.check("example.com", 22, other)[0] == "changed"
    assert known.check("anything", 22, revoked)[0] == "revoked"
    assert len(known.problems) == 1


def test_known_hosts_written_by_us_is_read_by_ssh_keygen(tmp_path):
    require(SSH_KEYGEN)
    key = PrivateKey.generate("ssh-ed25519", SeededRandom(1)).public
    path = tmp_path / "known_hosts"
    path.write_text(KnownHosts().entry_line("host.example", 2200, key) + "\n")
    found = subprocess.run([SSH_KEYGEN, "-F", "[host.example]:2200", "-f", str(path)], capture_output=True, text=True)
    assert found.returncode == 0 and key.openssh().split()[1] in found.stdout


def test_ssh_keygen_hashed_entries_are_read(tmp_path):
    require(SSH_KEYGEN)
    key = PrivateKey.generate("ssh-ed25519", SeededRandom(4)).public
    path = tmp_path / "known_hosts"
    path.write_text(f"[h.example]:2022 {key.openssh()}\n")
    subprocess.run([SSH_KEYGEN, "-H", "-f", str(path)], check=True, capture_output=True)
    assert path.read_text().startswith("|1|")
    assert KnownHosts.load(str(path)).check("h.example", 2022, key)[0] == "known"


# -- passwords ----------------------------------------------------------------------------------


def test_password_hashes_are_salted_scrypt():
    a, b = hash_password("pw"), hash_password("pw")
    assert a != b and a.startswith("scrypt$14$8$1$")
    assert verify_password(a, "pw") and not verify_password(a, "PW")
    assert not verify_password("garbage", "pw")
    assert base64.b64decode(a.split("$")[4])  # the salt


# -- connection layer ---------------------------------------------------------------------------


def test_large_output_flows_through_small_windows():
    """A 300 KB file through a 4 KB window and 1 KB packets: every byte arrives in order."""
    import tempfile

    from sshviz.fs import ConfinedFS

    with tempfile.TemporaryDirectory() as root:
        data = os.urandom(300_000)
        with open(os.path.join(root, "f"), "wb") as f:
            f.write(data)
        conductor = make_conductor(Scenario(command="cat /f"), fs=ConfinedFS(root))
        conductor.client.config.connection.window_size = 4096
        conductor.client.config.connection.max_packet = 1024
        conductor.run()
        received = b"".join(e.data for step in conductor.steps for side, e in step.changes
                            if side == "client" and isinstance(e, ChannelData))
        assert received == data
        adjusts = [s for s in conductor.steps if s.name == "CHANNEL_WINDOW_ADJUST"]
        assert len(adjusts) >= 300_000 // 4096  # refilled at half the window each time
        sizes = {len(s.message["data"]) for s in conductor.steps if s.name == "CHANNEL_DATA"}
        assert max(sizes) <= 1024


def test_ping_and_pong():
    conductor = make_conductor(Scenario())
    while (step := conductor.step()) is not None and step.name != "USERAUTH_SUCCESS":
        pass
    conductor.act("client", lambda client: client.ping(b"are you there"))
    conductor.run()
    pongs = [e for step in conductor.steps for side, e in step.changes if isinstance(e, PongReceived)]
    assert [p.data for p in pongs] == [b"are you there"]


# -- built-in commands --------------------------------------------------------------------------


class RecordingIO:
    """The ChannelIO interface; nothing it is given is ever read by a client."""

    def __init__(self):
        self.out, self.err, self.status = b"", b"", None
        self.paused = False

    @property
    def pending_bytes(self):
        return len(self.out) + len(self.err)

    def pause_reading(self):
        self.paused = True

    def resume_reading(self):
        self.paused = False

    def write(self, data):
        self.out += data
        self.writes = getattr(self, "writes", 0) + 1

    def write_stderr(self, data):
        self.err += data

    def exit(self, status):
        self.status = status


def run_builtin(command, fs=None, pty=False):
    io = RecordingIO()
    BuiltinShell("alice", fs, command, pty).start(io)
    return io


def test_builtin_commands(tmp_path):
    from sshviz.fs import ConfinedFS

    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "file.txt").write_text("content\n")
    os.symlink("/etc/passwd", tmp_path / "escape")
    os.symlink("dir/file.txt", tmp_path / "inside")
    fs = ConfinedFS(str(tmp_path))
    assert run_builtin("echo a b  c").out == b"a b c\n"
    assert run_builtin("whoami").out == b"alice\n"
    assert run_builtin("pwd; cd dir; pwd", fs).out == b"/\n/dir\n"
    assert run_builtin("ls", fs).out == b"dir/\nescape\ninside\n"
    assert run_builtin("cat /dir/file.txt inside", fs).out == b"content\ncontent\n"
    escape = run_builtin("cat escape ../../../etc/passwd", fs)
    assert escape.out == b"" and escape.err.count(b"No such file or directory") == 2 and escape.status == 1
    assert run_builtin("exit 3").status == 3
    assert run_builtin("nosuch").status == 127
    assert run_builtin("false && echo x || echo y").out == b"y\n"
    assert run_builtin("echo a | cat").status == 2
    assert b"no sandbox root" in run_builtin("ls").err


def test_builtin_shell_echoes_a_piece_of_input_in_one_write():
    # Each write is a CHANNEL_DATA packet: one per typed byte would make 32 KiB of pasted
    # input cost 32,768 packets of work.
    io = RecordingIO()
    shell = BuiltinShell("alice", None, None, pty=True)
    shell.start(io)
    io.out, io.writes = b"", 0
    shell.data(b"x" * 30_000 + b"\x7f\x7f\x15echo hi\r" + b"y" * 1000)
    assert io.writes <= 5
    assert io.out == (b"x" * 30_000 + b"\b \b" * 2 + b"\b \b" * 29_998 + b"echo hi\r\n"
                      + b"hi\r\nalice@sshviz:/$ " + b"y" * 1000)
    shell.data(b"\x03")
    assert io.out.endswith(b"y" * 1000 + b"^C\r\nalice@sshviz:/$ ")


def test_builtin_exit_with_a_strange_number_is_not_a_crash():
    assert run_builtin("exit \u00b2").status == 0  # a digit to str.isdigit, not to int()
    assert run_builtin("exit " + "9" * 5000).status == 0  # more digits than int() takes


def test_builtin_cat_streams_any_size_at_the_pace_the_client_reads(tmp_path):
    from sshviz.connection import builtin
    from sshviz.fs import ConfinedFS

    data = os.urandom(3 << 20)
    (tmp_path / "big").write_bytes(data)
    fs = ConfinedFS(str(tmp_path))
    io = RecordingIO()
    shell = BuiltinShell("alice", fs, "cat" + " big" * 10 + "; echo done", False)  # 30 MiB
    shell.start(io)
    received = b""
    for _ in range(1000):
        # Nobody has read yet: the output waiting stays bounded and the command waits.
        assert io.pending_bytes <= builtin.OUTPUT_HIGH + builtin.CAT_CHUNK
        if io.status is not None:
            break
        received, io.out = received + io.out, b""  # the client reads it all
        shell.writable()
    received += io.out
    assert io.status == 0 and received == data * 10 + b"done\n"


def test_builtin_output_nobody_reads_is_bounded(tmp_path):
    from sshviz.connection import builtin
    from sshviz.fs import ConfinedFS

    (tmp_path / "big").write_bytes(bytes(1 << 20))
    fs = ConfinedFS(str(tmp_path))
    io = run_builtin("cat" + " big" * 50, fs)  # 50 MiB asked for by a 200-byte command
    assert len(io.out) <= builtin.OUTPUT_HIGH + builtin.CAT_CHUNK
    assert io.status is None  # still running: it goes on when the client reads
    (tmp_path / "many").mkdir()
    for i in range(1000):
        (tmp_path / "many" / f"{i:04}{'x' * 200}").touch()
    io = run_builtin("ls" + " many" * 100, fs)  # 20 MiB of listings
    assert len(io.out) <= builtin.OUTPUT_HIGH + 300_000 and b"not reading" in io.err
    # An interactive shell stops taking input (its window is not refilled) until the
    # client reads, and a line without an end cannot grow without bound.
    io = RecordingIO()
    shell = BuiltinShell("alice", fs, None, pty=False)
    shell.start(io)
    for _ in range(20):
        shell.data(b"cat big\n")
    assert len(io.out) <= builtin.OUTPUT_HIGH + builtin.CAT_CHUNK and io.paused
    while io.paused:
        io.out = io.err = b""  # the client reads it all, and the typed-ahead lines run
        shell.writable()
    assert not io.paused
    for _ in range(100):
        shell.data(b"x" * 65536)
    assert len(shell.line) <= builtin.MAX_LINE


def test_builtin_shell_with_a_pty_echoes_and_edits():
    io = RecordingIO()
    shell = BuiltinShell("alice", None, None, pty=True)
    shell.start(io)
    shell.data(b"echo hellx\x7fo\r")
    assert b"hellx\b \bo\r\n" in io.out
    assert io.out.endswith(b"hello\r\nalice@sshviz:/$ ")
    shell.data(b"\x04")
    assert io.status == 0
