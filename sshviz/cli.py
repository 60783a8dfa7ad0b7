"""The ``sshviz`` command. Every subcommand reads events only; errors are one line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import sys
from pathlib import Path

from . import __version__
from .crypto.ciphers import CIPHERS
from .crypto.compression import COMPRESSION
from .crypto.kex import KEX_METHODS
from .crypto.keyfiles import KeyFileError
from .crypto.keys import SIGNATURE_ALGORITHMS
from .crypto.macs import MACS
from .scenario import AUTH_METHODS, Scenario

ALGORITHM_OPTIONS = (
    ("kex", KEX_METHODS, "key exchange method"),
    ("hostkey", SIGNATURE_ALGORITHMS, "host key algorithm"),
    ("cipher", CIPHERS, "cipher"),
    ("mac", MACS, "MAC"),
    ("compression", COMPRESSION, "compression"),
)


class CLIError(Exception):
    """A problem to report in one line, with an exit status."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


def add_algorithm_options(parser: argparse.ArgumentParser, single: bool) -> None:
    for name, registry, what in ALGORITHM_OPTIONS:
        help_text = (f"{what} to use (default: %(default)s); one of: {', '.join(registry.names())}"
                     if single else
                     f"{what}: one name or a comma-separated preference list "
                     f"(default: {','.join(registry.defaults())})")
        parser.add_argument(f"--{name}", metavar="ALG", help=help_text,
                            default=getattr(Scenario, name) if single else None)


def algorithm_lists(args) -> dict[str, list[str] | None]:
    """The user's lists for a TransportConfig, validated; None where not given."""
    result = {}
    for name, registry, _ in ALGORITHM_OPTIONS:
        value = getattr(args, name)
        try:
            result[name] = registry.resolve(value) if value is not None else None
        except ValueError as exc:
            raise CLIError(f"--{name}: {exc}") from None
    return result


def transport_config(args, **extra):
    from .transport.transport import TransportConfig

    lists = algorithm_lists(args)
    config = TransportConfig(**extra)
    for option, attribute in (("kex", "kex"), ("hostkey", "host_key_algorithms"), ("cipher", "ciphers"),
                              ("mac", "macs"), ("compression", "compression")):
        if lists[option] is not None:
            setattr(config, attribute, lists[option])
    return config


# -- run ----------------------------------------------------------------------------------------


def scenario_from_args(args) -> Scenario:
    sc = Scenario(kex=args.kex, hostkey=args.hostkey, cipher=args.cipher, mac=args.mac,
                  compression=args.compression, auth=args.auth, seed=args.seed,
                  wrong_password_first=args.wrong_password_first, user=args.user,
                  command=args.command, rekey=args.rekey)
    try:
        sc.validate()
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return sc


def add_scenario_options(parser: argparse.ArgumentParser) -> None:
    add_algorithm_options(parser, single=True)
    parser.add_argument("--auth", choices=AUTH_METHODS, default=Scenario.auth,
                        help="how the client authenticates (default: %(default)s)")
    parser.add_argument("--wrong-password-first", action="store_true",
                        help="try a wrong password before the right one (password methods)")
    parser.add_argument("--user", default=Scenario.user, help="user name (default: %(default)s)")
    parser.add_argument("--command", default=Scenario.command,
                        help="command the client runs with exec (default: %(default)r)")
    parser.add_argument("--rekey", action="store_true", help="start a second key exchange mid-session")
    parser.add_argument("--seed", type=int, default=Scenario.seed,
                        help="seed for every random value, so runs repeat byte for byte (default: %(default)s)")


def cmd_run(args) -> int:
    from .scenario import run_scenario
    from .transcript import format_step

    sc = scenario_from_args(args)
    conductor = run_scenario(sc)
    for step in conductor.steps:
        print(format_step(step, detail=args.print))
    for side, endpoint in (("client", conductor.client), ("server", conductor.server)):
        if endpoint.internal_error:
            print(f"sshviz: internal error in the {side}:\n{endpoint.internal_error}", file=sys.stderr)
            return 1
    return 0


# -- connect ------------------------------------------------------------------------------------


def parse_destination(text: str, port: int | None) -> tuple[str, str, int]:
    user, _, host = text.rpartition("@")
    user = user or os.environ.get("USER") or getpass.getuser()
    if not host:
        raise CLIError("a host is required, as [user@]host")
    return user, host, port or 22


