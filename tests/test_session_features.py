"""Session features through the conductor: partial success, rekeying by packet count, global
and channel requests, and the `sshviz run` command."""

from __future__ import annotations

from sshviz.conductor import Conductor
from sshviz.events import (AuthFailed, AuthSucceeded, ChannelRequestDone, GlobalRequestDone,
                           KexComputed)
from sshviz.scenario import Scenario, build_pair, make_conductor

from .openssh import sshviz_cli


def changes(conductor, kind, side=None):
    return [e for step in conductor.steps for s, e in step.changes
            if isinstance(e, kind) and (side is None or s == side)]


def test_partial_success_then_a_second_method():
    from sshviz.auth.passwords import hash_password

    client, server, driver, clock = build_pair(Scenario(auth="publickey"))
    server.config.auth.chains = [["publickey", "password"]]
    server.config.auth.users["alice"].password_hash = hash_password("correct horse battery staple")
    client.config.auth.methods = ["publickey", "password"]
    client.config.auth.passwords = ["correct horse battery staple"]
    conductor = Conductor(client, server, clock, driver=driver.for_conductor)
    conductor.run()
    failures = changes(conductor, AuthFailed, "client")
    assert [(f.method, f.partial_success, f.methods_left) for f in failures] == [
        ("none", False, ["publickey", "password"]), ("publickey", True, ["password"])]
    assert changes(conductor, AuthSucceeded, "client")[0].method == "password"
    assert driver.exit_status == 0


def test_rekey_after_a_number_of_packets():
    client, server, driver, clock = build_pair(Scenario())
    server.config.transport.rekey_packets = 5
    conductor = Conductor(client, server, clock, driver=driver.for_conductor)
    conductor.run()
    assert len(changes(conductor, KexComputed, "server")) >= 2
    assert driver.exit_status == 0


def _after_auth(conductor: Conductor) -> None:
    while (step := conductor.step()) is not None and step.name != "USERAUTH_SUCCESS":
        pass


def test_global_requests_are_answered():
    conductor = make_conductor(Scenario())
    _after_auth(conductor)

    def ask(client):
        client.connection.global_request("keepalive@openssh.com")
        client.connection.global_request("tcpip-forward", address_to_bind="127.0.0.1", port_to_bind=0)
        client.connection.global_request("no-more-sessions@openssh.com")

    conductor.act("client", ask)
    conductor.run()
    replies = [(e.request, e.success) for e in changes(conductor, GlobalRequestDone, "client")]
    assert replies == [("keepalive@openssh.com", False), ("tcpip-forward", False),
                       ("no-more-sessions@openssh.com", True)]


def test_no_more_sessions_refuses_the_next_session():
    conductor = make_conductor(Scenario(command=None))
    conductor.driver = None  # this test plays the client itself
    _after_auth(conductor)
    conductor.act("client", lambda c: c.connection.global_request("no-more-sessions@openssh.com", want_reply=False))
    conductor.act("client", lambda c: c.open_session())
    conductor.run()
    assert any(s.name == "CHANNEL_OPEN_FAILURE" for s in conductor.steps)


def _session_played_by_hand():
    """A conductor past authentication with a session channel open; the test plays the
    client. Returns (conductor, the client's channel id)."""
    conductor = make_conductor(Scenario(command=None))
    conductor.driver = None
    _after_auth(conductor)
    channel = {}
    conductor.act("client", lambda c: channel.setdefault("id", c.open_session()))
    conductor.run()
    return conductor, channel["id"]


def test_env_window_change_and_signal_requests():
    conductor, ch = _session_played_by_hand()

    def requests(client):
        connection = client.connection
        connection.request(ch, "env", variable_name="LANG", variable_value="C.UTF-8")
        connection.request(ch, "env", variable_name="LD_PRELOAD", variable_value="/evil.so")
        connection.request(ch, "pty-req", term="xterm", width_chars=80, height_rows=24, width_pixels=0,
                           height_pixels=0, terminal_modes=b"\x00")
        connection.request(ch, "shell")
        connection.request(ch, "window-change", want_reply=False, width_chars=100, height_rows=30,
                           width_pixels=0, height_pixels=0)
        connection.request(ch, "signal", signal_name="INT")
        connection.request(ch, "exec", command="echo too late")

    conductor.act("client", requests)
    conductor.run()
    done = [(e.request, e.success) for e in changes(conductor, ChannelRequestDone, "client")]
    assert done == [("env", True), ("env", False), ("pty-req", True), ("shell", True), ("signal", True),
                    ("exec", False)]


def test_env_requests_are_bounded():
    # Each accepted variable is kept for the session: a client must not grow that at will.
    from sshviz.connection.layer import ServerSession

    conductor, ch = _session_played_by_hand()

    def requests(client):
        for i in range(ServerSession.MAX_ENV + 10):
            client.connection.request(ch, "env", variable_name=f"LC_{i}", variable_value="x" * 1000)

    conductor.act("client", requests)
    conductor.run()
    done = [e.success for e in changes(conductor, ChannelRequestDone, "client")]
    assert done == [True] * ServerSession.MAX_ENV + [False] * 10
    [server_channel] = conductor.server.connection.channels.values()
    assert len(server_channel.session.info.env) == ServerSession.MAX_ENV


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
