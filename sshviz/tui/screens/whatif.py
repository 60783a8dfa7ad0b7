"""What if…: a form over the Scenario's options, or an attack of the attack lab and its
settings, then a new run at the same step.

The form is built from the Scenario dataclass itself: an option with a registry of names gets a
list to choose from, a yes/no option a checkbox, anything else a text box. Options added to
Scenario later (SFTP actions) appear here without changing this file. The attacks and their
settings come from the attack lab's table the same way. An attack brings its own scenario (its
settings say what it varies), so while one is chosen only the seed of the options below counts.
The dialog returns (scenario, AttackChoice or None)."""

from __future__ import annotations

import dataclasses

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ...attacks import ATTACKS
from ...scenario import ALGORITHM_OPTIONS, AUTH_METHODS, Scenario
from ..attacked import AttackChoice
from ..bindings import DIALOG

NO_ATTACK = "none"

# Options whose values come from a fixed list: name -> (choices, label).
CHOICES = {name: (registry.names(), what) for name, registry, what in ALGORITHM_OPTIONS}
CHOICES["auth"] = (list(AUTH_METHODS), "authentication method")
SKIPPED = {"options"}  # free-form internals, not a what-if choice
# What an option does, where its name does not say: a text box's placeholder while empty, and
# the tooltip of its label.
HINTS = {
    "wrong_password_first": "password methods: try a wrong password before the right one",
    "subsystem": "e.g. sftp: start a subsystem instead of the command",
    "rekey": "the client starts a second key exchange once the session is open",
    "strict_kex": "strict KEX (the Terrapin countermeasure): sequence numbers restart at NEWKEYS",
    "guess_kex": "the client sends its first key exchange packet before knowing the method (RFC 4253 7)",
    "banner": "text the server shows before authentication",
    "sftp_actions": "SFTP instead of the command, e.g.: put hello.txt, ls",
    "without": "algorithms the client leaves out, e.g.: chacha20-poly1305@openssh.com",
}


def scenario_fields():
    return [f for f in dataclasses.fields(Scenario) if f.name not in SKIPPED]


def _kind(field: dataclasses.Field) -> str:
    kind = field.type  # a string under `from __future__ import annotations`, else the type
    annotation = kind if isinstance(kind, str) else kind.__name__ if isinstance(kind, type) else str(kind)
    if field.name in CHOICES:
        return "choice"
    if annotation == "bool":
        return "bool"
    if annotation == "int":
        return "int"
    if annotation in ("str", "str | None"):
        return "text"
    if annotation.startswith("list[str]"):
        return "list"  # comma-separated in the form
    return "skip"  # a structure the form cannot edit (its value is kept)


class Choice(Select, inherit_bindings=False):
    """A list to choose from that leaves the up and down keys to the form: left and right step
    through the choices, space opens the whole list, enter runs (the form's)."""

    BINDINGS = [Binding("space", "show_overlay", "Show the choices", show=False),
                Binding("left", "cycle(-1)", "Previous choice", show=False),
                Binding("right", "cycle(1)", "Next choice", show=False)]

    def action_cycle(self, delta: int) -> None:
        values = [value for _, value in self._options if value is not Select.NULL]
        if values:
            at = values.index(self.value) if self.value in values else -1
            self.value = values[(at + delta) % len(values)]


class Tick(Checkbox, inherit_bindings=False):
    """A yes/no box that space toggles; enter runs the form."""

    BINDINGS = [Binding("space", "toggle_button", "Toggle", show=False)]


class Form(VerticalScroll, can_focus=False, inherit_bindings=False):
    """The options, scrolled to the focused one; the arrow keys are the options' and the form's."""


