"""``sshviz connect``: the sshviz client over TCP against a real server."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shutil
import signal
import sys
import termios
import threading
import time
import tty
from contextlib import contextmanager

from ..auth.client import ClientAuthConfig
from ..crypto.keyfiles import KeyFileError, read_private_key, read_public_key
from ..crypto.keys import CERTIFICATE_ALGORITHMS
from ..crypto.known_hosts import KnownHosts
from ..endpoint import ClientConfig, ClientConnection
from ..events import (AuthBanner, AuthSucceeded, Disconnected, HostKeyChecked, PacketReceived,
                      PacketSent, PasswordNeeded, PromptsNeeded, VersionReceived, VersionSent)
from ..net.adapter import EndpointProtocol, Forwarder, open_client
from ..net.handshake import HandshakeWatch
from ..net.process import prepare_for_bulk_transfers
from ..presentation.peertext import banner_text, visible
from ..presentation.transcript import format_change, format_unit
from ..scenario import SessionDriver
from ..trace.elide import ELIDE_AFTER
from ..trace.model import Trace, TraceHeader, TraceRecorder
from ..wire.catalog import DisconnectReason
from . import sftp as sftp_cli
from .common import (CLIError, add_algorithm_options, internal_error_report, port_type,
                     transport_config)
from .traces import add_trace_option, check_trace_path, now, save_for_cli

DEFAULT_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")
# Events that only say a unit went by; one per packet, so checked first and passed over.
WIRE_EVENTS = frozenset((PacketSent, PacketReceived, VersionSent, VersionReceived))


def load_identities(paths: list[str]) -> list:
    keys = []
    explicit = bool(paths)
    if not explicit:
        ssh_dir = os.path.expanduser("~/.ssh")
        paths = [os.path.join(ssh_dir, name) for name in DEFAULT_KEYS
                 if os.path.exists(os.path.join(ssh_dir, name))]
    for path in paths:
        try:
            key = read_private_key(path)
        except KeyFileError as exc:
            if "passphrase" in str(exc) and sys.stdin.isatty():
                key = read_private_key(path, getpass.getpass(f"Passphrase for {path}: "))
            elif explicit:
                raise
            else:
                continue
        certified = _with_certificate(key, path)
        if certified is not None:
            keys.append(certified)
        keys.append(key)
    return keys


def _with_certificate(key, path: str):
    """KEY-cert.pub beside KEY, as OpenSSH finds it: the key presenting that certificate
    (tried before the plain key), or None. A certificate that cannot be used is said, once."""
    cert_path = path + "-cert.pub"
    if not os.path.exists(cert_path):
        return None
    try:
        cert, _ = read_public_key(cert_path)
        if cert.certificate is None:
            raise KeyFileError(f"{cert_path}: not a certificate")
        return key.with_certificate(cert.certificate)
    except (KeyFileError, ValueError) as exc:
        sys.stderr.write(f"sshviz: {visible(str(exc))}; the certificate is not used\n")
        return None


class TranscriptPrinter:
    """Prints each message and change as it happens (for --print). The lines hold what the
    peer sent (names, descriptions, version lines), so each is printed escaped."""

    def __init__(self, stream, side: str):
        self.stream = stream
        self.side = side
        self.count = 0

    def __call__(self, events: list) -> None:
        for event in events:
            if type(event) in WIRE_EVENTS:
                lines = format_unit(self.count, event.record.direction, event.record, detail=True)
                self.count += 1
            else:
                lines = format_change(self.side, event, detail=True)
            for line in lines:
                print(visible(line), file=self.stream)
        self.stream.flush()


def parse_forward(spec: str) -> tuple[str, int, str, int]:
    parts = spec.split(":")
    if len(parts) == 3:
        parts.insert(0, "127.0.0.1")
    if len(parts) != 4:
        raise CLIError(f"-L {spec}: expected [ADDR:]PORT:HOST:HOSTPORT")
    port = port_type()
    try:
        return parts[0], port(parts[1]), parts[2], port(parts[3])
    except argparse.ArgumentTypeError as exc:
        raise CLIError(f"-L {spec}: {exc}") from None


def register(sub) -> None:
    parser = sub.add_parser("connect", help="connect the sshviz client to a real SSH server",
                            description="The sshviz client against a real server. With --exec, "
                                        "behaves like 'ssh -n host CMD': the command's output on "
                                        "stdout and stderr, and its exit status. Without it, on a "
                                        "terminal, the UI shows the session live (it logs in and "
                                        "opens a session that runs nothing; q disconnects); "
                                        "--shell gives an interactive shell instead, which is what "
                                        "runs when standard input is not a terminal.")
    parser.add_argument("destination", metavar="[user@]host")
    parser.add_argument("-p", "--port", type=port_type(), help="port (default: 22)")
    parser.add_argument("-i", "--identity", action="append", default=[], metavar="KEYFILE",
                        help="private key for publickey authentication (repeatable; default: "
                             "~/.ssh/id_ed25519, id_ecdsa, id_rsa when present)")
    parser.add_argument("--password-env", metavar="VAR",
                        help="read the password from this environment variable")
    parser.add_argument("--known-hosts", metavar="FILE", default=None,
                        help="OpenSSH known_hosts file (default: ~/.ssh/known_hosts)")
    parser.add_argument("--accept-new", action="store_true",
                        help="trust on first use: accept an unknown host key and add it to "
                             "known_hosts (a changed key is still refused)")
    add_algorithm_options(parser, single=False)
    parser.add_argument("--exec", metavar="CMD", help="run CMD on the server")
    parser.add_argument("-L", dest="forwards", action="append", default=[],
                        metavar="[ADDR:]PORT:HOST:HOSTPORT",
                        help="forward a local port through the server (direct-tcpip)")
    sftp_cli.add_options(parser)
    parser.add_argument("--print", action="store_true", help="print every message on stderr")
    parser.add_argument("--ui", action="store_true",
                        help="show the session live in the UI (the default on a terminal without "
                             "--exec, --sftp, --sftp-batch, -L or --print); with --exec, the "
                             "command runs and the UI stays open")
    parser.add_argument("--shell", action="store_true",
                        help="an interactive shell on this terminal instead of the UI")
    parser.add_argument("--timeout", type=seconds, default=30.0, metavar="SECONDS",
                        help="how long to wait for the TCP connection, then for each step of the "
                             "handshake: the server's version line, the key exchange, each answer "
                             "during authentication (default: %(default)g)")
    add_trace_option(parser)
    parser.set_defaults(func=connect)


def seconds(text: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def parse_destination(text: str, port: int | None) -> tuple[str, str, int]:
    user, _, host = text.rpartition("@")
    user = user or os.environ.get("USER") or getpass.getuser()
    if not host:
        raise CLIError("a host is required, as [user@]host")
    return user, host, 22 if port is None else port


def default_known_hosts() -> str:
    return os.path.join(os.path.expanduser("~"), ".ssh", "known_hosts")


def connect(args) -> int:
    user, host, port = parse_destination(args.destination, args.port)
    check_trace_path(args.trace)
    if wants_ui(args):
        return connect_with_ui(args, user, host, port)
    prepare_for_bulk_transfers()
    with ctrl_c_interrupts():
        return asyncio.run(run_connect(args, user, host, port))


def wants_ui(args) -> bool:
    """--ui, or on a terminal nothing else asked for (no command, SFTP, forwarding, --print or
    --shell)."""
    from ..tui import terminal_attached

    others = args.exec is not None or sftp_cli.wanted(args) or args.forwards or args.print
    if args.ui:
        if args.shell or sftp_cli.wanted(args) or args.forwards or args.print:
            raise CLIError("--ui shows the default session or --exec CMD; leave out --shell, --sftp, "
                           "--sftp-batch, -L and --print")
        if not terminal_attached():
            raise CLIError("--ui needs a terminal")
        return True
    return not (others or args.shell) and terminal_attached()


class UiPrompts:
    """What connect asks the UI (``app``, a LiveApp): passwords and keyboard-interactive answers
    in a dialog; and what its host key check found, to ask about a new key or show a changed
    one loudly once the connection has ended."""

    def __init__(self, app):
        self.app = app
        self.unknown = None  # the host key known_hosts does not know, to ask about
        self.changed: tuple[object, str] | None = None  # (key, detail) of a changed or revoked key

    async def password(self, protocol: EndpointProtocol, prompt: str) -> None:
        answers = await self.app.ask_prompts("password", "", [(visible(prompt), False)])
        protocol.act(protocol.endpoint.provide_password, None if answers is None else answers[0])

    async def prompts(self, protocol: EndpointProtocol, event: PromptsNeeded) -> None:
        answers = await self.app.ask_prompts(
            visible(event.name) or "keyboard-interactive", banner_text(event.instruction),
            [(visible(prompt), echo) for prompt, echo in event.prompts])
        protocol.act(protocol.endpoint.provide_responses, answers or [""] * len(event.prompts))


def connect_with_ui(args, user: str, host: str, port: int) -> int:
    """The UI on this connection; the client runs in the UI's loop."""
    from ..tui import run_live

    live, run = ui_session(args, user, host, port)
    return run_live(live, run, single=True, title=f"connect {user}@{host} port {port}")


