"""asyncio adapters: the only code that touches sockets. Each one moves bytes between a socket
and a sans-I/O endpoint, arms the endpoint's timer, and hands every event to a callback."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
import time
import traceback
from typing import TYPE_CHECKING, Callable

from ..endpoint import ClientConnection, Endpoint, ServerConnection
from ..events import (ChannelClosed, ChannelData, ChannelEOF, ChannelOpened, ChannelOpenFailed,
                      Event, ForwardOpenRequested)
from ..wire.catalog import OpenFailureReason

if TYPE_CHECKING:  # a client (connect) needs neither: they are loaded by the server's parts
    from .limits import Admission, ConnectionLimits
    from .work import WorkPool

HIGH_WATER = 4 * 1024 * 1024  # the socket's write buffer: above it, stop handing it bytes
# ... for a server until its peer authenticates: it sends a few KiB until then (version, KEXINIT,
# the key exchange reply, authentication replies), so an unauthenticated peer that does not
# read costs 64 KiB here, not the 4 MiB that bulk transfers want.
PRE_AUTH_HIGH_WATER = 64 * 1024
# Bytes an endpoint may keep queued for a peer that does not read them (OpenSSH's packet
# buffers end the connection at 128 MiB). Programs stop well before: SFTP at 8 MiB.
MAX_UNSENT = 64 * 1024 * 1024
# Backpressure: while more than this waits for a peer that does not read, stop reading from it,
# since every request read may queue a reply (OpenSSH stops reading past 128 KiB of output).
# It is counted only once the socket's own buffer is full, so it never slows a peer that reads;
# 256 KiB is one read's worth (asyncio reads up to 256 KiB at a time), and what a read can add
# before reading stops (a reply per request) stays of that order too.
READ_PAUSE_BYTES = 256 * 1024
# Bytes a client reads from its socket at a time (asyncio's own reads stop at 256 KiB): busy
# with a download, it then handles several SFTP replies per read and sends the requests they
# free in one write (a third of the system calls, a seventh less CPU). A server reads as
# asyncio would, which is what bounds the replies one read from a hostile client can queue
# (READ_PAUSE_BYTES).
CLIENT_READ_SIZE = 1024 * 1024
SERVER_READ_SIZE = 256 * 1024
_read_buffers = threading.local()  # one buffer per event loop's thread, reused for every read


def _read_buffer() -> bytearray:
    buffer = getattr(_read_buffers, "buffer", None)
    if buffer is None:
        buffer = _read_buffers.buffer = bytearray(CLIENT_READ_SIZE)
    return buffer


class EndpointProtocol(asyncio.BufferedProtocol):
    """Connects one endpoint to one socket. The socket is read into a buffer the protocols of
    a thread share (asyncio reads into it and hands it over at once); what the endpoint keeps
    of it, it copies."""

    def __init__(self, endpoint: Endpoint, on_events: Callable[["EndpointProtocol", list[Event]], None]
                 | None = None, recorder=None, work_pool: WorkPool | None = None):
        self.endpoint = endpoint
        self.on_events = on_events
        self.recorder = recorder  # a TraceRecorder that sees every event first (--trace)
        # Where the endpoint's slow arithmetic runs; None: in line, on the event loop.
        self.work_pool = work_pool
        self._working = False  # a job of this endpoint's is in the pool
        # A server's place in its ConnectionLimits, given back when the connection ends.
        self.limits: ConnectionLimits | None = None
        self.admission: Admission | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_event_loop().create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._writing_paused = False  # the socket's buffer is full: the peer is not reading
        self._reading_paused = False  # backpressure: too much waits for the peer to read
        self._before_auth = isinstance(endpoint, ServerConnection)  # a server, peer not authenticated
        self._read_size = SERVER_READ_SIZE if isinstance(endpoint, ServerConnection) else CLIENT_READ_SIZE
        self.peer = ""
        self.local = ""

    # -- asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(  # type: ignore[attr-defined]
            high=PRE_AUTH_HIGH_WATER if self._before_auth else HIGH_WATER)
        peer = transport.get_extra_info("peername")
        self.peer = address_text(peer) if peer else self.peer or "?"
        local = transport.get_extra_info("sockname")
        self.local = address_text(local) if local else "?"
        self.source = peer[0] if peer else "?"  # the address the work pool's budget counts by
        self.endpoint.work.deferred = self.work_pool is not None
        self.deliver(self.endpoint.start())

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(_read_buffer())[:self._read_size]

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(memoryview(_read_buffer())[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
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
        if self.admission is not None:
            self.limits.ended(self.admission)
        self.deliver(self.endpoint.connection_lost(), flush=False)
        if not self.closed.done():
            self.closed.set_result(None)

    # -- the pump -----------------------------------------------------------------------------

    def deliver(self, events: list[Event], flush: bool = True) -> None:
        """Pass events on, then send what the endpoint queued; close after a disconnect."""
        if self._before_auth and self.endpoint.auth.authenticated:
            self._authenticated()
        try:
            while events:
                if self.recorder is not None:
                    self.recorder.feed(events)
                if self.on_events is None:
                    break
                self.on_events(self, events)
                events = self.endpoint.take_events()  # the callback's actions may add some
        except Exception:  # an application bug ends this connection, not the process
            # Kept where the endpoint keeps its own bugs, for the application to report.
            if self.endpoint.internal_error is None:
                self.endpoint.internal_error = traceback.format_exc()
            if self.transport is not None:
                self.transport.abort()
            return
        if flush:
            self.flush()

    def _authenticated(self) -> None:
        """The server's peer logged in: no longer a startup, and bulk transfers may begin."""
        self._before_auth = False
        if self.admission is not None:
            self.limits.authenticated(self.admission)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.set_write_buffer_limits(high=HIGH_WATER)

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
            self._start_work()

    def _start_work(self) -> None:
        """Hand the endpoint's pending slow job to the pool; its result comes back to the
        endpoint, which then reads on."""
        job = self.endpoint.pending_work
        if job is None or self._working or self.work_pool is None:
            return
        self._working = True
        self._limit_reading()
        self.work_pool.submit(self.source, job.function, job.args).add_done_callback(self._work_done)

    def _work_done(self, future: asyncio.Future) -> None:
        self._working = False
        if self.transport is None or self.transport.is_closing() or self.endpoint.closed:
            return
        error = future.exception()
        self.act(self.endpoint.finish_work, None if error else future.result(), error)

    def _limit_reading(self) -> None:
        """Backpressure: stop reading from the peer while more than READ_PAUSE_BYTES wait for
        it and its socket takes no more; read again once it reads. Bytes the endpoint holds back
        during a key exchange count too, but only while the peer is not reading, so they can
        never stop the exchange that would release them. While a slow job of the endpoint's is
        in the work pool nothing is read either: the endpoint would only buffer it."""
        pause = (self._writing_paused and self.endpoint.unsent_bytes > READ_PAUSE_BYTES
                 or self._working)  # nothing is read until the slow job is back, so wait
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