class WhatIfScreen(ModalScreen[tuple[Scenario, AttackChoice | None] | None]):
    """Keys: up and down move between the options, left and right (or space) change a choice,
    enter runs, escape closes."""

    BINDINGS = DIALOG + [Binding("down", "app.focus_next", "Next option", show=False),
                         Binding("up", "app.focus_previous", "Previous option", show=False),
                         Binding("enter", "run", "Run again", show=False)]
    AUTO_FOCUS = "#attack"  # the first option

    def __init__(self, scenario: Scenario, attack: AttackChoice | None = None) -> None:
        super().__init__()
        self.scenario = scenario
        self.attack = attack

    def compose(self) -> ComposeResult:
        with Vertical(id="whatif-body") as body:
            body.border_title = "what if… (↑↓ options · ←→ or space change · enter runs · escape closes)"
            with Form(id="whatif-form"):
                yield from self._attack_form()
                yield from self._form()
            yield Static(id="whatif-error")
            with Horizontal(id="whatif-buttons"):
                yield Button("Run again", variant="primary", id="whatif-run")
                yield Button("Cancel", id="whatif-cancel")

    def _attack_form(self) -> ComposeResult:
        """The attack (or none), what it is, and each attack's settings (shown for the chosen one)."""
        current = self.attack.name if self.attack is not None else NO_ATTACK
        with Horizontal(classes="whatif-row"):
            caption = Label("attack", classes="whatif-label")
            caption.tooltip = "an attacker between client and server (the attack lab); none: a plain run"
            yield caption
            yield Choice([(NO_ATTACK, NO_ATTACK)] + [(name, name) for name in ATTACKS], value=current,
                         allow_blank=False, compact=True, id="attack")
        yield Static(id="attack-about", classes="whatif-about")
        for attack in ATTACKS.values():
            values = self.attack.values if self.attack is not None and self.attack.name == attack.name else {}
            for setting in attack.settings:
                with Horizontal(classes=f"whatif-row attack-setting for-{attack.name}"):
                    caption = Label(f"{attack.name}: {setting.name.replace('_', ' ')}", classes="whatif-label")
                    caption.tooltip = setting.help
                    yield caption
                    value = values.get(setting.name, setting.default)
                    if setting.choices:
                        yield Choice([(choice, choice) for choice in setting.choices], value=value,
                                     allow_blank=False, compact=True, id=f"atk-{attack.name}-{setting.name}")
                    else:  # a whole number
                        yield Input(str(value), compact=True, type="integer", placeholder=setting.help,
                                    id=f"atk-{attack.name}-{setting.name}")

    def on_mount(self) -> None:
        self._show_attack(self.query_one("#attack", Select).value)

    def on_select_changed(self, message: Select.Changed) -> None:
        if message.select.id == "attack":
            self._show_attack(message.value)

    def _show_attack(self, name) -> None:
        """Show the chosen attack's settings and what it is; while an attack is chosen, the
        scenario's options (but the seed) do not apply and are greyed out."""
        for row in self.query(".attack-setting"):
            row.display = row.has_class(f"for-{name}")
        attack = ATTACKS.get(name)
        about = self.query_one("#attack-about", Static)
        about.display = attack is not None
        if attack is not None:
            about.update(f"{attack.title}\n[b]attacks:[/b] {attack.attacks}\n[dim]it runs on a scenario of "
                         f"its own: of the options below, only the seed applies[/dim]")
        for field in scenario_fields():
            if _kind(field) != "skip" and field.name != "seed":
                self.query_one(f"#opt-{field.name}").disabled = attack is not None

    def chosen_attack(self) -> AttackChoice | None:
        """The attack the form describes, or None; ValueError if the seed is not a number."""
        name = self.query_one("#attack", Select).value
        if name not in ATTACKS:
            return None
        seed = self.query_one("#opt-seed", Input).value
        if not seed.strip().lstrip("-").isdigit():
            raise ValueError(f"seed: a whole number, not {seed!r}")
        values = {}
        for setting in ATTACKS[name].settings:
            value = str(self.query_one(f"#atk-{name}-{setting.name}").value).strip()
            setting.check(value)
            values[setting.name] = value
        return AttackChoice(name, values, int(seed))

    def _form(self) -> ComposeResult:
        for field in scenario_fields():
            kind = _kind(field)
            value = getattr(self.scenario, field.name)
            label = CHOICES[field.name][1] if kind == "choice" else field.name.replace("_", " ")
            widget_id = f"opt-{field.name}"
            if kind == "skip":
                continue
            with Horizontal(classes="whatif-row"):
                caption = Label(label, classes="whatif-label")
                caption.tooltip = HINTS.get(field.name)
                yield caption
                if kind == "choice":
                    yield Choice([(name, name) for name in CHOICES[field.name][0]], value=value,
                                 allow_blank=False, compact=True, id=widget_id)
                elif kind == "bool":
                    yield Tick(value=bool(value), compact=True, id=widget_id)
                else:
                    shown = ", ".join(value) if kind == "list" else "" if value is None else str(value)
                    yield Input(shown, compact=True, id=widget_id, type="integer" if kind == "int" else "text",
                                placeholder=HINTS.get(field.name, "several, comma-separated" if kind == "list" else ""))

    def chosen(self) -> Scenario:
        """The scenario the form describes; ValueError if it is not a valid one."""
        changes = {}
        for field in scenario_fields():
            kind = _kind(field)
            if kind == "skip":
                continue
            widget = self.query_one(f"#opt-{field.name}")
            value = widget.value
            if kind == "int":
                if not value.strip().lstrip("-").isdigit():
                    raise ValueError(f"{field.name.replace('_', ' ')}: a whole number, not {value!r}")
                value = int(value)
            elif kind == "list":
                value = [part.strip() for part in value.split(",") if part.strip()]
            elif kind == "text" and value == "" and "None" in str(field.type):
                value = None
            changes[field.name] = value
        scenario = dataclasses.replace(self.scenario, **changes)
        scenario.validate()
        return scenario

    def on_button_pressed(self, message: Button.Pressed) -> None:
        if message.button.id == "whatif-cancel":
            self.dismiss(None)
            return
        self.action_run()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        self.action_run()

    def action_run(self) -> None:
        """Run the scenario (or attack) the form describes, or say what is wrong with it."""
        try:
            self.dismiss((self.chosen(), self.chosen_attack()))
        except ValueError as exc:
            self.query_one("#whatif-error", Static).update(f"[b]cannot run:[/b] {exc}")

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
