"""A session as a Markdown handout (the HTML page is ``illustrated.py``). Reads events only."""

from __future__ import annotations

import re

from ..events import (AlgorithmsNegotiated, AuthAttempt, AuthFailed, AuthSucceeded, ChannelData,
                      Disconnected, ExitStatus, KexComputed, KeysActivated)
from ..sides import Direction
from ..trace.model import Trace
from ..wire.catalog import MSG
from .peertext import visible
from .render import summary_lines

OUTPUT_LIMIT = 2000  # characters of channel output quoted in a report


def blocks(trace: Trace, title: str) -> list[tuple]:
    out: list[tuple] = [("h1", f"SSH session: {title}"), ("list", summary_lines(trace))]
    changes = [(event, side, change) for event in trace.events for side, change in event.changes]

    negotiated = next((c for _, _, c in changes if isinstance(c, AlgorithmsNegotiated)), None)
    if negotiated is not None:
        out.append(("h2", "What was negotiated, and why"))
        out.append(("p", "Each side sent a KEXINIT listing what it supports; for every category the "
                         "first algorithm in the client's list that the server also offers wins "
                         "(RFC 4253 7.1)."
                    + (" Strict KEX is on (sequence numbers restart at each NEWKEYS)." if negotiated.strict_kex else "")))
        out.append(("table", ["category", "chosen", "why"],
                    [[c, a.chosen or "(none)", a.reason] for c, a in negotiated.algorithms.items()
                     if not c.startswith("language")]))

    seen_rounds = set()
    for event, side, change in changes:
        if not isinstance(change, KexComputed) or (change.H in seen_rounds):
            continue
        seen_rounds.add(change.H)
        out.append(("h2", f"Key exchange: {change.method}" + ("" if change.first_kex else " (rekey)")))
        out.append(("list", [
            f"computed by the {side} at message #{event.index}; hash {change.hash}",
            f"host key: {change.host_key_type} {change.host_key_fingerprint}",
            f"K = {change.K.hex()} (encoded as {change.H_inputs[-1][1]}, length first, as H takes it)",
            f"H = {change.H.hex()}",
            f"session id = {change.session_id.hex()}" + ("" if change.first_kex else " (the first H, kept)"),
        ]))
        out.append(("p", "The exchange hash H is the hash of these inputs, in this order:"))
        out.append(("table", ["input", "type", "bytes"],
                    [[name, kind, f"{len(data)}"] for name, kind, data in change.H_inputs]))
        out.append(("table", ["key", "purpose", "value", "how"],
                    [[k.letter, k.purpose, k.value.hex() if k.value else "(not needed)", k.formula]
                     for k in change.keys]))

    activated = [(e, s, c) for e, s, c in changes if isinstance(c, KeysActivated)]
    if activated:
        out.append(("h2", "Keys in use"))
        out.append(("list", [f"#{e.index}: the {s} {'sends' if (c.direction == 'c2s') == (s == 'client') else 'receives'}"
                             f" with {c.cipher}, MAC {c.mac}, compression {c.compression}"
                             for e, s, c in activated]))

    auth = []
    for event, side, change in changes:
        if isinstance(change, AuthAttempt):
            auth.append(f"#{event.index}: the server judged {change.method} for {change.user!r}: "
                        f"{change.result}" + (f" ({change.detail})" if change.detail else ""))
        elif isinstance(change, AuthFailed):
            auth.append(f"#{event.index}: {change.method} refused; the server allows "
                        f"{', '.join(change.methods_left) or 'nothing more'}")
        elif isinstance(change, AuthSucceeded):
            auth.append(f"#{event.index}: authenticated as {change.user!r} by {change.method}")
    if auth:
        out.append(("h2", "Authentication"))
        out.append(("list", auth))

    requests = []
    for event in trace.events:
        message = event.message
        if message is not None and message.spec is MSG.CHANNEL_REQUEST and event.direction == "c2s":
            values = message.values
            argument = values.get("command") or values.get("subsystem_name") or ""
            requests.append(f"#{event.index}: {values.get('request_type')}"
                            + (f" {argument!r}" if argument else ""))
    output = b"".join(c.data for _, s, c in changes if isinstance(c, ChannelData) and s == "client")
    statuses = [f"exit status {c.status}" for _, _, c in changes if isinstance(c, ExitStatus)]
    if requests or output or statuses:
        out.append(("h2", "Channels"))
        if requests:
            out.append(("list", requests + statuses))
        if output:
            text = output.decode("utf-8", "replace")
            if len(text) > OUTPUT_LIMIT:
                text = text[:OUTPUT_LIMIT] + f"\n… ({len(text) - OUTPUT_LIMIT} more characters)"
            out.append(("p", "What came back to the client:"))
            out.append(("pre", text))

    ends = [f"{s}: {c.description}" + (" (from the peer)" if c.by_peer else "")
            for _, s, c in changes if isinstance(c, Disconnected)]
    if ends:
        out.append(("h2", "How it ended"))
        out.append(("list", ends))

    out.append(("h2", "Every message"))
    rows = []
    for event in trace.events:
        record = event.record
        if event.kind == "version":
            rows.append([str(event.index), Direction(event.direction).arrow, f"VERSION {record.text}", "", str(len(record.wire)), ""])
        else:
            seq = str(record.seq) if event.kind == "packet" else ""
            protection = record.cipher if event.kind == "packet" else ""
            size = record.wire_length if event.kind == "packet" else len(record.wire)
            rows.append([str(event.index), Direction(event.direction).arrow, event.name, seq, str(size),
                         protection])
    out.append(("table", ["#", "direction", "message", "seq", "bytes", "cipher"], rows))
    return out


def markdown_report(trace: Trace, title: str) -> str:
    """The handout as Markdown. What a peer sent (version lines, user names, descriptions, a
    command's output) is written through ``visible``: a terminal that shows the file, or a
    renderer, meets no escape sequence, and no table or code block can be closed from inside."""
    lines: list[str] = []
    for block in blocks(trace, title):
        kind = block[0]
        if kind == "h1":
            lines += [f"# {_md(block[1])}", ""]
        elif kind == "h2":
            lines += [f"## {_md(block[1])}", ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "list":
            lines += [f"- {_md(item)}" for item in block[1]] + [""]
        elif kind == "pre":
            text = visible(block[1].rstrip("\n"), keep="\n\t")
            fence = "`" * max(3, longest_run(text, "`") + 1)
            lines += [fence, text, fence, ""]
        elif kind == "table":
            headers, rows = block[1], block[2]
            lines.append("| " + " | ".join(headers) + " |")
            lines.append("|" + "---|" * len(headers))
            lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


def _md(text: str) -> str:
    """One line of a list or one table cell: controls escaped, "|" kept from ending the cell."""
    return visible(str(text)).replace("|", "\\|")


def longest_run(text: str, char: str) -> int:
    return max((len(run) for run in re.findall(re.escape(char) + "+", text)), default=0)