def address_text(address) -> str:
    """A socket address as people write it: 127.0.0.1:22, [::1]:22."""
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


ACCEPT_RETRY_DELAY = 1.0  # seconds, as asyncio's own server waits


class Listener:
    """A server's listening sockets and the tasks accepting on them. It accepts itself, rather
    than through asyncio's create_server, so that ``limits`` are asked at accept time and a
    refused connection is closed before the next is accepted (a flood never holds more than one
    descriptor, nor makes an endpoint), and so that a failing accept (out of descriptors) is one
    log line a minute, not asyncio's traceback for every retry. ``on_refused(peer, reason)``
    hears of each refusal; ``log`` gets the lines about failing accepts. ``make_protocol(peer)``
    makes the protocol for a connection from ``peer`` ("127.0.0.1:50000")."""

    def __init__(self, sockets: list[socket.socket], make_protocol: Callable[[str], EndpointProtocol],
                 limits: ConnectionLimits | None, on_refused: Callable[[str, str], None] | None,
                 log: Callable[[str], None]):
        self.sockets = sockets
        self.make_protocol = make_protocol
        self.limits = limits
        self.on_refused = on_refused
        from .limits import LineThrottle

        self.accept_errors = LineThrottle(time.monotonic, interval=60.0)
        self.log = log
        loop = asyncio.get_running_loop()
        self._closed = loop.create_future()
        self._tasks = [loop.create_task(self._accept(sock)) for sock in sockets]

    async def _accept(self, listening: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, address = await loop.sock_accept(listening)
            except OSError as exc:
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue  # the client left before it was taken
                # Out of descriptors (EMFILE, ENFILE) or memory: the listening socket stays
                # ready, so wait before trying again.
                line = self.accept_errors.line(f"sshviz: cannot accept connections: {exc.strerror or exc}; "
                                               f"trying again every {ACCEPT_RETRY_DELAY:g} s")
                if line is not None:
                    self.log(line)
                await asyncio.sleep(ACCEPT_RETRY_DELAY)
                continue
            try:
                await self._take(sock, address)
            except Exception as exc:  # a bug must cost this connection only, never the listener
                sock.close()
                self.log(f"sshviz: internal error taking the connection from {address_text(address)}: {exc!r}")

    async def _take(self, sock: socket.socket, address) -> None:
        admission = None
        if self.limits is not None:
            admission = self.limits.admit(address[0])
            if admission.refused:
                sock.close()  # as sshd does: nothing said, nothing started
                if self.on_refused is not None:
                    self.on_refused(address_text(address), admission.refused)
                return
        try:
            protocol = self.make_protocol(address_text(address))
            protocol.limits, protocol.admission = self.limits, admission
            await asyncio.get_running_loop().connect_accepted_socket(lambda: protocol, sock)
        except BaseException as exc:
            sock.close()
            if admission is not None:
                self.limits.ended(admission)
            if not isinstance(exc, OSError):  # OSError: the peer left before it was taken
                raise

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for sock in self.sockets:
            sock.close()
        if not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    async def serve_forever(self) -> None:
        try:
            await self.wait_closed()
        finally:
            self.close()

    async def __aenter__(self) -> "Listener":
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.close()


def listening_sockets(host: str, port: int, backlog: int = 128) -> list[socket.socket]:
    """Bound, listening, non-blocking sockets for every address of ``host`` (as asyncio's
    create_server makes them)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


async def start_server(host: str, port: int, make_server: Callable[[], ServerConnection],
                       on_events: Callable[[EndpointProtocol, list[Event]], None] | None = None,
                       allow_forward: Callable[[str, int], bool] | None = None,
                       on_protocol: Callable[[EndpointProtocol], None] | None = None,
                       limits: ConnectionLimits | None = None,
                       on_refused: Callable[[str, str], None] | None = None,
                       log: Callable[[str], None] | None = None,
                       work_pool: WorkPool | None = None,
                       sockets: list[socket.socket] | None = None) -> Listener:
    """Listen; each connection gets its own ServerConnection from ``make_server``.
    ``on_protocol`` sees each new EndpointProtocol before it starts (to attach a recorder);
    ``limits`` decides which connections are taken, and ``on_refused(peer, reason)`` hears of
    the others; ``log`` gets a line when accepting fails (default: the "sshviz" logger);
    ``work_pool`` runs the connections' slow arithmetic off the event loop; ``sockets``: ones
    already listening (``listening_sockets``), so that a caller can say it cannot listen before
    anything else starts."""

    def factory(peer: str) -> EndpointProtocol:
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

        protocol = EndpointProtocol(make_server(), events, work_pool=work_pool)
        protocol.peer = peer
        if on_protocol is not None:
            on_protocol(protocol)
        return protocol

    return Listener(sockets or listening_sockets(host, port), factory, limits, on_refused,
                    log or logging.getLogger("sshviz").warning)
