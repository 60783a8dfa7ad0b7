"""How ``sshviz connect`` says a session failed: one line, ``sshviz: error: ...``, exit status
255, in words that name who ended it (it used to read ``sshviz: sshviz disconnected: ...``)."""

from __future__ import annotations

from sshviz.auth.server import ServerAuthConfig, UserRecord
from sshviz.crypto.keys import PrivateKey
from sshviz.crypto.random import SeededRandom
from sshviz.endpoint import ServerConfig, ServerConnection
from sshviz.transport.transport import TransportConfig
from sshviz.wire.catalog import DisconnectReason

from .conftest import loopback_server, sshviz_connect
from .openssh import sshviz_server

HOST_KEY = PrivateKey.generate("ssh-ed25519", SeededRandom("connect errors host"))


def one_shot_server(reply):
    """A server that sends ``reply(ServerConnection)`` to each client and closes."""
    def serve_one(sock):
        server = ServerConnection(ServerConfig(TransportConfig(host_keys=[HOST_KEY])))
        server.start()
        sock.sendall(reply(server))

    return loopback_server(serve_one)


def test_an_unknown_host_key_is_our_own_words(tmp_path):
    def config():
        return ServerConfig(TransportConfig(host_keys=[HOST_KEY]), ServerAuthConfig(users={"u": UserRecord()}))

    with sshviz_server(config) as server:
        run = sshviz_connect(server.port, tmp_path)
    assert run.returncode == 255
    assert run.stderr.decode() == (
        f"sshviz: error: host key for 127.0.0.1 (ssh-ed25519 {HOST_KEY.public.fingerprint()}) is not in "
        f"{tmp_path / 'known_hosts'}; check the fingerprint and connect again with --accept-new to trust it\n")


def test_a_server_disconnect_says_the_server_did(tmp_path):
    def disconnect(server):
        server.disconnect(DisconnectReason.TOO_MANY_CONNECTIONS, "too many connections")
        return server.data_to_send()

    with one_shot_server(disconnect) as port:
        run = sshviz_connect(port, tmp_path, "--accept-new")
    assert (run.returncode, run.stderr.decode()) == (
        255, "sshviz: error: the server disconnected: too many connections\n")


def test_a_server_that_closes_the_connection_is_named(tmp_path):
    with one_shot_server(lambda server: server.data_to_send()) as port:  # its version line only
        run = sshviz_connect(port, tmp_path, "--accept-new")
    assert (run.returncode, run.stderr.decode()) == (
        255, f"sshviz: error: connection closed by 127.0.0.1 port {port}\n")
