"""Shared by the SFTP tests: a fake channel for driving the server directly, and a conductor
run of a client coroutine against the server."""

from __future__ import annotations

from sshviz.conductor import Conductor
from sshviz.events import SftpMessage
from sshviz.scenario import Scenario, build_pair
from sshviz.sftp.pending import spawn
from sshviz.sftp.server import SftpServer, sftp_subsystem
from sshviz.sftp.session import SessionSftp
from sshviz.sftp.stream import SftpFramingError, SftpStreamDecoder
from sshviz.wire.sftp import packet


class FakeChannel:
    """The ChannelIO interface, recording what the server does."""

    channel_id = 0

    def __init__(self):
        self.output = bytearray()
        self.stderr = bytearray()
        self.events = []
        self.exit_status = None
        self.pending_bytes = 0
        self.paused = False

    def write(self, data):
        self.output += data

    def write_stderr(self, data):
        self.stderr += data

    def exit(self, status):
        self.exit_status = status

    def report(self, event):
        self.events.append(event)

    def pause_reading(self):
        self.paused = True

    def resume_reading(self):
        self.paused = False


class DirectServer:
    """An SftpServer fed raw bytes; replies come back decoded."""

    def __init__(self, fs, init: bool = True, user: str = "alice"):
        self.io = FakeChannel()
        self.server = SftpServer(user, fs)
        self.server.start(self.io)
        self.decoder = SftpStreamDecoder()
        if init:
            [version] = self.send(packet("INIT", version=3, extensions=[]))
            assert version.name == "VERSION"

    def send(self, data: bytes):
        try:
            self.decoder.feed("c2s", data)  # so EXTENDED_REPLY bodies decode
        except SftpFramingError:
            pass
        self.server.data(data)
        out = bytes(self.io.output)
        self.io.output.clear()
        return [unit.message for unit in self.decoder.feed("s2c", out)]

    def request(self, name: str, **values):
        [reply] = self.send(packet(name, **values))
        return reply


def run_client(coroutine_factory, fs, scenario: Scenario | None = None):
    """Run ``coroutine_factory(sftp_client)`` on a session channel through the conductor.
    Returns (result Pending, conductor)."""
    client, server, driver, clock = build_pair(scenario or Scenario(), fs=fs,
                                               subsystems={"sftp": sftp_subsystem})
    outcome = {}

    def on_open(driver, channel):
        session = SessionSftp(driver.client, channel)
        driver.channel_consumer = session

        async def play():
            await session.start()
            return await coroutine_factory(session.client)

        outcome["task"] = spawn(play()).then(lambda _: session.finish())

    driver.on_channel_open = on_open
    conductor = Conductor(client, server, clock, driver=driver.for_conductor)
    conductor.run()
    assert client.internal_error is None, client.internal_error
    assert server.internal_error is None, server.internal_error
    return outcome["task"], conductor


def sftp_events(conductor, side: str | None = None):
    return [(s, e) for step in conductor.steps for s, e in step.changes
            if isinstance(e, SftpMessage) and (side is None or s == side)]


class ThreadedSshvizServer:
    """``sshviz serve`` in a background thread (its own asyncio loop) on a free loopback port,
    serving SFTP from ``root`` to ``user`` with the key of ``authorized_key_line``."""

    def __init__(self, root, authorized_key_line: str, user: str, read_only: bool = False,
                 ciphers: list[str] | None = None):
        import asyncio
        import threading

        from sshviz.auth.server import ServerAuthConfig, UserRecord
        from sshviz.connection.layer import ConnectionConfig
        from sshviz.crypto.keyfiles import parse_public_key_line
        from sshviz.crypto.keys import PrivateKey
        from sshviz.endpoint import ServerConfig, ServerConnection
        from sshviz.fs.confined import ConfinedFS
        from sshviz.net.adapter import start_server
        from sshviz.transport.transport import TransportConfig

        from .openssh import free_port

        self.host_key = PrivateKey.generate("ssh-ed25519", comment="sshviz test host")
        transport = TransportConfig(host_keys=[self.host_key])
        if ciphers:
            transport.ciphers = ciphers
        key, _ = parse_public_key_line(authorized_key_line)
        self.config = ServerConfig(transport, ServerAuthConfig(users={user: UserRecord(None, [key])}),
                                   ConnectionConfig(), ConfinedFS(str(root), read_only=read_only),
                                   {"sftp": sftp_subsystem})
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server = None

        async def serve():
            self._server = await start_server("127.0.0.1", self.port,
                                              lambda: ServerConnection(self.config))
            self._ready.set()

        def run():
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(serve())
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key.public.openssh()}"

    def __enter__(self):
        self.thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc):
        def stop():
            self._server.close()
            self.loop.stop()
        self.loop.call_soon_threadsafe(stop)
        self.thread.join(10)
