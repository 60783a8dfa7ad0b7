"""`sshviz diff A B`: two sessions compared, from traces, samples or in-process runs."""

from __future__ import annotations

from sshviz.cli import main
from sshviz.presentation.difference import trace_difference
from sshviz.scenario import Scenario, run_scenario
from sshviz.trace.fileformat import save_trace


def test_the_same_run_twice_is_the_same(capsys):
    assert main(["diff", "scenario:", "scenario:seed=1"]) == 0
    assert capsys.readouterr().out.startswith("A and B are the same in what this compares\n")


def test_another_cipher_changes_negotiation_and_sizes_not_the_sequence(capsys):
    assert main(["diff", "scenario:", "scenario:cipher=aes128-gcm@openssh.com"]) == 1
    out = capsys.readouterr().out
    assert "  cipher_c2s: chacha20-poly1305@openssh.com → aes128-gcm@openssh.com\n" in out
    assert "messages: 28 in A, 28 in B\n" in out and "  - " not in out
    assert "  #9 → #9 client → server SERVICE_REQUEST: 44 → 52 bytes\n" in out  # a 16-byte tag and another block


def test_a_wrong_password_first_shows_in_the_message_sequence(tmp_path, capsys):
    trace = run_scenario(Scenario(auth="password")).trace
    save_trace(trace, tmp_path / "a.yaml")
    assert main(["diff", str(tmp_path / "a.yaml"), "scenario:auth=password,wrong_password_first=yes"]) == 1
    out = capsys.readouterr().out
    assert "messages: 26 in A, 28 in B\n" in out
    assert "  + B #11 client → server USERAUTH_REQUEST\n  + B #12 server → client USERAUTH_FAILURE\n" in out
    assert out.rstrip().endswith("ending: exit status 0, disconnected (BY_APPLICATION: session finished)")


def test_different_endings_are_said():
    lines = trace_difference(run_scenario(Scenario()).trace, run_scenario(Scenario(command="exit 3")).trace)
    assert lines[-1].startswith("ending: A exit status 0") and "B exit status 3" in lines[-1]


def test_bad_arguments_are_one_line(capsys):
    assert main(["diff", "scenario:cipher=nope", "scenario:"]) == 2
    assert "unknown cipher nope" in capsys.readouterr().err
    assert main(["diff", "scenario:bogus=1", "scenario:"]) == 2
    assert "'bogus=1' is not OPTION=VALUE" in capsys.readouterr().err
    assert main(["diff", "no-such-trace", "scenario:"]) == 2
    assert "no-such-trace: no such file" in capsys.readouterr().err