def ui_session(args, user: str, host: str, port: int):
    """(LiveConnections, run(app)): the client for the UI. A host key known_hosts does not know
    is asked about in a dialog (trusted, it is added and the client connects again, as the check
    happens during the key exchange); a changed one is refused, loudly."""
    from ..presentation.live import LiveConnections

    live = LiveConnections("client", "connect", elide_after=None if args.full_data else ELIDE_AFTER)
    known_hosts_path = args.known_hosts or default_known_hosts()

    async def run(app) -> None:
        while True:
            prompts = UiPrompts(app)
            try:
                status = await run_connect(args, user, host, port, live=live, ui=prompts)
                app.ended(f"the session has ended (exit status {status})" if args.exec else "the session has ended")
                return
            except CLIError as exc:
                ending = str(exc)
            if prompts.changed is not None:
                key, detail = prompts.changed
                await app.warn_host_key(host_pattern(host, port), key.key_type, key.fingerprint(), detail)
                app.ended(ending, error=True)
                return
            if prompts.unknown is None:
                app.ended(ending, error=True)
                return
            key = prompts.unknown
            trusted = await app.ask_host_key(host_pattern(host, port), key.key_type, key.fingerprint(),
                                             known_hosts_path)
            if not trusted:
                app.ended("the host key was not trusted: nothing was sent past the key exchange", error=True)
                return
            _append_known_host(known_hosts_path, KnownHosts.load(known_hosts_path).entry_line(host, port, key.plain))

    return live, run


