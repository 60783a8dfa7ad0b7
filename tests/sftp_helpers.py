"""Shared by the SFTP tests: a fake channel for driving the server directly, and a conductor
run of a client coroutine against the server."""

from __future__ import annotations

from sshviz.conductor import Conductor
from sshviz.scenario import Scenario, build_pair
from sshviz.sftp.pending import spawn
from sshviz.sftp.server import SftpServer, sftp_subsystem
from sshviz.sftp.session import SessionSftp
from sshviz.sftp.stream import SftpFramingError, SftpStreamDecoder
from sshviz.wire.sftp import packet

from .conftest import assert_no_internal_error


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

    def __init__(self, fs, init: bool = True, user: str = "alice", client_version: str | None = None):
        self.io = FakeChannel()
        self.server = SftpServer(user, fs, client_version=client_version)
        self.server.start(self.io)
        self.decoder = SftpStreamDecoder()
        if init:
            [version] = self.send(packet("INIT", version=3, extensions=[]))
            assert version.spec.name == "VERSION"

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
    assert_no_internal_error(client, server)
    return outcome["task"], conductor


SFTP_SERVER = "/usr/lib/openssh/sftp-server"


def sftp_server_config(root, authorized_key_line: str, user: str, read_only: bool = False):
    """(a ServerConfig serving SFTP from ``root`` to ``user``, its known_hosts line maker) for
    ``tests.openssh.sshviz_server``."""
    from sshviz.auth.server import ServerAuthConfig, UserRecord
    from sshviz.connection.layer import ConnectionConfig
    from sshviz.crypto.keyfiles import parse_public_key_line
    from sshviz.crypto.keys import PrivateKey
    from sshviz.endpoint import ServerConfig
    from sshviz.fs.confined import ConfinedFS
    from sshviz.transport.transport import TransportConfig

    host_key = PrivateKey.generate("ssh-ed25519", comment="sshviz test host")
    key, _ = parse_public_key_line(authorized_key_line)
    config = ServerConfig(TransportConfig(host_keys=[host_key]),
                          ServerAuthConfig(users={user: UserRecord(None, [key])}), ConnectionConfig(),
                          ConfinedFS(str(root), read_only=read_only), {"sftp": sftp_subsystem})
    return config, lambda port: f"[127.0.0.1]:{port} {host_key.public.openssh()}"


def sftp_options(port: int, identity, known_hosts) -> list[str]:
    """Options for OpenSSH's sftp against a test server: only this identity and known_hosts
    file, never a prompt."""
    return ["-P", str(port), "-i", str(identity), "-F", "/dev/null",
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
