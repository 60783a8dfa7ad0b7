"""Opening whatever the user names: a saved trace, a packet capture, or a sample trace by name;
with a key log, encrypted parts are decoded again from the recorded bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .capture import import_capture, is_capture
from .elide import ELIDE_AFTER
from .keylog import KeyLog
from .model import Trace
from .passive import PassiveDecoder
from .samples import find_sample, sample_names


class OpenError(ValueError):
    pass


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
                elide_after: int | None = ELIDE_AFTER) -> list[Trace]:
    """Every session in ``path``: one for a trace, one per SSH connection for a capture
    (whose bulk channel data is shortened past ``elide_after`` bytes a direction)."""
    resolved = resolve(path)
    keylog = KeyLog.load(keylog_path) if keylog_path else None
    if is_capture(resolved):
        return import_capture(resolved, keylog, progress, elide_after)
    from .fileformat import load_trace  # here: a capture never needs the trace file format

    trace = load_trace(resolved)
    if keylog is not None:
        trace = redecode(trace, keylog)
    return [trace]


def redecode(trace: Trace, keylog: KeyLog) -> Trace:
    """The session read again from its wire bytes with ``keylog``'s secrets (for a capture
    imported without keys and saved, say). Times and frame numbers stay as recorded."""
    decoder = PassiveDecoder(keylog, trace.header)
    decoder.trace.events = []
    for event in trace.events:
        decoder.feed(event.direction, event.record.wire, event.time, event.frame)
    return decoder.finish()
