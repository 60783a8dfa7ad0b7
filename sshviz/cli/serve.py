"""``sshviz serve``: the sshviz server for real clients, one ServerConnection per TCP connection."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import sys
import time
from pathlib import Path

from ..auth.passwords import hash_password
from ..auth.server import ServerAuthConfig, UserRecord
from ..connection.layer import DEFAULT_MAX_CHANNELS, MAX_CHANNELS, ConnectionConfig
from ..crypto.certificates import check_certificate, describe, read_ca_keys
from ..crypto.keyfiles import (KeyFileError, parse_authorized_keys, read_private_key,
                               write_private_key)
from ..crypto.keys import CERTIFICATE_ALGORITHMS, SIGNATURE_ALGORITHMS, PrivateKey
from ..endpoint import ServerConfig, ServerConnection
from ..events import AuthAttempt, ChannelRefused, Disconnected, PacketReceived, VersionReceived
from ..net.adapter import EndpointProtocol, listening_sockets, start_server
from ..net.feed import WATCHER_BUFFER
from ..net.limits import (DEFAULT_MAX_STARTUPS, DEFAULT_PER_SOURCE, ConnectionLimits, LineThrottle,
                          MaxStartups, connections_for_open_files, raise_open_file_limit)
from ..net.process import prepare_for_bulk_transfers
from ..net.work import DEFAULT_BURST, DEFAULT_RATE, WorkPool
from ..presentation.offer import offer_of
from ..presentation.peertext import visible, word
from ..sides import Side
from ..trace.elide import ELIDE_AFTER
from ..trace.model import Trace, TraceHeader, TraceRecorder
from ..wire.catalog import MSG, DisconnectReason, OpenFailureReason
from ..wire.codes import CertificateType
from .common import (CLIError, add_algorithm_options, feed_path, internal_error_report, port_type,
                     state_dir, transport_config)
from .connect import TranscriptPrinter
from .exposure import exposure_warning as listening_warning
from .exposure import is_loopback
from .traces import add_trace_option, check_trace_path, now, numbered, save_for_cli


def load_or_make_host_keys(paths: list[str]) -> list[PrivateKey]:
    if paths:
        return [read_private_key(path) for path in paths]
    path = state_dir() / "ssh_host_ed25519_key"
    if path.exists():
        return [read_private_key(str(path))]
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = PrivateKey.generate("ssh-ed25519", comment="sshviz host key")
    write_private_key(key, str(path))
    print(f"sshviz: made a new host key {path} ({key.public.fingerprint()})", file=sys.stderr)
    return [key]


def add_host_certificates(keys: list[PrivateKey], paths: list[str]) -> list[PrivateKey]:
    """Each host certificate presented by the host key it certifies (which must be among
    ``keys``); the plain keys stay, so clients that ask for no certificate are served too."""
    from ..crypto.keyfiles import read_public_key

    certified = []
    for path in paths:
        cert, _ = read_public_key(path)
        if cert.certificate is None:
            raise CLIError(f"--host-certificate: {path} holds a plain key, not a certificate")
        cert = cert.certificate
        if cert.cert_type != CertificateType.HOST:
            raise CLIError(f"--host-certificate: {path} is a {cert.type_name} certificate, not a host certificate")
        key = next((k for k in keys if k.public == cert.key), None)
        if key is None:
            raise CLIError(f"--host-certificate: {path} certifies {cert.key.key_type} {cert.fingerprint()}, "
                           "which is not among the host keys (--host-key)")
        problem = check_certificate(cert, CertificateType.HOST, None, time.time())
        if problem:
            print(f"sshviz: warning: host certificate {path}: {problem}; clients will refuse it",
                  file=sys.stderr)
        print(f"sshviz: presenting {describe(cert)}", file=sys.stderr)
        certified.append(key.with_certificate(cert))
    return keys + certified


def server_transport(args):
    """The host keys (--host-key, --host-certificate) and the algorithms offered with them: a
    certificate's algorithms first, as OpenSSH's sshd offers them, unless --hostkey says."""
    keys = add_host_certificates(load_or_make_host_keys(args.host_key), args.host_certificate)
    transport = transport_config(args, host_keys=keys)
    if args.hostkey is None:
        have = {k.key_type for k in keys}
        transport.host_key_algorithms = [a for a in CERTIFICATE_ALGORITHMS
                                         if SIGNATURE_ALGORITHMS[a].key_type in have] + transport.host_key_algorithms
    return transport


def user_cas(args) -> list:
    if not args.user_ca:
        return []
    keys, problems = read_ca_keys(args.user_ca)
    for problem in problems:
        print(f"sshviz: skipping {problem}", file=sys.stderr)
    if not keys:
        raise CLIError(f"--user-ca: {args.user_ca} holds no CA public key")
    return keys


def loopback_only(host: str, port: int) -> bool:
    """Forwarding is allowed to loopback addresses only (and 'localhost')."""
    return is_loopback(host)


def exposure_warning(host: str, port: int, users: list[str]) -> list[str]:
    """Loud lines when the server listens beyond this machine, with the ssh command to hand out."""
    user = users[0] if len(users) == 1 else "USER"
    return listening_warning(host, port, lambda address: f"ssh -p {port} {user}@{address}")


def say(line: str, stream=None) -> None:
    """A log line, on stdout unless told. A log nobody reads any more (a closed pipe) must not
    stop the server: then the line is dropped."""
    try:
        print(line, file=stream or sys.stdout, flush=True)
    except (OSError, ValueError):
        pass


class LogStream:
    """stdout for TranscriptPrinter, dropping what a closed pipe refuses, as ``say`` does."""

    def write(self, text: str) -> None:
        try:
            sys.stdout.write(text)
        except (OSError, ValueError):
            pass

    def flush(self) -> None:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass


def register(sub) -> None:
    parser = sub.add_parser("serve", help="run the sshviz server for real SSH clients",
                            description="The sshviz server. It never runs operating-system commands: "
                                        "exec and shell use a small built-in command set, and files "
                                        "are served from --root only.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=port_type(0), default=2222,
                        help="port (default: %(default)s; 0: any free port)")
    parser.add_argument("--root", metavar="DIR", help="directory served as / to ls, cat and SFTP")
    parser.add_argument("--read-only", action="store_true", help="refuse every change under --root")
    parser.add_argument("--user", default=None, help="the user who may log in (default: your login name)")
    parser.add_argument("--password-env", metavar="VAR",
                        help="the user's password, from this environment variable (kept only as a "
                             "scrypt hash)")
    parser.add_argument("--authorized-keys", metavar="FILE", help="OpenSSH authorized_keys file for the user")
    parser.add_argument("--accounts", metavar="FILE",
                        help="the users of a class, made with `sshviz accounts add` (instead of "
                             "--user/--password-env/--authorized-keys); with --root each gets "
                             "ROOT/NAME as their own /")
    parser.add_argument("--host-key", action="append", default=[], metavar="FILE",
                        help="host private key (repeatable); default: one is made once and kept, mode 0600")
    parser.add_argument("--host-certificate", action="append", default=[], metavar="FILE",
                        help="an OpenSSH host certificate (ssh-keygen -s CA -h) to present, for a key "
                             "among --host-key (repeatable)")
    parser.add_argument("--user-ca", metavar="FILE",
                        help="CA public keys (OpenSSH's TrustedUserCAKeys): a user certificate they "
                             "signed logs in the users among its principals")
    parser.add_argument("--banner", metavar="TEXT", help="text shown to clients before authentication")
    parser.add_argument("--allow-forwarding", action="store_true",
                        help="allow direct-tcpip forwarding (to loopback addresses only)")
    limits = parser.add_argument_group(
        "connection limits", "Connections that have not authenticated yet are 'startups'; one "
        "stops counting once its user logs in. Refused connections are closed at once.")
    limits.add_argument("--max-startups", metavar="START:RATE:FULL", type=max_startups_type,
                        default=DEFAULT_MAX_STARTUPS,
                        help="with START startups, refuse a new connection with probability RATE%%, "
                             "rising to 100%% at FULL, as OpenSSH's MaxStartups (default: %(default)s; "
                             "a class of 50 logging in at once passes twice over)")
    limits.add_argument("--per-source-max-startups", metavar="N", type=per_source_type,
                        default=DEFAULT_PER_SOURCE,
                        help="at most N startups from one address, or 'none' (default: %(default)s)")
    limits.add_argument("--max-sessions-per-user", metavar="N", type=positive_int, default=None,
                        help="at most N logged-in connections per user at once; one more is "
                             "disconnected with TOO_MANY_CONNECTIONS (default: 10 with --accounts, "
                             "where each student has one; none with --user, which a class shares)")
    limits.add_argument("--max-channels", metavar="N", type=channels_type, default=DEFAULT_MAX_CHANNELS,
                        help="at most N channels open at once on one connection; one more is refused "
                             "with RESOURCE_SHORTAGE (default: %(default)s; at most "
                             f"{MAX_CHANNELS})")
    limits.add_argument("--max-connections", metavar="N", type=positive_int,
                        help="at most N connections in all (default and most: what the open-file "
                             "limit allows, two descriptors each after a reserve; the soft limit is "
                             "raised to the hard one)")
    limits.add_argument("--workers", metavar="N", type=workers_type, default=os.cpu_count() or 1,
                        help="processes for slow arithmetic (Diffie-Hellman groups, password hashes), so "
                             "one login's does not hold up the others; each address gets its turn and "
                             f"at most {DEFAULT_BURST} such jobs at once, then {DEFAULT_RATE:g} a second "
                             "(default: %(default)s, the number of CPUs; 0: on the event loop)")
    add_algorithm_options(parser, single=False)
    parser.add_argument("--print", action="store_true", help="print every message instead of opening the UI")
    parser.add_argument("--no-ui", action="store_true",
                        help="log lines instead of the UI (the default without a terminal)")
    add_trace_option(parser, many=True)
    feed = parser.add_mutually_exclusive_group()
    feed.add_argument("--feed", metavar="PATH", nargs="?", const="",
                      help="publish the live sessions for `sshviz watch` at PATH (a Unix socket, "
                           "mode 0600: only you can watch; it carries decrypted sessions, passwords "
                           "typed included); without PATH at feed-PORT in $XDG_RUNTIME_DIR/sshviz, "
                           "else in the state directory, where `sshviz watch PORT` finds it. On by "
                           "default with the UI, which records every session anyway; without it, "
                           "only when asked, since recording every packet costs the server about "
                           "as much CPU again on a big transfer")
    feed.add_argument("--no-feed", action="store_true", help="publish nothing for `sshviz watch`")
    parser.add_argument("--feed-buffer", metavar="MIB", type=positive_int, default=WATCHER_BUFFER >> 20,
                        help="how far (MiB) a watcher may fall behind before it is dropped; the server "
                             "never waits for one (default: %(default)s)")
    parser.set_defaults(func=serve)


def max_startups_type(text: str) -> MaxStartups:
    try:
        return MaxStartups.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def channels_type(text: str) -> int:
    number = positive_int(text)
    if number > MAX_CHANNELS:
        raise argparse.ArgumentTypeError(f"at most {MAX_CHANNELS}")
    return number


def per_source_type(text: str) -> int | None:
    return None if text == "none" else positive_int(text)


def workers_type(text: str) -> int:
    return 0 if text == "0" else positive_int(text)


def connection_limits(args) -> tuple[ConnectionLimits, str]:
    """The limits from the options and the open-file limit (raised to the hard limit first),
    and a line saying what they are."""
    open_files = raise_open_file_limit()
    most = connections_for_open_files(open_files)
    if args.max_connections is not None and args.max_connections > most:
        raise CLIError(f"--max-connections: at most {most} with an open-file limit of {open_files}")
    total = args.max_connections or most
    limits = ConnectionLimits(args.max_startups, args.per_source_max_startups, total)
    per_source = "no limit" if limits.per_source is None else f"at most {limits.per_source}"
    return limits, (f"limits: startups {limits.max_startups} (--max-startups), {per_source} from one "
                    f"address, {total} connections in all (open-file limit {open_files})")


def serve(args) -> int:
    check_trace_path(args.trace)
    prepare_for_bulk_transfers()
    from ..tui import terminal_attached

    if not (args.print or args.no_ui) and terminal_attached():
        return serve_with_ui(args)
    try:
        return asyncio.run(run_serve(args))
    except KeyboardInterrupt:
        return 0


def serve_with_ui(args) -> int:
    """The UI on the server's connections; the server runs in the UI's loop. The configuration
    is read first, so that its errors are one line on the terminal, not in the UI."""
    from ..presentation.live import LiveConnections
    from ..tui import run_live

    try:
        template = build_server_config(args)
    except KeyFileError as exc:
        raise CLIError(str(exc)) from None
    try:  # listening already, so that a port in use is said before the UI opens
        sockets = listening_sockets(args.host, args.port)
    except OSError as exc:
        raise CLIError(f"cannot listen on {args.host} port {args.port}: {exc.strerror}", 1) from None
    live = LiveConnections("server", "serve", elide_after=None if args.full_data else ELIDE_AFTER)
    log_path = state_dir() / "serve.log"
    return run_live(live, lambda app: run_serve(args, live, app, template, sockets),
                    title=f"serve on {args.host} port {args.port} · log: {log_path}", in_thread=True)


def build_server_config(args) -> ServerConfig:
    cas = user_cas(args)
    users, fs, user_fs = _accounts(args) if args.accounts else _one_user(args, cas)
    transport = server_transport(args)
    auth = ServerAuthConfig(users=users, banner=args.banner, user_cas=cas)
    connection = ConnectionConfig(allow_forwarding=args.allow_forwarding, max_channels=args.max_channels)
    return ServerConfig(transport, auth, connection, fs, subsystems=server_subsystems(), user_fs=user_fs)


def _one_user(args, cas) -> tuple[dict, object, None]:
    """--user with --password-env and/or --authorized-keys; --root served to them as /."""
    user = args.user or os.environ.get("USER") or getpass.getuser()
    record = UserRecord()
    if args.password_env:
        if args.password_env not in os.environ:
            raise CLIError(f"--password-env: environment variable {args.password_env} is not set")
        record.password_hash = hash_password(os.environ[args.password_env])
    if args.authorized_keys:
        try:
            with open(args.authorized_keys, encoding="utf-8") as f:
                keys, problems = parse_authorized_keys(f.read(), args.authorized_keys)
        except OSError as exc:
            raise CLIError(f"--authorized-keys: {args.authorized_keys}: {exc.strerror}") from None
        for problem in problems:
            print(f"sshviz: skipping {problem}", file=sys.stderr)
        record.authorized_keys = keys
    if record.password_hash is None and not record.authorized_keys and not cas:
        raise CLIError("nobody could log in: give --password-env VAR, --authorized-keys FILE "
                       "and/or --user-ca FILE")
    fs = None
    if args.root:
        from ..fs import ConfinedFS

        try:
            fs = ConfinedFS(args.root, read_only=args.read_only)
        except FileNotFoundError as exc:
            raise CLIError(f"--root: {exc}") from None
    return {user: record}, fs, None


def _accounts(args) -> tuple[dict, None, object]:
    """Users from an accounts file; with --root, each one's files in ROOT/NAME (made if missing,
    mode 0700), which is all that user sees."""
    from .accounts import load_accounts

    if args.user or args.password_env or args.authorized_keys:
        raise CLIError("--accounts names the users: leave out --user, --password-env and --authorized-keys")
    accounts = load_accounts(args.accounts)
    users = {name: account.record() for name, account in accounts.items()}
    own: dict[str, object] = {}
    if args.root:
        from ..fs import ConfinedFS

        root = Path(args.root)
        if not root.is_dir():
            raise CLIError(f"--root: {args.root} is not a directory")
        for name in users:
            try:
                (root / name).mkdir(mode=0o700, exist_ok=True)
                own[name] = ConfinedFS(str(root / name), read_only=args.read_only)
            except OSError as exc:
                raise CLIError(f"--root: {root / name}: {exc.strerror or exc}") from None
    return users, None, own.get


def server_subsystems() -> dict:
    """Subsystems the server offers by name (SFTP arrives with the SFTP layer)."""
    try:
        from ..sftp.server import sftp_subsystem
    except ImportError:
        return {}
    return {"sftp": sftp_subsystem}


class ServerLog:
    """Where serve's lines go: stdout and stderr, or, with the UI (not ``terminal``), the UI's
    log and the file serve.log in the state directory (the terminal belongs to the UI); and
    ``live``'s log (a LiveConnections: the UI's, or the feed's) either way."""

    def __init__(self, live=None, terminal: bool = False):
        self.live = live
        self.terminal = terminal
        self.file = None
        if live is not None and not terminal:
            path = state_dir() / "serve.log"
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                self.file = open(path, "a", encoding="utf-8", buffering=1)
            except OSError as exc:
                live.say(f"sshviz: cannot write {path}: {exc.strerror or exc}")

    def __call__(self, line: str, error: bool = False) -> None:
        if self.live is not None:
            self.live.say(line)
        if self.terminal:
            say(line, sys.stderr if error else None)
            return
        if self.file is not None:
            try:
                self.file.write(f"{now()} {line}\n")
            except OSError:
                self.file = None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


