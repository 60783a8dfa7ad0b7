"""Console injection: what a peer sends (user names, DISCONNECT descriptions, version lines,
banners) reaches the teacher's terminal only escaped, in ``sshviz serve``'s log, in ``--print``
transcripts and in ``sshviz connect``'s messages, so it can neither drive the terminal nor forge
a line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from sshviz.auth.client import ClientAuthConfig
from sshviz.auth.server import ServerAuthConfig, UserRecord
from sshviz.crypto.keys import PrivateKey
from sshviz.crypto.random import SeededRandom
from sshviz.endpoint import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from sshviz.events import AuthExhausted
from sshviz.presentation.peertext import banner_text, visible, word
from sshviz.transport.transport import TransportConfig
from sshviz.wire.catalog import DisconnectReason

from .conftest import loopback_server, sshviz_connect, talk_until
from .openssh import sshviz_server
from .serving import PASSWORD, PROJECT, serve

HOSTILE_USER = "student\r\n127.0.0.1:4242: student password success\x1b]0;owned\x07\x1b[2J"
HOSTILE_DESCRIPTION = "bye\x1b[2J\x1b[H\r127.0.0.1:4242: teacher password success\n\u202eevil"
HOSTILE_VERSION = "Hostile_1.0 \x1b[31mred\x1b[0m"  # US-ASCII, as a version line must be
# How each looks once escaped.
SHOWN_USER = r"'student\r\n127.0.0.1:4242: student password success\x1b]0;owned\x07\x1b[2J'"
SHOWN_DESCRIPTION = r"bye\x1b[2J\x1b[H\r127.0.0.1:4242: teacher password success\n\u202eevil"
SHOWN_VERSION = r"SSH-2.0-Hostile_1.0 \x1b[31mred\x1b[0m"
HOST_KEY = PrivateKey.generate("ssh-ed25519", SeededRandom("peer text host"))


# -- the helper --------------------------------------------------------------------------------


@pytest.mark.parametrize("text, shown", [
    ("plain text, ünïcode → fine", "plain text, ünïcode → fine"),
    ("a\x1b[2Jb", r"a\x1b[2Jb"),
    ("one\r\ntwo\tthree\x00\x7f\x9b", r"one\r\ntwo\tthree\x00\x7f\x9b"),
    ("\u202eright-to-left\u200b\u2028", r"\u202eright-to-left\u200b\u2028"),
    ("\udcff", r"\udcff"),  # a surrogate, as undecodable bytes become
    (b"bytes \xff\x1b", r"bytes \xff\x1b"),
    ("back\\slash", "back\\slash"),
])
def test_visible_escapes_whatever_is_not_printable(text, shown):
    assert visible(text) == shown


def test_visible_can_keep_line_ends_and_cut_long_text():
    assert visible("a\nb\x1b", keep="\n") == "a\nb\\x1b"
    assert visible("a\n·b\n", keep="\n") == "a\n·b\n"  # printable but for what is kept
    assert visible("a\tb\n", keep="\n") == "a\\tb\n"
    assert visible("x" * 12, limit=5) == "xxxxx… (7 more characters)"
    assert banner_text("Welcome\r\nto class\x1b[2J\r\n\tbye\r") == "Welcome\nto class\\x1b[2J\n\tbye\\r"


@pytest.mark.parametrize("text, shown", [
    ("alice", "alice"), ("", "''"), ("two words", "'two words'"), ("it's", '"it\'s"'),
    ("x\x1b", r"'x\x1b'"), ("a" * 101, "'" + "a" * 100 + "'… (1 more characters)"),
])
def test_word_quotes_what_is_not_one_word(text, shown):
    assert word(text) == shown


# -- sshviz serve ------------------------------------------------------------------------------


def hostile_client(port: int) -> int:
    """Log in as HOSTILE_USER with a wrong password, from a HOSTILE_VERSION, then leave with
    HOSTILE_DESCRIPTION; returns the client's port."""
    client = ClientConnection(ClientConfig(
        TransportConfig(software_version=HOSTILE_VERSION),
        ClientAuthConfig(user=HOSTILE_USER, methods=["password"], passwords=["wrong"])))
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.settimeout(10)
        talk_until(sock, client, AuthExhausted)
        client.disconnect(DisconnectReason.BY_APPLICATION, HOSTILE_DESCRIPTION)
        sock.sendall(client.data_to_send())
        return sock.getsockname()[1]


