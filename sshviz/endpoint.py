"""ClientConnection and ServerConnection: the layers composed, still sans-I/O.

    endpoint.receive_data(bytes) -> events     bytes from the peer in
    endpoint.data_to_send() -> bytes           bytes for the peer out (all of them)
    endpoint.next_outgoing() -> record | None  ... or one version line / packet at a time

Any malformed or out-of-order input ends this connection with a DISCONNECT carrying the right
reason code and a ``Disconnected`` event; it never raises to the caller.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

from .auth.client import AuthState, ClientAuth, ClientAuthConfig
from .auth.server import ServerAuth, ServerAuthConfig
from .connection.builtin import BuiltinShell
from .connection.layer import Connection, ConnectionConfig
from .crypto.random import RandomSource, SystemRandom
from .events import Disconnected, Event
from .transport.errors import ProtocolError
from .transport.transport import Transport, TransportConfig
from .transport.work import Job, SlowWork
from .wire.catalog import CONNECTION, MSG, USERAUTH, DisconnectReason
from .wire.spec import Message

E = DisconnectReason


@dataclass
class ClientConfig:
    transport: TransportConfig = field(default_factory=TransportConfig)
    auth: ClientAuthConfig = field(default_factory=ClientAuthConfig)
    connection: ConnectionConfig = field(default_factory=ConnectionConfig)


@dataclass
class ServerConfig:
    transport: TransportConfig = field(default_factory=TransportConfig)
    auth: ServerAuthConfig = field(default_factory=ServerAuthConfig)
    connection: ConnectionConfig = field(default_factory=ConnectionConfig)
    fs: object = None  # a ConfinedFS for ls/cat (and SFTP), or None
    # name -> (user, fs, client_version=the client's identification line) -> program
    subsystems: dict[str, Callable] = field(default_factory=dict)
    # Each user's own files (accounts for a class): user -> filesystem; None: ``fs`` for all.
    user_fs: Callable[[str], object] | None = None


class Endpoint:
    """One side of an SSH connection with every layer composed (transport, authentication,
    connection), as one sans-I/O object: bytes in through ``receive_data``, bytes out through
    ``data_to_send``/``next_outgoing``, everything that happened as events. Whatever a peer
    sends, the caller never sees an exception: bad input ends the connection with a DISCONNECT,
    and a bug ends this connection only (kept in ``internal_error``)."""

    role = ""

    def __init__(self, transport_config: TransportConfig, rng: RandomSource | None,
                 clock: Callable[[], float] | None):
        self.rng = rng or SystemRandom()
        self.clock = clock or time.monotonic
        self.events: list[Event] = []
        self.context: dict[str, str] = {}
        self.work = SlowWork()  # an adapter with a worker pool defers the slow parts here
        self.transport = Transport(self.role, transport_config, self.rng, self.clock, self.events,
                                   self.context, self.work)
        self.internal_error: str | None = None  # a traceback, if a bug ended the connection
        self._started = False

    # -- the sans-I/O surface -----------------------------------------------------------------

    def start(self) -> list[Event]:
        if not self._started:
            self._started = True
            self.transport.start()
        return self.take_events()

    def receive_data(self, data: bytes) -> list[Event]:
        if not self._started:
            self.start()
        self._guard(self._receive, data)
        return self.take_events()

    def _receive(self, data: bytes) -> None:
        for record in self.transport.receive(data):
            self._dispatch(record.message)
            if self.transport.closed or self.work.pending is not None:
                break  # what follows waits for the job (finish_work goes on with it)
        self._after_receive()

    @property
    def pending_work(self) -> Job | None:
        """Slow work waiting for the adapter to run it (only when ``work.deferred``)."""
        return self.work.pending

    def finish_work(self, result=None, error: BaseException | None = None) -> None:
        """The adapter ran ``pending_work``: go on with its result (or what it raised), then
        with the input that waited meanwhile."""
        self._guard(self._finish_work, result, error)

    def _finish_work(self, result, error: BaseException | None) -> None:
        self.work.finish(result, error)
        if self.work.pending is None:
            self._receive(b"")

    def _guard(self, action: Callable, *args) -> None:
        """Run ``action``; a protocol error (or a bug) ends the connection, never the caller."""
        if self.transport.closed:
            return
        try:
            action(*args)
        except ProtocolError as exc:
            self.transport.disconnect(exc.reason, exc.message, exc)
        except Exception as exc:  # a bug must cost this connection only
            self.internal_error = traceback.format_exc()
            self.transport.disconnect(E.PROTOCOL_ERROR, f"internal error: {exc!r}")
        if self.transport.closed:  # a DISCONNECT either way
            self.connection.connection_ended()

    def data_to_send(self) -> bytes:
        out = self.transport.outgoing
        data = b"".join(unit.wire for unit in out)
        out.clear()
        self.transport.unsent_bytes -= len(data)
        self._output_taken()
        return data

    def next_outgoing(self):
        out = self.transport.outgoing
        if not out:
            return None
        unit = out.popleft()
        self.transport.unsent_bytes -= len(unit.wire)
        if not out:
            self._output_taken()
        return unit

    @property
    def unsent_bytes(self) -> int:
        """Bytes queued for the peer that the network has not taken yet."""
        return self.transport.unsent_bytes

    def _output_taken(self) -> None:
        """The network took what was queued: programs that held back output may go on (what
        they send next waits for the next data_to_send or next_outgoing)."""
        self._guard(self.connection.output_taken)

    def has_outgoing(self) -> bool:
        return bool(self.transport.outgoing)

    def take_events(self) -> list[Event]:
        events = self.events[:]
        self.events.clear()
        return events

    @property
    def closed(self) -> bool:
        return self.transport.closed

    # Actions below queue bytes and events; the caller collects them with take_events().

    def disconnect(self, reason: int = E.BY_APPLICATION, description: str = "bye") -> None:
        self.transport.disconnect(reason, description)
        self.connection.connection_ended()

    def connection_lost(self) -> list[Event]:
        """The adapter saw the socket close."""
        if not self.transport.closed:
            self.transport.closed = True
            self.events.append(Disconnected(int(E.CONNECTION_LOST), "connection lost", by_peer=True))
        self.connection.connection_ended()
        return self.take_events()

    def next_deadline(self) -> float | None:
        return None

    def handle_timeout(self, now: float) -> list[Event]:
        return self.take_events()

    def request_rekey(self) -> bool:
        return self.transport.request_rekey()

    def ping(self, data: bytes = b"ping") -> None:
        self.transport.ping(data)

    def _dispatch(self, msg: Message) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _after_receive(self) -> None:
        pass


class ClientConnection(Endpoint):
    """The client: authenticates by the configured methods once the first key exchange is
    over (asking the application for passwords when told to), then opens channels on request."""

    role = "client"

    def __init__(self, config: ClientConfig | None = None, rng: RandomSource | None = None,
                 clock: Callable[[], float] | None = None):
        self.config = config or ClientConfig()
        super().__init__(self.config.transport, rng, clock)
        self.auth = ClientAuth(self.config.auth, self.transport, self.events, self.context)
        self.connection = Connection("client", self.config.connection, self.transport, self.events)

    @property
    def authenticated(self) -> bool:
        return self.auth.done

    def _dispatch(self, msg: Message) -> None:
        if msg.spec is MSG.SERVICE_ACCEPT or msg.spec.number in USERAUTH:
            self.auth.handle(msg)
        elif msg.spec.number in CONNECTION and self.auth.done:
            self.connection.handle(msg)
        else:
            raise ProtocolError(E.PROTOCOL_ERROR, f"unexpected {msg.spec.rfc_name} from the server"
                                + ("" if self.auth.done else " before authentication"))

    def _after_receive(self) -> None:
        if self.transport.first_kex_done and self.auth.state is AuthState.IDLE:
            self.auth.start()

    def provide_password(self, password: str | None) -> None:
        self._guard(self.auth.provide_password, password)

    def provide_responses(self, responses: list[str]) -> None:
        self._guard(self.auth.provide_responses, responses)

    def open_session(self) -> int:
        return self.connection.open_session()

    def exec(self, channel: int, command: str) -> None:
        self.connection.request(channel, "exec", want_reply=True, command=command)


class ServerConnection(Endpoint):
    """The server: judges authentication requests, then runs the built-in command set or a
    subsystem (SFTP) for each session channel; times out logins that take too long."""

    role = "server"

    def __init__(self, config: ServerConfig | None = None, rng: RandomSource | None = None,
                 clock: Callable[[], float] | None = None):
        self.config = config or ServerConfig()
        super().__init__(self.config.transport, rng, clock)
        self.auth = ServerAuth(self.config.auth, self.transport, self.events, self.context, self.clock(),
                               self.work)
        self.connection = Connection("server", self.config.connection, self.transport, self.events,
                                     self._make_program)

    def _make_program(self, kind: str, argument: str | None, session):
        user = self.auth.user or ""
        fs = self.config.user_fs(user) if self.config.user_fs is not None else self.config.fs
        if kind == "subsystem":
            factory = self.config.subsystems.get(argument or "")
            version = self.transport.peer_version  # SFTP reads SYMLINK in this client's order
            return factory(user, fs, client_version=version) if factory else None
        return BuiltinShell(user, fs, argument if kind == "exec" else None, pty=session.term is not None)

    def _dispatch(self, msg: Message) -> None:
        if msg.spec is MSG.SERVICE_REQUEST or msg.spec.number in USERAUTH:
            self.auth.handle(msg)
        elif msg.spec.number in CONNECTION:
            if not self.auth.authenticated:
                raise ProtocolError(E.PROTOCOL_ERROR, f"{msg.spec.rfc_name} before authentication")
            self.connection.handle(msg)
        else:
            raise ProtocolError(E.PROTOCOL_ERROR, f"unexpected {msg.spec.rfc_name} from the client")

    def next_deadline(self) -> float | None:
        return None if self.auth.authenticated or self.closed else self.auth.deadline

    def handle_timeout(self, now: float) -> list[Event]:
        self._guard(self.auth.check_timeout, now)
        return self.take_events()
