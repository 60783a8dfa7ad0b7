"""The key panel: what the two sides have agreed and computed up to the selected message. It
fills in as the session goes: the negotiated algorithms and why, the ephemeral public values,
the shared secret K, the exchange hash H and its inputs, the session id, the six derived keys
with their formulas, and which directions are protected."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...events import NegotiatedAlgorithm
from ...transcript import short_hex
from ..present import KeyState, hash_inputs_formula, public_values
from ..timeline import Timeline

CATEGORY_NAMES = {
    "kex": "key exchange", "host_key": "host key",
    "cipher_c2s": "cipher c→s", "cipher_s2c": "cipher s→c",
    "mac_c2s": "MAC c→s", "mac_s2c": "MAC s→c",
    "compression_c2s": "compression c→s", "compression_s2c": "compression s→c",
}
HEX_SHOWN = 64  # bytes of a long value shown before "…"
LABEL = 15
CLIENT_VALUES = ("e", "Q_C", "C_INIT")


class KeyPanel(VerticalScroll):
    def compose(self):
        yield Static(id="key-text")

    def show(self, state: KeyState, timeline: Timeline) -> None:
        self.query_one("#key-text", Static).update(Group(*key_lines(state, timeline)))


def _heading(text: str) -> Text:
    return Text(text, "bold reverse")


class _Rows:
    """Label and value side by side, the value wrapping under itself, a note below it."""

    def __init__(self) -> None:
        self.table = Table.grid(padding=(0, 1))
        self.table.add_column(style="bold", no_wrap=True, min_width=LABEL)
        self.table.add_column(overflow="fold")

    def add(self, label: str, value: str, note: str = "", value_style: str = "") -> None:
        cell = Text(value, value_style)
        if note:
            cell.append("\n" + note, "dim italic")
        self.table.add_row(label, cell)


def _waiting(what: str) -> Text:
    return Text(f"  {what}", "dim italic")


def key_lines(state: KeyState, timeline: Timeline) -> list:
    """The panel's renderables, top to bottom."""
    out: list = [_heading(" Negotiated algorithms ")]
    if state.negotiated is None:
        out.append(_waiting("after both KEXINITs: for each kind, the first algorithm in the client's "
                            "list that the server also offers"))
    else:
        out.append(Text("each: " + usual_reason(), "dim italic"))
        rows = _Rows()
        for category, choice in state.negotiated.algorithms.items():
            if category in CATEGORY_NAMES:
                reason = choice.reason.partition(": ")[2]
                rows.add(CATEGORY_NAMES[category], choice.chosen or "(none)",
                         "" if reason == usual_reason() else reason)
        if state.negotiated.strict_kex:
            rows.add("strict KEX", "on", "sequence numbers restart at each NEWKEYS (the Terrapin fix)")
        out.append(rows.table)

    result = state.result
    out.append(_heading(" Key exchange " + (f"{state.kex_count} (rekey) " if state.kex_count > 1 else "")))
    if result is None:
        out.append(_waiting("K and H: once a side has both public values"))
    else:
        rows = _Rows()
        computed = ", ".join(f"the {side} at #{index} ({timeline.events[index].name})"
                             for side, index in sorted(state.kex_index.items(), key=lambda kv: kv[1]))
        rows.add("method", result.method, f"hash {result.hash}; computed by {computed}")
        for name, kind, encoded in public_values(result):
            sender = "client" if name in CLIENT_VALUES else "server"
            rows.add(name, short_hex(encoded[4:], HEX_SHOWN), f"{kind}: the {sender}'s ephemeral public value")
        for side in ("client", "server"):
            for name, value in secret_values(state.kex[side].secrets if side in state.kex else {}, result.K):
                rows.add(f"{side} secret", f"{name} = {short_hex(value, HEX_SHOWN)}", "never sent")
        rows.add("K", short_hex(result.K[4:], HEX_SHOWN),
                 f"the shared secret: both sides compute it, it never travels (hashed as {result.H_inputs[-1][1]})",
                 "bold")
        rows.add("H inputs", hash_inputs_formula(result),
                 "; ".join(f"{name}: {kind}, {len(encoded)} bytes" for name, kind, encoded in result.H_inputs))
        rows.add("H", result.H.hex(), "the exchange hash; the server signs it with its host key", "bold")
        first = result.session_id == result.H
        rows.add("session_id", result.session_id.hex(),
                 "H of the first key exchange" + ("" if first else "; it stays through rekeys"))
        if state.host_key is not None:
            check = state.host_key
            rows.add("host key", f"{check.key_type} {check.fingerprint}", f"{check.status}: {check.detail}")
        out.append(rows.table)

        out.append(_heading(" Derived keys (RFC 4253 7.2) "))
        rows = _Rows()
        for key in result.keys:
            value = short_hex(key.value, HEX_SHOWN) if key.value else "(0 bytes: the negotiated algorithm needs none)"
            rows.add(f"{key.letter}", value, f"{key.purpose}: {key.formula}")
        out.append(rows.table)

    out.append(_heading(" Protection "))
    rows = _Rows()
    for direction, arrow in (("c2s", "client→server"), ("s2c", "server→client")):
        active = state.active.get(direction)
        if active is None:
            rows.add(arrow, "in clear", "until this direction's NEWKEYS")
        else:
            rows.add(arrow, active.cipher, f"MAC {active.mac}, compression {active.compression}")
    if state.auth is not None:
        rows.add("authenticated", f"{state.auth.user} by {state.auth.method}")
    out.append(rows.table)
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
