"""a: the attack on the run shown, in full: its settings, the property it attacks, how the
run ended and which check stopped it, or that nothing did."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..bindings import DIALOG


class AttackScreen(ModalScreen[None]):
    BINDINGS = DIALOG

    def __init__(self, summary) -> None:
        super().__init__()
        self.summary = summary

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="attack-body") as body:
            body.border_title = "the attack (escape closes)"
            yield Static(self.summary, id="attack-full")

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
