"""What the trace commands share: opening a trace or capture with one-line errors and a
progress bar, and the --trace option of run, connect and serve."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

from .errors import CLIError

# Captures above this size get a progress bar while they are read.
PROGRESS_FROM_BYTES = 8 * 1024 * 1024


def add_input_arguments(parser: argparse.ArgumentParser, keylog_option: str = "--keylog",
                        optional: bool = False) -> None:
    parser.add_argument("file", metavar="FILE", nargs="?" if optional else None,
                        help="a trace (.yaml), a packet capture (pcap or pcapng), or the name of a "
                             "sample trace (e.g. rekey)")
    parser.add_argument(keylog_option, dest="input_keylog", metavar="KEYLOG",
                        help="Wireshark SSH key log: opens the encrypted part of a capture")
    parser.add_argument("--connection", type=int, metavar="N",
                        help="of a capture with several SSH connections, only the Nth (from 1)")
    parser.add_argument("--full-data", action="store_true",
                        help="keep every byte of channel data (by default, after the first 64 KiB "
                             "each way, a data packet keeps its first 64 bytes: big captures "
                             "stay small; a trace written out keeps what was read)")


def open_for_cli(args, to_browse: bool = False) -> list:
    """The traces named by the input arguments; every problem becomes a one-line CLIError.
    ``to_browse``: for the UI (see trace.files.open_traces)."""
    from ..trace.elide import ELIDE_AFTER
    from ..trace.files import OpenError, is_capture, open_traces, resolve

    try:
        path = resolve(args.file)
        with _progress(path if is_capture(path) else None) as progress:
            traces = open_traces(str(path), args.input_keylog, progress,
                                 elide_after=None if args.full_data else ELIDE_AFTER, to_browse=to_browse)
    except OpenError as exc:  # a capture's and a key log's errors among them
        raise CLIError(str(exc)) from None
    except ValueError as exc:  # a trace file's errors: its format is loaded only for trace files
        from ..trace.fileformat import TraceFileError

        if isinstance(exc, TraceFileError):
            raise CLIError(str(exc)) from None
        raise
    if args.input_keylog:
        _warn_unused_keylog(traces, args.input_keylog)
    if args.connection is not None:
        if not 1 <= args.connection <= len(traces):
            raise CLIError(f"--connection {args.connection}: {args.file} has {len(traces)} SSH "
                           f"connection{'' if len(traces) == 1 else 's'}")
        traces = [traces[args.connection - 1]]
    return traces


def _warn_unused_keylog(traces, keylog_path: str) -> None:
    from ..events import KexComputed

    computed = any(isinstance(change, KexComputed) for trace in traces for event in trace.events
                   for _, change in event.changes)
    problems = [p for trace in traces for p in trace.header.extra.get("problems", [])
                if "key log" in p or "does not fit" in p]
    if not computed and problems:
        print(f"sshviz: warning: {problems[0].split(': ', 1)[-1]}", file=sys.stderr)


@contextmanager
def _progress(path: Path | None):
    if path is None or path.stat().st_size < PROGRESS_FROM_BYTES or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True, console=_stderr_console()) as bar:
        task = bar.add_task(f"reading {path.name}", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


# -- recording ----------------------------------------------------------------------------------


def add_trace_option(parser: argparse.ArgumentParser, many: bool = False) -> None:
    help_text = ("save the session as a trace file (YAML), to open with inspect, replay, report "
                 "or export")
    if many:
        help_text += ("; one file per connection: FILE, then FILE with -2, -3 ... before the suffix "
                      "(connections where the client sent nothing are not saved)")
    parser.add_argument("--trace", metavar="FILE", help=help_text)
    parser.add_argument("--full-data", action="store_true",
                        help="keep every byte of channel data in the trace (by default, after the "
                             "first 64 KiB each way, data packets keep only their first 64 bytes)")


def check_trace_path(path: str | None) -> None:
    """Fail before the session, not after it, when the trace cannot be written there."""
    if path is None:
        return
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise CLIError(f"--trace {path}: directory {parent} does not exist")


def save_for_cli(trace, path: str, full_data: bool) -> None:
    from ..trace.fileformat import ELIDE_AFTER, save_trace

    trace.fill_header()
    try:
        save_trace(trace, path, elide_after=None if full_data else ELIDE_AFTER)
    except OSError as exc:
        raise CLIError(f"--trace {path}: {exc.strerror or exc}", 1) from None


def numbered(path: str, count: int) -> str:
    """FILE for the first connection, FILE-2.yaml style names after it."""
    if count == 1:
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}-{count}{p.suffix}"))


def now() -> str:
    # Imported here: inspect, which imports this module, never needs it.
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")
