"""What bare `sshviz` shows in its first frame, while the engine loads: its modules (events,
the message catalog, cryptography) take longer to import than Textual, so the window comes up
at once, says what is coming, and the main screen with the demo session replaces it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ..bindings import START

NOTE = """\
Starting the demo session: an SSH client and an SSH server, both in this process, about to
talk to each other. Every message between them will be on the ladder, decoded field by field,
with its bytes and the keys it leads to.

n steps through the session, F1 explains the screen, q quits."""


class StartScreen(Screen):
    """The first frame of bare `sshviz`, up until the demo session is ready."""

    BINDINGS = START

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(NOTE, id="start-note")
        yield Footer()
