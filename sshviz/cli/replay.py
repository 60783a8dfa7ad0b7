"""``sshviz replay``: the terminal UI on a saved trace or a capture, no network."""

from __future__ import annotations

from .errors import CLIError
from .traces import add_input_arguments, open_for_cli


def register(sub) -> None:
    parser = sub.add_parser(
        "replay", help="step through a trace or capture in the terminal UI",
        description="Open a trace, a packet capture (with --keylog to decrypt it) or a sample "
                    "trace in the terminal UI: step through the messages, their fields, bytes and "
                    "keys. Nothing touches the network.")
    add_input_arguments(parser)
    parser.set_defaults(func=replay)


def replay(args) -> int:
    try:
        from ..tui import run_app
    except ImportError:
        raise CLIError("the terminal UI is not part of this build yet (sshviz.tui is missing); "
                       "use 'sshviz inspect' to read the trace") from None
    traces = open_for_cli(args, to_browse=True)
    if len(traces) > 1:
        raise CLIError(f"{args.file} holds {len(traces)} SSH connections: choose one with --connection N")
    result = run_app(trace=traces[0])
    return result if isinstance(result, int) else 0
