"""The ``sshviz`` command. Each subcommand lives in its own module with a ``register(sub)``
function; all of them read events only, and errors are one line, never a traceback."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import signal
import sys

from .. import __version__
from ..crypto.errors import KeyFileError
from .errors import CLIError

# Subcommand name -> its module; the order here is the order in --help.
COMMANDS = ["demo", "run", "connect", "serve", "watch", "web", "inspect", "replay", "export", "report", "diff",
            "attacks", "accounts", "lessons", "lesson"]
# Commands whose output is made to be piped (`sshviz run | head`): a reader that goes away ends
# them quietly, as SIGPIPE ends `cat`. Never the others: with SIGPIPE's default action, a peer
# that closes its socket before reading would kill `serve` or `connect` (Python ignores the
# signal, so a closed socket is an error on that connection only).
PIPED_COMMANDS = {"run", "inspect", "export", "report", "diff", "attacks", "lessons"}
# Commands that only read files and print: run as the program, they end without freeing what
# they built object by object (100,000 loaded events take 0.06 s to free, for nothing). Such a
# command leaves what it built on its arguments (args.built), so that it outlives the command.
EXIT_WITHOUT_FREEING = {"inspect"}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with ``only`` one: a command imports what it needs
    when registered, so naming it spares loading the others (start-up time)."""
    parser = argparse.ArgumentParser(
        prog="sshviz",
        description="An SSH-2 client and server you can watch: every message decoded, every byte "
                    "explained. With no command, opens the visualizer on a demo session.")
    parser.add_argument("--version", action="version", version=f"sshviz {__version__}")
    sub = parser.add_subparsers(dest="command_name", metavar="COMMAND")
    for name in COMMANDS if only is None else [only]:
        importlib.import_module(f".{name}", __name__).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    as_program = argv is None  # not called from Python (a test), which goes on afterwards
    argv = sys.argv[1:] if argv is None else list(argv)
    if not (argv and argv[0] in PIPED_COMMANDS and hasattr(signal, "SIGPIPE")):
        return _main(argv, as_program)
    # `sshviz inspect ... | head`: a reader that goes away ends us quietly, as it ends cat. Only
    # while the command runs: a caller in the same process (the tests) keeps Python's handling.
    previous = signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        status = _main(argv, as_program)
        sys.stdout.flush()
        return status
    finally:
        signal.signal(signal.SIGPIPE, previous)


def _main(argv: list[str], as_program: bool = False) -> int:
    try:
        if not argv:
            # Bare `sshviz`: the demo on its defaults. No parser, and the engine loads after
            # the UI's first frame, so the window appears as fast as it can.
            from ..tui import run_app

            return run_app()
        if as_program and argv[0] in EXIT_WITHOUT_FREEING:
            # Everything such a command builds lives until its end: the cycle collector's walks
            # (over the imports' objects, then over its traces) would find nothing to free.
            gc.disable()
        parser = build_parser(argv[0] if argv[0] in COMMANDS else None)
        args, extra = parser.parse_known_args(argv)
        if extra:
            refuse_unknown(parser, argv[0], extra)
        if getattr(args, "func", None) is None:
            parser.print_help()
            return 0
        status = args.func(args)
        if as_program and args.command_name in EXIT_WITHOUT_FREEING:
            exit_now(status)
        return status
    except (CLIError, KeyFileError) as exc:
        print(f"sshviz: error: {exc}", file=sys.stderr)
        return getattr(exc, "status", 2)
    except BrokenPipeError:  # our reader went away (`sshviz connect host --exec CMD | head`)
        quiet_stdout()
        return 128 + 13  # as if SIGPIPE had ended us, like the piped commands
    except OSError as exc:  # "PATH: reason", as the commands' own messages name their files
        print("sshviz: error: " + (f"{exc.filename}: " if exc.filename else "") + f"{exc.strerror or exc}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception:  # a bug: one line naming it, the traceback in a file (SSHVIZ_DEBUG: here)
        if os.environ.get("SSHVIZ_DEBUG"):
            raise
        import traceback

        from .common import internal_error_report

        print(f"sshviz: {internal_error_report(traceback.format_exc())}", file=sys.stderr)
        return 70  # EX_SOFTWARE


def refuse_unknown(parser: argparse.ArgumentParser, command: str, extra: list[str]) -> None:
    """Arguments no option takes: the subcommand's usage, and the nearest option's name."""
    import difflib

    commands = next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})
    target = commands.get(command, parser)
    options = [o for action in target._actions for o in action.option_strings]
    word = extra[0].split("=", 1)[0]
    near = difflib.get_close_matches(word, options, n=1) if word.startswith("-") else []
    target.error(f"unrecognized arguments: {' '.join(extra)}" + (f" (did you mean {near[0]}?)" if near else ""))


def exit_now(status: int) -> None:
    """End the process at once, once what it printed is out: no freeing of objects, no
    interpreter teardown."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not complain about the
    closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


__all__ = ["main", "build_parser", "CLIError"]
