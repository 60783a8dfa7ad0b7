"""``sshviz demo`` (and bare ``sshviz``): the interactive UI on an in-process session."""

from __future__ import annotations

import os

from .common import add_scenario_options, attack_from_args, scenario_from_args
from .traces import add_trace_option, check_trace_path, save_for_cli


def register(sub) -> None:
    parser = sub.add_parser("demo", help="step through an in-process session in the terminal UI",
                            description="Open the terminal UI on a complete client and server "
                                        "running in this process: step through every message, "
                                        "its fields, its bytes and the keys. Takes the same "
                                        "scenario options as `run`, --attack NAME included (the "
                                        "attacker in the middle column). With --trace, the session on "
                                        "screen when the UI closes (the last what-if run) is saved "
                                        "whole.")
    add_scenario_options(parser)
    add_trace_option(parser)
    parser.set_defaults(func=demo)


def demo(args) -> int:
    from ..tui import run_app

    attack = attack_from_args(args)
    options = ({"attack": (*attack, args.seed)} if attack is not None
               else {"scenario": scenario_from_args(args)})
    if not args.trace:
        return run_app(**options)
    check_trace_path(args.trace)

    def save(trace) -> None:
        save_for_cli(trace, args.trace, args.full_data)
        print(f"saved the session to {os.path.abspath(args.trace)} (sshviz replay {args.trace} opens it)")

    return run_app(**options, on_exit=save)
