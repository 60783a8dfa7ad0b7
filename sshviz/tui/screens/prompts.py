"""connect's dialogs: a host key seen for the first time (trust it or not, its fingerprint
shown as OpenSSH shows it), a host key that changed (refused, as loudly as OpenSSH says it),
and the answers a server asks for (a password, keyboard-interactive prompts). Everything in
them that the server chose arrives escaped."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..bindings import DIALOG


class HostKeyScreen(ModalScreen[bool]):
    """First contact: the key's fingerprint; yes adds it to known_hosts and connects again."""

    BINDINGS = DIALOG

    def __init__(self, name: str, key_type: str, fingerprint: str, known_hosts: str) -> None:
        super().__init__()
        self.text = Text()
        self.text.append("First contact with this server\n\n", "bold")
        self.text.append(f"The authenticity of host '{name}' cannot be established: no line of\n{known_hosts}\n"
                         "knows its key.\n\n")
        self.text.append(f"{key_type} key fingerprint is\n")
        self.text.append(f"  {fingerprint}\n\n", "bold")
        self.text.append("Compare it with the fingerprint the server's administrator gives you (ssh-keygen -lf "
                         "on the server's public key). A man in the middle would show a key of its own here.\n\n"
                         "Trust it? Yes adds it to known_hosts and connects again: the key exchange "
                         "stopped before anything else was sent.")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="hostkey-body") as body:
            body.border_title = "host key"
            yield Static(self.text, id="hostkey-text")
            with Horizontal(id="hostkey-buttons"):
                yield Button("Yes, trust it", id="trust", variant="warning")
                yield Button("No", id="refuse", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#refuse", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "trust")

    def action_dismiss_dialog(self) -> None:
        self.dismiss(False)


class ChangedKeyScreen(ModalScreen[None]):
    """A host key that differs from known_hosts' (or is revoked): refused, said loudly."""

    BINDINGS = DIALOG

    def __init__(self, name: str, key_type: str, fingerprint: str, detail: str) -> None:
        super().__init__()
        self.text = Text()
        self.text.append("WARNING: THE SERVER'S HOST KEY HAS CHANGED\n\n", "bold reverse red")
        self.text.append(f"Host '{name}' presented a {key_type} key\n  {fingerprint}\n", "bold")
        self.text.append(f"which {detail}.\n\n")
        self.text.append("Someone may be between you and the server (a man in the middle), ready to read "
                         "everything; or the server's key was replaced. The connection was refused before "
                         "anything else was sent. If the change is expected, remove the old line from "
                         "known_hosts (ssh-keygen -R) and connect again.", "bold")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="changedkey-body") as body:
            body.border_title = "host key changed: refused"
            yield Static(self.text, id="changedkey-text")
            yield Button("Close", id="close", variant="error")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)


class PromptsScreen(ModalScreen[list[str] | None]):
    """The server's prompts, one input each (hidden unless the server asked for echo); enter on
    the last sends them all, escape sends none."""

    BINDINGS = DIALOG

    def __init__(self, title: str, instruction: str, prompts: list[tuple[str, bool]]) -> None:
        super().__init__()
        self.title_text = title
        self.instruction = instruction
        self.prompts = prompts

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="prompts-body") as body:
            body.border_title = self.title_text
            if self.instruction:
                yield Static(Text(self.instruction))
            for number, (prompt, echo) in enumerate(self.prompts):
                yield Static(Text(prompt))
                yield Input(password=not echo, id=f"answer-{number}")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        at = inputs.index(event.input)
        if at + 1 < len(inputs):
            inputs[at + 1].focus()
        else:
            self.dismiss([i.value for i in inputs])

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
