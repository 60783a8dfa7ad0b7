"""The connection protocol (RFC 4254) for both roles: channels with window flow control,
channel and global requests, and server sessions that run built-in programs.

The API is the same on both sides: ``open_channel``, ``request``, ``send_data``, ``send_eof``,
``close`` and ``global_request``; what the peer does arrives as events.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

from ..events import (ChannelClosed, ChannelData, ChannelEOF, ChannelOpened, ChannelOpenFailed,
                      ChannelRefused, ChannelRequestDone, ExitSignal, ExitStatus, ForwardOpenRequested,
                      GlobalRequestDone)
from ..transport.errors import ProtocolError
from ..wire.catalog import MSG, DisconnectReason, OpenFailureReason
from ..wire.spec import Message, MessageSpec
from ..wire.types import UINT32_MAX

E = DisconnectReason

DEFAULT_WINDOW = 2 * 1024 * 1024
DEFAULT_MAX_PACKET = 32 * 1024
MAX_CHANNELS = 64  # at most this many at once, whatever a configuration says
DEFAULT_MAX_CHANNELS = 10  # a server's default for a peer's channels (OpenSSH: no limit but memory)
MAX_OUTBOUND_PACKET = 256 * 1024 - 64  # our own cap, whatever the peer allows


class ChannelState(Enum):
    OPENING = "opening"  # CHANNEL_OPEN sent or received, no answer yet
    OPEN = "open"
    CLOSED = "closed"  # CLOSE went both ways


@dataclass
class Channel:
    """One channel as this side keeps it: both ends' numbers, windows and packet sizes, what
    waits for window space, and how far closing has gone."""

    local_id: int
    channel_type: str
    local_window: int
    local_max_packet: int
    remote_id: int | None = None
    remote_window: int = 0
    remote_max_packet: int = 0
    state: ChannelState = ChannelState.OPENING
    outbound: deque = field(default_factory=deque)  # (stream, bytes) waiting for window
    outbound_bytes: int = 0  # their total, kept as they come and go (asked before each reply)
    eof_sent: bool = False
    eof_received: bool = False
    close_sent: bool = False
    close_received: bool = False
    finish_after_send: int | None = None  # exit status to send once outbound is drained
    pending_replies: deque = field(default_factory=deque)  # our requests with want_reply
    session: "ServerSession | None" = None  # the server's session on a session channel
    open_info: dict = field(default_factory=dict)
    window_max: int = 0  # the window we refill to: our initial window
    reading_paused: bool = False  # the program is backlogged: do not refill the window

    def __post_init__(self) -> None:
        self.window_max = self.window_max or self.local_window

    @property
    def pending_bytes(self) -> int:
        return self.outbound_bytes


@dataclass
class ConnectionConfig:
    window_size: int = DEFAULT_WINDOW
    max_packet: int = DEFAULT_MAX_PACKET
    allow_forwarding: bool = False  # server: pass direct-tcpip requests to the adapter
    # Channels a peer may hold open at once; one more is refused with RESOURCE_SHORTAGE.
    max_channels: int = DEFAULT_MAX_CHANNELS


class Connection:
    def __init__(self, role: str, config: ConnectionConfig, transport, events: list,
                 program_factory: Callable | None = None):
        self.is_client = role == "client"
        self.config = config
        # server: makes the program for a session; (kind, argument, SessionInfo) -> program
        self.program_factory = program_factory
        self.transport = transport
        self.events = events
        self.channels: dict[int, Channel] = {}
        self._next_id = 0
        self._global_pending: deque[str] = deque()
        self.no_more_sessions = False

    # -- sending ------------------------------------------------------------------------------

    def _send(self, spec: MessageSpec, /, **values) -> None:
        self.transport.send(spec.build(**values))

    def _allocate(self) -> int:
        while self._next_id in self.channels:
            self._next_id += 1
        channel_id = self._next_id
        self._next_id += 1
        return channel_id

    def open_channel(self, channel_type: str = "session", **fields) -> int:
        if len(self.channels) >= MAX_CHANNELS:
            raise RuntimeError("too many channels")
        channel = Channel(self._allocate(), channel_type, self.config.window_size,
                          self.config.max_packet, open_info=fields)
        self.channels[channel.local_id] = channel
        self._send(MSG.CHANNEL_OPEN, channel_type=channel_type, sender_channel=channel.local_id,
                   initial_window_size=channel.local_window,
                   maximum_packet_size=channel.local_max_packet, **fields)
        return channel.local_id

    def open_session(self) -> int:
        return self.open_channel("session")

    # The actions below do nothing on a channel that is gone or closing: events reach an
    # application after the packets that caused them, so it may act on a channel the peer
    # has just closed.

    def request(self, channel_id: int, request_type: str, want_reply: bool = True, **fields) -> None:
        channel = self._open_channel(channel_id)
        if channel is None:
            return
        if want_reply:
            channel.pending_replies.append(request_type)
        self._send(MSG.CHANNEL_REQUEST, recipient_channel=channel.remote_id, request_type=request_type,
                   want_reply=want_reply, **fields)

    def send_data(self, channel_id: int, data: bytes, stream: int = 0) -> None:
        channel = self._open_channel(channel_id)
        if channel is None or channel.eof_sent or channel.finish_after_send is not None:
            return
        if data:
            # A view, so sending a large write in window-sized pieces copies nothing twice.
            channel.outbound.append((stream, memoryview(bytes(data))))
            channel.outbound_bytes += len(data)
            self._flush(channel)

    def send_eof(self, channel_id: int) -> None:
        channel = self._open_channel(channel_id)
        if channel is None:
            return
        channel.outbound.append((None, b""))  # EOF goes out after the data before it
        self._flush(channel)

    def finish(self, channel_id: int, exit_status: int) -> None:
        """Server: send exit-status, EOF and CLOSE once all output has gone out."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.state != ChannelState.OPEN or channel.finish_after_send is not None:
            return
        channel.finish_after_send = exit_status
        self._flush(channel)

    def close(self, channel_id: int) -> None:
        channel = self.channels.get(channel_id)
        if channel is None or channel.close_sent or channel.remote_id is None:
            return
        channel.close_sent = True
        self._send(MSG.CHANNEL_CLOSE, recipient_channel=channel.remote_id)
        self._maybe_forget(channel)

    def global_request(self, name: str, want_reply: bool = True, **fields) -> None:
        if want_reply:
            self._global_pending.append(name)
        self._send(MSG.GLOBAL_REQUEST, request_name=name, want_reply=want_reply, **fields)

    def _open_channel(self, channel_id: int) -> Channel | None:
        channel = self.channels.get(channel_id)
        if channel is None or channel.state != ChannelState.OPEN or channel.close_sent or channel.close_received:
            return None
        return channel

    def _flush(self, channel: Channel) -> None:
        limit = min(channel.remote_max_packet, MAX_OUTBOUND_PACKET)
        out = channel.outbound
        while out and not channel.close_sent:
            stream, data = out[0]
            if stream is None:  # queued EOF
                out.popleft()
                if not channel.eof_sent:
                    channel.eof_sent = True
                    self._send(MSG.CHANNEL_EOF, recipient_channel=channel.remote_id)
                continue
            n = min(len(data), channel.remote_window, limit)
            if n <= 0:
                break
            chunk = data[:n]  # a view: the message's encoding is the one copy
            if n == len(data):
                out.popleft()
            else:
                out[0] = (stream, data[n:])
            channel.outbound_bytes -= n
            channel.remote_window -= n
            if stream:
                self._send(MSG.CHANNEL_EXTENDED_DATA, recipient_channel=channel.remote_id,
                           data_type_code=stream, data=chunk)
            else:
                self._send(MSG.CHANNEL_DATA, recipient_channel=channel.remote_id, data=chunk)
        if not out and channel.finish_after_send is not None and not channel.close_sent:
            status, channel.finish_after_send = channel.finish_after_send, None
            self._send(MSG.CHANNEL_REQUEST, recipient_channel=channel.remote_id,
                       request_type="exit-status", want_reply=False, exit_status=status)
            if not channel.eof_sent:
                channel.eof_sent = True
                self._send(MSG.CHANNEL_EOF, recipient_channel=channel.remote_id)
            self.close(channel.local_id)

    def connection_ended(self) -> None:
        """No packet will go either way any more, so every channel is gone: its program lets
        go of what it holds (an SFTP session's open files), and ChannelClosed tells the
        application (which closes forwarded sockets)."""
        channels, self.channels = self.channels, {}
        for channel in channels.values():
            channel.state = ChannelState.CLOSED
            if channel.session is not None:
                channel.session.closed()
            self.events.append(ChannelClosed(channel.local_id))

    def output_taken(self) -> None:
        """The endpoint's queued packets went to the network: programs that held back output
        because too much was waiting (see ``ChannelIO.pending_bytes``) may go on."""
        for channel in list(self.channels.values()):
            if channel.session is not None:
                channel.session.writable()

    def _maybe_forget(self, channel: Channel) -> None:
        if channel.close_sent and channel.close_received:
            channel.state = ChannelState.CLOSED
            self.channels.pop(channel.local_id, None)
            if channel.session is not None:
                channel.session.closed()
            self.events.append(ChannelClosed(channel.local_id))

    # -- forwarding decisions (server, by the adapter) ----------------------------------------

    def accept_channel(self, channel_id: int) -> None:
        channel = self.channels[channel_id]
        channel.state = ChannelState.OPEN
        self._send(MSG.CHANNEL_OPEN_CONFIRMATION, recipient_channel=channel.remote_id,
                   sender_channel=channel.local_id, initial_window_size=channel.local_window,
                   maximum_packet_size=channel.local_max_packet)
        self.events.append(ChannelOpened(channel.local_id, channel.channel_type))

    def reject_channel(self, channel_id: int, reason: int, description: str) -> None:
        channel = self.channels.pop(channel_id)
        self._send(MSG.CHANNEL_OPEN_FAILURE, recipient_channel=channel.remote_id, reason_code=int(reason),
                   description=description, language_tag="")
        self.events.append(ChannelRefused(channel.channel_type, int(reason), description))

    # -- receiving ----------------------------------------------------------------------------

    def _channel(self, msg: Message) -> Channel:
        channel = self.channels.get(msg["recipient_channel"])
        if channel is None or channel.remote_id is None and msg.spec not in (
                MSG.CHANNEL_OPEN_CONFIRMATION, MSG.CHANNEL_OPEN_FAILURE):
            raise ProtocolError(E.PROTOCOL_ERROR,
                                f"{msg.spec.rfc_name} for unknown channel {msg['recipient_channel']}")
        return channel

    def handle(self, msg: Message) -> None:
        handler = self._HANDLERS.get(msg.spec)
        if handler is None:
            raise ProtocolError(E.PROTOCOL_ERROR, f"unexpected {msg.spec.rfc_name}")
        handler(self, msg)

    def _on_global_request(self, msg: Message) -> None:
        name = msg["request_name"]
        ok = False
        if name == "no-more-sessions@openssh.com" and not self.is_client:
            self.no_more_sessions = True
            ok = True
        # keepalive@openssh.com is answered with FAILURE, as OpenSSH does; tcpip-forward is
        # refused because this server does not listen for clients; hostkeys-00 needs no answer.
        if msg["want_reply"]:
            self._send(MSG.REQUEST_SUCCESS if ok else MSG.REQUEST_FAILURE)

    def _on_request_success(self, msg: Message) -> None:
        self._global_reply(True, msg.get("response_data", b""))

    def _on_request_failure(self, msg: Message) -> None:
        self._global_reply(False, b"")

    def _global_reply(self, success: bool, data: bytes) -> None:
        if not self._global_pending:
            raise ProtocolError(E.PROTOCOL_ERROR, "a global request reply nobody asked for")
        self.events.append(GlobalRequestDone(self._global_pending.popleft(), success, data))

    def _on_channel_open(self, msg: Message) -> None:
        ctype = msg["channel_type"]
        if msg["maximum_packet_size"] == 0:
            raise ProtocolError(E.PROTOCOL_ERROR, "CHANNEL_OPEN with a maximum packet size of 0")
        channel = Channel(self._allocate(), ctype, self.config.window_size, self.config.max_packet,
                          remote_id=msg["sender_channel"], remote_window=msg["initial_window_size"],
                          remote_max_packet=msg["maximum_packet_size"], open_info=dict(msg.values))
        self.channels[channel.local_id] = channel

        def refuse(reason: OpenFailureReason, text: str) -> None:
            self.reject_channel(channel.local_id, reason, text)

        most = min(self.config.max_channels, MAX_CHANNELS)
        if len(self.channels) > most:
            return refuse(OpenFailureReason.RESOURCE_SHORTAGE, f"too many channels (at most {most} at once)")
        if self.is_client:
            return refuse(OpenFailureReason.ADMINISTRATIVELY_PROHIBITED,
                          f"this client accepts no {ctype} channels")
        if ctype == "session":
            if self.no_more_sessions:
                return refuse(OpenFailureReason.ADMINISTRATIVELY_PROHIBITED,
                              "no-more-sessions@openssh.com was requested")
            channel.session = ServerSession(self, channel)
            self.accept_channel(channel.local_id)
        elif ctype == "direct-tcpip":
            if not self.config.allow_forwarding:
                return refuse(OpenFailureReason.ADMINISTRATIVELY_PROHIBITED, "port forwarding is disabled")
            self.events.append(ForwardOpenRequested(channel.local_id, msg["host_to_connect"],
                                                    msg["port_to_connect"], msg["originator_address"],
                                                    msg["originator_port"]))
        else:
            refuse(OpenFailureReason.UNKNOWN_CHANNEL_TYPE, f"unknown channel type {ctype!r}")

    def _on_channel_open_confirmation(self, msg: Message) -> None:
        channel = self._channel(msg)
        if channel.state != ChannelState.OPENING or channel.remote_id is not None:
            raise ProtocolError(E.PROTOCOL_ERROR, f"channel {channel.local_id} confirmed twice")
        if msg["maximum_packet_size"] == 0:
            raise ProtocolError(E.PROTOCOL_ERROR, "CHANNEL_OPEN_CONFIRMATION with a maximum packet size of 0")
        channel.remote_id = msg["sender_channel"]
        channel.remote_window = msg["initial_window_size"]
        channel.remote_max_packet = msg["maximum_packet_size"]
        channel.state = ChannelState.OPEN
        self.events.append(ChannelOpened(channel.local_id, channel.channel_type))

    def _on_channel_open_failure(self, msg: Message) -> None:
        channel = self._channel(msg)
        if channel.state != ChannelState.OPENING or channel.remote_id is not None:
            raise ProtocolError(E.PROTOCOL_ERROR, f"open failure for channel {channel.local_id}, which is open")
        del self.channels[channel.local_id]
        self.events.append(ChannelOpenFailed(channel.local_id, msg["reason_code"], msg["description"]))

    def _on_channel_window_adjust(self, msg: Message) -> None:
        channel = self._channel(msg)
        if channel.remote_window + msg["bytes_to_add"] > UINT32_MAX:
            raise ProtocolError(E.PROTOCOL_ERROR,
                                f"window adjust on channel {channel.local_id} overflows 2^32-1")
        channel.remote_window += msg["bytes_to_add"]
        self._flush(channel)
        if channel.session is not None:
            channel.session.writable()  # a program that held back output may go on

    def _receive(self, msg: Message, stream: int) -> None:
        channel = self._channel(msg)
        data = msg["data"]
        if channel.state != ChannelState.OPEN:
            raise ProtocolError(E.PROTOCOL_ERROR, f"data on channel {channel.local_id} before it opened")
        if channel.eof_received or channel.close_received:
            raise ProtocolError(E.PROTOCOL_ERROR, f"data on channel {channel.local_id} after EOF")
        if len(data) > channel.local_window:
            raise ProtocolError(E.PROTOCOL_ERROR,
                                f"{len(data)} bytes on channel {channel.local_id} exceed the window "
                                f"of {channel.local_window}")
        if len(data) > channel.local_max_packet:
            raise ProtocolError(E.PROTOCOL_ERROR,
                                f"{len(data)} bytes on channel {channel.local_id} exceed the maximum "
                                f"packet size {channel.local_max_packet}")
        channel.local_window -= len(data)
        self.events.append(ChannelData(channel.local_id, data, stream))
        if channel.session is not None:
            channel.session.data(data, stream)
        self.refill_window(channel)

    def refill_window(self, channel: Channel) -> None:
        # Refill early, at half the window, so a fast sender never waits on us; not while the
        # program has paused reading, so a peer cannot make us buffer without bound.
        if (channel.local_window < channel.window_max // 2 and not channel.close_sent
                and not channel.reading_paused and channel.state == ChannelState.OPEN):
            add = channel.window_max - channel.local_window
            channel.local_window += add
            self._send(MSG.CHANNEL_WINDOW_ADJUST, recipient_channel=channel.remote_id, bytes_to_add=add)

    def _on_channel_data(self, msg: Message) -> None:
        self._receive(msg, 0)

    def _on_channel_extended_data(self, msg: Message) -> None:
        self._receive(msg, msg["data_type_code"])

    def _on_channel_eof(self, msg: Message) -> None:
        channel = self._channel(msg)
        channel.eof_received = True
        self.events.append(ChannelEOF(channel.local_id))
        if channel.session is not None:
            channel.session.eof()

    def _on_channel_close(self, msg: Message) -> None:
        channel = self._channel(msg)
        if channel.close_received:
            raise ProtocolError(E.PROTOCOL_ERROR, f"channel {channel.local_id} closed twice")
        channel.close_received = True
        channel.outbound.clear()
        channel.outbound_bytes = 0
        if channel.close_sent:
            self._maybe_forget(channel)
        else:
            self.close(channel.local_id)  # answers the CLOSE, then forgets the channel

    def _on_channel_request(self, msg: Message) -> None:
        channel = self._channel(msg)
        kind = msg["request_type"]
        ok = False
        if self.is_client:
            if kind == "exit-status":
                self.events.append(ExitStatus(channel.local_id, msg["exit_status"]))
                ok = True
            elif kind == "exit-signal":
                self.events.append(ExitSignal(channel.local_id, msg["signal_name"], msg["core_dumped"],
                                              msg["error_message"]))
                ok = True
            elif kind == "eow@openssh.com":
                ok = True
        elif channel.session is not None:
            ok = channel.session.request(msg)
        if msg["want_reply"] and not channel.close_sent:
            self._send(MSG.CHANNEL_SUCCESS if ok else MSG.CHANNEL_FAILURE, recipient_channel=channel.remote_id)
        if ok and channel.session is not None:
            channel.session.after_reply()

    def _channel_reply(self, msg: Message, success: bool) -> None:
        channel = self._channel(msg)
        if not channel.pending_replies:
            raise ProtocolError(E.PROTOCOL_ERROR, f"a reply on channel {channel.local_id} nobody asked for")
        request = channel.pending_replies.popleft()
        self.events.append(ChannelRequestDone(channel.local_id, request, success))

    def _on_channel_success(self, msg: Message) -> None:
        self._channel_reply(msg, True)

    def _on_channel_failure(self, msg: Message) -> None:
        self._channel_reply(msg, False)

    _HANDLERS = {
        MSG.GLOBAL_REQUEST: _on_global_request,
        MSG.REQUEST_SUCCESS: _on_request_success,
        MSG.REQUEST_FAILURE: _on_request_failure,
        MSG.CHANNEL_OPEN: _on_channel_open,
        MSG.CHANNEL_OPEN_CONFIRMATION: _on_channel_open_confirmation,
        MSG.CHANNEL_OPEN_FAILURE: _on_channel_open_failure,
        MSG.CHANNEL_WINDOW_ADJUST: _on_channel_window_adjust,
        MSG.CHANNEL_DATA: _on_channel_data,
        MSG.CHANNEL_EXTENDED_DATA: _on_channel_extended_data,
        MSG.CHANNEL_EOF: _on_channel_eof,
        MSG.CHANNEL_CLOSE: _on_channel_close,
        MSG.CHANNEL_REQUEST: _on_channel_request,
        MSG.CHANNEL_SUCCESS: _on_channel_success,
        MSG.CHANNEL_FAILURE: _on_channel_failure,
    }


