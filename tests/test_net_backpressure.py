"""Backpressure in the asyncio adapter: a peer that sends requests and never reads the replies
stops being read once a little output waits for it, so it cannot make the server queue replies
without bound; reading resumes when the peer reads again."""

from __future__ import annotations

import asyncio
import select
import socket
import time

from sshviz.auth.client import ClientAuthConfig
from sshviz.auth.server import ServerAuthConfig, UserRecord
from sshviz.crypto.keys import PrivateKey
from sshviz.crypto.random import SeededRandom
from sshviz.endpoint import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from sshviz.events import AuthSucceeded, PongReceived
from sshviz.net import adapter
from sshviz.transport.transport import TransportConfig
from sshviz.wire.catalog import SSH

from .conftest import FakeSocket, talk_until
from .openssh import sshviz_server

HOST_KEY = PrivateKey.generate("ssh-ed25519", SeededRandom("backpressure host"))
USER_KEY = PrivateKey.generate("ssh-ed25519", SeededRandom("backpressure user"))
FAST = dict(ciphers=["aes128-gcm@openssh.com"])  # the flood is about queues, not ciphers


def server_config() -> ServerConfig:
    return ServerConfig(TransportConfig(host_keys=[HOST_KEY], **FAST),
                        ServerAuthConfig(users={"u": UserRecord(authorized_keys=[USER_KEY.public])}))


def logged_in(port: int, receive_buffer: int | None = None) -> tuple[socket.socket, ClientConnection]:
    """A sans-I/O sshviz client over a blocking socket, logged in as u."""
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)  # before the window opens
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    client = ClientConnection(ClientConfig(TransportConfig(**FAST), ClientAuthConfig(user="u", keys=[USER_KEY])))
    talk_until(sock, client, AuthSucceeded)
    sock.sendall(client.data_to_send())
    return sock, client


def flood(sock: socket.socket, client: ClientConnection, limit: int) -> tuple[int, bytes]:
    """Send 32 KB PINGs without reading until ``limit`` bytes went out or the socket takes
    nothing for a while (the server stopped reading); returns how many PINGs were made and the
    bytes of the last one not sent yet."""
    sock.setblocking(False)
    pending, pings, sent = b"", 0, 0
    while sent < limit:
        if not pending:
            client.transport.send_raw(SSH.build("PING", data=bytes(32000)))
            pending, pings = client.data_to_send(), pings + 1
        if not select.select([], [sock], [], 1.5)[1]:
            break
        count = sock.send(pending)
        pending, sent = pending[count:], sent + count
    return pings, pending


def read_pongs(sock: socket.socket, client: ClientConnection, count: int, pending: bytes) -> None:
    """Read until ``count`` PONGs came, sending ``pending`` meanwhile."""
    pongs, deadline = 0, time.monotonic() + 60
    while pongs < count:
        assert time.monotonic() < deadline, f"{pongs} PONGs of {count}"
        readable, writable, _ = select.select([sock], [sock] if pending else [], [], 1)
        if writable:
            pending = pending[sock.send(pending):]
        if readable:
            data = sock.recv(1 << 20)
            assert data, "the server closed the connection"
            pongs += sum(isinstance(e, PongReceived) for e in client.receive_data(data))
            pending += client.data_to_send()


def the_flooder(server) -> ServerConnection:
    [connection] = [c for c in server.connections if c.auth.authenticated and not c.closed]
    return connection


def test_a_peer_that_floods_requests_and_never_reads_is_read_no_more():
    with sshviz_server(server_config) as server:
        sock, client = logged_in(server.port, receive_buffer=16384)
        pings, pending = flood(sock, client, limit=24 << 20)
        time.sleep(0.5)  # whatever the server read is handled
        queued = the_flooder(server).unsent_bytes
        # One read (at most 256 KiB) may come in past the bound before reading stops.
        assert queued <= adapter.READ_PAUSE_BYTES + (256 << 10) + 32768
        # Another client logs in meanwhile.
        other, _ = logged_in(server.port)
        other.close()
        # When the flooder reads again, the server reads again: every PING gets its PONG.
        read_pongs(sock, client, pings, pending)
        sock.close()
        assert server.internal_errors() == []


