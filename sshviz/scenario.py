"""Scenarios: which algorithms, which authentication, which command. ``build_pair`` turns one
into a seeded client and server, and ``SessionDriver`` plays the client's part (open a session,
run the command, close, disconnect) for the conductor and for live connections alike.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .auth.client import ClientAuthConfig
from .auth.passwords import hash_password
from .auth.server import ServerAuthConfig, UserRecord
from .connection.layer import ConnectionConfig
from .crypto.certificates import sign_certificate
from .crypto.ciphers import CIPHERS
from .crypto.compression import COMPRESSION
from .crypto.keys import SIGNATURE_ALGORITHMS, PrivateKey
from .crypto.macs import MACS
from .crypto.random import RandomSource, SeededRandom
from .endpoint import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from .events import (AuthExhausted, AuthSucceeded, ChannelClosed, ChannelData, ChannelOpened,
                     ChannelOpenFailed, ChannelRequestDone, Disconnected, ExitSignal, ExitStatus)
from .trace.model import TraceHeader
from .transport.kex import KEX_METHODS
from .transport.transport import TransportConfig
from .wire.catalog import DisconnectReason
from .wire.codes import CertificateType

if TYPE_CHECKING:
    from .conductor import Conductor

AUTH_METHODS = ("publickey", "password", "keyboard-interactive")
# The algorithm choices a scenario (and the command line) names: option, registry, what it is.
ALGORITHM_OPTIONS = (
    ("kex", KEX_METHODS, "key exchange method"),
    ("hostkey", SIGNATURE_ALGORITHMS, "host key algorithm"),
    ("cipher", CIPHERS, "cipher"),
    ("mac", MACS, "MAC"),
    ("compression", COMPRESSION, "compression"),
)


@dataclass
class Scenario:
    kex: str = "curve25519-sha256"
    hostkey: str = "ssh-ed25519"
    cipher: str = "chacha20-poly1305@openssh.com"
    mac: str = "hmac-sha2-256-etm@openssh.com"
    compression: str = "none"
    auth: str = "publickey"
    wrong_password_first: bool = False
    user: str = "alice"
    password: str = "correct horse battery staple"
    command: str | None = "echo Hello, SSH!"
    subsystem: str | None = None
    seed: int = 1
    rekey: bool = False  # the client starts a second key exchange once the session is open
    strict_kex: bool = True
    guess_kex: bool = False
    banner: str | None = None
    options: dict = field(default_factory=dict)
    # SFTP commands played on the session instead of `command`, e.g. ["put hello.txt", "ls"];
    # both sides then get small in-memory demo filesystems (sshviz.sftp.script).
    sftp_actions: list[str] = field(default_factory=list)
    # Algorithms left out of the client's lists (any kind), the chosen one too: the client then
    # offers the rest, and the first of those the server also supports wins.
    without: list[str] = field(default_factory=list)

    def validate(self) -> None:
        """Raise ValueError with a readable message for any unknown name."""
        for _, registry, name in self._lists():
            registry.resolve(name)
        if self.auth not in AUTH_METHODS:
            raise ValueError(f"unknown auth method {self.auth!r}; supported: {', '.join(AUTH_METHODS)}")
        if self.wrong_password_first and self.auth == "publickey":
            # Silently ignored, it would look like a run where the wrong password was accepted.
            raise ValueError("a wrong password first needs the password or keyboard-interactive "
                             "auth method, not publickey")
        everything = set()
        for kind, registry, name in self._lists():
            everything.update(registry.names())
            if not preferring(name, registry, self.without):
                raise ValueError(f"leaving out {', '.join(self.without)} leaves the client no {kind}")
        unknown = [name for name in self.without if name not in everything]
        if unknown:
            raise ValueError(f"cannot leave out {', '.join(unknown)}: no such algorithm")

    def _lists(self):
        """Each of the client's preference lists: what it is, its registry, the name put first."""
        return (("key exchange method", KEX_METHODS, self.kex),
                ("host key algorithm", SIGNATURE_ALGORITHMS, self.hostkey), ("cipher", CIPHERS, self.cipher),
                ("MAC", MACS, self.mac), ("compression", COMPRESSION, self.compression))


def preferring(first: str, registry, without=()) -> list[str]:
    """A client preference list that puts ``first`` ahead of the usual defaults, less ``without``."""
    names = registry.resolve(first)
    return [n for n in names + [n for n in registry.defaults() if n not in names] if n not in without]


