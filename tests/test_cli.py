"""The network commands' options and errors as users meet them: wrong values are option errors
and failures are one line, never a traceback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest

from sshviz.cli import main

from .openssh import stop


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def test_serve_on_port_0_says_which_port_it_got(tmp_path):
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path), SECRET="pw")
    process = subprocess.Popen([sys.executable, "-m", "sshviz", "serve", "--port", "0", "--password-env", "SECRET"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        line = process.stdout.readline().decode()
    finally:
        stop(process)
    port = int(re.search(r"listening on 127\.0\.0\.1 port (\d+);", line).group(1))
    assert port > 0
