"""What the subcommands share: one-line errors and the algorithm options."""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

from ..presentation.peertext import visible
from ..scenario import ALGORITHM_OPTIONS, AUTH_METHODS, Scenario
from ..transport.transport import TransportConfig
from .errors import CLIError


def state_dir() -> Path:
    """Where sshviz keeps what it makes for itself (the server's host key, tracebacks)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "sshviz"


def feed_path(port: int) -> Path:
    """Where ``serve`` on ``port`` publishes its feed unless told (``watch PORT`` looks there):
    the user's runtime directory (private, emptied at logout) if there is one, else the state
    directory."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "sshviz" if runtime and os.path.isdir(runtime) else state_dir()
    return base / f"feed-{port}"


_error_numbers = itertools.count(1)


def internal_error_report(traceback_text: str) -> str:
    """A bug's traceback saved to a file of its own (mode 0600) in the state directory, and
    the words for the one line that reports it: what the bug was (escaped: a peer's bytes may
    be in it) and where the traceback is."""
    lines = [line for line in traceback_text.strip().splitlines() if line.strip()]
    summary = visible(lines[-1] if lines else "unknown", limit=200)
    directory = state_dir() / "internal-errors"
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(_error_numbers)}.txt"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(traceback_text)
    except OSError as exc:
        return f"internal error (a bug in sshviz): {summary}; traceback not saved ({exc.strerror or exc})"
    return f"internal error (a bug in sshviz): {summary}; traceback saved to {directory / name}"


def port_type(lowest: int = 1):
    """An argparse type for a TCP port from ``lowest`` to 65535 (0 for a server: any free
    port), so a wrong number is an option error, not a traceback from the socket."""
    def port(text: str) -> int:
        if not text.isdigit() or not lowest <= int(text) <= 65535:
            raise argparse.ArgumentTypeError(f"{text!r} is not a port number ({lowest} to 65535)")
        return int(text)

    return port


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
    lists = algorithm_lists(args)
    config = TransportConfig(**extra)
    for option, attribute in (("kex", "kex"), ("hostkey", "host_key_algorithms"), ("cipher", "ciphers"),
                              ("mac", "macs"), ("compression", "compression")):
        if lists[option] is not None:
            setattr(config, attribute, lists[option])
    return config


def scenario_from_args(args) -> Scenario:
    sc = Scenario(kex=args.kex, hostkey=args.hostkey, cipher=args.cipher, mac=args.mac,
                  compression=args.compression, auth=args.auth, seed=args.seed,
                  wrong_password_first=args.wrong_password_first, user=args.user,
                  command=args.command, rekey=args.rekey, strict_kex=args.strict_kex != "off",
                  sftp_actions=list(getattr(args, "sftp", None) or []),
                  without=[name for names in getattr(args, "without", None) or [] for name in names.split(",")
                           if name])
    try:
        sc.validate()
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return sc


def add_scenario_options(parser: argparse.ArgumentParser) -> None:
    """The in-process scenario's options, shared by run and demo."""
    add_algorithm_options(parser, single=True)
    parser.add_argument("--auth", choices=AUTH_METHODS, default=Scenario.auth,
                        help="how the client authenticates (default: %(default)s)")
    parser.add_argument("--wrong-password-first", action="store_true",
                        help="try a wrong password before the right one (password methods)")
    parser.add_argument("--user", default=Scenario.user, help="user name (default: %(default)s)")
    parser.add_argument("--command", default=Scenario.command,
                        help="command the client runs with exec (default: %(default)r)")
    parser.add_argument("--rekey", action="store_true", help="start a second key exchange mid-session")
    parser.add_argument("--sftp", action="append", metavar="CMD",
                        help="play an SFTP command instead of --command (repeatable, in order), e.g. "
                             "--sftp 'put hello.txt' --sftp ls; the client has hello.txt and photos/, "
                             "the server readme.txt and docs/")
    parser.add_argument("--without", action="append", metavar="ALGORITHM",
                        help="leave an algorithm out of the client's lists (repeatable), e.g. --without "
                             "chacha20-poly1305@openssh.com: the next one the server also supports wins")
    parser.add_argument("--strict-kex", choices=("on", "off"), default=None,
                        help="strict KEX, the Terrapin countermeasure (default: on; an attack's own "
                             "default with --attack)")
    parser.add_argument("--seed", type=int, default=Scenario.seed,
                        help="seed for every random value, so runs repeat byte for byte (default: %(default)s)")
    parser.add_argument("--attack", metavar="NAME",
                        help="run an attack of the attack lab on the session instead (see `sshviz "
                             "attacks`); takes --strict-kex, --cipher and --target as its settings")
    parser.add_argument("--target", choices=("encrypted", "kexinit"), default=None,
                        help="with --attack tamper: the packet to change (default: encrypted)")
    parser.add_argument("--byte", metavar="N", default=None,
                        help="with --attack tamper: the byte of the packet to change (default: 6)")
    parser.add_argument("--known-host", choices=("yes", "no"), default=None,
                        help="with --attack mitm: the client already knows the real server's key "
                             "(default: yes; no: it trusts the first key it sees)")


# Scenario options an attack sets up itself: giving one with --attack is an error, not ignored.
_NOT_WITH_ATTACK = ("kex", "hostkey", "mac", "compression", "auth", "wrong_password_first", "user",
                    "command", "rekey", "sftp", "without")


def attack_from_args(args) -> tuple[str, dict[str, str]] | None:
    """The attack and its settings the options name, or None; CLIError for what does not fit."""
    settings = {"strict_kex": args.strict_kex, "target": args.target, "known_host": args.known_host,
                "byte": args.byte,
                "cipher": args.cipher if args.cipher != Scenario.cipher else None}
    if not args.attack:
        if args.target is not None or args.byte is not None:
            raise CLIError(f"--{'target' if args.target is not None else 'byte'} is a setting of --attack tamper")
        if args.known_host is not None:
            raise CLIError("--known-host is a setting of --attack mitm")
        return None
    from ..attacks import ATTACKS

    if args.attack not in ATTACKS:
        raise CLIError(f"unknown attack {args.attack!r}; see `sshviz attacks` ({', '.join(ATTACKS)})")
    defaults = Scenario()
    for name in _NOT_WITH_ATTACK:
        value = getattr(args, name, None)
        if value not in (None, False, []) and value != getattr(defaults, name, None):
            raise CLIError(f"--{name.replace('_', '-')} does not go with --attack: the attack sets up "
                           "its own session")
    attack = ATTACKS[args.attack]
    known = {s.name for s in attack.settings}
    for name, value in settings.items():
        if value is not None and name not in known:
            raise CLIError(f"the {attack.name} attack has no --{name.replace('_', '-')} setting"
                           + (f" (it has {', '.join('--' + k.replace('_', '-') for k in known)})"
                              if known else ""))
    values = {name: value for name, value in settings.items() if value is not None}
    try:
        attack.resolve(values)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return args.attack, values
