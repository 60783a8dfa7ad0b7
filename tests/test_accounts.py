"""Accounts for a class: `sshviz accounts add|list|remove` keeps users with scrypt password
hashes and/or public keys; `sshviz serve --accounts FILE --root DIR` lets them in, each in a
directory of their own that no other user can see."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from sshviz.auth.accounts import AccountsError, parse_accounts
from sshviz.cli import main

from .openssh import require, shared_keys, ssh_command
from .serving import serve


def accounts_cli(capsys, *args):
    status = main(["accounts", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_add_list_remove(tmp_path, capsys, monkeypatch):
    file = str(tmp_path / "class.yaml")
    monkeypatch.setenv("PW", "s3cret")
    assert accounts_cli(capsys, "--file", file, "add", "alice", "--password-env", "PW")[0] == 0
    key = shared_keys() / "user_ed25519.pub"
    status, _, err = accounts_cli(capsys, "--file", file, "add", "bob", "--key", str(key))
    assert status == 0 and err == f"added bob in {file}\n"
    assert stat.S_IMODE(os.stat(file).st_mode) == 0o600
    text = open(file).read()
    assert "s3cret" not in text and "password: scrypt$" in text
    status, out, _ = accounts_cli(capsys, "--file", file, "list")
    assert out.splitlines()[0] == "alice: password"
    assert out.splitlines()[1].startswith("bob: key SHA256:")
    assert accounts_cli(capsys, "--file", file, "remove", "alice")[0] == 0
    assert list(parse_accounts(open(file).read())) == ["bob"]


@pytest.mark.parametrize("args, message", [
    (["add", "../etc"], "'../etc' is not a user name"),
    (["add", "carol"], "give carol a way to log in"),
    (["add", "carol", "--key", "/nonexistent.pub"], "--key /nonexistent.pub"),
    (["remove", "nobody"], "no account nobody in"),
])
def test_mistakes_are_one_line(tmp_path, capsys, args, message):
    status, _, err = accounts_cli(capsys, "--file", str(tmp_path / "a.yaml"), *args)
    assert status in (1, 2) and err.startswith("sshviz: error: ") and message in err and err.count("\n") == 1


def test_a_broken_accounts_file_names_the_file_and_the_line(tmp_path, capsys):
    broken = tmp_path / "a.yaml"
    broken.write_text("version: 1\naccounts:\n  alice: {password: [\n")
    status, _, err = accounts_cli(capsys, "--file", str(broken), "list")
    assert status == 2 and f"{broken}: line" in err and "not YAML" in err
    with pytest.raises(AccountsError, match="the password must be a scrypt hash"):
        parse_accounts("accounts:\n  alice: {password: plain}\n")


def test_each_user_has_a_directory_of_their_own(tmp_path, capsys):
    require("sftp")
    file = str(tmp_path / "class.yaml")
    key = str(shared_keys() / "user_ed25519.pub")
    for name in ("alice", "bob"):
        assert accounts_cli(capsys, "--file", file, "add", name, "--key", key)[0] == 0
    root = tmp_path / "root"
    root.mkdir()
    with serve(tmp_path, "--root", str(root), users=["--accounts", file]) as served:
        def as_user(user, command):
            return subprocess.run(ssh_command(served.port, user, tmp_path,
                                              identity=shared_keys() / "user_ed25519", command=command),
                                  capture_output=True, timeout=60, input=b"")

        put = subprocess.run(["sftp", "-b", "-", "-P", str(served.port), "-i", str(shared_keys() / "user_ed25519"),
                              "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={tmp_path / 'kh'}",
                              "-F", "/dev/null", "alice@127.0.0.1"],
                             input=f"put {key} secret.txt\n".encode(), capture_output=True, timeout=60)
        assert put.returncode == 0, put.stderr
        assert (root / "alice" / "secret.txt").exists()
        assert stat.S_IMODE(os.stat(root / "bob").st_mode) == 0o700
        assert as_user("alice", "ls").stdout.split() == [b"secret.txt"]
        assert as_user("bob", "ls").stdout.split() == []  # bob's / is root/bob
        denied = as_user("bob", "cat ../alice/secret.txt")
        assert b"ssh-ed25519" not in denied.stdout
        assert as_user("mallory", "ls").returncode == 255  # no such account
        assert served.alive()


def test_serve_accounts_refuses_mixed_options(tmp_path, capsys):
    assert main(["serve", "--accounts", str(tmp_path / "none.yaml")]) == 2
    assert "no such file (make it with `sshviz accounts add NAME`)" in capsys.readouterr().err


def test_listening_beyond_loopback_is_said_loudly_with_the_address_to_hand_out():
    from sshviz.cli.serve import exposure_warning

    assert exposure_warning("127.0.0.1", 2222, ["alice"]) == []
    assert exposure_warning("::1", 2222, ["alice"]) == []
    lines = exposure_warning("192.0.2.10", 2222, ["alice"])
    assert lines[1].startswith("!! listening on 192.0.2.10 port 2222: anyone who can reach this machine")
    assert "!! hand out: ssh -p 2222 alice@192.0.2.10" in lines
    assert "!! hand out: ssh -p 2222 USER@192.0.2.10" in exposure_warning("192.0.2.10", 2222, ["a", "b"])


def test_sessions_per_user_are_limited_and_a_refusal_is_logged(tmp_path):
    import time

    from .openssh import stop
    from .serving import USER

    with serve(tmp_path, "--max-sessions-per-user", "1") as served:
        held = subprocess.Popen(ssh_command(served.port, USER, tmp_path, "-N",
                                            identity=shared_keys() / "user_ed25519"),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            served.wait_for_line(rf"{USER} publickey\S* success", timeout=30)
            second = served.login(command="echo hi")
            assert second.returncode == 255 and b"too many connections for this user" in second.stderr
            served.wait_for_line(r"refused: already 1 connections")
        finally:
            stop(held)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the first connection's close is counted
            third = served.login(command="echo hi")
            if third.returncode == 0:
                break
            time.sleep(0.2)
        assert third.returncode == 0 and third.stdout == b"hi\n"
        assert served.alive()
