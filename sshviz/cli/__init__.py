"""The ``sshviz`` command. Each subcommand lives in its own module with a ``register(sub)``
function; all of them read events only, and errors are one line, never a traceback."""

from __future__ import annotations

import argparse
import signal
import sys

from .. import __version__
from ..crypto.keyfiles import KeyFileError
from . import connect, demo, export, inspect, replay, report, run, serve
from .common import CLIError

# The order here is the order in --help.
COMMANDS = [demo, run, connect, serve, inspect, replay, export, report]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sshviz",
        description="An SSH-2 client and server you can watch: every message decoded, every byte "
                    "explained.")
    parser.add_argument("--version", action="version", version=f"sshviz {__version__}")
    sub = parser.add_subparsers(dest="command_name", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `sshviz run | head` ends quietly
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:  # bare `sshviz` opens the demo
        args = parser.parse_args(["demo"])
    try:
        return args.func(args)
    except (CLIError, KeyFileError) as exc:
        print(f"sshviz: error: {exc}", file=sys.stderr)
        return getattr(exc, "status", 2)
    except OSError as exc:
        print(f"sshviz: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


__all__ = ["main", "build_parser", "CLIError"]
