"""``sshviz export``: a trace as a packet capture and a Wireshark key log (or as a trace file)."""

from __future__ import annotations

import sys

from .errors import CLIError
from .traces import add_input_arguments, open_for_cli, save_for_cli


def register(sub) -> None:
    parser = sub.add_parser(
        "export", help="write a trace as a pcap capture and a Wireshark key log",
        description="Write a trace as a packet capture that Wireshark opens (synthesized TCP/IP "
                    "frames between loopback addresses, the server on port 22) and its SSH key "
                    "log, so Wireshark can decrypt it: "
                    "wireshark -r OUT.pcap -o ssh.keylog_file:OUT.keylog. Also turns a capture "
                    "into a trace file (--trace).")
    add_input_arguments(parser, keylog_option="--input-keylog")
    parser.add_argument("--pcap", metavar="OUT", help="write the capture here")
    parser.add_argument("--keylog", metavar="OUT",
                        help="write the key log here (each side's lines for each key exchange)")
    parser.add_argument("--keylog-form", choices=("auto", "shared"), default="auto",
                        help="auto: '<cookie> <private key>' where there is one private value "
                             "(tshark 4.0 reads only that form) and '<cookie> SHARED_SECRET <K>' "
                             "for every key exchange, the hybrids included; shared: only the "
                             "SHARED_SECRET lines (default: %(default)s)")
    parser.add_argument("--trace", metavar="OUT", help="write the (decoded) session as a trace file")
    parser.set_defaults(func=export)


def export(args) -> int:
    from ..trace.export import ExportError, write_keylog, write_pcap

    if not (args.pcap or args.keylog or args.trace):
        raise CLIError("nothing to write: give --pcap OUT, --keylog OUT and/or --trace OUT")
    traces = open_for_cli(args)
    if len(traces) > 1:
        raise CLIError(f"{args.file} holds {len(traces)} SSH connections: choose one with --connection N")
    trace = traces[0]
    try:
        if args.pcap:
            frames = write_pcap(trace, args.pcap)
            print(f"wrote {args.pcap}: {frames} frames", file=sys.stderr)
        if args.keylog:
            lines = write_keylog(trace, args.keylog, args.keylog_form)
            print(f"wrote {args.keylog}: {lines} key log line{'' if lines == 1 else 's'}", file=sys.stderr)
    except ExportError as exc:
        raise CLIError(str(exc)) from None
    if args.pcap or args.keylog:
        warn_what_wireshark_cannot(trace)
    if args.trace:
        save_for_cli(trace, args.trace, args.full_data)
        print(f"wrote {args.trace}: {len(trace.events)} events", file=sys.stderr)
    return 0


def tshark_version() -> tuple[int, int] | None:
    """The installed tshark's (major, minor), or None when there is none."""
    import re
    import shutil
    import subprocess

    if shutil.which("tshark") is None:
        return None
    try:
        first = subprocess.run(["tshark", "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+)\.(\d+)\.\d+", first)
    return (int(found.group(1)), int(found.group(2))) if found else None


def warn_what_wireshark_cannot(trace) -> None:
    from ..trace.export import wireshark_cannot

    version = tshark_version()
    if version is None:
        return
    for reason in wireshark_cannot(trace, version):
        print(f"sshviz: warning: the installed Wireshark ({version[0]}.{version[1]}) cannot decrypt "
              f"this session: {reason}", file=sys.stderr)
