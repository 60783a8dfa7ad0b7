"""``sshviz report``: a session as a Markdown or HTML handout."""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import CLIError
from .traces import add_input_arguments, open_for_cli


def register(sub) -> None:
    parser = sub.add_parser(
        "report", help="write a Markdown or HTML handout of a session",
        description="A handout of one session: who spoke, what was negotiated and why, the key "
                    "exchange (K, H, the six keys), authentication, channels and every message.")
    add_input_arguments(parser)
    parser.add_argument("--format", choices=("md", "html"), default="md", help="(default: %(default)s)")
    parser.add_argument("-o", "--output", metavar="OUT", help="write here instead of standard output")
    parser.set_defaults(func=report)


def report(args) -> int:
    from ..presentation.report import html_report, markdown_report

    traces = open_for_cli(args)
    if len(traces) > 1:
        raise CLIError(f"{args.file} holds {len(traces)} SSH connections: choose one with --connection N")
    title = Path(args.file).name
    text = (html_report if args.format == "html" else markdown_report)(traces[0], title)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CLIError(f"--output {args.output}: {exc.strerror or exc}", 1) from None
    else:
        sys.stdout.write(text)
    return 0
