"""``sshviz connect --timeout`` against servers that stall: silent, a non-SSH banner that never
ends, a banner dripping a byte at a time, nothing after the version line, nothing after
KEXINIT, no answer to authentication. Each ends in one line naming the step that took too long,
instead of waiting forever."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading

import pytest

from sshviz.auth.server import ServerAuthConfig, UserRecord
from sshviz.crypto.keys import PrivateKey
from sshviz.crypto.random import SeededRandom
from sshviz.endpoint import ServerConfig, ServerConnection
from sshviz.events import PacketReceived, PacketSent
from sshviz.net.handshake import HandshakeWatch
from sshviz.transport.transport import TransportConfig
from sshviz.wire.catalog import MSG

from .serving import PROJECT

HOST_KEY = PrivateKey.generate("ssh-ed25519", SeededRandom("timeouts host"))


async def until_closed(reader: asyncio.StreamReader) -> None:
    while await reader.read(4096):
        pass


async def silent(reader, writer):
    await until_closed(reader)


async def not_ssh(reader, writer):
    writer.write(b"HTTP/1.1 400 Bad Request\r\nServer: not-ssh\r\n")
    await until_closed(reader)


async def dripping(reader, writer):
    writer.write(b"SSH-2.0-")
    while not reader.at_eof():
        writer.write(b"x")  # the line would end, some day
        await asyncio.sleep(0.2)


async def after_version(reader, writer):
    writer.write(b"SSH-2.0-Stall_1.0\r\n")
    await until_closed(reader)


def real_server(stop_when):
    """A real ServerConnection whose output stops for good once ``stop_when(events)``."""
    async def handler(reader, writer):
        server = ServerConnection(ServerConfig(TransportConfig(host_keys=[HOST_KEY]),
                                               ServerAuthConfig(users={"u": UserRecord()})))
        events, stalled = server.start(), False
        while True:
            stalled = stalled or stop_when(events)
            output = server.data_to_send()
            if not stalled:
                writer.write(output)
            data = await reader.read(65536)
            if not data:
                return
            events = server.receive_data(data)
    return handler


def after_kexinit(events) -> bool:  # its KEXINIT is out; nothing more
    return any(isinstance(e, PacketSent) and e.record.message.spec is MSG.KEXINIT for e in events)


def during_authentication(events) -> bool:  # the client's first USERAUTH_REQUEST is never answered
    return any(isinstance(e, PacketReceived) and e.record.message.spec is MSG.USERAUTH_REQUEST for e in events)


@contextlib.contextmanager
def fake_server(handler):
    """``handler`` as an asyncio server on a loopback port, in a thread; yields the port."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port = []

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        started.set()
        async with server:
            await server.serve_forever()

    def run():
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            loop.run_until_complete(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield port[0]
    finally:
        for task in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(task.cancel)
        thread.join(5)


@pytest.mark.parametrize("handler, message", [
    (silent, "127.0.0.1 port {port} sent no SSH version line in 1.5 s"),
    (not_ssh, "127.0.0.1 port {port} sent no SSH version line in 1.5 s"),
    (dripping, "127.0.0.1 port {port} sent no SSH version line in 1.5 s"),
    (after_version, "the key exchange with 127.0.0.1 port {port} did not finish in 1.5 s"),
    (real_server(after_kexinit), "the key exchange with 127.0.0.1 port {port} did not finish in 1.5 s"),
    (real_server(during_authentication), "127.0.0.1 port {port} did not answer authentication in 1.5 s"),
], ids=["silent", "not-ssh", "dripping", "after-version", "after-kexinit", "during-authentication"])
def test_a_stalled_server_ends_in_one_line_naming_the_step(tmp_path, handler, message):
    with fake_server(handler) as port:
        run = subprocess.run(
            [sys.executable, "-m", "sshviz", "connect", "u@127.0.0.1", "-p", str(port), "--timeout", "1.5",
             "--known-hosts", str(tmp_path / "known_hosts"), "--accept-new", "--exec", "true"],
            capture_output=True, timeout=30, stdin=subprocess.DEVNULL, cwd=PROJECT,
            env=dict(os.environ, HOME=str(tmp_path)))
    assert (run.returncode, run.stderr.decode()) == (255, f"sshviz: error: {message.format(port=port)}\n")


# -- the deadlines, without sockets ------------------------------------------------------------


class Client:
    """What HandshakeWatch reads of a ClientConnection."""

    def __init__(self):
        self.transport = type("T", (), {"peer_version": None, "first_kex_done": False})()
        self.authenticated = False


def test_each_step_gets_its_own_deadline_and_a_user_typing_a_password_is_not_timed():
    from sshviz.events import PasswordNeeded

    client, watch = Client(), HandshakeWatch(10, now=100)
    assert (watch.step, watch.deadline) == ("version", 110)
    watch.update(client, [], now=105)
    assert watch.deadline == 110  # a byte or a line before the version line changes nothing
    client.transport.peer_version = "SSH-2.0-x"
    watch.update(client, [], now=108)
    assert (watch.step, watch.deadline) == ("kex", 118)
    client.transport.first_kex_done = True
    watch.update(client, [], now=111)
    assert (watch.step, watch.deadline) == ("authentication", 121)
    watch.update(client, [PasswordNeeded("u", "Password: ")], now=112)
    assert watch.deadline is None and not watch.expired(now=1000)  # the user is typing
    watch.update(client, [PacketSent(None)], now=500)  # the password goes out: the server is timed
    assert watch.deadline == 510 and watch.expired(now=510)
    client.authenticated = True
    watch.update(client, [], now=505)
    assert (watch.step, watch.deadline) == ("done", None)
