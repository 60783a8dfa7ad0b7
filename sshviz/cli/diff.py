"""``sshviz diff A B``: two sessions compared (traces, captures, samples or in-process runs)."""

from __future__ import annotations

import argparse
import dataclasses

from .errors import CLIError

SCENARIO_PREFIX = "scenario:"


def register(sub) -> None:
    parser = sub.add_parser(
        "diff", help="compare two sessions: negotiation, message sequence, sizes, ending",
        description="Compare two sessions: what each negotiated, the messages each sent (those "
                    "only one has are marked - and +), messages whose length differs, and how "
                    "each ended. A and B are trace files, captures, sample names, or in-process "
                    "runs written scenario:OPTION=VALUE,... with the options of Scenario (e.g. "
                    "scenario:cipher=aes128-gcm@openssh.com,seed=2; scenario: alone is the default "
                    "run). Exit status 0 when they are the same in what this compares, 1 when "
                    "they differ.")
    parser.add_argument("a", metavar="A")
    parser.add_argument("b", metavar="B")
    parser.add_argument("--keylog", dest="input_keylog", metavar="KEYLOG",
                        help="Wireshark SSH key log for captures among A and B")
    parser.set_defaults(func=diff)


def scenario_of(text: str):
    """A Scenario from ``scenario:cipher=aes128-ctr,seed=2``; CLIError for what does not fit."""
    from ..scenario import Scenario

    fields = {f.name: f for f in dataclasses.fields(Scenario)}
    values: dict = {}
    for part in filter(None, text[len(SCENARIO_PREFIX):].split(",")):
        name, sep, value = part.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields:
            raise CLIError(f"{text}: {part!r} is not OPTION=VALUE with one of {', '.join(fields)}")
        default = getattr(Scenario(), name)
        if isinstance(default, bool):
            if value not in ("true", "false", "on", "off", "yes", "no"):
                raise CLIError(f"{text}: {name} is true or false, not {value!r}")
            values[name] = value in ("true", "on", "yes")
        elif isinstance(default, int):
            if not value.lstrip("-").isdigit():
                raise CLIError(f"{text}: {name} is a whole number, not {value!r}")
            values[name] = int(value)
        elif isinstance(default, list):
            values[name] = [v for v in value.split(";") if v]
        else:
            values[name] = value
    sc = Scenario(**values)
    try:
        sc.validate()
    except ValueError as exc:
        raise CLIError(f"{text}: {exc}") from None
    return sc


def load(text: str, keylog: str | None):
    if text.startswith(SCENARIO_PREFIX):
        from ..scenario import run_scenario

        return run_scenario(scenario_of(text)).trace
    from .traces import open_for_cli

    traces = open_for_cli(argparse.Namespace(file=text, input_keylog=keylog, connection=None,
                                             full_data=False))
    if len(traces) > 1:
        raise CLIError(f"{text} holds {len(traces)} SSH connections; compare traces of one")
    return traces[0]


def diff(args) -> int:
    from ..presentation.difference import trace_difference

    lines = trace_difference(load(args.a, args.input_keylog), load(args.b, args.input_keylog))
    print("\n".join(lines))
    return 0 if lines[0].endswith("compares") else 1
