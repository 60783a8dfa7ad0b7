"""The attack lab: each attack, with each defence setting, ends exactly as SSH's design says
(which side ends the connection, with which reason, at which message), or for the Terrapin run
that succeeds, the client authenticates without ever receiving EXT_INFO while every MAC
verified. Attacked runs are traces like any other: they save, load, export and print."""

from __future__ import annotations

import pytest

from sshviz.attacks import ATTACKS, outcome_of, prepare_attack, run_attack
from sshviz.cli import main
from sshviz.events import AuthAttempt, Disconnected, ExtInfoReceived
from sshviz.trace.compare import trace_differences
from sshviz.trace.fileformat import dumps_trace, loads_trace
from sshviz.wire.catalog import DisconnectReason as R

GCM, CTR = "aes128-gcm@openssh.com", "aes128-ctr"


def intercepted(run) -> list[tuple[int, str, str]]:
    """(step, action, message name or '-') of every unit the attacker touched."""
    return [(s.index, s.interception.action,
             getattr(getattr(s.record, "message", None), "spec", None) and s.record.message.spec.name or "-")
            for s in run.conductor.steps if s.interception is not None]


def test_terrapin_without_strict_kex_deletes_ext_info_and_nobody_notices():
    run = run_attack("terrapin", {"strict_kex": "off"})
    outcome = run.outcome
    assert outcome.clean and outcome.authenticated and outcome.exit_status == 0
    assert not outcome.client_ext_info and outcome.mac_failures == 0
    assert [(action, name) for _, action, name in intercepted(run)] == [("inserted", "IGNORE"),
                                                                        ("dropped", "EXT_INFO")]
    dropped = next(s for s in run.conductor.steps if s.interception and s.interception.action == "dropped")
    assert not dropped.delivered
    # The server did send server-sig-algs and ping; the client never learned of them.
    assert "ping@openssh.com" not in run.conductor.client.transport.peer_extensions
    assert not any(isinstance(e, ExtInfoReceived) for e in run.conductor.client_events)
    # The drift and the realignment are stated with both sides' numbers.
    details = [s.interception.detail for s in run.conductor.steps if s.interception]
    assert "server's next sequence number 2, client's expected 3" in details[0]
    assert "server's next sequence number 4, client's expected 4" in details[1]
    assert run.summary()[3].startswith("Nothing stopped it: the client authenticated without ever "
                                       "receiving EXT_INFO")


def test_terrapin_with_strict_kex_ends_at_the_inserted_ignore():
    outcome = run_attack("terrapin", {"strict_kex": "on"}).outcome
    assert (outcome.ended_by, outcome.reason, outcome.at_message) == ("client", R.PROTOCOL_ERROR, "IGNORE")
    assert "not allowed during a strict initial key exchange" in outcome.description
    assert not outcome.authenticated


@pytest.mark.parametrize("cipher, reason, words", [
    (GCM, R.MAC_ERROR, "AES-GCM authentication tag does not match"),
    (CTR, R.PROTOCOL_ERROR, "padding_length"),  # the key stream is out of step: nonsense lengths
])
def test_terrapin_against_ciphers_whose_state_does_not_skip_breaks_decryption(cipher, reason, words):
    outcome = run_attack("terrapin", {"strict_kex": "off", "cipher": cipher}).outcome
    assert (outcome.ended_by, outcome.reason, outcome.at_message) == ("client", reason, "SERVICE_ACCEPT")
    assert words in outcome.description and not outcome.authenticated


@pytest.mark.parametrize("cipher, reason", [
    ("chacha20-poly1305@openssh.com", R.MAC_ERROR), (GCM, R.MAC_ERROR), (CTR, R.MAC_ERROR)])
def test_tampering_with_an_encrypted_packet_is_a_mac_error(cipher, reason):
    run = run_attack("tamper", {"cipher": cipher})
    outcome = run.outcome
    assert (outcome.ended_by, outcome.reason) == ("server", reason)
    assert outcome.at_message == "a packet changed by the attacker"
    changed = next(s for s in run.conductor.steps if s.interception)
    assert changed.interception.original != changed.record.wire  # the original is kept
    assert bytes(a ^ b for a, b in zip(changed.interception.original, changed.record.wire)).count(0) \
        == len(changed.record.wire) - 1  # one byte differs


