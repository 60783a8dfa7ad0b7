"""Whether two traces hold the same events, and if not, where they differ. Used to check that
a saved trace loads back unchanged and that the sample traces still come out of their seeds."""

from __future__ import annotations

from dataclasses import fields, is_dataclass

from ..wire.spec import Message
from .model import Trace

EVENT_ATTRIBUTES = ("index", "time", "direction", "delivered", "notes", "frame", "elided", "interception")


def trace_differences(a: Trace, b: Trace, limit: int = 10) -> list[str]:
    """Readable differences between ``a`` and ``b`` (at most ``limit``); [] when they match.
    Messages count as equal when they have the same spec and payload bytes, however they were
    made (built by a sender or decoded by a receiver)."""
    found: list[str] = []
    for f in fields(a.header):
        if getattr(a.header, f.name) != getattr(b.header, f.name):
            found.append(f"header {f.name}: {getattr(a.header, f.name)!r} != {getattr(b.header, f.name)!r}")
    if len(a.events) != len(b.events):
        found.append(f"{len(a.events)} events != {len(b.events)} events")
    for x, y in zip(a.events, b.events):
        if len(found) >= limit:
            break
        where = f"event {x.index} ({x.name})"
        for name in EVENT_ATTRIBUTES:
            if getattr(x, name) != getattr(y, name):
                found.append(f"{where}: {name} {getattr(x, name)!r} != {getattr(y, name)!r}")
        if not same_value(x.record, y.record):
            found.append(f"{where}: record differs: {_first_difference(x.record, y.record)}")
        if len(x.changes) != len(y.changes):
            found.append(f"{where}: {len(x.changes)} changes != {len(y.changes)}")
        for (side_x, ex), (side_y, ey) in zip(x.changes, y.changes):
            if side_x != side_y or not same_value(ex, ey):
                found.append(f"{where}: change {side_x} {type(ex).__name__} != {side_y} {type(ey).__name__}: "
                             f"{_first_difference(ex, ey)}")
    return found[:limit]


def same_value(x, y) -> bool:
    if isinstance(x, Message) or isinstance(y, Message):
        return (isinstance(x, Message) and isinstance(y, Message) and x.spec.name == y.spec.name)
    if is_dataclass(x) and not isinstance(x, type):
        return type(x) is type(y) and all(same_value(getattr(x, f.name), getattr(y, f.name))
                                          for f in fields(x))
    return x == y


def _first_difference(x, y) -> str:
    if is_dataclass(x) and type(x) is type(y):
        for f in fields(x):
            if not same_value(getattr(x, f.name), getattr(y, f.name)):
                return f"{f.name}: {_short(getattr(x, f.name))} != {_short(getattr(y, f.name))}"
    return f"{_short(x)} != {_short(y)}"


def _short(value) -> str:
    if isinstance(value, Message):
        return value.spec.name
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
