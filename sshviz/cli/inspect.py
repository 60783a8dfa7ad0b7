"""``sshviz inspect``: every message of a trace or capture, decoded, for reading and scripts."""

from __future__ import annotations

import sys

from ..presentation.peertext import visible
from .errors import CLIError
from .traces import add_input_arguments, open_for_cli

EVENTS_PER_WRITE = 1000


def register(sub) -> None:
    parser = sub.add_parser(
        "inspect", help="print every message of a trace or capture, decoded",
        description="Print every message of a trace or a packet capture (pcap/pcapng) decoded "
                    "field by field, like tshark -V but in SSH terms. With --keylog, the "
                    "encrypted part of a capture is decrypted too.")
    add_input_arguments(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for reading, json for scripts (default: %(default)s)")
    parser.add_argument("--filter", metavar="EXPR",
                        help="only matching events, e.g. 'CHANNEL_DATA and data contains pong', "
                             "'USERAUTH_* and c2s', 'KexComputed', 'seq >= 3 or encrypted'")
    parser.add_argument("--brief", action="store_true", help="one line per message: no fields, no changes")
    parser.add_argument("--bytes", action="store_true", help="json: include the wire and plaintext bytes")
    parser.set_defaults(func=inspect)


def inspect(args) -> int:
    from ..presentation.offer import offers_in
    from ..presentation.render import event_text, summary_lines, trace_json

    keep = lambda event: True  # noqa: E731
    if args.filter:
        from ..trace.filter import FilterError, compile_filter

        try:
            keep = compile_filter(args.filter)
        except FilterError as exc:
            raise CLIError(f"--filter: {exc}") from None
    traces = args.built = open_for_cli(args)  # freed by the process's end (cli.EXIT_WITHOUT_FREEING)
    out = sys.stdout
    if args.format == "json":
        import json

        documents = [trace_json(t, [e for e in t.events if keep(e)], args.bytes) for t in traces]
        for document, trace in zip(documents, traces):
            document["offers"] = {side: offer_json(offer) for side, offer in offers_in(trace).items()}
        json.dump(documents[0] if len(documents) == 1 else documents, out, indent=1)
        out.write("\n")
        return 0
    for number, trace in enumerate(traces, 1):
        if len(traces) > 1:
            out.write(f"=== SSH connection {number} of {len(traces)}\n")
        # A capture or trace holds what peers sent: printed escaped, line by line.
        for line in summary_lines(trace):
            out.write(visible(line) + "\n")
        for offer in offers_in(trace).values():  # HASSH and the grade of each side's KEXINIT
            out.write("".join(visible(line) + "\n" for line in offer.lines()))
        out.write("\n")
        detail = not args.brief
        events = [event for event in trace.events if keep(event)] if args.filter else trace.events
        for start in range(0, len(events), EVENTS_PER_WRITE):
            texts = [event_text(event, detail=detail) for event in events[start: start + EVENTS_PER_WRITE]]
            # Escaped, the line breaks being the only controls kept: a batch of events in one
            # call and one write, not each event in its own.
            out.write(visible("\n".join(texts), keep="\n") + "\n")
        if len(traces) > 1:
            out.write("\n")
    return 0


def offer_json(offer) -> dict:
    return {"hassh": offer.hassh, "hassh_string": offer.hassh_string, "post_quantum": list(offer.post_quantum),
            "strict_kex": offer.strict_kex, "weak": [{"name": name, "why": why} for name, why in offer.weak]}
