"""``sshviz report``: a session as a Markdown or HTML handout."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import add_scenario_options, attack_from_args, scenario_from_args
from .errors import CLIError
from .traces import add_input_arguments, open_for_cli


def register(sub) -> None:
    parser = sub.add_parser(
        "report", help="write a session as a Markdown handout or an illustrated HTML page",
        description="A session as a Markdown handout (who spoke, what was negotiated and why, the "
                    "key exchange, authentication, channels, every message) or, with --format html, "
                    "as the Illustrated SSH Connection: one self-contained page with every byte of "
                    "every message annotated and each calculation (K, H, the keys, signatures, a "
                    "packet decrypted) given as a command that prints the same value. From a trace, "
                    "a capture, or an in-process run (--scenario, with run's options).")
    add_input_arguments(parser, optional=True)
    parser.add_argument("--scenario", action="store_true",
                        help="report an in-process run made with the scenario options below instead of FILE")
    parser.add_argument("--format", choices=("md", "html"), default="md", help="(default: %(default)s)")
    parser.add_argument("-o", "--output", metavar="OUT", help="write here instead of standard output")
    group = parser.add_argument_group("scenario options (with --scenario)")
    add_scenario_options(group)
    parser.set_defaults(func=report)


def _scenario_trace(args):
    attack = attack_from_args(args)
    if attack is not None:
        from ..attacks import run_attack

        return run_attack(*attack, seed=args.seed).conductor.trace, f"the {attack[0]} attack"
    from ..scenario import run_scenario

    sc = scenario_from_args(args)
    return run_scenario(sc).trace, f"{sc.kex}, {sc.hostkey}, {sc.cipher} (seed {sc.seed})"


def report(args) -> int:
    from ..presentation.illustrated import illustrated_page
    from ..presentation.report import markdown_report
    from ..trace.elide import ELIDE_AFTER

    if args.scenario == bool(args.file):
        raise CLIError("name a trace or capture FILE, or give --scenario (with run's options), not both"
                       if args.scenario else "name a trace or capture FILE, or give --scenario")
    if args.scenario:
        trace, title = _scenario_trace(args)
    else:
        traces = open_for_cli(args)
        if len(traces) > 1:
            raise CLIError(f"{args.file} holds {len(traces)} SSH connections: choose one with --connection N")
        trace, title = traces[0], Path(args.file).name
    if args.format == "html":
        text = illustrated_page(trace, title, elide_after=None if args.full_data else ELIDE_AFTER)
    else:
        text = markdown_report(trace, title)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CLIError(f"--output {args.output}: {exc.strerror or exc}", 1) from None
    else:
        sys.stdout.write(text)
    return 0
