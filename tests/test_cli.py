"""The commands' options and errors as users meet them (``run`` and the network commands): wrong
values are option errors and failures are one line, never a traceback."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from sshviz.cli import main

from .openssh import free_port, sshviz_cli, stop


@pytest.mark.parametrize("args, message", [
    (["connect", "-p", "99999", "a@127.0.0.1"], "argument -p/--port: '99999' is not a port number (1 to 65535)"),
    (["connect", "-p", "0", "a@127.0.0.1"], "'0' is not a port number (1 to 65535)"),
    (["connect", "--timeout", "0", "a@127.0.0.1"], "argument --timeout: '0' is not a positive number"),
    (["serve", "--port", "-1"], "argument --port: '-1' is not a port number (0 to 65535)"),
])
def test_bad_option_values_are_option_errors(capsys, args, message):
    with pytest.raises(SystemExit) as exit:
        main(args)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_a_bad_forwarding_port_is_one_line(capsys, tmp_path):
    status = main(["connect", "a@127.0.0.1", "-p", str(free_port()), "-L", "70000:localhost:22",
                   "--known-hosts", str(tmp_path / "known_hosts")])
    err = capsys.readouterr().err
    assert status == 2 and err == "sshviz: error: -L 70000:localhost:22: '70000' is not a port number (1 to 65535)\n"


def test_a_refused_connection_says_why_in_one_line(capsys, tmp_path):
    port = free_port()
    status = main(["connect", "a@127.0.0.1", "-p", str(port), "--exec", "true",
                   "--known-hosts", str(tmp_path / "known_hosts")])
    err = capsys.readouterr().err
    assert status == 255
    assert err == f"sshviz: error: cannot connect to 127.0.0.1 port {port}: Connection refused\n"


@contextlib.contextmanager
def served(tmp_path, *options: str):
    """``sshviz serve`` on a free port for user alice, password 'pw'; yields the port."""
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path), SECRET="pw")
    process = subprocess.Popen([sys.executable, "-m", "sshviz", "serve", "--port", "0", "--user", "alice",
                                "--password-env", "SECRET", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        line = process.stdout.readline().decode()
        found = re.search(r"listening on 127\.0\.0\.1 port (\d+);", line)
        assert found, line  # port 0 is not a port to tell clients: the one chosen is said
        yield int(found.group(1))
    finally:
        stop(process)


def test_serve_on_port_0_says_which_port_it_got(tmp_path):
    with served(tmp_path) as port:
        assert port > 0


def connect_args(tmp_path, port: int) -> list[str]:
    return [sys.executable, "-m", "sshviz", "connect", "alice@127.0.0.1", "-p", str(port),
            "--known-hosts", str(tmp_path / "known_hosts"), "--accept-new"]


def test_sftp_refused_by_the_server_ends_the_session(tmp_path):
    (tmp_path / "batch").write_text("ls\n")
    with served(tmp_path) as port:  # no --root: no SFTP
        run = subprocess.run(connect_args(tmp_path, port) + ["--password-env", "SECRET", "--sftp-batch",
                                                             str(tmp_path / "batch")],
                             capture_output=True, timeout=30, env=dict(os.environ, SECRET="pw"))
    assert run.returncode == 1
    assert run.stderr == b"sshviz: sftp: the server refused the sftp subsystem\n"


def in_a_terminal(args: list[str], keys: list[tuple[bytes, bytes]], timeout: float = 20) -> tuple[int, bytes]:
    """Run ``args`` on a pseudo-terminal; when the output ends with the first of each pair,
    type the second. Returns the exit status and everything shown."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(args[0], args)
    shown, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if keys and shown.rstrip().endswith(keys[0][0]):
                os.write(fd, keys.pop(0)[1])
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # the program has ended
                    break
                if not data:
                    break
                shown += data
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), shown


def test_ctrl_c_ends_connect_at_a_password_prompt(tmp_path):
    with served(tmp_path) as port:
        status, shown = in_a_terminal(connect_args(tmp_path, port) + ["--exec", "echo hi"],
                                      [(b"Password:", b"\x03")])
    assert b"Password:" in shown and status == 130


def test_ctrl_c_ends_connect_at_the_sftp_prompt(tmp_path):
    (tmp_path / "root").mkdir()
    with served(tmp_path, "--root", str(tmp_path / "root")) as port:
        status, shown = in_a_terminal(connect_args(tmp_path, port) + ["--sftp"],
                                      [(b"Password:", b"pw\r"), (b"sftp>", b"\x03")])
    assert b"sftp>" in shown and status == 130


# -- sshviz run -------------------------------------------------------------------------------


def test_run_command_prints_a_transcript_and_detail():
    brief = sshviz_cli("run", "--seed", "3")
    assert brief.returncode == 0
    lines = brief.stdout.decode().splitlines()
    assert lines[0].startswith("#0") and "VERSION" in lines[0]
    assert any("USERAUTH_SUCCESS" in line for line in lines)
    detailed = sshviz_cli("run", "--seed", "3", "--print", "--cipher", "aes256-ctr", "--mac", "hmac-sha2-512")
    text = detailed.stdout.decode()
    assert "kex_algorithms" in text and "session_id" in text and "the first in the client's list" in text
    assert "aes256-ctr" in text


def test_run_command_errors_are_one_line():
    bad = sshviz_cli("run", "--cipher", "rot13")
    assert bad.returncode == 2
    assert bad.stderr.decode().count("\n") == 1
    assert "unknown cipher rot13" in bad.stderr.decode()
    help_text = sshviz_cli("--help").stdout.decode()
    for command in ("run", "connect", "serve"):
        assert command in help_text


def test_a_mistyped_option_gets_the_subcommands_usage_and_a_suggestion(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["run", "--chiper", "aes128-ctr"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and err.startswith("usage: sshviz run ")
    assert "sshviz run: error: unrecognized arguments: --chiper aes128-ctr (did you mean --cipher?)" in err


def test_run_says_the_sftp_files_are_in_memory(capsys):
    assert main(["run", "--sftp", "get readme.txt"]) == 0
    assert "(the client's files are in memory: nothing is written to disk)" in capsys.readouterr().out


def test_a_piped_command_leaves_sigpipe_as_it_found_it(capsys):
    # It takes SIGPIPE's default only while it runs: a test process that kept it would be killed
    # by the next write to a closed socket (a whole test run once died so, status 141).
    before = signal.getsignal(signal.SIGPIPE)
    assert main(["inspect", "rekey", "--brief"]) == 0
    assert signal.getsignal(signal.SIGPIPE) == before != signal.SIG_DFL
    assert "KEXINIT" in capsys.readouterr().out
