"""A bug caught while serving a connection ends that connection only, and is reported: one line
naming it and a file with the whole traceback (mode 0600, in the state directory), never a
traceback on the terminal and never silence."""

from __future__ import annotations

import asyncio
import re
import stat
import sys
import textwrap
from pathlib import Path

from sshviz.auth.server import ServerAuthConfig, UserRecord
from sshviz.cli import main
from sshviz.crypto.keys import PrivateKey
from sshviz.crypto.random import SeededRandom
from sshviz.endpoint import ClientConnection, ServerConfig, ServerConnection
from sshviz.net import adapter
from sshviz.transport.transport import TransportConfig

from .conftest import FakeSocket
from .openssh import shared_keys, sshviz_server
from .serving import serve

HOST_KEY = PrivateKey.generate("ssh-ed25519", SeededRandom("internal errors host"))
# Python that plants a bug in the server's dispatch of CHANNEL_REQUEST, then runs sshviz.
PLANTED = textwrap.dedent("""
    import sys
    from sshviz import endpoint
    from sshviz.wire.catalog import MSG

    dispatch = endpoint.ServerConnection._dispatch

    def planted(self, msg):
        if msg.spec is MSG.CHANNEL_REQUEST:
            raise RuntimeError("planted bug \\x1b[2J")
        return dispatch(self, msg)

    endpoint.ServerConnection._dispatch = planted
    from sshviz.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def saved_traceback(line: str, pattern: str) -> Path:
    found = re.fullmatch(pattern + r"; traceback saved to (\S+)", line)
    assert found, line
    path = Path(found.group(1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path


def test_serve_reports_a_bug_in_one_line_and_keeps_the_traceback_in_a_file(tmp_path):
    script = tmp_path / "planted.py"
    script.write_text(PLANTED)
    with serve(tmp_path, program=[sys.executable, str(script)]) as server:
        result = server.login(command="echo hi")
        assert result.returncode == 255
        line = server.wait_for_line("internal error", stream="stderr")
        assert server.alive()
    path = saved_traceback(line, r"127\.0\.0\.1:\d+: internal error \(a bug in sshviz\): "
                                 r"RuntimeError: planted bug \\x1b\[2J")
    assert path.parent == tmp_path / "state" / "sshviz" / "internal-errors"
    text = path.read_text()
    assert text.startswith("Traceback (most recent call last):") and "RuntimeError: planted bug" in text
    assert not [line for line in server.stderr if "Traceback" in line]


def test_connect_reports_a_bug_in_one_line_and_keeps_the_traceback_in_a_file(tmp_path, monkeypatch, capsys):
    def config():
        return ServerConfig(TransportConfig(host_keys=[HOST_KEY]), ServerAuthConfig(users={"u": UserRecord()}))

    def planted(self, msg):
        raise RuntimeError("planted client bug")

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(ClientConnection, "_dispatch", planted)  # the first message after kex
    with sshviz_server(config) as server:
        status = main(["connect", "u@127.0.0.1", "-p", str(server.port), "--known-hosts",
                       str(tmp_path / "known_hosts"), "--accept-new", "-i", str(shared_keys() / "user_ed25519"),
                       "--exec", "true"])
    err = capsys.readouterr().err
    assert status == 255
    assert err.endswith("\n") and err.count("\n") == 1
    path = saved_traceback(err[:-1], r"sshviz: error: internal error \(a bug in sshviz\): RuntimeError: "
                                     r"planted client bug")
    assert path.parent == tmp_path / "state" / "sshviz" / "internal-errors"
    assert "RuntimeError: planted client bug" in path.read_text()


def test_a_bug_in_an_event_handler_is_kept_like_one_at_the_endpoint(capsys):
    def handler(protocol, events):
        raise ValueError("handler bug")

    async def main():
        endpoint = ServerConnection(ServerConfig(TransportConfig(host_keys=[HOST_KEY])))
        protocol, sock = adapter.EndpointProtocol(endpoint, handler), FakeSocket()
        protocol.connection_made(sock)
        return endpoint, sock

    endpoint, sock = asyncio.run(main())
    assert sock.aborted
    assert endpoint.internal_error.startswith("Traceback") and "ValueError: handler bug" in endpoint.internal_error
    assert capsys.readouterr().err == ""  # the application reports it, in one line


def test_run_reports_an_endpoints_bug_in_one_line(monkeypatch, tmp_path, capsys):
    from sshviz import endpoint
    from sshviz.wire.catalog import MSG

    dispatch = endpoint.ServerConnection._dispatch

    def planted(self, msg):
        if msg.spec is MSG.CHANNEL_REQUEST:
            raise RuntimeError("planted bug \x1b[2J")
        return dispatch(self, msg)

    monkeypatch.setattr(endpoint.ServerConnection, "_dispatch", planted)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert main(["run"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and "\x1b" not in err
    assert err.startswith("sshviz: the server's internal error (a bug in sshviz): RuntimeError")
    (saved,) = (tmp_path / "sshviz" / "internal-errors").iterdir()
    assert "planted bug" in saved.read_text() and err.endswith(str(saved))


def test_a_bug_in_a_command_is_one_line_and_a_file(monkeypatch, tmp_path, capsys):
    from sshviz.cli import diff

    def planted(args):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(diff, "diff", planted)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("SSHVIZ_DEBUG", raising=False)
    assert main(["diff", "a", "b"]) == 70
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("sshviz: internal error (a bug in sshviz): ZeroDivisionError: planted")
    (saved,) = (tmp_path / "sshviz" / "internal-errors").iterdir()
    assert "Traceback" in saved.read_text()