_RSA_KEYS: dict[int, PrivateKey] = {}
DEMO_SERVER = "demo-server"
_PASSWORD_HASHES: dict[tuple[str, int], str] = {}


def demo_host_key(algorithm: str, seed: int, rng: RandomSource) -> PrivateKey:
    """The server's host key for a seeded run. RSA keys cannot be derived from a seed with
    `cryptography`, so one RSA key per seed is made and reused within this process."""
    spec = SIGNATURE_ALGORITHMS[algorithm]
    if spec.certificate:
        # A host certificate from a demo CA (Ed25519, from the seed), valid for the demo
        # server's name at every time, so a seeded run repeats.
        key = demo_host_key(spec.signature_name, seed, rng)
        ca = PrivateKey.generate("ssh-ed25519", rng.fork("demo CA"), comment="sshviz demo CA")
        return key.with_certificate(sign_certificate(
            ca, key.public, CertificateType.HOST, "demo-server host key", [DEMO_SERVER],
            nonce=rng.fork("certificate nonce").bytes(32)))
    key_type = spec.key_type
    if key_type == "ssh-rsa":
        if seed not in _RSA_KEYS:
            _RSA_KEYS[seed] = PrivateKey.generate("ssh-rsa", bits=2048, comment="sshviz demo host key")
        return _RSA_KEYS[seed]
    return PrivateKey.generate(key_type, rng, comment="sshviz demo host key")


def build_pair(sc: Scenario, fs=None, subsystems=None):
    """A seeded client and server for ``sc``; returns (client, server, driver, clock)."""
    from .conductor import FakeClock  # (connect uses SessionDriver only: no conductor loaded)

    sc.validate()
    rng = SeededRandom(sc.seed)
    clock = FakeClock()
    host_key = demo_host_key(sc.hostkey.split(",")[0], sc.seed, rng.fork("host key"))
    user_key = PrivateKey.generate("ssh-ed25519", rng.fork("user key"), comment=f"{sc.user}@demo")

    server_transport = TransportConfig(
        kex=KEX_METHODS.names(), host_key_algorithms=SIGNATURE_ALGORITHMS.names(),
        ciphers=CIPHERS.names(), macs=MACS.names(), compression=COMPRESSION.names(),
        host_keys=[host_key], strict_kex=sc.strict_kex)
    client_transport = TransportConfig(
        kex=preferring(sc.kex, KEX_METHODS, sc.without),
        host_key_algorithms=preferring(sc.hostkey, SIGNATURE_ALGORITHMS, sc.without),
        ciphers=preferring(sc.cipher, CIPHERS, sc.without), macs=preferring(sc.mac, MACS, sc.without),
        compression=preferring(sc.compression, COMPRESSION, sc.without), strict_kex=sc.strict_kex,
        guess_kex=sc.guess_kex, host_label=DEMO_SERVER,
        verify_host_key=lambda key: (("known", "matches the demo server's key")
                                     if key == host_key.public else ("changed", "is not the demo key")))
    passwords = [sc.password]
    if sc.wrong_password_first:
        passwords.insert(0, "wrong password")
    client_auth = ClientAuthConfig(user=sc.user, methods=[sc.auth],
                                   keys=[user_key] if sc.auth == "publickey" else [],
                                   passwords=passwords if sc.auth != "publickey" else [])
    # scrypt is slow on purpose, so the hash is made only when a password may be tried; it is
    # a pure function of password and seed (the salt comes from the seed), so it is kept.
    stored = None
    if sc.auth != "publickey":
        stored = _PASSWORD_HASHES.get((sc.password, sc.seed))
        if stored is None:
            stored = _PASSWORD_HASHES[(sc.password, sc.seed)] = hash_password(sc.password, rng.fork("salt"))
    server_auth = ServerAuthConfig(users={sc.user: UserRecord(stored, [user_key.public])}, banner=sc.banner)
    sftp_script = None
    if sc.sftp_actions:
        from .sftp.script import SftpScript, demo_setup

        fs, subsystems, local_fs = demo_setup(clock, fs, subsystems)
        sftp_script = SftpScript(sc.sftp_actions, local_fs)
    client = ClientConnection(ClientConfig(client_transport, client_auth, ConnectionConfig()),
                              rng.fork("client"), clock)
    server = ServerConnection(ServerConfig(server_transport, server_auth, ConnectionConfig(), fs,
                                           subsystems or {}), rng.fork("server"), clock)
    driver = SessionDriver(client, sc.command, subsystem=sc.subsystem, rekey=sc.rekey)
    if sftp_script is not None:
        driver.on_channel_open = sftp_script.on_channel_open
        driver.sftp_script = sftp_script
    return client, server, driver, clock