def test_tampering_with_a_cleartext_kexinit_breaks_the_host_key_signature():
    outcome = run_attack("tamper", {"target": "kexinit"}).outcome
    assert (outcome.ended_by, outcome.reason, outcome.at_message) == (
        "client", R.KEY_EXCHANGE_FAILED, "KEX_ECDH_REPLY")
    assert outcome.description == "the server's ssh-ed25519 signature over H does not verify"


def test_a_downgrade_agrees_on_weaker_algorithms_and_then_fails_the_signature():
    outcome = run_attack("downgrade").outcome
    assert outcome.negotiated["client"]["kex"] == outcome.negotiated["server"]["kex"] \
        == "diffie-hellman-group14-sha256"
    assert (outcome.ended_by, outcome.reason, outcome.at_message) == (
        "client", R.KEY_EXCHANGE_FAILED, "KEXDH_REPLY")


@pytest.mark.parametrize("attack", ["replay", "reorder"])
@pytest.mark.parametrize("cipher, reason", [
    # chacha20-poly1305 encrypts the length under a key made from the sequence number: it
    # decrypts to nonsense, refused before the tag is read.
    ("chacha20-poly1305@openssh.com", R.PROTOCOL_ERROR), (GCM, R.MAC_ERROR), (CTR, R.MAC_ERROR)])
def test_replayed_and_reordered_packets_are_caught(attack, cipher, reason):
    run = run_attack(attack, {"cipher": cipher})
    outcome = run.outcome
    expected = {"replay": ("server", "a packet replayed by the attacker"),
                "reorder": ("client", "CHANNEL_REQUEST")}[attack]
    assert (outcome.ended_by, outcome.at_message) == expected
    assert outcome.reason == reason and not outcome.clean


def test_weak_algorithms_run_and_each_weakness_is_named():
    run = run_attack("weak")
    assert run.outcome.clean
    assert run.outcome.negotiated["client"]["kex"] == "diffie-hellman-group1-sha1"
    text = "\n".join(run.summary())
    assert "- diffie-hellman-group1-sha1: a 1024-bit group" in text
    assert "- ssh-rsa: RSA signatures over SHA-1" in text


def test_unknown_attacks_and_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown attack 'nope'"):
        prepare_attack("nope")
    with pytest.raises(ValueError, match="strict_kex must be one of on, off, not 'maybe'"):
        prepare_attack("terrapin", {"strict_kex": "maybe"})
    with pytest.raises(ValueError, match="the downgrade attack has no setting 'cipher'"):
        prepare_attack("downgrade", {"cipher": GCM})


def test_an_attacked_run_is_seeded_and_its_trace_round_trips():
    first, second = run_attack("terrapin"), run_attack("terrapin")
    text = dumps_trace(first.conductor.trace)
    assert text == dumps_trace(second.conductor.trace)  # byte for byte
    loaded = loads_trace(text)
    assert trace_differences(first.conductor.trace, loaded) == []
    assert outcome_of(loaded.events) == first.outcome  # the verdict reads from events alone
    assert loaded.header.extra["attack"] == {"name": "terrapin", "strict_kex": "off",
                                             "cipher": "chacha20-poly1305@openssh.com"}


def test_a_plain_run_has_no_interceptions():
    run = prepare_attack("terrapin")
    run.conductor.attacker = None
    run.conductor.run()
    assert all(s.interception is None for s in run.conductor.steps)
    assert any(isinstance(e, ExtInfoReceived) for e in run.conductor.client_events)
    assert not any(isinstance(e, Disconnected) and e.reason != R.BY_APPLICATION
                   for e in run.conductor.client_events)


# -- the command line ---------------------------------------------------------------------------


def test_attacks_lists_each_attack_with_its_settings(capsys):
    assert main(["attacks"]) == 0
    out = capsys.readouterr().out
    for name in ATTACKS:
        assert f"\n{name} " in "\n" + out
    assert "--strict-kex on|off (default off)" in out


