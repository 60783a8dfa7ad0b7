"""The key panel: what the two sides have agreed and computed up to the selected message. It
fills in as the session goes: the negotiated algorithms and why, the ephemeral public values,
the shared secret K, the exchange hash H and its inputs, the session id, the six derived keys
with their formulas, and which directions are protected."""

from __future__ import annotations

import textwrap
from typing import NamedTuple

from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip

from ...events import NegotiatedAlgorithm
from ...presentation.transcript import short_hex
from ..present import KeyState, certificate_notes, hash_inputs_formula, hybrid_notes, kex_value_doc
from ..timeline import Timeline
from .lines import LineView

CATEGORY_NAMES = {
    "kex": "key exchange", "host_key": "host key",
    "cipher_c2s": "cipher c→s", "cipher_s2c": "cipher s→c",
    "mac_c2s": "MAC c→s", "mac_s2c": "MAC s→c",
    "compression_c2s": "compression c→s", "compression_s2c": "compression s→c",
}
HEX_SHOWN = 64  # bytes of a long value shown before "…"
LABEL = 15


class KeyPanel(LineView, can_focus=True):
    """A Line API view of the entries, wrapped to the panel's width (again on resize)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.entries: list = []
        self.lines: list[Text] = []

    def show(self, state: KeyState, timeline: Timeline) -> None:
        self.entries = key_lines(state, timeline)
        self._wrap()

    def _wrap(self) -> None:
        width = self.scrollable_content_region.width or 60
        self.lines = [line for entry in self.entries for line in entry.lines(width)]
        self.lines_cache.clear()
        self.set_virtual_size(Size(width, len(self.lines)))
        self.refresh()

    def on_resize(self) -> None:
        self._wrap()

    def text(self) -> str:
        """What the panel shows, as plain text."""
        return "\n".join(line.plain for line in self.lines)

    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        if index >= len(self.lines):
            return self.blank()
        width = self.scrollable_content_region.width
        return self.cached((index, width), lambda: self.text_strip(self.lines[index], width))


def _fold(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, max(8, width), break_on_hyphens=False) or [""]


class Heading(NamedTuple):
    text: str

    def lines(self, width: int) -> list[Text]:
        return [Text(f" {self.text} ", "bold reverse")]


class Note(NamedTuple):
    text: str

    def lines(self, width: int) -> list[Text]:
        return [Text(line, "dim italic") for line in _fold(self.text, width)]


class Pair(NamedTuple):
    """A label, its value beside it (folded under itself), and a note under the value."""

    label: str
    value: str
    note: str = ""
    value_style: str = ""

    def lines(self, width: int) -> list[Text]:
        indent = LABEL + 1
        if indent + len(self.value) > width and len(self.value) <= width - 2 and " " not in self.value:
            # A name that fits on a line of its own reads better there than folded in two.
            out, indent = [Text(self.label, "bold")], 2
            values = [self.value]
        else:
            out, values = [], _fold(self.value, width - indent)
        for i, chunk in enumerate(values):
            line = Text()
            line.append(f"{self.label if i == 0 and not out else '':<{indent}}", "bold")
            line.append(chunk, self.value_style)
            out.append(line)
        for chunk in (_fold(self.note, width - indent) if self.note else []):
            out.append(Text(" " * indent + chunk, "dim italic"))
        return out


def key_lines(state: KeyState, timeline: Timeline) -> list:
    """The panel's entries (headings, notes, label and value pairs), top to bottom."""
    out: list = [Heading("Negotiated algorithms")]
    if state.negotiated is None:
        out.append(Note("after both KEXINITs: for each kind, the first algorithm in the client's "
                        "list that the server also offers"))
    else:
        for index in sorted(timeline.in_flight):
            if timeline.flying(index):
                event = timeline.events[index]
                out.append(Note(f"in flight: the {event.sender}'s {event.name} (#{index}), sent before this "
                                f"step; it negotiated with its own list, already on its way"))
        out.append(Note("each: " + usual_reason()))
        for category, choice in state.negotiated.algorithms.items():
            if category in CATEGORY_NAMES:
                reason = choice.reason.partition(": ")[2]
                out.append(Pair(CATEGORY_NAMES[category], choice.chosen or "(none)",
                                "" if reason == usual_reason() else reason))
        if state.negotiated.strict_kex:
            out.append(Pair("strict KEX", "on", "sequence numbers restart at each NEWKEYS (the Terrapin fix)"))

    result = state.result
    out.append(Heading("Key exchange" + (f" {state.kex_count} (rekey)" if state.kex_count > 1 else "")))
    if result is None:
        out.append(Note("K and H: once a side has both public values"
                        + ("; this trace does not hold them (a capture needs its key log to "
                           "compute them)" if state.switched else "")))
    else:
        computed = ", ".join(f"the {side} at #{index} ({timeline.events[index].name})"
                             for side, index in sorted(state.kex_index.items(), key=lambda kv: kv[1]))
        out.append(Pair("method", result.method, f"hash {result.hash}; computed by {computed}"))
        out += [Note(text) for text in hybrid_notes(result.method)]
        for name, kind, encoded in result.method_inputs:  # a group exchange's request and group
            value = str(int.from_bytes(encoded, "big")) if kind == "uint32" else short_hex(encoded[4:], HEX_SHOWN)
            out.append(Pair(name, value, f"{kind}: {kex_value_doc(name)}"))
        for (name, kind, encoded), sender in zip(result.public_values, ("client", "server")):
            out.append(Pair(name, short_hex(encoded[4:], HEX_SHOWN), f"{kind}: the {sender}'s ephemeral public value"))
        for side in ("client", "server"):
            for name, value in secret_values(state.kex[side].secrets if side in state.kex else {}, result.K):
                out.append(Pair(f"{side} secret", f"{name} = {short_hex(value, HEX_SHOWN)}", "never sent"))
        out.append(Pair("K", short_hex(result.K[4:], HEX_SHOWN),
                        "the shared secret: both sides compute it, it never travels "
                        f"(hashed as {result.H_inputs[-1][1]})", "bold"))
        out.append(Pair("H inputs", hash_inputs_formula(result),
                        "; ".join(f"{name}: {kind}, {len(encoded)} bytes" for name, kind, encoded in result.H_inputs)))
        out.append(Pair("H", result.H.hex(), "the exchange hash; the server signs it with its host key", "bold"))
        first = result.session_id == result.H
        out.append(Pair("session_id", result.session_id.hex(),
                        "H of the first key exchange" + ("" if first else "; it stays through rekeys")))
        if state.host_key is not None:
            check = state.host_key
            out.append(Pair("host key", f"{check.key_type} {check.fingerprint}", f"{check.status}: {check.detail}"))
        out += [Note(text) for text in certificate_notes(result.host_key_type)]

        out.append(Heading("Derived keys (RFC 4253 7.2)"))
        out.append(Note("each direction switches to them at its NEWKEYS"))
        for key in result.keys:
            value = short_hex(key.value, HEX_SHOWN) if key.value else "(0 bytes: the negotiated algorithm needs none)"
            out.append(Pair(key.letter, value, f"{key.purpose}: {key.formula}"))

    out.append(Heading("Protection"))
    for direction, arrow in (("c2s", "client→server"), ("s2c", "server→client")):
        active = state.active.get(direction)
        if active is None and direction in state.switched:
            # NEWKEYS went by, but the trace has no keys: encrypted, with keys nobody here knows.
            negotiated = state.negotiated.algorithms.get(f"cipher_{direction}") if state.negotiated else None
            out.append(Pair(arrow, negotiated.chosen if negotiated and negotiated.chosen else "encrypted",
                            f"since NEWKEYS #{state.switched[direction]}; without the keys this "
                            f"trace cannot decrypt it"))
        elif active is None:
            out.append(Pair(arrow, "in clear", "until this direction's NEWKEYS"))
        else:
            out.append(Pair(arrow, active.cipher, f"MAC {active.mac}, compression {active.compression}"))
    if state.auth is not None:
        out.append(Pair("authenticated", f"{state.auth.user} by {state.auth.method}"))
    return out


def secret_values(secrets: dict, K: bytes) -> list[tuple[str, bytes]]:
    """A side's private kex values as bytes; public values and group parameters are left to
    the H inputs, which show what travelled, and a raw secret equal to K to the K line."""
    values = []
    for name, value in secrets.items():
        if "public" in name or name in ("p", "g"):
            continue
        if isinstance(value, int):
            value = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
        if isinstance(value, (bytes, bytearray)) and not K.endswith(bytes(value)):
            values.append((name, bytes(value)))
    return values


def usual_reason() -> str:
    """Why an algorithm is chosen when nothing special happened, in the events' own words;
    the panel says it once and then only what differs (skipped names, an unused MAC)."""
    plain = NegotiatedAlgorithm("kex", "x", ["x"], ["x"])
    return plain.reason.partition(": ")[2]
