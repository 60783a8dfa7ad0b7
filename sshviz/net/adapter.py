"""asyncio adapters: the only code that touches sockets. Each one moves bytes between a socket
and a sans-I/O endpoint, arms the endpoint's timer, and hands every event to a callback."""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from ..endpoint import ClientConnection, Endpoint, ServerConnection
from ..events import (ChannelClosed, ChannelData, ChannelEOF, ChannelOpened, ChannelOpenFailed,
                      Event, ForwardOpenRequested)
from ..wire.catalog import OpenFailureReason

HIGH_WATER = 4 * 1024 * 1024  # the socket's write buffer: above it, stop handing it bytes
# Bytes an endpoint may keep queued for a peer that does not read them (OpenSSH's packet
# buffers end the connection at 128 MiB). Programs stop well before: SFTP at 8 MiB.
MAX_UNSENT = 64 * 1024 * 1024
# Backpressure: while more than this waits for a peer that does not read, stop reading from it,
# since every request read may queue a reply (OpenSSH stops reading past 128 KiB of output).
# It is counted only once the socket's own buffer is full, so it never slows a peer that reads;
# 256 KiB is one read's worth (asyncio reads up to 256 KiB at a time), and what a read can add
# before reading stops (a reply per request) stays of that order too.
READ_PAUSE_BYTES = 256 * 1024


class EndpointProtocol(asyncio.Protocol):
    """Connects one endpoint to one socket."""

    def __init__(self, endpoint: Endpoint, on_events: Callable[["EndpointProtocol", list[Event]], None]
                 | None = None, recorder=None):
        self.endpoint = endpoint
        self.on_events = on_events
        self.recorder = recorder  # a TraceRecorder that sees every event first (--trace)
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_event_loop().create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._writing_paused = False  # the socket's buffer is full: the peer is not reading
        self._reading_paused = False  # backpressure: too much waits for the peer to read
        self.peer = ""
        self.local = ""

    # -- asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(high=HIGH_WATER)  # type: ignore[attr-defined]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        local = transport.get_extra_info("sockname")
        self.local = f"{local[0]}:{local[1]}" if local else "?"
        self.deliver(self.endpoint.start())

    def data_received(self, data: bytes) -> None:
        self.deliver(self.endpoint.receive_data(data))

    def eof_received(self) -> bool:
        return False

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer:
            self._timer.cancel()
        self.deliver(self.endpoint.connection_lost(), flush=False)
        if not self.closed.done():
            self.closed.set_result(None)

    # -- the pump -----------------------------------------------------------------------------

    def deliver(self, events: list[Event], flush: bool = True) -> None:
        """Pass events on, then send what the endpoint queued; close after a disconnect."""
        try:
            while events:
                if self.recorder is not None:
                    self.recorder.feed(events)
                if self.on_events is None:
                    break
                self.on_events(self, events)
                events = self.endpoint.take_events()  # the callback's actions may add some
        except Exception:  # an application bug ends this connection, not the process
            logging.getLogger("sshviz").exception("event handler failed; closing %s", self.peer)
            if self.transport is not None:
                self.transport.abort()
            return
        if flush:
            self.flush()

    def flush(self) -> None:
        """Hand the socket what the endpoint queued, while it takes bytes. Taking them lets
        programs that held back output go on, so this repeats until nothing is left or the
        socket's buffer is full; then the bytes stay with the endpoint, where they keep such
        programs waiting, until the peer reads (resume_writing)."""
        transport = self.transport
        endpoint = self.endpoint
        while transport is not None and not transport.is_closing():
            if self._writing_paused and not endpoint.closed:
                if endpoint.unsent_bytes > MAX_UNSENT:
                    logging.getLogger("sshviz").warning(
                        "%s does not read what is sent to it; closing", self.peer)
                    transport.abort()
                    return
                break
            data = endpoint.data_to_send()
            if data:
                transport.write(data)
            if endpoint.closed:
                transport.close()
                return
            events = endpoint.take_events()  # what the programs that went on did
            if events:
                self.deliver(events, flush=False)
            if not endpoint.has_outgoing():
                break
        if transport is not None and not transport.is_closing():
            self._limit_reading()
            self._arm_timer()

    def _limit_reading(self) -> None:
        """Backpressure: stop reading from the peer while more than READ_PAUSE_BYTES wait for
        it and its socket takes no more; read again once it reads. Bytes the endpoint holds back
        during a key exchange count too, but only while the peer is not reading, so they can
        never stop the exchange that would release them."""
        pause = self._writing_paused and self.endpoint.unsent_bytes > READ_PAUSE_BYTES
        if pause != self._reading_paused:
            self._reading_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def _arm_timer(self) -> None:
        deadline = self.endpoint.next_deadline()
        if self._timer:
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            delay = max(0.0, deadline - self.endpoint.clock())
            self._timer = asyncio.get_event_loop().call_later(delay, self._timeout)

    def _timeout(self) -> None:
        self._timer = None
        self.deliver(self.endpoint.handle_timeout(self.endpoint.clock()))

    def act(self, action: Callable, *args, **kwargs):
        """Run an action on the endpoint from outside a callback, then flush."""
        result = action(*args, **kwargs)
        self.deliver(self.endpoint.take_events())
        return result