async def run_serve(args, live=None, app=None, template=None, sockets=None) -> int:
    """Serve until stopped. With ``live`` (a LiveConnections) every connection is recorded into
    it and the log goes there, for the UI (``app``, whose title gets the listening address).
    ``sockets``: already listening (else made from --host and --port). Unless --no-feed, the
    connections are published for ``sshviz watch`` (recorded into a LiveConnections of their
    own without the UI)."""
    if live is None and args.feed is not None:  # without the UI, a feed only when asked
        from ..presentation.live import LiveConnections

        live = LiveConnections("server", "serve", elide_after=None if args.full_data else ELIDE_AFTER)
    log = ServerLog(live, terminal=app is None)
    try:
        return await _serve(args, live, app, template, log, sockets)
    finally:
        log.close()


async def _serve(args, live, app, template, log: ServerLog, sockets) -> int:
    if template is None:
        try:
            template = build_server_config(args)
        except KeyFileError as exc:
            raise CLIError(str(exc)) from None
    printers: dict[int, TranscriptPrinter] = {}
    logged_in: dict[str, int] = {}  # user -> connections logged in now
    users_of: dict[int, str] = {}  # connection -> its user, once counted
    shown: dict[int, object] = {}  # connection -> its LiveConnection (with the UI)
    software: dict[int, str] = {}  # connection -> the version line its client sent
    offered: set[int] = set()  # connections whose client's offer is logged

    most_per_user = args.max_sessions_per_user or (10 if args.accounts else None)

    def count_login(protocol: EndpointProtocol, events: list) -> None:
        if most_per_user is None:
            return
        for event in events:
            if not (isinstance(event, AuthAttempt) and event.result == "success") or id(protocol) in users_of:
                continue
            if logged_in.get(event.user, 0) >= most_per_user:
                refusal = f"already {most_per_user} connections (--max-sessions-per-user)"
                log(f"{protocol.peer}: {word(event.user)} refused: {refusal}")
                if id(protocol) in shown:
                    shown[id(protocol)].note(f"refused: {refusal}")
                # After this callback: the endpoint is busy delivering these events.
                asyncio.get_running_loop().call_soon(
                    protocol.act, protocol.endpoint.disconnect, DisconnectReason.TOO_MANY_CONNECTIONS,
                    "too many connections for this user")
                continue
            logged_in[event.user] = logged_in.get(event.user, 0) + 1
            users_of[id(protocol)] = event.user

    def log_offer(protocol: EndpointProtocol, events: list) -> None:
        """The client's software and the HASSH of its first KEXINIT, once a connection."""
        for event in events:
            if isinstance(event, VersionReceived):
                software[id(protocol)] = event.record.text
            elif (isinstance(event, PacketReceived) and id(protocol) not in offered
                  and getattr(event.record.message, "spec", None) is MSG.KEXINIT):
                offered.add(id(protocol))
                offer = offer_of(event.record.message, Side.CLIENT)
                log(f"{protocol.peer}: {visible(software.get(id(protocol), '?'), limit=200)} HASSH {offer.hassh}"
                    + (f", weak: {', '.join(name for name, _ in offer.weak)}" if offer.weak else ""))

    def on_events(protocol: EndpointProtocol, events: list) -> None:
        count_login(protocol, events)
        if app is None:  # the UI's list shows each client's software and HASSH instead
            log_offer(protocol, events)
        if args.print:
            printer = printers.setdefault(id(protocol), TranscriptPrinter(LogStream(), f"server {protocol.peer}"))
            printer(events)
            return
        # What the client chose (user and method names, its DISCONNECT's words) is escaped.
        for event in events:
            if isinstance(event, AuthAttempt) and event.result in ("success", "failure") and event.method != "none":
                log(f"{protocol.peer}: {word(event.user)} {word(event.method)} {event.result}"
                    + (f" ({visible(event.detail, limit=200)})" if event.detail else ""))
            elif isinstance(event, ChannelRefused):
                log(f"{protocol.peer}: {word(event.channel_type)} channel refused: {event.description}"
                    + (" (--max-channels)" if event.reason == OpenFailureReason.RESOURCE_SHORTAGE else ""))
            elif isinstance(event, Disconnected):
                log(f"{protocol.peer}: disconnected ({visible(event.description, limit=200)})")

    saved = 0

    def record(protocol: EndpointProtocol) -> None:
        """--trace: one trace per connection, saved when it closes (a connection whose client
        never said anything, such as a port check, is not saved). With the UI, its recording is
        the one saved."""
        if not args.trace:
            return
        if protocol.recorder is None:
            protocol.recorder = TraceRecorder("server", Trace(TraceHeader("serve", created=now())),
                                              elide_after=None if args.full_data else ELIDE_AFTER)

        def save(_) -> None:
            nonlocal saved
            protocol.recorder.finish()
            trace = protocol.recorder.trace
            if not any(event.direction == "c2s" for event in trace.events):
                return
            saved += 1
            path = numbered(args.trace, saved)
            trace.header.client_address, trace.header.server_address = protocol.peer, protocol.local
            try:
                save_for_cli(trace, path, args.full_data)
                log(f"{protocol.peer}: trace saved to {path}")
            except CLIError as exc:
                log(f"sshviz: {exc}", error=True)

        protocol.closed.add_done_callback(save)

    def on_protocol(protocol: EndpointProtocol) -> None:
        if live is not None:
            connection = shown[id(protocol)] = live.add(protocol.peer, created=now())
            protocol.recorder = connection
        record(protocol)

        def closed(_) -> None:
            printers.pop(id(protocol), None)
            software.pop(id(protocol), None)
            offered.discard(id(protocol))
            user = users_of.pop(id(protocol), None)
            if user is not None:
                logged_in[user] -= 1
            connection = shown.pop(id(protocol), None)
            if connection is not None:
                connection.trace.header.client_address = protocol.peer
                connection.trace.header.server_address = protocol.local
                connection.close()
            if protocol.endpoint.internal_error:  # kept by the endpoint (or the adapter), said here
                log(f"{protocol.peer}: {internal_error_report(protocol.endpoint.internal_error)}", error=True)

        protocol.closed.add_done_callback(closed)

    limits, limits_line = connection_limits(args)
    refusals = LineThrottle(time.monotonic, interval=10.0)

    def on_refused(peer: str, reason: str) -> None:
        if live is not None:
            live.refused(peer, reason)
        line = refusals.line(f"{peer}: refused: {reason}")
        if line is not None:
            log(line)

    work_pool = WorkPool(args.workers) if args.workers else None
    try:
        server = await start_server(args.host, args.port, lambda: ServerConnection(template),
                                    on_events, allow_forward=loopback_only if args.allow_forwarding else None,
                                    on_protocol=on_protocol, limits=limits, on_refused=on_refused,
                                    log=lambda line: log(line, error=True), work_pool=work_pool,
                                    sockets=sockets)
    except OSError as exc:
        if work_pool is not None:
            work_pool.close()
        raise CLIError(f"cannot listen on {args.host} port {args.port}: {exc.strerror}", 1) from None
    fingerprints = ", ".join(f"{k.key_type} {k.public.fingerprint()}" for k in template.transport.host_keys)
    port = server.sockets[0].getsockname()[1]  # the one chosen, for --port 0
    listening = f"sshviz server listening on {args.host} port {port}; host key {fingerprints}"
    title = f"listening on {args.host} port {port} · {fingerprints}"
    try:
        feed, feed_line = await start_feed(args, live, port, log, title)
    except BaseException:
        server.close()
        if work_pool is not None:
            work_pool.close()
        raise
    if app is not None:
        app.show_listening(title)
    for line in (listening, limits_line, feed_line):
        if line:
            log(line)
    for line in exposure_warning(args.host, port, sorted(template.auth.users)):
        log(line, error=True)
    if app is None:
        # A polite stop (kill, systemd) ends like Ctrl-C: connections close, workers are let go.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, server.close)
    try:
        async with server:
            await server.serve_forever()
    finally:
        if feed is not None:
            feed.close()
        if work_pool is not None:
            work_pool.close()
    return 0