def make_conductor(sc: Scenario, fs=None, subsystems=None) -> Conductor:
    """A conductor ready to step through ``sc`` (nothing has moved yet)."""
    from .conductor import Conductor

    client, server, driver, clock = build_pair(sc, fs, subsystems)
    header = TraceHeader("in-process", scenario=dataclasses.asdict(sc),
                         client_address="client (in-process)", server_address="server (in-process)")
    conductor = Conductor(client, server, clock, driver=driver.for_conductor, header=header)
    conductor.driver_state = driver
    return conductor


def run_scenario(sc: Scenario, fs=None, subsystems=None) -> Conductor:
    conductor = make_conductor(sc, fs, subsystems)
    conductor.run()
    conductor.trace.fill_header()
    return conductor


class SessionDriver:
    """The client's part of a session: once authenticated, open a session channel, run one
    command (or start a subsystem), gather its output and exit status, then close and
    disconnect. Reacts to client events only; knows nothing of sockets."""

    def __init__(self, client: ClientConnection, command: str | None, subsystem: str | None = None,
                 rekey: bool = False, on_output=None, disconnect_when_done: bool = True):
        self.client = client
        self.command = command
        self.subsystem = subsystem
        self.rekey = rekey
        self.on_output = on_output  # called with (stream, bytes) as output arrives
        self.disconnect_when_done = disconnect_when_done
        self.channel: int | None = None
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.exit_status: int | None = None
        self.exit_signal: str | None = None
        self.error: str | None = None
        self.finished = False
        self.ready = False  # the command, shell or subsystem is running
        self.on_channel_open = None  # hook: (driver, channel) -> None, e.g. an SFTP client
        # hook: an object whose handle(event) -> bool takes the session channel's events first
        # (an SFTP client reads its replies there instead of gathering them as stdout)
        self.channel_consumer = None
        self.sftp_script = None  # the scenario's SFTP script, when it has sftp_actions

    def for_conductor(self, side: str, events: list) -> None:
        if side == "client":
            for event in events:
                self.handle(event)

    def handle(self, event) -> None:
        client = self.client
        if self.channel_consumer is not None and self.channel_consumer.handle(event):
            return
        if isinstance(event, AuthSucceeded):
            if self.command is None and self.subsystem is None and self.on_channel_open is None:
                self._done()
            else:
                self.channel = client.open_session()
        elif isinstance(event, AuthExhausted):
            self.error = "authentication failed: no more methods to try"
            client.disconnect(DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE,
                              "no more authentication methods to try")
            self.finished = True
        elif isinstance(event, ChannelOpened) and event.channel == self.channel:
            if self.rekey:
                client.request_rekey()
            if self.on_channel_open is not None:
                self.on_channel_open(self, event.channel)
            elif self.subsystem is not None:
                client.connection.request(event.channel, "subsystem", subsystem_name=self.subsystem)
            else:
                client.exec(event.channel, self.command)
        elif isinstance(event, ChannelOpenFailed) and event.channel == self.channel:
            self.error = f"the server refused the session: {event.description}"
            self._done()
        elif isinstance(event, ChannelRequestDone) and event.channel == self.channel:
            if not event.success:
                self.error = f"the server refused {event.request}"
                client.connection.close(event.channel)
                return
            self.ready = True
            if event.request == "exec":
                client.connection.send_eof(event.channel)
        elif isinstance(event, ChannelData) and event.channel == self.channel:
            (self.stderr if event.stream == 1 else self.stdout).extend(event.data)
            if self.on_output is not None:
                self.on_output(event.stream, event.data)
        elif isinstance(event, ExitStatus) and event.channel == self.channel:
            self.exit_status = event.status
        elif isinstance(event, ExitSignal) and event.channel == self.channel:
            self.exit_signal = event.signal
        elif isinstance(event, ChannelClosed) and event.channel == self.channel:
            self._done()
        elif isinstance(event, Disconnected):
            if not self.finished and event.reason != DisconnectReason.BY_APPLICATION:
                who = "the server" if event.by_peer else "sshviz"
                self.error = f"{who} disconnected: {event.description}"
            self.finished = True

    def _done(self) -> None:
        if self.disconnect_when_done and not self.client.closed:
            self.client.disconnect(DisconnectReason.BY_APPLICATION, "session finished")
        self.finished = True