class Forwarder:
    """Joins SSH channels to TCP sockets (direct-tcpip): bytes from the channel go to the
    socket and back. Used by the server (connecting out) and the client (-L listening)."""

    def __init__(self, protocol: EndpointProtocol):
        self.protocol = protocol
        self.sockets: dict[int, asyncio.StreamWriter] = {}
        self.pending: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    def handle(self, event: Event) -> bool:
        """Take channel events that belong to a forward; True when taken."""
        if isinstance(event, ChannelOpened) and event.channel in self.pending:
            reader, writer = self.pending.pop(event.channel)
            self.sockets[event.channel] = writer
            asyncio.ensure_future(self._pump_socket(event.channel, reader))
            return True
        if isinstance(event, ChannelOpenFailed) and event.channel in self.pending:
            _, writer = self.pending.pop(event.channel)
            writer.close()
            return True
        if isinstance(event, ChannelData) and event.channel in self.sockets:
            self.sockets[event.channel].write(event.data)
            return True
        if isinstance(event, ChannelEOF) and event.channel in self.sockets:
            writer = self.sockets[event.channel]
            if writer.can_write_eof():
                writer.write_eof()
            return True
        if isinstance(event, ChannelClosed) and event.channel in self.sockets:
            self.sockets.pop(event.channel).close()
            return True
        return False

    async def _pump_socket(self, channel: int, reader: asyncio.StreamReader) -> None:
        connection = self.protocol.endpoint.connection
        try:
            while True:
                data = await reader.read(32768)
                if channel not in connection.channels or self.protocol.endpoint.closed:
                    return
                if not data:
                    self.protocol.act(connection.send_eof, channel)
                    return
                self.protocol.act(connection.send_data, channel, data)
        except (ConnectionError, RuntimeError):
            if channel in connection.channels:
                self.protocol.act(connection.close, channel)

    async def connect_out(self, event: ForwardOpenRequested, allowed: Callable[[str, int], bool]) -> None:
        """Server side: try the connection a client asked for."""
        connection = self.protocol.endpoint.connection
        if not allowed(event.host, event.port):
            self.protocol.act(connection.reject_channel, event.channel,
                              OpenFailureReason.ADMINISTRATIVELY_PROHIBITED,
                              f"forwarding to {event.host}:{event.port} is not permitted")
            return
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(event.host, event.port), 10)
        except (OSError, asyncio.TimeoutError) as exc:
            if event.channel in connection.channels:
                self.protocol.act(connection.reject_channel, event.channel,
                                  OpenFailureReason.CONNECT_FAILED, f"connect failed: {exc}")
            return
        if event.channel not in connection.channels or self.protocol.endpoint.closed:
            writer.close()
            return
        self.sockets[event.channel] = writer
        self.protocol.act(connection.accept_channel, event.channel)
        asyncio.ensure_future(self._pump_socket(event.channel, reader))

    def open_from_listener(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           host: str, port: int) -> None:
        """Client side: a local connection to forward through the server (-L)."""
        connection = self.protocol.endpoint.connection
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        channel = self.protocol.act(connection.open_channel, "direct-tcpip", host_to_connect=host,
                                    port_to_connect=port, originator_address=peer[0],
                                    originator_port=peer[1])
        self.pending[channel] = (reader, writer)


async def open_client(host: str, port: int, client: ClientConnection,
                      on_events: Callable[[EndpointProtocol, list[Event]], None] | None = None,
                      timeout: float = 30.0, recorder=None) -> EndpointProtocol:
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(
        loop.create_connection(lambda: EndpointProtocol(client, on_events, recorder), host, port), timeout)
    return protocol


async def start_server(host: str, port: int, make_server: Callable[[], ServerConnection],
                       on_events: Callable[[EndpointProtocol, list[Event]], None] | None = None,
                       allow_forward: Callable[[str, int], bool] | None = None,
                       on_protocol: Callable[[EndpointProtocol], None] | None = None) -> asyncio.AbstractServer:
    """Listen; each connection gets its own ServerConnection from ``make_server``.
    ``on_protocol`` sees each new EndpointProtocol before it starts (to attach a recorder)."""

    def factory() -> EndpointProtocol:
        forwarder: Forwarder | None = None

        def events(protocol: EndpointProtocol, batch: list[Event]) -> None:
            nonlocal forwarder
            if forwarder is None:
                forwarder = Forwarder(protocol)
            rest = []
            for event in batch:
                if isinstance(event, ForwardOpenRequested):
                    asyncio.ensure_future(forwarder.connect_out(event, allow_forward or (lambda h, p: False)))
                elif not forwarder.handle(event):
                    rest.append(event)
            if on_events is not None and rest:
                on_events(protocol, rest)

        protocol = EndpointProtocol(make_server(), events)
        if on_protocol is not None:
            on_protocol(protocol)
        return protocol

    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host, port, reuse_address=True)