class SessionProgram:
    """What runs on a server session channel for shell, exec or a subsystem (the built-in
    command set, the SFTP server). The session calls these; a program overrides what it needs,
    the rest do nothing."""

    def start(self, io: "ChannelIO") -> None:
        """The request was granted: the program may write to ``io`` from now on."""

    def data(self, data: bytes) -> None:
        """Bytes from the client."""

    def eof(self) -> None:
        """The client will send no more."""

    def writable(self) -> None:
        """Output that waited went to the network: a program that held back may go on."""

    def closed(self) -> None:
        """The channel is gone: let go of what the program holds (open files)."""

    def window_change(self, width: int, height: int) -> None:
        """The client's terminal has a new size."""

    def signal(self, name: str) -> bool:
        """A signal from the client (INT, TERM ...); True if the program took it."""
        return False


class ChannelIO:
    """What a server program may do with its channel."""

    def __init__(self, connection: Connection, channel: Channel):
        self._connection = connection
        self._channel = channel

    @property
    def channel_id(self) -> int:
        return self._channel.local_id

    def write(self, data: bytes) -> None:
        if self._channel.state == ChannelState.OPEN and not self._channel.close_sent:
            self._connection.send_data(self._channel.local_id, data)

    def write_stderr(self, data: bytes) -> None:
        if self._channel.state == ChannelState.OPEN and not self._channel.close_sent:
            self._connection.send_data(self._channel.local_id, data, stream=1)

    def exit(self, status: int) -> None:
        self._connection.finish(self._channel.local_id, status)

    @property
    def pending_bytes(self) -> int:
        """Output not yet taken by the network: waiting for window space on this channel, or
        queued by the endpoint (a peer that does not read leaves it there)."""
        return self._channel.pending_bytes + self._connection.transport.unsent_bytes

    def report(self, event) -> None:
        """Add an event of the program's own (e.g. a decoded SFTP message) to the endpoint's."""
        self._connection.events.append(event)

    def pause_reading(self) -> None:
        """Stop refilling the peer's window until ``resume_reading``."""
        self._channel.reading_paused = True

    def resume_reading(self) -> None:
        self._channel.reading_paused = False
        self._connection.refill_window(self._channel)