async def start_feed(args, live, port: int, log, title: str):
    """The feed for ``sshviz watch`` (with the UI unless --no-feed; without it with --feed) and
    the line saying where it is. An
    unusable --feed PATH stops serve; a default path that cannot be used is said, and serve
    goes on without a feed."""
    if args.no_feed or live is None:
        return None, ""
    from ..net.feed import FeedServer
    from ..presentation.feed import FULL, FeedWriter

    path = Path(args.feed) if args.feed else feed_path(port)
    writer = FeedWriter(live, lambda data: server.broadcast(data))
    writer.title = title
    server = FeedServer(path, writer.state, f"{FULL}\n".encode(), log=lambda line: log(line, error=True),
                        on_watchers=lambda count: setattr(writer, "active", count > 0),
                        buffer=args.feed_buffer << 20)
    try:
        await server.start()
    except OSError as exc:
        problem = f"cannot publish the feed at {path}: {exc.strerror or exc}"
        if args.feed:
            raise CLIError(f"--feed: {problem}") from None
        log(f"sshviz: {problem}; `sshviz watch` will not find this server (--feed PATH)", error=True)
        return None, ""
    how = f"sshviz watch {port}" if not args.feed else f"sshviz watch {path}"
    return server, f"feed for watchers: {path} (only you can open it): run `{how}`"
