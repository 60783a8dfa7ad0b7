"""Two sessions side by side: where their negotiation, their message sequence and the sizes of
their messages differ, and how each ended. Reads events only."""

from __future__ import annotations

import difflib

from ..events import AlgorithmsNegotiated, Disconnected, ExitStatus, KexComputed
from ..sides import Direction
from ..trace.model import Trace, TraceEvent
from ..wire.codes import DisconnectReason, enum_names

_REASON = enum_names(DisconnectReason)


def _negotiated(trace: Trace) -> dict[str, str | None]:
    for event in trace.events:
        for _, change in event.changes:
            if isinstance(change, AlgorithmsNegotiated):
                return {category: choice.chosen for category, choice in change.algorithms.items()
                        if not category.startswith("language")}
    return {}


def _unit(event: TraceEvent) -> tuple[str, str]:
    name = "VERSION" if event.kind == "version" else (event.name if event.kind == "packet" else "raw")
    return event.direction, name


def _ending(trace: Trace) -> str:
    status = next((c.status for e in trace.events for s, c in e.changes if isinstance(c, ExitStatus)), None)
    ended = next((c for e in trace.events for s, c in e.changes if isinstance(c, Disconnected)), None)
    parts = [f"exit status {status}" if status is not None else "no exit status"]
    if ended is not None:
        parts.append(f"disconnected ({_REASON(ended.reason)}: {ended.description})")
    return ", ".join(parts)


def _kex(trace: Trace) -> list[str]:
    seen, out = set(), []
    for event in trace.events:
        for _, change in event.changes:
            if isinstance(change, KexComputed) and change.H not in seen:
                seen.add(change.H)
                out.append(f"{change.method} ({change.hash}), host key {change.host_key_type} "
                           f"{change.host_key_fingerprint}")
    return out


def aligned(a: Trace, b: Trace) -> list[tuple[int | None, int | None, str]]:
    """The two message sequences side by side: (index in A, index in B, how they compare),
    ``same``, ``size`` (same message, other length), ``only-a`` or ``only-b``."""
    units_a, units_b = [_unit(e) for e in a.events], [_unit(e) for e in b.events]
    rows: list[tuple[int | None, int | None, str]] = []
    matcher = difflib.SequenceMatcher(a=units_a, b=units_b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2)):
                same = len(a.events[i].record.wire) == len(b.events[j].record.wire)
                rows.append((i, j, "same" if same else "size"))
            continue
        rows += [(i, None, "only-a") for i in range(i1, i2)]
        rows += [(None, j, "only-b") for j in range(j1, j2)]
    return rows


def negotiation_changes(a: Trace, b: Trace) -> list[tuple[str, str | None, str | None]]:
    """(category, A's choice, B's choice) for each category chosen differently."""
    left, right = _negotiated(a), _negotiated(b)
    return [(k, left.get(k), right.get(k)) for k in dict.fromkeys([*left, *right]) if left.get(k) != right.get(k)]


def trace_difference(a: Trace, b: Trace, names: tuple[str, str] = ("A", "B")) -> list[str]:
    """Lines saying how ``b`` differs from ``a``; the first says whether they differ at all."""
    na, nb = names
    lines: list[str] = []
    changed = negotiation_changes(a, b)
    lines.append("negotiation:" + ("" if changed else " the same"))
    lines += [f"  {category}: {x or '(none)'} → {y or '(none)'}" for category, x, y in changed]
    ka, kb = _kex(a), _kex(b)
    if ka != kb:
        lines.append("key exchanges:")
        lines += [f"  {na}: {k}" for k in ka] + [f"  {nb}: {k}" for k in kb]
    lines.append(f"messages: {len(a.events)} in {na}, {len(b.events)} in {nb}")
    sizes: list[str] = []
    rows = aligned(a, b)
    for i, j, how in rows:
        if how == "only-a":
            direction, name = _unit(a.events[i])
            lines.append(f"  - {na} #{i} {Direction(direction).arrow} {name}")
        elif how == "only-b":
            direction, name = _unit(b.events[j])
            lines.append(f"  + {nb} #{j} {Direction(direction).arrow} {name}")
        elif how == "size":
            direction, name = _unit(a.events[i])
            sizes.append(f"  #{i} → #{j} {Direction(direction).arrow} {name}: "
                         f"{len(a.events[i].record.wire)} → {len(b.events[j].record.wire)} bytes")
    if sizes:
        lines.append("sizes (same message, other length):")
        lines += sizes
    ea, eb = _ending(a), _ending(b)
    lines.append(f"ending: {ea}" if ea == eb else f"ending: {na} {ea}; {nb} {eb}")
    differ = bool(changed or ka != kb or any(how != "same" for _, _, how in rows) or ea != eb)
    return [f"{na} and {nb} {'differ' if differ else 'are the same in what this compares'}"] + lines
