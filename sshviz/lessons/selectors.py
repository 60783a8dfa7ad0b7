"""Selectors: which message of a run a step is about, and which of its fields.

A message selector is ``#N`` (the message's index in the run, as the ladder numbers it) or a
name with an optional sender and occurrence: ``KEXINIT``, ``KEXINIT from server``,
``USERAUTH_REQUEST from client 2`` (the second), ``CHANNEL_DATA last``. Names are the catalog's
(``VERSION`` for an identification line; an SFTP packet's name, as ``FXP_OPEN``, finds the
CHANNEL_DATA carrying it).

A field selector is the path of names the fields view shows, joined by ``/``:
``cookie``, ``kex_algorithms/curve25519-sha256``, ``packet/packet_length``,
``identification/softwareversion``.
"""

from __future__ import annotations

import re

from ..presentation.annotate import FieldItem, message_items
from ..trace.model import Trace, TraceEvent, sftp_messages, sftp_name

_MESSAGE = re.compile(r"^\s*(?:#(?P<index>\d+)|(?P<name>[A-Za-z_0-9]+)"
                      r"(?:\s+from\s+(?P<side>client|server))?(?:\s+(?P<nth>\d+|last))?)\s*$")
FIELD_SEPARATOR = "/"


class SelectorError(ValueError):
    pass


def names_of(event: TraceEvent) -> list[str]:
    """What a selector may call ``event``: its message's name and the SFTP packets it carries."""
    return [event.name] + [sftp_name(m).removeprefix("SSH_") for m in sftp_messages(event)]


def select_message(trace: Trace, selector: str) -> TraceEvent:
    match = _MESSAGE.match(selector)
    if match is None:
        raise SelectorError(f"message {selector!r} is not '#N' nor 'NAME [from client|server] [N|last]'")
    if match["index"] is not None:
        index = int(match["index"])
        if index >= len(trace.events):
            raise SelectorError(f"message {selector!r}: the run has messages #0 to #{len(trace.events) - 1}")
        return trace.events[index]
    name = match["name"].upper().removeprefix("SSH_")
    found = _named(trace, name, match["side"])
    nth = match["nth"] or "1"
    if not found:
        raise SelectorError(f"message {selector!r}: no {name}" + (f" from the {match['side']}" if match["side"] else "")
                            + " in the run")
    if nth == "last":
        return found[-1]
    if not 1 <= int(nth) <= len(found):
        raise SelectorError(f"message {selector!r}: the run has {len(found)} of them")
    return found[int(nth) - 1]


def _named(trace: Trace, name: str, side: str | None) -> list[TraceEvent]:
    return [e for e in trace.events if name in names_of(e) and (side is None or e.sender == side)]


def select_messages(trace: Trace, selector: str) -> list[TraceEvent]:
    """Every message a selector without a number names (``FXP_STATUS``,
    ``USERAUTH_FAILURE from server``), in order; maybe none."""
    match = _MESSAGE.match(selector)
    if match is None or match["name"] is None or match["nth"] is not None:
        raise SelectorError(f"messages {selector!r} is not 'NAME [from client|server]'")
    return _named(trace, match["name"].upper().removeprefix("SSH_"), match["side"])


def item_name(item: FieldItem) -> str:
    return item.field.name


def select_field(event: TraceEvent, path: str, context=None) -> list[FieldItem]:
    """The items from the top of ``event``'s fields down to the field ``path`` names."""
    items = message_items(event, context)
    chain: list[FieldItem] = []
    for part in [p.strip() for p in path.split(FIELD_SEPARATOR)]:
        found = next((item for item in items if part in (item_name(item), item.title)), None)
        if found is None:
            known = ", ".join(dict.fromkeys(item_name(i) for i in items)) or "(none)"
            where = FIELD_SEPARATOR.join(item_name(i) for i in chain) or event.name
            raise SelectorError(f"field {path!r}: {where} has no {part!r} (it has: {known})")
        chain.append(found)
        items = found.children
    return chain