def default_known_hosts() -> str:
    return str(Path.home() / ".ssh" / "known_hosts")


def cmd_connect(args) -> int:
    from .net.client import run_connect

    user, host, port = parse_destination(args.destination, args.port)
    return asyncio.run(run_connect(args, user, host, port))


# -- serve --------------------------------------------------------------------------------------


def cmd_serve(args) -> int:
    from .net.server import run_serve

    try:
        return asyncio.run(run_serve(args))
    except KeyboardInterrupt:
        return 0


# -- main ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sshviz",
        description="An SSH-2 client and server you can watch: every message decoded, every byte "
                    "explained. With no command, opens the visualizer on a demo session.")
    parser.add_argument("--version", action="version", version=f"sshviz {__version__}")
    sub = parser.add_subparsers(dest="command_name", metavar="COMMAND")

    run = sub.add_parser("run", help="run an in-process session and print every message",
                         description="Run a complete client and server in this process and print "
                                     "a transcript of every message. Seeded: the same options "
                                     "give the same bytes.")
    add_scenario_options(run)
    run.add_argument("--print", action="store_true", help="print every field of every message, "
                     "the negotiation, K, H and the derived keys")
    run.set_defaults(func=cmd_run)

    connect = sub.add_parser("connect", help="connect the sshviz client to a real SSH server",
                             description="The sshviz client against a real server. With --exec, "
                                         "behaves like 'ssh host CMD': the command's output on "
                                         "stdout and stderr, and its exit status.")
    connect.add_argument("destination", metavar="[user@]host")
    connect.add_argument("-p", "--port", type=int, help="port (default: 22)")
    connect.add_argument("-i", "--identity", action="append", default=[], metavar="KEYFILE",
                         help="private key for publickey authentication (repeatable)")
    connect.add_argument("--password-env", metavar="VAR",
                         help="read the password from this environment variable")
    connect.add_argument("--known-hosts", metavar="FILE", default=None,
                         help="OpenSSH known_hosts file (default: ~/.ssh/known_hosts)")
    connect.add_argument("--accept-new", action="store_true",
                         help="trust on first use: accept an unknown host key and add it to known_hosts "
                              "(a changed key is still refused)")
    add_algorithm_options(connect, single=False)
    connect.add_argument("--exec", metavar="CMD", help="run CMD on the server")
    connect.add_argument("-L", dest="forwards", action="append", default=[], metavar="[ADDR:]PORT:HOST:HOSTPORT",
                         help="forward a local port through the server (direct-tcpip)")
    connect.add_argument("--print", action="store_true", help="print every message on stderr")
    connect.add_argument("--timeout", type=float, default=30.0, help="connect timeout in seconds")
    connect.set_defaults(func=cmd_connect)

    serve = sub.add_parser("serve", help="run the sshviz server for real SSH clients",
                           description="The sshviz server. It never runs operating-system commands: "
                                       "exec and shell use a small built-in command set, and files "
                                       "are served from --root only.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=2222, help="port (default: %(default)s)")
    serve.add_argument("--root", metavar="DIR", help="directory served as / to ls, cat and SFTP")
    serve.add_argument("--read-only", action="store_true", help="refuse every change under --root")
    serve.add_argument("--user", default=None, help="the user who may log in (default: your login name)")
    serve.add_argument("--password-env", metavar="VAR",
                       help="the user's password, from this environment variable (kept only as a scrypt hash)")
    serve.add_argument("--authorized-keys", metavar="FILE", help="OpenSSH authorized_keys file for the user")
    serve.add_argument("--host-key", action="append", default=[], metavar="FILE",
                       help="host private key (repeatable); default: one is made and kept, mode 0600")
    serve.add_argument("--banner", metavar="TEXT", help="text shown to clients before authentication")
    serve.add_argument("--allow-forwarding", action="store_true",
                       help="allow direct-tcpip forwarding (to loopback addresses only)")
    add_algorithm_options(serve, single=False)
    serve.add_argument("--print", action="store_true", help="print every message")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `sshviz run | head` ends quietly
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"sshviz: error: {exc}", file=sys.stderr)
        return exc.status
    except KeyFileError as exc:
        print(f"sshviz: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"sshviz: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
