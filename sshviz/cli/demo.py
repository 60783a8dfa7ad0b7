"""``sshviz demo`` (and bare ``sshviz``): the interactive UI on an in-process session."""

from __future__ import annotations

from .common import add_scenario_options, scenario_from_args


def register(sub) -> None:
    parser = sub.add_parser("demo", help="step through an in-process session in the terminal UI",
                            description="Open the terminal UI on a complete client and server "
                                        "running in this process: step through every message, "
                                        "its fields, its bytes and the keys. Takes the same "
                                        "scenario options as `run`.")
    add_scenario_options(parser)
    parser.set_defaults(func=demo)


def demo(args) -> int:
    from ..tui import run_app

    return run_app(scenario=scenario_from_args(args))