def host_pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


@contextmanager
def ctrl_c_interrupts():
    """Ctrl-C raises KeyboardInterrupt wherever the program is. asyncio.run's own handler only
    cancels the session's task, so at a password prompt (which holds the event loop) Ctrl-C did
    nothing until Enter was pressed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


async def run_connect(args, user: str, host: str, port: int, live=None, ui: UiPrompts | None = None) -> int:
    """The session; with ``live`` (a LiveConnections) it is recorded there for the UI, whose
    dialogs ``ui`` asks for passwords and answers; nothing is read from or written to the
    terminal then."""
    known_hosts_path = args.known_hosts or default_known_hosts()
    known = KnownHosts.load(known_hosts_path)

    def verify(key):
        status, detail = known.check(host, port, key, time.time())
        if status == "unknown" and args.accept_new:
            return "learned", f"added to {known_hosts_path}"
        if status == "unknown":
            if ui is not None:
                ui.unknown = key
                return status, f"is not in {known_hosts_path}: the UI asks whether to trust it"
            return status, (f"is not in {known_hosts_path}; check the fingerprint and connect "
                            f"again with --accept-new to trust it")
        if status in ("changed", "revoked") and ui is not None:
            ui.changed = (key, detail)
        return status, detail

    passwords = []
    if args.password_env:
        if args.password_env not in os.environ:
            raise CLIError(f"--password-env: environment variable {args.password_env} is not set")
        passwords = [os.environ[args.password_env]]
    forwards = [parse_forward(f) for f in args.forwards]
    keys = load_identities(args.identity)
    transport = transport_config(args, verify_host_key=verify, host_label=host)
    if args.hostkey is None and known.trusts_a_ca_for(host, port):
        # As OpenSSH does: known_hosts trusts a CA for this host, so ask for certificates first.
        transport.host_key_algorithms = CERTIFICATE_ALGORITHMS + [
            a for a in transport.host_key_algorithms if a not in CERTIFICATE_ALGORITHMS]
    config = ClientConfig(
        transport,
        ClientAuthConfig(user=user, keys=keys, passwords=passwords, ask=ui is not None or sys.stdin.isatty()))
    client = ClientConnection(config)

    out, err = (None, None) if live is not None else (sys.stdout.buffer, sys.stderr.buffer)
    reader_gone = False  # our output's reader went away (`... --exec CMD | head`)

    def on_output(stream: int, data: bytes) -> None:
        nonlocal reader_gone
        if live is not None:  # the terminal is the UI's: the output is on the ladder, and in the log
            live.say(("stderr: " if stream == 1 else "") + visible(data, keep="\n").rstrip("\n"))
            return
        target = err if stream == 1 else out
        try:
            target.write(data)
            target.flush()
        except BrokenPipeError:
            reader_gone = True
            protocol.transport.abort()

    sftp_run = None
    interactive = args.exec is None and not forwards and not sftp_cli.wanted(args) and live is None
    terminal = interactive and sys.stdin.isatty() and sys.stdout.isatty()
    driver = SessionDriver(client, args.exec, on_output=on_output,
                           disconnect_when_done=True)
    if sftp_cli.wanted(args):
        sftp_run = sftp_cli.SftpRun(args, client, driver)
    elif live is not None and args.exec is None:  # the UI's default session: open, run nothing
        driver.on_channel_open = lambda _driver, channel: None
        driver.disconnect_when_done = False
    elif interactive:
        def start_shell(_driver, channel: int) -> None:
            if terminal:  # a pty, like ssh does for a terminal
                columns, rows = shutil.get_terminal_size()
                client.connection.request(channel, "pty-req", term=os.environ.get("TERM", "xterm"),
                                          width_chars=columns, height_rows=rows, width_pixels=0,
                                          height_pixels=0, terminal_modes=b"\x00")
            client.connection.request(channel, "shell")

        driver.on_channel_open = start_shell
    elif args.exec is None:
        driver.disconnect_when_done = False
    printer = TranscriptPrinter(sys.stderr, "client") if args.print else None
    forwarder: Forwarder | None = None
    listeners: list[asyncio.AbstractServer] = []
    loop = asyncio.get_running_loop()
    ending: tuple[Disconnected, str | None] | None = None  # how it ended, and the error before
    watch: HandshakeWatch | None = None  # each handshake step's deadline, from the TCP connection

    def on_events(protocol: EndpointProtocol, events: list) -> None:
        nonlocal forwarder, ending, watch
        if watch is None:
            watch = HandshakeWatch(args.timeout, loop.time())
        watch.update(client, events, loop.time())
        if printer is not None:
            printer(events)
        if forwarder is None:
            forwarder = Forwarder(protocol)
        for event in events:
            if type(event) in WIRE_EVENTS:
                continue  # a packet or a version line: for the printer and the recorder only
            if forwarder.handle(event):
                continue
            if isinstance(event, Disconnected) and ending is None:
                ending = (event, driver.error)
            if isinstance(event, HostKeyChecked) and event.status == "learned":
                _append_known_host(known_hosts_path, known.entry_line(host, port, _key_of(event)))
            elif isinstance(event, AuthBanner) and live is not None:
                live.say(banner_text(event.message).rstrip("\n"))
            elif isinstance(event, AuthBanner) and printer is None:
                sys.stderr.write(banner_text(event.message))
            elif isinstance(event, PasswordNeeded):
                if ui is not None:
                    loop.create_task(ui.password(protocol, event.prompt))
                else:
                    loop.call_soon(_ask_password, protocol, event.prompt)
            elif isinstance(event, PromptsNeeded):
                if ui is not None:
                    loop.create_task(ui.prompts(protocol, event))
                else:
                    loop.call_soon(_ask_prompts, protocol, event)
            elif isinstance(event, AuthSucceeded) and forwards:
                for bind, lport, rhost, rport in forwards:
                    loop.create_task(_listen(listeners, forwarder, bind, lport, rhost, rport))
            driver.handle(event)

    recorder = None
    if live is not None:  # the UI's recording, saved for --trace too
        recorder = live.add(f"{host}:{port}", created=now())
        recorder.trace.header.server_address = f"{host}:{port}"
    elif args.trace:
        recorder = TraceRecorder("client", Trace(TraceHeader("connect", created=now(),
                                                             server_address=f"{host}:{port}")),
                                 elide_after=None if args.full_data else ELIDE_AFTER)
    try:
        protocol = await open_client(host, port, client, on_events, timeout=args.timeout,
                                     recorder=recorder)
    except asyncio.TimeoutError:
        if live is not None:
            recorder.close()
        raise CLIError(f"cannot connect to {host} port {port}: no answer in {args.timeout:g} s", 255) from None
    except OSError as exc:
        if live is not None:
            recorder.close()
        # asyncio's own text ("Connect call failed ('127.0.0.1', 22)") hides the reason.
        reason = os.strerror(exc.errno) if isinstance(exc.errno, int) and exc.errno > 0 else exc.strerror or str(exc)
        raise CLIError(f"cannot connect to {host} port {port}: {reason}", 255) from None
    if sftp_run is not None:
        sftp_run.protocol = protocol
    if watch is None:  # no event yet: the handshake starts now
        watch = HandshakeWatch(args.timeout, loop.time())
    timed_out = None

    async def enforce_deadlines() -> None:
        """End the connection when a handshake step takes longer than --timeout."""
        nonlocal timed_out
        while watch is not None and watch.step != "done" and not protocol.closed.done():
            now = loop.time()
            if watch.expired(now):
                timed_out = watch.message(host, port)
                protocol.transport.abort()
                return
            wait = 1.0 if watch.deadline is None else watch.deadline - now  # the user types; look again
            await asyncio.wait([protocol.closed], timeout=wait)

    deadlines = loop.create_task(enforce_deadlines())
    stdin_task = None
    if interactive:
        stdin_task = loop.create_task(_pump_stdin(protocol, driver, terminal))
    try:
        await protocol.closed
    except asyncio.CancelledError:  # the UI closed: say goodbye to the server
        if not client.closed and not protocol.transport.is_closing():
            protocol.act(client.disconnect, DisconnectReason.BY_APPLICATION, "disconnected by user")
        raise
    finally:
        deadlines.cancel()
        for listener in listeners:
            listener.close()
        if stdin_task:
            stdin_task.cancel()
        if recorder is not None:
            recorder.finish()
            recorder.trace.header.client_address = protocol.local
            if live is not None:
                recorder.close()
            if args.trace:
                save_for_cli(recorder.trace, args.trace, args.full_data)
    if reader_gone:
        raise BrokenPipeError  # ends quietly, as if SIGPIPE had
    if client.internal_error:
        raise CLIError(internal_error_report(client.internal_error), 255)
    if timed_out:
        raise CLIError(timed_out, 255)
    if driver.error or (driver.exit_status is None and not driver.finished):
        raise CLIError(failure(ending, driver.error, host, port), 255)
    if sftp_run is not None:
        return sftp_run.status
    return driver.exit_status if driver.exit_status is not None else 0


def _key_of(event: HostKeyChecked):
    from ..crypto.keyfiles import parse_public_key_line

    return parse_public_key_line(event.key_line)[0].plain  # a certificate's key, as OpenSSH saves it


def _append_known_host(path: str, line: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def failure(ending: tuple[Disconnected, str | None] | None, error: str | None, host: str, port: int) -> str:
    """Why the session failed, in words for one line (escaped: the server may have chosen
    them). The session's own error comes first, unless it only repeats the disconnect."""
    disconnected, error_before = ending or (None, None)
    if error_before or (error and disconnected is None):
        return visible(error_before or error)
    if disconnected is None:
        return "connection closed"
    if not disconnected.by_peer:  # we ended it: the description says why
        return visible(disconnected.description)
    if disconnected.reason == DisconnectReason.CONNECTION_LOST:
        return f"connection closed by {host} port {port}"
    return f"the server disconnected: {visible(disconnected.description or reason_name(disconnected.reason))}"


