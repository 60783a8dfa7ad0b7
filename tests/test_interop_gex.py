"""diffie-hellman-group-exchange: the group sshviz's server offers for a request is the one
OpenSSH's sshd offers for the same request (measured against the real sshd: the host's, and
Debian 13's 10.0 with its own moduli file), except where sshd picks one of its 7680-bit moduli,
a size RFC 3526 has no group for."""

from __future__ import annotations

import contextlib
import os
import socket

import pytest

from sshviz.crypto.random import SeededRandom
from sshviz.endpoint import ServerConfig
from sshviz.sides import Side
from sshviz.transport.packet import PacketReader, PacketWriter
from sshviz.transport.transport import TransportConfig
from sshviz.wire.catalog import MSG, SSH

from .openssh import openssh, sshd, sshviz_server  # noqa: F401
from .serving import kexinit_payload

REQUESTS = [(2048, 2048, 8192), (2048, 3072, 8192), (2048, 4000, 8192), (2048, 8192, 8192),
            (1024, 1024, 8192), (3072, 3072, 4096), (2048, 5000, 6144), (4096, 2048, 8192)]


def offered_bits(port: int, request: tuple[int, int, int]) -> int | None:
    """The size of the group the server at ``port`` answers ``request`` with; None if it
    answers with no group (it disconnects or closes)."""
    lo, n, hi = request
    writer = PacketWriter("c2s", SeededRandom(0))
    reader = PacketReader("s2c")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"SSH-2.0-gex-probe\r\n"
                     + writer.encode(kexinit_payload("diffie-hellman-group-exchange-sha256")).wire
                     + writer.encode(MSG.KEX_DH_GEX_REQUEST.build(min=lo, n=n, max=hi).encode()).wire)
        data = b""
        while b"\n" not in data:
            data += sock.recv(4096)
        reader.feed(data.split(b"\n", 1)[1])
        while True:
            with contextlib.suppress(socket.timeout):
                record = reader.next_packet()
                if record is None:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return None
                    reader.feed(chunk)
                    continue
                message = SSH.decode(record.payload, {"kex": "gex"})
                if message.spec is MSG.KEX_DH_GEX_GROUP:
                    return message["p"].bit_length()
                if message.spec is MSG.DISCONNECT:
                    return None


@pytest.mark.interop
def test_the_offered_group_is_the_one_sshd_offers(openssh):
    # OpenSSH 10's sshd offers no group exchange unless told to.
    with sshd(["KexAlgorithms +diffie-hellman-group-exchange-sha256"], openssh=openssh) as server:
        from_sshd = {request: offered_bits(server.port, request) for request in REQUESTS}
    from sshviz.crypto.keys import PrivateKey
    key = PrivateKey.generate("ssh-ed25519")
    with sshviz_server(lambda: ServerConfig(TransportConfig(host_keys=[key]))) as server:
        from_sshviz = {request: offered_bits(server.port, request) for request in REQUESTS}
    assert from_sshviz == from_sshd


def test_an_old_style_request_for_a_small_group_gets_the_smallest_we_have():
    # KEX_DH_GEX_REQUEST_OLD names only n (RFC 4419 5); 1024 used to be refused outright.
    from sshviz.transport.kex import GEX, KEX_METHODS, KexExchange

    exchange = KexExchange(KEX_METHODS["diffie-hellman-group-exchange-sha256"])
    exchange.take(MSG.KEX_DH_GEX_REQUEST_OLD.build(n=1024), Side.CLIENT)
    group = exchange.next_message(SeededRandom(0))
    assert group.spec is MSG.KEX_DH_GEX_GROUP and group["p"].bit_length() == 2048
    assert exchange.family is GEX