def test_serve_logs_what_a_client_sent_escaped(tmp_path):
    with serve(tmp_path) as server:
        client_port = hostile_client(server.port)
        peer = f"127.0.0.1:{client_port}"
        server.wait_for_line(f"^{peer}: disconnected")
    logged = [line for line in server.stdout if line.startswith(peer)]
    assert logged[0].startswith(f"{peer}: {SHOWN_VERSION} HASSH ")  # its software, escaped
    assert logged[1:] == [f"{peer}: {SHOWN_USER} password failure (wrong password or unknown user)",
                          f"{peer}: disconnected ({SHOWN_DESCRIPTION})"]
    assert all(line.isprintable() for line in server.stdout + server.stderr)
    assert not [line for line in server.stdout if line.startswith("127.0.0.1:4242")]


def test_serve_print_shows_what_a_client_sent_escaped(tmp_path):
    with serve(tmp_path, "--print") as server:
        hostile_client(server.port)
        server.wait_for_line("disconnected by peer")
    assert all(line.isprintable() for line in server.stdout + server.stderr)
    assert not [line for line in server.stdout if line.startswith("127.0.0.1:4242")]
    assert server.wait_for_line("client → server  VERSION").endswith(f"client → server  VERSION  {SHOWN_VERSION}")
    assert server.wait_for_line("disconnected by peer").endswith(
        f": disconnected by peer: BY_APPLICATION: {SHOWN_DESCRIPTION}")


# -- sshviz connect ----------------------------------------------------------------------------


def disconnecting_server(description: str):
    """A server that sends its version line (HOSTILE_VERSION) and a DISCONNECT with
    ``description`` to each client, then waits for it to close; yields its port."""
    def serve_one(sock):
        server = ServerConnection(ServerConfig(TransportConfig(host_keys=[HOST_KEY],
                                                               software_version=HOSTILE_VERSION)))
        server.start()
        server.disconnect(DisconnectReason.TOO_MANY_CONNECTIONS, description)
        sock.sendall(server.data_to_send())
        sock.settimeout(10)
        while sock.recv(4096):  # until the client closes
            pass

    return loopback_server(serve_one)


def connect(port: int, tmp_path, *options: str) -> subprocess.CompletedProcess:
    return sshviz_connect(port, tmp_path, "--accept-new", *options)


def test_connect_says_what_the_server_sent_escaped_in_one_line(tmp_path):
    with disconnecting_server(HOSTILE_DESCRIPTION) as port:
        plain = connect(port, tmp_path)
        printed = connect(port, tmp_path, "--print")
    assert plain.returncode == 255
    assert plain.stderr.decode() == f"sshviz: error: the server disconnected: {SHOWN_DESCRIPTION}\n"
    assert printed.returncode == 255
    lines = printed.stderr.decode().split("\n")
    assert all(line.isprintable() for line in lines)
    assert [line for line in lines if "VERSION" in line][1].endswith(f"server → client  VERSION  {SHOWN_VERSION}")
    assert lines[-2:] == [f"sshviz: error: the server disconnected: {SHOWN_DESCRIPTION}", ""]


def test_connect_shows_a_banner_line_by_line_and_nothing_else_raw(tmp_path):
    def config():
        return ServerConfig(TransportConfig(host_keys=[HOST_KEY]),
                            ServerAuthConfig(users={"u": UserRecord()}, banner="Welcome\r\nto class\x1b[2J\r\n"))

    with sshviz_server(config) as server:
        run = connect(server.port, tmp_path)
    assert run.returncode == 255
    assert run.stderr.decode() == ("Welcome\nto class\\x1b[2J\n"
                                   "sshviz: error: authentication failed: no more methods to try\n")


def test_inspect_prints_a_hostile_session_escaped(tmp_path):
    trace = tmp_path / "hostile.yaml"
    with serve(tmp_path, "--trace", str(trace)) as server:
        hostile_client(server.port)
        server.wait_for_line("trace saved to")
    run = subprocess.run([sys.executable, "-m", "sshviz", "inspect", str(trace)], capture_output=True,
                         timeout=60, cwd=PROJECT)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.decode().split("\n")
    assert all(line.isprintable() for line in lines)
    assert f"client → server  VERSION  {SHOWN_VERSION}" in run.stdout.decode()


def test_sftp_listing_shows_hostile_file_names_escaped(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "evil\x1b[2J\rname").write_text("x")
    (tmp_path / "batch").write_text("ls\n")
    with serve(tmp_path, "--root", str(root)) as server:
        run = subprocess.run(
            [sys.executable, "-m", "sshviz", "connect", "tester@127.0.0.1", "-p", str(server.port),
             "--known-hosts", str(tmp_path / "known_hosts"), "--accept-new", "--password-env", "PW",
             "--sftp-batch", str(tmp_path / "batch")],
            capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=PROJECT,
            env=dict(os.environ, HOME=str(tmp_path), PW=PASSWORD))
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode() == "sftp> ls\nevil\\x1b[2J\\rname\n"
