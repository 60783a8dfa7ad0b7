"""F1: what each panel shows and every key, the keys listed from bindings.py."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from ..bindings import DIALOG, HELP_SECTIONS

INTRODUCTION = """\
# sshviz

Every message of the session (a real SSH-2 client and server running in this process, or a
saved trace or packet capture) is on the **ladder**: client left, server right; a heavy line is
an encrypted packet, a thin one travels in clear, a dotted one is bytes nobody could decode
(a capture without its key log); the `▼` line under each NEWKEYS marks where that direction
switches to the new keys.

- **fields**: the selected message decoded, each field with its RFC type, value, a one-line
  explanation and the RFC section (and the decoder's notes first, if it has any). Move through them with the arrow keys: their bytes light
  up in the hex view. Click a byte in the hex view to find its field.
- **bytes**: the packet as `packet_length`, `padding_length`, payload, padding and MAC, or
  (`w`) as it travelled on the wire, encrypted.
- **keys**: what both sides have agreed and computed so far: the algorithms and why each was
  chosen, the ephemeral public values, the shared secret K, the exchange hash H and its inputs,
  the session id and the six keys `HASH(K || H || "A" || session_id)` ... `"F"`.

An **attacked run** (what if… → attack, one of the attack lab's) puts the attacker between
the two: a third lifeline in the middle of the ladder, where each unit it touched is marked
with what it did (`◉ read`, `✎ changed`, `+ inserted`, `✂ dropped`, `↻ replayed`,
`⇄ reordered`); a dropped unit's arrow stops there, an inserted one starts there. Each side's
sequence number of a packet stands beside its lifeline. The attack's summary is under the
ladder (`a` shows it whole): what it attacks, how the run ended, which check stopped it.

Seeded runs repeat byte for byte. **What if…** (`s`) changes the algorithms, the
authentication, the command or the seed and runs again at the same step, so you can see what
changes: a note says what did, and `c` shows the run before and the run now side by side.
`ctrl+p` opens the command palette (themes too).

A **lesson** (`sshviz lesson NAME`, `sshviz lessons` lists them) adds its panel: each step
selects its message on the ladder and lights up its field; answer a question or type what you
worked out from the bytes (`i`), ask for a hint (`h`), run an experiment (`x`, the changed run
replaces the one shown), move with `N` and `P`. Your progress is kept for next time.
"""


def keys_table() -> str:
    lines = []
    for title, bindings in HELP_SECTIONS:
        lines += [f"## {title}", "", "| key | does |", "|---|---|"]
        for binding in bindings:
            keys = binding.key_display or ", ".join(binding.key.split(","))
            lines.append(f"| `{keys}` | {binding.tooltip or binding.description} |")
        lines.append("")
    lines += ["| `ctrl+p` | command palette: every action, jump to a message or phase, themes |",
              "| `tab` | next panel |", "| `ctrl+q` | quit |"]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = DIALOG

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "help (escape closes)"
            yield Markdown(INTRODUCTION + "\n" + keys_table())

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
