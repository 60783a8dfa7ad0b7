"""The man in the middle: an attacker with its own host key runs two connections, its own
server facing the client (leg 1) and its own client facing the real server (leg 2), and
relays the session between them, reading everything in between. Only the client's host key
check can stop it."""

from __future__ import annotations

from ..auth.client import ClientAuthConfig
from ..auth.passwords import verify_password
from ..auth.server import ServerAuthConfig, UserRecord
from ..connection.layer import ChannelIO, ConnectionConfig, SessionProgram
from ..crypto.keys import PrivateKey
from ..endpoint import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from ..events import (AuthFailed, AuthSucceeded, ChannelData, ChannelOpened, ExitStatus,
                      PacketReceived, PasswordNeeded)
from ..sides import Side
from ..trace.model import Interception
from ..transport.transport import TransportConfig
from ..wire.catalog import MSG
from .attacker import Released, WireAttacker

# A stored password no password matches: the attacker's own server never judges one itself,
# it waits for the real server's answer to the same password.
_NEVER = "scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


class _Relay(SessionProgram):
    """The session program of the attacker's server: what the client runs goes to the real
    server over leg 2, and what comes back goes to the client."""

    def __init__(self, attacker: "MitmAttacker", command: str | None):
        self.attacker, self.command = attacker, command
        self.io: ChannelIO | None = None

    def start(self, io: ChannelIO) -> None:
        self.io = io
        self.attacker.relay_started(self)


class _FrontServer(ServerConnection):
    """The attacker's server (leg 1): every session runs the relay."""

    def __init__(self, attacker: "MitmAttacker", *args):
        super().__init__(*args)
        self.attacker = attacker

    def _make_program(self, kind, argument, session):
        return _Relay(self.attacker, argument) if kind == "exec" else None


class MitmAttacker(WireAttacker):
    """Takes every unit either side sends: the client's go to the attacker's server, the
    server's to the attacker's client. What those two endpoints send is what the real client
    and server receive. The client's password, once its own server has decrypted it, logs the
    attacker's client into the real server; the command and its output are relayed."""

    def __init__(self, seed: int, clock, user: str):
        super().__init__(seed)
        rng = self.rng.fork("endpoints")
        self.host_key = PrivateKey.generate("ssh-ed25519", rng.fork("host key"), comment="attacker")
        front_config = ServerConfig(TransportConfig(host_keys=[self.host_key]),
                                    ServerAuthConfig(users={user: UserRecord(_NEVER, [])},
                                                     methods=["password"]),
                                    ConnectionConfig())
        self.front = _FrontServer(self, front_config, rng.fork("front"), clock)
        self.front.work.deferred = True  # the password check waits for the real server's answer
        back_config = ClientConfig(TransportConfig(host_label="real server"),
                                   ClientAuthConfig(user=user, methods=["password"], ask=True),
                                   ConnectionConfig())
        self.back = ClientConnection(back_config, rng.fork("back"), clock)
        self.password: str | None = None
        self.asked = False  # the attacker's client waits for a password
        self.relay: _Relay | None = None
        self.back_channel: int | None = None
        self._out: list[Released] = []
        self._absorb(Side.SERVER, self.front.start())
        self._absorb(Side.CLIENT, self.back.start())

    # -- the two legs --------------------------------------------------------------------------

    def intercept(self, sender: Side, unit) -> list[Released]:
        endpoint = self.front if sender is Side.CLIENT else self.back
        events = endpoint.receive_data(unit.wire)
        name = self.spec_of(unit).name if self.spec_of(unit) else "identification line"
        reading = self._reading(events)
        leg = "leg 1: the attacker's server" if sender is Side.CLIENT else "leg 2: the attacker's client"
        taken = (sender, unit, Interception(
            "taken", f"taken by {leg}" + (f", which decrypts it: {reading}" if reading else f" ({name})")))
        self._absorb(sender.opposite, events)  # the endpoint that read it plays the other role
        self._settle()
        released, self._out = [taken, *self._out], []
        return released

    def _reading(self, events) -> str:
        """What the attacker learns from a packet it decrypted."""
        for event in events:
            if isinstance(event, PacketReceived) and event.record.message is not None:
                message = event.record.message
                if message.spec is MSG.USERAUTH_REQUEST and message.get("method_name") == "password":
                    return f"the password of {message['user_name']!r} is {message['password']!r}"
                if message.spec is MSG.CHANNEL_REQUEST and message.get("command") is not None:
                    return f"the command is {message['command']!r}"
                if message.spec is MSG.CHANNEL_DATA:
                    return f"the data is {message['data']!r}"
        return ""

    def _absorb(self, side_of_endpoint: Side, events) -> None:
        """React to one endpoint's events (``side_of_endpoint``: the role it plays)."""
        for event in events:
            if isinstance(event, PasswordNeeded):
                self.asked = True
            elif isinstance(event, AuthSucceeded) and side_of_endpoint is Side.CLIENT:
                self._judged(True)
            elif isinstance(event, AuthFailed) and side_of_endpoint is Side.CLIENT and event.method == "password":
                self._judged(False)
            elif isinstance(event, ChannelOpened) and side_of_endpoint is Side.CLIENT:
                self.back.exec(event.channel, self.relay.command)
            elif isinstance(event, ChannelData) and side_of_endpoint is Side.CLIENT and self.relay:
                (self.relay.io.write if event.stream == 0 else self.relay.io.write_stderr)(event.data)
            elif isinstance(event, ExitStatus) and side_of_endpoint is Side.CLIENT and self.relay:
                self.relay.io.exit(event.status)

    def _judged(self, ok: bool) -> None:
        if self.front.pending_work is not None:
            self.front.finish_work(ok)

    def relay_started(self, relay: _Relay) -> None:
        self.relay = relay
        self.back_channel = self.back.open_session()

    def _settle(self) -> None:
        """Let both endpoints go on until neither has anything new, gathering their output."""
        for _ in range(16):
            job = self.front.pending_work
            if job is not None and job.function is verify_password and self.password is None:
                self.password = job.args[1]
            elif job is not None and job.function is not verify_password:
                self.front.finish_work(job.function(*job.args))
            if self.asked and self.password is not None:
                self.asked = False
                self.back.provide_password(self.password)
            self._absorb(Side.SERVER, self.front.take_events())
            self._absorb(Side.CLIENT, self.back.take_events())
            moved = False
            for endpoint, side, leg in ((self.front, Side.SERVER, "leg 1: the attacker's server, "
                                                                  "posing as the server"),
                                        (self.back, Side.CLIENT, "leg 2: the attacker's client")):
                while (out := endpoint.next_outgoing()) is not None:
                    moved = True
                    self._out.append((side, out, Interception("relayed", f"sent by {leg}")))
            if not moved and not self.front.events and not self.back.events:
                break