@dataclass
class SessionInfo:
    """What a session asked for before its program started."""

    term: str | None = None
    width: int = 80
    height: int = 24
    env: dict[str, str] = field(default_factory=dict)


class ServerSession:
    """A server session channel: collects pty and env, then runs one program for shell, exec
    or a subsystem (RFC 4254 6)."""

    ACCEPTED_ENV = ("LANG", "LC_")
    MAX_ENV = 128  # variables kept per session, as OpenSSH's sshd

    def __init__(self, connection: Connection, channel: Channel):
        self.connection = connection
        self.channel = channel
        self.info = SessionInfo()
        self.program: SessionProgram | None = None
        self._starting = False

    def request(self, msg: Message) -> bool:
        kind = msg["request_type"]
        if kind == "pty-req" and self.program is None:
            self.info.term, self.info.width, self.info.height = msg["term"], msg["width_chars"], msg["height_rows"]
            return True
        if kind == "env":
            env = self.info.env
            if msg["variable_name"].startswith(self.ACCEPTED_ENV) and (
                    len(env) < self.MAX_ENV or msg["variable_name"] in env):
                self.info.env[msg["variable_name"]] = msg["variable_value"]
                return True
            return False
        if kind == "window-change":
            self.info.width, self.info.height = msg["width_chars"], msg["height_rows"]
            if self.program is not None:
                self.program.window_change(msg["width_chars"], msg["height_rows"])
            return True
        if kind == "signal":
            if self.program is not None:
                return bool(self.program.signal(msg["signal_name"]))
            return False
        if kind in ("shell", "exec", "subsystem") and self.program is None:
            factory = self.connection.program_factory
            argument = {"shell": None, "exec": msg.get("command"),
                        "subsystem": msg.get("subsystem_name")}[kind]
            program = factory(kind, argument, self.info) if factory else None
            if program is None:
                return False
            self.program = program
            self._starting = True
            return True
        return False

    def after_reply(self) -> None:
        # The program starts once the request's SUCCESS is queued, so its output comes after.
        if self._starting:
            self._starting = False
            self.program.start(ChannelIO(self.connection, self.channel))

    def data(self, data: bytes, stream: int) -> None:
        if self.program is not None:
            self.program.data(data)

    def eof(self) -> None:
        if self.program is not None:
            self.program.eof()

    def writable(self) -> None:
        if self.program is not None:
            self.program.writable()

    def closed(self) -> None:
        if self.program is not None:
            self.program.closed()