def reason_name(code: int) -> str:
    try:
        return DisconnectReason(code).name
    except ValueError:
        return f"reason {code}"


def _ask_password(protocol: EndpointProtocol, prompt: str) -> None:
    try:
        password = getpass.getpass(visible(prompt))
    except EOFError:  # Ctrl-D: no password (Ctrl-C ends the program)
        password = None
    protocol.act(protocol.endpoint.provide_password, password)


def _ask_prompts(protocol: EndpointProtocol, event: PromptsNeeded) -> None:
    # The server's title and instructions come first, as OpenSSH's ssh shows them (RFC 4256 3.3).
    for text in (event.name, event.instruction):
        if text:
            print(banner_text(text).rstrip("\n"), file=sys.stderr, flush=True)
    answers = []
    try:
        for prompt, echo in event.prompts:
            answers.append(input(visible(prompt)) if echo else getpass.getpass(visible(prompt)))
    except EOFError:  # Ctrl-D: empty answers, which the server refuses
        answers += [""] * (len(event.prompts) - len(answers))
    protocol.act(protocol.endpoint.provide_responses, answers)


async def _listen(listeners, forwarder: Forwarder, bind: str, lport: int, rhost: str, rport: int) -> None:
    def accept(reader, writer):
        forwarder.open_from_listener(reader, writer, rhost, rport)

    listeners.append(await asyncio.start_server(accept, bind, lport))


async def _pump_stdin(protocol: EndpointProtocol, driver: SessionDriver, terminal: bool) -> None:
    """Send our standard input to the remote shell, then EOF. On a terminal: raw mode (keys go
    to the remote pty as typed) and window-change on resize, restored on the way out."""
    loop = asyncio.get_running_loop()
    connection = protocol.endpoint.connection
    while not driver.ready:  # the shell must be running before it gets input
        if protocol.closed.done():
            return
        await asyncio.sleep(0.02)
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if terminal else None
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        if terminal:
            tty.setraw(fd)

            def resized() -> None:
                columns, rows = shutil.get_terminal_size()
                protocol.act(connection.request, driver.channel, "window-change", want_reply=False,
                             width_chars=columns, height_rows=rows, width_pixels=0, height_pixels=0)

            loop.add_signal_handler(signal.SIGWINCH, resized)
        while driver.channel in connection.channels:
            data = await reader.read(4096)
            if driver.channel not in connection.channels:
                return
            if not data:
                protocol.act(connection.send_eof, driver.channel)
                return
            protocol.act(connection.send_data, driver.channel, data)
    finally:
        if saved is not None:
            loop.remove_signal_handler(signal.SIGWINCH)
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        os.set_blocking(fd, True)
