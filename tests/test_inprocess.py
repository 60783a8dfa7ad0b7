"""Whole sessions through the conductor: every algorithm combination, every auth method,
and a seeded run that matches its golden transcript byte for byte."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from sshviz.crypto.ciphers import CIPHERS
from sshviz.crypto.compression import COMPRESSION
from sshviz.crypto.keys import CERTIFICATE_ALGORITHMS, PLAIN_ALGORITHMS
from sshviz.crypto.macs import MACS
from sshviz.events import AlgorithmsNegotiated, KexComputed, KeysActivated
from sshviz.scenario import Scenario, run_scenario
from sshviz.transport.kex import KEX_METHODS

from .conftest import changes, check_session

GOLDEN = Path(__file__).parent / "golden"
HEAVY_KEX = {"diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"}


def protections():
    """Every (cipher, MAC) pair that differs on the wire: an AEAD cipher ignores the MAC."""
    for cipher in CIPHERS.names():
        if CIPHERS[cipher].aead:
            yield cipher, MACS.names()[0]
        else:
            for mac in MACS.names():
                yield cipher, mac


@pytest.mark.parametrize("kex", [k for k in KEX_METHODS.names() if k not in HEAVY_KEX])
def test_every_combination_for_kex(kex):
    """For this kex: every host key x every cipher/MAC x every compression."""
    failures = []
    for hostkey, (cipher, mac), compression in itertools.product(
            PLAIN_ALGORITHMS, protections(), COMPRESSION.names()):
        sc = Scenario(kex=kex, hostkey=hostkey, cipher=cipher, mac=mac, compression=compression)
        try:
            check_session(sc)
        except AssertionError as exc:
            failures.append(f"{hostkey} {cipher} {mac} {compression}: {exc}")
    assert not failures, "\n".join(failures[:10])


@pytest.mark.parametrize("kex", sorted(HEAVY_KEX))
def test_large_dh_groups_with_each_other_algorithm(kex):
    """8192-bit groups are slow in pure modular arithmetic: each other algorithm once."""
    for hostkey in PLAIN_ALGORITHMS:
        check_session(Scenario(kex=kex, hostkey=hostkey))
    for (cipher, mac), compression in zip(protections(), itertools.cycle(COMPRESSION.names())):
        check_session(Scenario(kex=kex, cipher=cipher, mac=mac, compression=compression))


@pytest.mark.parametrize("hostkey", CERTIFICATE_ALGORITHMS)
def test_host_certificates(hostkey):
    """The demo server presents a host certificate from a demo CA: the host key of the
    KEX reply is the whole certificate, and the signature over H is its key's."""
    conductor = check_session(Scenario(hostkey=hostkey))
    reply = next(s for s in conductor.steps if s.name.startswith("KEX") and "REPLY" in s.name)
    fields = {f.name: f for f in reply.record.message.fields}
    names = [f.name for f in fields["host_key"].children]
    assert names[:2] == ["key_type", "nonce"]
    assert {"serial", "cert_type", "key_id", "valid_principals", "valid_after", "valid_before",
            "critical_options", "extensions", "reserved", "signature_key", "signature"} <= set(names)


@pytest.mark.parametrize("auth, wrong_first", [
    ("publickey", False), ("password", False), ("password", True),
    ("keyboard-interactive", False), ("keyboard-interactive", True)])
def test_auth_methods(auth, wrong_first):
    conductor = check_session(Scenario(auth=auth, wrong_password_first=wrong_first))
    names = [s.name for s in conductor.steps]
    assert names.count("USERAUTH_FAILURE") == 1 + wrong_first  # "none", then the wrong one
    assert "USERAUTH_SUCCESS" in names


def test_keys_are_derived_identically_on_both_sides():
    conductor = check_session(Scenario(kex="ecdh-sha2-nistp384", cipher="aes256-ctr",
                                       mac="hmac-sha2-512"))
    [client], [server] = (changes(conductor, KexComputed, side) for side in ("client", "server"))
    assert client.H == server.H == client.session_id
    assert [k.value for k in client.keys] == [k.value for k in server.keys]
    sizes = [len(k.value) for k in client.keys]
    assert sizes == [16, 16, 32, 32, 64, 64]  # AES-256-CTR IVs and keys, HMAC-SHA-512 keys