def test_run_attack_prints_the_interceptions_and_the_verdict(capsys, tmp_path):
    trace = tmp_path / "terrapin.yaml"
    assert main(["run", "--attack", "terrapin", "--strict-kex", "on", "--trace", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "+ attacker: inserted: an IGNORE to the client" in out
    assert "outcome: the client ended the connection with PROTOCOL_ERROR at step 6 (IGNORE)" in out
    assert "Stopped by strict KEX" in out
    # The saved trace exports and prints like any other.
    assert main(["inspect", str(trace)]) == 0
    assert "IGNORE" in capsys.readouterr().out
    assert main(["export", str(trace), "--pcap", str(tmp_path / "t.pcap")]) == 0


@pytest.mark.parametrize("args, message", [
    (["--attack", "nope"], "unknown attack 'nope'"),
    (["--attack", "terrapin", "--kex", "ecdh-sha2-nistp256"], "--kex does not go with --attack"),
    (["--attack", "downgrade", "--strict-kex", "off"], "the downgrade attack has no --strict-kex setting"),
    (["--target", "kexinit"], "--target is a setting of --attack tamper"),
])
def test_run_attack_errors_are_one_line(capsys, args, message):
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sshviz: error: ") and message in err and err.count("\n") == 1


def test_a_man_in_the_middle_is_refused_by_a_client_that_knows_the_host_key():
    run = run_attack("mitm", {"known_host": "yes"})
    outcome = run.outcome
    assert (outcome.ended_by, outcome.reason, outcome.at_message) == (
        "client", R.HOST_KEY_NOT_VERIFIABLE, "KEX_ECDH_REPLY")
    assert not outcome.authenticated
    # The real server never saw a password.
    assert not any(isinstance(e, AuthAttempt) and e.method == "password" for e in run.conductor.server_events)


def test_a_man_in_the_middle_trusted_on_first_use_reads_both_legs():
    run = run_attack("mitm", {"known_host": "no"})
    outcome = run.outcome
    assert outcome.clean and outcome.authenticated and outcome.exit_status == 0
    assert run.conductor.driver_state.stdout == b"Hello, SSH!\n"  # relayed from the real server
    details = [s.interception.detail for s in run.conductor.steps if s.interception]
    assert any("the password of 'alice' is 'correct horse battery staple'" in d for d in details)
    assert any("the command is 'echo Hello, SSH!'" in d for d in details)
    assert any("the data is b'Hello, SSH!\\n'" in d for d in details)
    # The real server authenticated the attacker's client with the client's password.
    assert [(e.user, e.method) for e in run.conductor.server_events
            if isinstance(e, AuthAttempt) and e.result == "success"] == [("alice", "password")]
    # Nothing either side sent reached the other directly.
    assert all(s.interception is not None for s in run.conductor.steps)
    taken = [s for s in run.conductor.steps if s.interception.action == "taken"]
    assert taken and not any(s.delivered for s in taken)


def test_run_attack_mitm_warns_loudly_about_the_changed_key(capsys):
    assert main(["run", "--attack", "mitm"]) == 0
    out = capsys.readouterr().out
    assert "WARNING: THE SERVER'S HOST KEY HAS CHANGED" in out
    assert "Stopped by the host key check" in out
    assert main(["run", "--known-host", "no"]) == 2
    assert "--known-host is a setting of --attack mitm" in capsys.readouterr().err


@pytest.mark.parametrize("values, reason, verdict", [
    ({"byte": "20"}, R.MAC_ERROR, "Stopped by the MAC"),
    ({"byte": "1"}, None, "The receiver is still waiting"),  # chacha20: the length decrypts bigger
    ({"byte": "0"}, R.PROTOCOL_ERROR, "could not read the changed packet"),
    ({"target": "kexinit", "byte": "9999"}, None, "random padding"),  # the last byte: padding
])
def test_tamper_chooses_its_byte_and_the_verdict_follows_the_outcome(values, reason, verdict):
    run = run_attack("tamper", values)
    assert run.outcome.reason == reason or (reason is None and run.outcome.reason in (None, R.BY_APPLICATION))
    assert verdict in " ".join(run.summary())
    with pytest.raises(ValueError, match="byte must be a whole number"):
        prepare_attack("tamper", {"byte": "x"})
