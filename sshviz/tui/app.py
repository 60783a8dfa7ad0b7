"""The sshviz app: holds the timeline (a live in-process run or a trace) and the scenario it
came from, and offers sshviz's commands in the command palette.

This module imports only Textual and the light parts of the UI at its top: the engine (events,
the message catalog, cryptography) and the screens built on it take longer to import than
Textual itself, so bare `sshviz` puts its start screen up first and imports them once that
frame is on screen (``on_ready``); the methods that need them import them where they are used."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

from .bindings import APP, MAIN
from .screens.start import StartScreen

if TYPE_CHECKING:
    from ..trace.model import Trace
    from .attacked import AttackChoice
    from .screens.main import MainScreen
    from .timeline import Timeline

JUMPS = 100  # at most this many "Go to" commands of each kind in the palette


class SshvizApp(App[int]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses anywhere find it
    TITLE = "sshviz"
    BINDINGS = APP
    COMMANDS = App.COMMANDS | {lambda: _message_commands()}

    def __init__(self, scenario=None, trace: Trace | None = None, attack=None, lesson=None) -> None:
        """``attack``: an AttackChoice, an attack's name, or (name, settings, seed); the run is
        then that attack's (its own scenario), the attacker shown between client and server.
        ``lesson``: a LessonSession, shown beside its run (the lesson's trace)."""
        super().__init__()
        self.lesson = lesson
        if lesson is not None:
            scenario, trace, attack = None, lesson.run.trace, None
        # Screenshots go to $SSHVIZ_SCREENSHOTS if set, else the directory sshviz started in.
        self.screenshot_dir = os.path.abspath(os.environ.get("SSHVIZ_SCREENSHOTS") or os.getcwd())
        self.attack: AttackChoice | None = None
        if attack is not None:
            from .attacked import AttackChoice

            self.attack = AttackChoice.of(attack)
        self.attack_run = None  # the attack on the run shown, for its summary
        self.before: Trace | None = None  # the run before the last what-if, to compare
        self._whole: Trace | None = None  # the run shown now, played to its end (whole_run)
        # With neither, the start screen comes up first and the default demo once that frame
        # is on screen (on_ready): the engine's import is the slowest part of start-up.
        self.default_demo_pending = scenario is None and trace is None and self.attack is None
        if self.default_demo_pending:
            self.scenario = self.trace = self.timeline = None
            self.sub_title = "starting the demo session…"
            return
        if self.attack is not None:
            scenario, trace = None, None
        self.scenario = scenario if scenario is not None else scenario_of(trace) if trace is not None else None
        self.trace = trace
        self.timeline = self._new_timeline(self.scenario if trace is None else None)

    def on_ready(self) -> None:
        if self.default_demo_pending:
            self.default_demo_pending = False
            from ..scenario import Scenario
            from .screens.main import MainScreen

            self.scenario = Scenario()
            self.timeline = self._new_timeline(self.scenario)
            self.push_screen(MainScreen())  # over the start screen, which stays below it

    def get_default_screen(self) -> Screen:
        if self.default_demo_pending:
            return StartScreen()
        if self.lesson is not None:
            from .screens.lesson import LessonScreen

            return LessonScreen()
        from .screens.main import MainScreen

        return MainScreen()

    def _new_timeline(self, scenario) -> Timeline:
        """A timeline on ``self.attack`` if there is one, else on ``scenario``, else on the
        trace; sets the title bar and the attack run it shows."""
        from .attacked import attack_of_trace, attack_scenario, start_attack
        from .timeline import Timeline

        self.attack_run = None
        if self.attack is not None:
            timeline, self.attack_run, self.attack = start_attack(self.attack)
            self.scenario = attack_scenario(self.attack)
            self.sub_title = f"{self.attack.describe()} · {describe(self.scenario)}"
            return timeline
        if scenario is None:
            header = self.trace.header
            self.attack_run = attack_of_trace(self.trace)
            self.sub_title = f"{header.source} trace · {header.client_version or 'client'} ⇄ " \
                             f"{header.server_version or 'server'}"
            if self.attack_run is not None:
                self.sub_title = f"{self.sub_title} · attack: {self.attack_run.attack.name}"
            if self.lesson is not None:
                self.sub_title = f"lesson: {self.lesson.lesson.title} · {self.sub_title}"
            return Timeline(self.trace)
        self.sub_title = describe(scenario)
        return Timeline.from_scenario(scenario)

    @property
    def attacked(self) -> bool:
        """The run shown has an attacker between the sides: the ladder gets its column."""
        from .attacked import is_attacked

        return self.attack_run is not None or is_attacked(self.timeline.trace)

    @property
    def main(self) -> MainScreen:
        from .screens.main import MainScreen

        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    # -- what the main screen and the palette ask for ---------------------------------------

    def restart(self) -> None:
        """Back to the first message; a live run is played again from the start."""
        if self.trace is None:
            self.timeline = self._new_timeline(self.scenario)
            self.main.reload()
        else:
            self.timeline.go(0)
            self.main.sync()

    def rerun(self, scenario, attack=None) -> None:
        """Run ``scenario`` (or ``attack``, an AttackChoice, which brings its own scenario) and
        show it at the step the user was looking at."""
        from .attacked import AttackChoice

        position = self.timeline.position
        self.timeline.produce_all()
        self.before, self._whole = self.timeline.trace, None
        self.scenario, self.trace, self.attack = scenario, None, AttackChoice.of(attack)
        self.timeline = self._new_timeline(scenario)
        self.timeline.ensure(position)
        self.timeline.go(min(position, len(self.timeline) - 1))
        self.main.reload()
        self.notify(self.what_changed(), title="what changed (c compares)", timeout=8)

    def show_trace(self, trace: Trace, note: bool = True) -> None:
        """Show ``trace``, a whole run made elsewhere (a lesson's experiment, or the lesson's own
        run again), at the step the user was looking at; like a what-if, c compares it with the
        run shown before."""
        position = self.timeline.position
        if note:
            self.timeline.produce_all()
            self.before = self.timeline.trace
        self.trace, self._whole, self.attack = trace, trace, None
        self.scenario = scenario_of(trace)
        self.timeline = self._new_timeline(None)
        self.timeline.go(min(position, len(self.timeline) - 1))
        self.main.reload()
        if note:
            self.notify(self.what_changed(), title="what changed (c compares)", timeout=8)

    def whole_run(self) -> Trace:
        """The run shown, played to its end apart from the one on screen (which plays only as
        the user steps): the same seeded scenario or attack, run again, once per what-if."""
        if self._whole is None:
            if self.attack is not None:
                from ..attacks import run_attack

                self._whole = run_attack(self.attack.name, self.attack.values, self.attack.seed).conductor.trace
            else:
                from ..scenario import run_scenario

                self._whole = run_scenario(self.scenario).trace
        return self._whole

    def what_changed(self) -> str:
        """The run before the last what-if against the run now, in a few lines."""
        from ..presentation.difference import aligned, negotiation_changes

        before, now = self.before, self.whole_run()
        changes = [f"{category}: {old or '(none)'} → {new or '(none)'}"
                   for category, old, new in negotiation_changes(before, now)]
        rows = aligned(before, now)
        sizes = sum(how == "size" for _, _, how in rows)
        only = sum(how != "same" and how != "size" for _, _, how in rows)
        if sizes:
            changes.append(f"{sizes} message{'s' if sizes > 1 else ''} of another length")
        if only:
            changes.append(f"{only} message{'s' if only > 1 else ''} in one run only")
        return "\n".join(changes) or "nothing: the same messages, sizes and choices"

    def what_if(self) -> None:
        from .attacked import AttackChoice
        from .screens.whatif import WhatIfScreen

        if self.scenario is None:
            self.notify("this trace was not made in-process: there is no scenario to change",
                        severity="warning")
            return

        def chosen(choice) -> None:
            if choice is not None:
                scenario, attack = choice
                self.rerun(scenario, attack)

        attack = self.attack
        if attack is None and self.attack_run is not None:  # a saved attacked trace: offer its attack
            attack = AttackChoice(self.attack_run.attack.name, dict(self.attack_run.values), self.scenario.seed)
        self.push_screen(WhatIfScreen(self.scenario, attack), chosen)

    def action_screenshot(self) -> None:
        self.screenshot()

    def screenshot(self) -> str | None:
        """Save the screen as it is (a dialog too) as an SVG; the notification gives its full
        path. In a browser (``sshviz web``) the browser downloads it instead, and nothing is
        written on the machine serving it."""
        from .screens.main import MainScreen

        position, event = (0, None) if self.timeline is None else (self.timeline.position, self.timeline.current)
        dialog = "" if isinstance(self.screen, (MainScreen, StartScreen)) else "-" + type(self.screen).__name__.removesuffix(
            "Screen").lower()
        name = f"sshviz-{position:04d}-{event.name if event else 'empty'}{dialog}.svg"
        if self.is_web:
            self.deliver_text(io.StringIO(self.export_screenshot()), save_filename=name,
                              mime_type="image/svg+xml")
            self.notify(f"{name}: your browser downloads it", title="SVG screenshot", timeout=8)
            return name
        try:
            path = os.path.abspath(self.save_screenshot(name, self.screenshot_dir))
        except OSError as exc:  # a read-only directory must not end the session
            self.notify(f"cannot save {name} in {self.screenshot_dir}: {exc.strerror or exc}",
                        title="SVG screenshot", severity="error")
            return None
        self.notify(f"saved to {path}", title="SVG screenshot saved", timeout=8)
        return path

    def export_screenshot(self, *, title: str | None = None, simplify: bool = False) -> str:
        """Textual's SVG, with its spaces kept: the exporter writes a run of cells as one
        <text> that may begin or end with spaces, which SVG renderers drop by default (xml:space),
        so "msg_number" and " byte" ran together and indented lines lost their indent."""
        return keep_spaces(super().export_screenshot(title=title, simplify=simplify))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """sshviz's own commands first (one per main-screen binding), then jumps to each phase
        and each kind of message, then Textual's (themes, keys, quit)."""
        if self.timeline is None:  # the start screen: Textual's commands only
            yield from super().get_system_commands(screen)
            return
        main = self.main
        for binding in [*MAIN, *APP]:
            if binding.action == "attack" and self.attack_run is None:
                continue
            if binding in APP:
                yield SystemCommand(binding.description, binding.tooltip or binding.description,
                                    lambda action=binding.action: self.run_action(action))
            elif not binding.action.startswith("app."):
                yield SystemCommand(binding.description, binding.tooltip or binding.description,
                                    lambda action=binding.action: main.run_action(action))
        yield from self._jump_commands(main)
        yield from super().get_system_commands(screen)

    def _jump_commands(self, main: MainScreen) -> Iterable[SystemCommand]:
        from .timeline import PHASES

        timeline = self.timeline

        def go(index: int) -> None:
            if timeline.go(index):
                main.sync()

        # A huge trace repeats the same few kinds of message: the first ones say enough.
        for start in timeline.phase_starts[:JUMPS]:
            phase = PHASES[timeline.phase_at(start)]
            yield SystemCommand(f"Go to phase: {phase} (#{start})", f"jump to the first message of {phase}",
                                lambda index=start: go(index))
        seen = set()
        for event in timeline.events[:JUMPS * 20]:
            if event.name not in seen:
                seen.add(event.name)
                yield SystemCommand(f"Go to {event.name} (#{event.index})", "jump to its first occurrence",
                                    lambda index=event.index: go(index))


def _message_commands():
    from .commands import MessageCommands

    return MessageCommands


def keep_spaces(svg: str) -> str:
    """An SVG whose texts keep their leading and trailing spaces when drawn."""
    return svg.replace("<svg ", '<svg xml:space="preserve" ', 1)


def scenario_of(trace: Trace):
    """The scenario an in-process trace was made with, so what-if can vary it; else None."""
    from ..scenario import Scenario

    options = trace.header.scenario or {}
    if trace.header.source != "in-process" or not options:
        return None
    known = {f.name for f in dataclasses.fields(Scenario)}
    return Scenario(**{k: v for k, v in options.items() if k in known})


def describe(scenario) -> str:
    auth = scenario.auth + (" (wrong password first)" if scenario.wrong_password_first else "")
    without = f" · without {', '.join(scenario.without)}" if scenario.without else ""
    return (f"{scenario.kex} · {scenario.hostkey} · {scenario.cipher} · {scenario.mac} · "
            f"{scenario.compression} · {auth}{without} · seed {scenario.seed}")
