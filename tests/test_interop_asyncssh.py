"""asyncssh as a second real peer: it has mlkem768x25519-sha256, which OpenSSH 9.2 lacks."""

from __future__ import annotations

import asyncio

import pytest

from sshviz.auth.client import ClientAuthConfig
from sshviz.auth.server import ServerAuthConfig, UserRecord
from sshviz.crypto.keyfiles import private_key_bytes
from sshviz.crypto.keys import PrivateKey
from sshviz.endpoint import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from sshviz.events import AlgorithmsNegotiated, KexComputed
from sshviz.net.adapter import open_client, start_server
from sshviz.scenario import SessionDriver
from sshviz.transport.transport import TransportConfig

from .asyncssh_peer import asyncssh_server_accepting
from .conftest import assert_no_internal_error
from .openssh import free_port

asyncssh = pytest.importorskip("asyncssh")
pytestmark = pytest.mark.interop
HYBRID = "mlkem768x25519-sha256"


def _asyncssh_key(key: PrivateKey):
    return asyncssh.import_private_key(private_key_bytes(key))


@pytest.mark.parametrize("kex", [HYBRID, "curve25519-sha256", "diffie-hellman-group-exchange-sha256"])
def test_sshviz_client_against_asyncssh_server(kex):
    host_key = PrivateKey.generate("ssh-ed25519")
    user_key = PrivateKey.generate("ecdsa-sha2-nistp256")

    Server = asyncssh_server_accepting(asyncssh, user_key.public.openssh())

    async def handle(process):
        process.stdout.write(f"hello {process.command}\n")
        process.exit(5)

    async def main():
        port = free_port()
        server = await asyncssh.create_server(Server, "127.0.0.1", port, server_host_keys=[_asyncssh_key(host_key)],
                                              kex_algs=[kex], process_factory=handle)
        client = ClientConnection(ClientConfig(TransportConfig(kex=[kex]),
                                               ClientAuthConfig(user="someone", keys=[user_key])))
        driver = SessionDriver(client, "from sshviz")
        seen = []

        def on_events(protocol, events):
            seen.extend(events)
            for event in events:
                driver.handle(event)

        protocol = await open_client("127.0.0.1", port, client, on_events)
        await asyncio.wait_for(protocol.closed, 20)
        server.close()
        return client, driver, seen

    client, driver, seen = asyncio.run(main())
    assert_no_internal_error(client)
    assert driver.error is None, driver.error
    assert bytes(driver.stdout) == b"hello from sshviz\n"
    assert driver.exit_status == 5
    assert next(e for e in seen if isinstance(e, AlgorithmsNegotiated)).chosen("kex") == kex
    kex_event = next(e for e in seen if isinstance(e, KexComputed))
    assert kex_event.H_inputs[-1][1] == ("string" if kex == HYBRID else "mpint")


@pytest.mark.parametrize("kex", [HYBRID, "ecdh-sha2-nistp521"])
def test_asyncssh_client_against_sshviz_server(kex):
    host_key = PrivateKey.generate("ecdsa-sha2-nistp384")
    user_key = PrivateKey.generate("ssh-ed25519")
    servers = []

    def make_server():
        server = ServerConnection(ServerConfig(
            TransportConfig(host_keys=[host_key]),
            ServerAuthConfig(users={"alice": UserRecord(None, [user_key.public])})))
        servers.append(server)
        return server

    async def main():
        port = free_port()
        listener = await start_server("127.0.0.1", port, make_server)
        async with asyncssh.connect("127.0.0.1", port, username="alice", known_hosts=None,
                                    client_keys=[_asyncssh_key(user_key)], kex_algs=[kex]) as conn:
            result = await conn.run("echo hi from asyncssh; whoami", check=False)
        listener.close()
        return result

    result = asyncio.run(main())
    assert result.stdout == "hi from asyncssh\nalice\n"
    assert result.exit_status == 0
    assert servers
    assert_no_internal_error(*servers)
    assert servers[0].transport.last_negotiation.chosen("kex") == kex