def test_reading_pauses_while_output_waits_past_the_bound_and_resumes_when_the_peer_reads(monkeypatch):
    monkeypatch.setattr(adapter, "READ_PAUSE_BYTES", 10_000)

    async def main():
        endpoint = ServerConnection(server_config())
        protocol, sock = adapter.EndpointProtocol(endpoint), FakeSocket()
        protocol.connection_made(sock)
        protocol.pause_writing()  # the peer does not read
        protocol.act(endpoint.transport.send_raw, SSH.build("IGNORE", data=bytes(9_000)))
        assert sock.reading  # not past the bound
        protocol.act(endpoint.transport.send_raw, SSH.build("IGNORE", data=bytes(2_000)))
        assert not sock.reading and endpoint.unsent_bytes > 10_000
        protocol.resume_writing()  # the peer reads: what waited goes out
        assert sock.reading and endpoint.unsent_bytes == 0

    asyncio.run(main())


def test_output_held_back_by_a_key_exchange_does_not_stop_reading(monkeypatch):
    # Messages queued during a key exchange count as unsent, but the exchange needs the peer's
    # next messages to end and let them go: pausing for them would wait forever.
    monkeypatch.setattr(adapter, "READ_PAUSE_BYTES", 1_000)

    async def main():
        endpoint = ServerConnection(server_config())
        protocol, sock = adapter.EndpointProtocol(endpoint), FakeSocket()
        protocol.connection_made(sock)
        protocol.data_received(b"SSH-2.0-peer\r\n")  # the server's KEXINIT goes out
        protocol.act(endpoint.transport.send, SSH.build("IGNORE", data=bytes(5_000)))  # held
        assert endpoint.unsent_bytes > 1_000 and sock.reading

    asyncio.run(main())


def test_an_unauthenticated_peer_that_does_not_read_costs_a_small_buffer_only():
    # Before its peer authenticates, a server connection sends a few KiB (version, KEXINIT, the
    # key exchange reply, authentication replies): its socket buffer may hold 64 KiB, not the
    # 4 MiB that bulk transfers need after authentication.
    class Wire(FakeSocket):
        def __init__(self, client):
            super().__init__()
            self.client = client
            self.highs = []

        def set_write_buffer_limits(self, high=None, low=None):
            self.highs.append(high)

        def write(self, data):
            self.client.receive_data(data)

    async def main():
        client = ClientConnection(ClientConfig(TransportConfig(), ClientAuthConfig(user="u", keys=[USER_KEY])))
        protocol = adapter.EndpointProtocol(ServerConnection(server_config()))
        wire = Wire(client)
        protocol.connection_made(wire)
        client.start()
        assert wire.highs == [adapter.PRE_AUTH_HIGH_WATER] == [64 * 1024]
        for _ in range(20):
            protocol.data_received(client.data_to_send())
            if client.authenticated:
                break
        assert client.authenticated
        assert wire.highs == [adapter.PRE_AUTH_HIGH_WATER, adapter.HIGH_WATER]

    asyncio.run(main())


def test_bytes_wait_with_the_endpoint_while_the_peer_does_not_read(monkeypatch):
    # A peer that stops reading fills the socket's buffer (pause_writing): what the endpoint
    # queues then stays with it, where it holds programs back, instead of piling up in the
    # socket's buffer; and past a limit the connection ends.
    async def main():
        endpoint = ServerConnection(ServerConfig(TransportConfig(
            host_keys=[PrivateKey.generate("ssh-ed25519", SeededRandom(1))])))
        protocol, socket = adapter.EndpointProtocol(endpoint), FakeSocket()
        protocol.connection_made(socket)
        assert socket.written.startswith(b"SSH-2.0-sshviz")
        protocol.pause_writing()
        sent = len(socket.written)
        protocol.data_received(b"SSH-2.0-peer\r\n")  # the server's KEXINIT is due
        assert len(socket.written) == sent and endpoint.unsent_bytes > 0
        protocol.resume_writing()
        assert len(socket.written) > sent and endpoint.unsent_bytes == 0
        monkeypatch.setattr(adapter, "MAX_UNSENT", 1000)
        protocol.pause_writing()
        protocol.act(endpoint.transport.send_raw, SSH.build("IGNORE", data=bytes(2000)))
        assert socket.aborted

    asyncio.run(main())


def test_a_client_reads_a_mebibyte_at_a_time_and_a_server_what_asyncio_would():
    # A busy client handles several SFTP replies per read; a server's reads bound what one
    # read from a hostile client queues (READ_PAUSE_BYTES).
    async def main():
        client = adapter.EndpointProtocol(ClientConnection())
        server = adapter.EndpointProtocol(ServerConnection(server_config()))
        assert len(client.get_buffer(-1)) == adapter.CLIENT_READ_SIZE == 1024 * 1024
        assert len(server.get_buffer(-1)) == adapter.SERVER_READ_SIZE == 256 * 1024

    asyncio.run(main())
