"""Keys and key files (OpenSSH, PEM, RFC 4716, authorized_keys) and known_hosts, against
OpenSSH's ssh-keygen where it helps."""

from __future__ import annotations

import subprocess

import pytest

from sshviz.crypto.keyfiles import (KeyFileError, format_rfc4716, load_private_key, load_public_key,
                                    parse_authorized_keys, private_key_bytes, read_private_key)
from sshviz.crypto.keys import KEY_TYPES, PrivateKey, PublicKey
from sshviz.crypto.known_hosts import KnownHosts, hash_host
from sshviz.crypto.random import SeededRandom
from sshviz.wire.types import DecodeError

from .openssh import SSH_KEYGEN, require

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


def test_system_random_cuts_padding_from_a_block_never_shared_with_a_fork_or_a_pickle():
    import os
    import pickle

    from sshviz.crypto import random as random_module
    from sshviz.crypto.random import SystemRandom

    rng = SystemRandom()
    pieces = [rng.bytes(16) for _ in range(600)]  # more than one block
    assert len(set(pieces)) == 600 and all(len(p) == 16 for p in pieces)
    assert len(rng.bytes(32)) == 32  # a key: straight from the system
    copy = pickle.loads(pickle.dumps(rng))
    assert copy._block == b"" and copy.bytes(8) != rng.bytes(8)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's block is not used
        os.write(write, rng.bytes(8) + bytes([random_module._forks > 0]))
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 9)
    os.close(read)
    os.close(write)
    assert child[8] == 1 and child[:8] != rng.bytes(8)
