"""c: the run before the last what-if and the run now, side by side: what each negotiated, and
their messages aligned, those of another length or only in one run marked."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...presentation.difference import aligned, negotiation_changes
from ...sides import Direction
from ...trace.model import Trace
from ..bindings import DIALOG

STYLES = {"same": "", "size": "bold yellow", "only-a": "bold red", "only-b": "bold green"}
MARKS = {"same": " ", "size": "≠", "only-a": "−", "only-b": "+"}


def _cell(trace: Trace, index: int | None) -> str:
    if index is None:
        return ""
    event = trace.events[index]
    name = "VERSION" if event.kind == "version" else (event.name if event.kind == "packet" else "raw")
    arrow = "→" if event.direction == Direction.C2S else "←"
    size = event.record.wire_length if event.kind == "packet" else len(event.record.wire)
    return f"#{index} {arrow} {name} ({size} B)"


def comparison(before: Trace, now: Trace, names: tuple[str, str]) -> tuple[Text, Table]:
    """The negotiation changes as text, and the aligned messages as a table."""
    head = Text()
    changes = negotiation_changes(before, now)
    head.append("negotiated: ", "bold")
    if not changes:
        head.append("the same\n")
    for category, old, new in changes:
        head.append(f"\n  {category}: ", "bold")
        head.append(f"{old or '(none)'}", "red")
        head.append(" → ")
        head.append(f"{new or '(none)'}", "green")
    head.append(f"\n{MARKS['size']} same message, other length   {MARKS['only-a']} only in {names[0]}   "
                f"{MARKS['only-b']} only in {names[1]}", "dim")
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("", width=1)
    table.add_column(names[0], ratio=1)
    table.add_column(names[1], ratio=1)
    for i, j, how in aligned(before, now):
        table.add_row(MARKS[how], _cell(before, i), _cell(now, j), style=STYLES[how])
    return head, table


class CompareScreen(ModalScreen[None]):
    BINDINGS = DIALOG

    def __init__(self, before: Trace, now: Trace, names: tuple[str, str]) -> None:
        super().__init__()
        self.head, self.table = comparison(before, now, names)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="compare-body") as body:
            body.border_title = "the run before and the run now (escape closes)"
            yield Static(self.head, id="compare-head")
            yield Static(self.table, id="compare-table")

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
