"""Everything is a trace: in-process runs, live sessions, saved files and captures all become
a ``Trace`` of ``TraceEvent``s, which is all the UI and the CLI read."""

from .model import Trace, TraceEvent, TraceHeader, TraceRecorder

__all__ = ["Trace", "TraceEvent", "TraceHeader", "TraceRecorder"]
