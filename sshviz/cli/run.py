"""``sshviz run``: an in-process session, printed as a transcript."""

from __future__ import annotations

import sys

from .common import (add_scenario_options, attack_from_args, internal_error_report,
                     scenario_from_args)
from .traces import add_trace_option, check_trace_path, save_for_cli


def register(sub) -> None:
    parser = sub.add_parser("run", help="run an in-process session and print every message",
                            description="Run a complete client and server in this process and print "
                                        "a transcript of every message. Seeded: the same options "
                                        "give the same bytes.")
    add_scenario_options(parser)
    parser.add_argument("--print", action="store_true", help="print every field of every message, "
                        "the negotiation, K, H and the derived keys")
    add_trace_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..presentation.transcript import format_step
    from ..scenario import run_scenario

    check_trace_path(args.trace)
    attack = attack_from_args(args)
    summary: list[str] = []
    if attack is not None:
        from ..attacks import run_attack

        attacked = run_attack(*attack, seed=args.seed)
        conductor, summary = attacked.conductor, attacked.summary()
    else:
        conductor = run_scenario(scenario_from_args(args))
    if args.trace:
        save_for_cli(conductor.trace, args.trace, args.full_data)
    for step in conductor.steps:
        print(format_step(step, detail=args.print))
    script = conductor.driver_state.sftp_script
    if script is not None:
        print("SFTP commands and their output (the client's files are in memory: nothing is "
              "written to disk):")
        for line in script.output:
            print(f"  {line}")
    if summary:
        print()
        print("\n".join(summary))
    for side, endpoint in (("client", conductor.client), ("server", conductor.server)):
        if endpoint.internal_error:
            print(f"sshviz: the {side}'s {internal_error_report(endpoint.internal_error)}", file=sys.stderr)
            return 1
    return 0
