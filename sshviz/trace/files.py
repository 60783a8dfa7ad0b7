"""Opening whatever the user names: a saved trace, a packet capture, or a sample trace by name;
with a key log, encrypted parts are decoded again from the recorded bytes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .elide import ELIDE_AFTER
from .model import Trace
from .samples import find_sample, sample_names

if TYPE_CHECKING:
    from .keylog import KeyLog

LONG_FILE = 32 << 20  # bytes: a trace file this long is opened to browse line by line

# A capture's first four bytes (pcap in either byte order, with micro- or nanosecond times;
# pcapng). Known here, so that opening a trace file does not load the capture reader (nor the
# key exchanges a key log needs): a command that reads a trace starts sooner.
PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


class OpenError(ValueError):
    """Something named to open that cannot be: a missing file or sample, or a capture or key
    log that cannot be read (their errors are kinds of this one); the message says why."""


def is_capture(path: str | Path) -> bool:
    with open(path, "rb") as f:
        magic = f.read(4)
    return magic in PCAP_MAGICS or magic == PCAPNG_MAGIC


def resolve(path: str) -> Path:
    """``path`` if it exists, else the sample trace of that name."""
    candidate = Path(path)
    if candidate.exists():
        if candidate.is_dir():
            raise OpenError(f"{path} is a directory, not a trace or capture")
        return candidate
    sample = find_sample(path)
    if sample is not None:
        return sample
    names = ", ".join(sample_names()) or "(none installed)"
    raise OpenError(f"{path}: no such file, and no sample trace of that name (samples: {names})")


def open_traces(path: str, keylog_path: str | None = None,
                progress: Callable[[int, int], None] | None = None,
                elide_after: int | None = ELIDE_AFTER, to_browse: bool = False) -> list[Trace]:
    """Every session in ``path``: one for a trace, one per SSH connection for a capture
    (whose bulk channel data is shortened past ``elide_after`` bytes a direction). A long
    trace file opened ``to_browse`` (in the UI, which shows a few messages at a time) has its
    packet lines read as they are looked at (sshviz/trace/longfile.py)."""
    resolved = resolve(path)
    keylog = None
    if keylog_path:
        from .keylog import KeyLog

        keylog = KeyLog.load(keylog_path)
    if is_capture(resolved):
        from .capture import import_capture

        return import_capture(resolved, keylog, progress, elide_after)
    if to_browse and keylog is None and resolved.stat().st_size >= LONG_FILE:
        from .longfile import open_long_trace

        return [open_long_trace(resolved)]
    from .fileformat import load_trace  # here: a capture never needs the trace file format

    trace = load_trace(resolved)
    if keylog is not None:
        trace = redecode(trace, keylog)
    return [trace]


def redecode(trace: Trace, keylog: KeyLog) -> Trace:
    """The session read again from its wire bytes with ``keylog``'s secrets (for a capture
    imported without keys and saved, say). Times and frame numbers stay as recorded."""
    from .passive import PassiveDecoder

    decoder = PassiveDecoder(keylog, trace.header)
    decoder.trace.events = []
    for event in trace.events:
        decoder.feed(event.direction, event.record.wire, event.time, event.frame)
    return decoder.finish()