@pytest.mark.parametrize("cipher", ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr"])
def test_received_packets_keep_their_plaintext_length(cipher):
    """A received record's plain starts with packet_length in clear, whatever hid it on the
    wire (ChaCha20-Poly1305 encrypts it with a key of its own)."""
    for step in run_scenario(Scenario(cipher=cipher)).steps:
        if step.kind == "packet":
            assert int.from_bytes(step.record.plain[:4], "big") == step.record.packet_length


def test_rekey_in_the_middle_keeps_the_session_id():
    conductor = check_session(Scenario(rekey=True))
    computed = changes(conductor, KexComputed, "client")
    assert len(computed) == 2
    assert computed[1].H != computed[0].H
    assert computed[1].session_id == computed[0].session_id == computed[0].H
    assert not computed[1].first_kex
    activations = changes(conductor, KeysActivated)
    assert len(activations) == 8  # each side, each direction, twice


def test_wrong_guess_is_ignored_and_right_guess_is_used():
    # The server prefers mlkem first; the client guesses curve25519: the guess is wrong.
    wrong = check_session(Scenario(kex="curve25519-sha256", guess_kex=True))
    inits = [s for s in wrong.steps if s.name == "KEX_ECDH_INIT"]
    assert len(inits) == 2  # the guessed one (dropped) and the real one
    negotiated = changes(wrong, AlgorithmsNegotiated, "server")[0]
    assert negotiated.guess_ignored


def transcript_lines(conductor) -> list[str]:
    lines = []
    for step in conductor.steps:
        seq = getattr(step.record, "seq", "-")
        lines.append(f"{step.index} {step.direction} {step.name} {seq} {step.record.wire.hex()}")
    return lines


GOLDEN_SCENARIOS = {
    "default-seed1": Scenario(),
    "password-aes128gcm-zlib-seed7": Scenario(auth="password", cipher="aes128-gcm@openssh.com",
                                              compression="zlib@openssh.com", seed=7,
                                              wrong_password_first=True),
    "dhgex-ecdsa-ctr-seed3": Scenario(kex="diffie-hellman-group-exchange-sha256",
                                      hostkey="ecdsa-sha2-nistp256", cipher="aes128-ctr",
                                      mac="hmac-sha2-256", seed=3),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_SCENARIOS))
def test_seeded_run_matches_golden_transcript(name):
    lines = transcript_lines(check_session(GOLDEN_SCENARIOS[name]))
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("SSHVIZ_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    expected = path.read_text().splitlines()
    assert lines == expected


def test_two_runs_with_one_seed_are_identical_and_other_seeds_differ():
    a = transcript_lines(run_scenario(Scenario(seed=42)))
    b = transcript_lines(run_scenario(Scenario(seed=42)))
    c = transcript_lines(run_scenario(Scenario(seed=43)))
    assert a == b
    assert a != c


@pytest.mark.parametrize("kex", ["sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com"])
def test_sntrup761_hybrid_shares_k_as_sha512_of_both_secrets_in_a_string(kex):
    """sntrup761x25519-sha512: C_INIT is the sntrup761 public key (1158 bytes) and an X25519
    key, S_REPLY the ciphertext (1039 bytes) and an X25519 key; K = SHA-512(sntrup761 secret
    || X25519 secret), hashed as a string. The client's private key, kept for teaching,
    decapsulates the ciphertext again."""
    import hashlib

    from pqcrypto.kem import sntrup_761

    from sshviz.wire import types as t

    conductor = check_session(Scenario(kex=kex))
    [client], [server] = (changes(conductor, KexComputed, side) for side in ("client", "server"))
    assert client.K == server.K and client.H == server.H
    (c_name, _, c_init), (s_name, _, s_reply) = client.H_inputs[5:7]
    assert (c_name, s_name) == ("C_INIT", "S_REPLY")
    assert len(c_init) == 4 + 1158 + 32 and len(s_reply) == 4 + 1039 + 32
    secrets = client.secrets
    assert len(secrets["sntrup761_private_key"]) == 1763
    pq = sntrup_761.decaps(secrets["sntrup761_private_key"], s_reply[4:4 + 1039])
    assert pq == secrets["sntrup761_shared_secret"] == server.secrets["sntrup761_shared_secret"]
    expected = hashlib.sha512(pq + secrets["x25519_shared_secret"]).digest()
    assert client.K == t.string(expected) and client.H_inputs[-1][:2] == ("K", "string")
    assert "sntrup761_private_key" not in server.secrets  # the server only encapsulates


def test_without_leaves_algorithms_out_of_the_clients_lists():
    conductor = run_scenario(Scenario(without=["chacha20-poly1305@openssh.com", "curve25519-sha256"]))
    client_kexinit = next(e.message for e in conductor.trace.events
                          if e.direction == "c2s" and e.name == "KEXINIT")
    assert "chacha20-poly1305@openssh.com" not in client_kexinit["encryption_algorithms_client_to_server"]
    assert "curve25519-sha256" not in client_kexinit["kex_algorithms"]
    negotiated = next(c for e in conductor.trace.events for _, c in e.changes if isinstance(c, AlgorithmsNegotiated))
    assert negotiated.algorithms["cipher_c2s"].chosen == "aes128-ctr"
    assert negotiated.algorithms["kex"].chosen != "curve25519-sha256"


@pytest.mark.parametrize("without, error", [
    (["no-such-cipher"], "cannot leave out no-such-cipher: no such algorithm"),
    (["none", "zlib@openssh.com", "zlib"], "leaving out none, zlib@openssh.com, zlib leaves the client no "
                                           "compression"),
])
def test_without_refuses_unknown_names_and_empty_lists(without, error):
    with pytest.raises(ValueError, match=error):
        Scenario(without=without).validate()


def test_run_takes_without_comma_separated_or_repeated(capsys):
    from sshviz.cli import main

    assert main(["run", "--without", "chacha20-poly1305@openssh.com,aes128-ctr", "--print"]) == 0
    assert "cipher_c2s       aes192-ctr: the first in the client's list" in capsys.readouterr().out
    assert main(["run", "--without", "nonsense"]) == 2
    assert capsys.readouterr().err == "sshviz: error: cannot leave out nonsense: no such algorithm\n"
