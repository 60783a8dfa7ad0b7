"""The lesson screen: the main screen's ladder, fields, bytes and keys, with a lesson's steps
beside them. The panels follow the lesson: each step selects its message on the ladder and
lights up its field; an experiment's rerun replaces the run shown, as a what-if does, until the
learner moves to another step."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Button, Input, OptionList

from ...lessons.computations import NoAnswer
from ...lessons.selectors import SelectorError
from ..bindings import LESSON, MAIN
from ..widgets.fields import FieldsTree, item_key
from ..widgets.ladder import Ladder
from ..widgets.lessonpanel import LessonPanel
from .main import MainScreen


class LessonScreen(MainScreen, inherit_bindings=False):
    # The lesson's keys right after Help, so that the footer shows them first.
    BINDINGS = [MAIN[0], *LESSON, *MAIN[1:]]

    @property
    def session(self):
        return self.app.lesson

    def side_panes(self) -> ComposeResult:
        yield LessonPanel(id="lesson-pane")

    def on_mount(self) -> None:
        super().on_mount()
        self.add_class("-lesson")
        warning = self.session.progress.warning
        if warning:
            self.notify(warning, title="progress", severity="warning", timeout=10)
        self.show_step()

    # -- following the lesson --------------------------------------------------------------

    def show_step(self) -> None:
        """Draw the current step and bring the views to its message and field."""
        self.query_one(LessonPanel).show(self.session)
        self.follow()

    def follow(self) -> None:
        session = self.session
        step = session.step
        if step.message is None:
            return
        if self.app.trace is not session.run.trace:  # an experiment's rerun is shown: back to the lesson's run
            self.app.show_trace(session.run.trace, note=False)
        try:
            selection = session.run.select(step)
        except SelectorError as exc:  # `lessons --check` finds these before a learner does
            self.query_one(LessonPanel).say((f"This step's selector does not resolve: {exc}", "bold red"))
            return
        if self.timeline.go(selection.event.index) or self._shown_event is not selection.event:
            self.sync()
        self.query_one(Ladder).scroll_to_row(self.timeline.row_of_event[self.timeline.position])
        if selection.field_path:
            self.light_up(selection.field_path)

    def light_up(self, path: tuple[str, ...]) -> None:
        """Put the fields view's cursor on the field at ``path`` (the hex view marks its bytes)."""
        tree = self.query_one(FieldsTree)
        items, found = tree.top_items, None
        for key in path:
            found = next((item for item in items if item_key(item) == key), None)
            if found is None:
                return
            items = found.children
        tree.select_item(found)

    # -- actions (bound in bindings.LESSON) ------------------------------------------------

    def action_next_step(self) -> None:
        session = self.session
        if not session.next():
            self.notify("that was the last step" + (": lesson done ✓" if session.finished else ""), timeout=4)
            self.query_one(LessonPanel).show_head(session)
            return
        self.show_step()

    def action_previous_step(self) -> None:
        if self.session.previous():
            self.show_step()

    def action_hint(self) -> None:
        self.query_one(LessonPanel).say(("hint: " + self.session.hint(), "italic"), keep=True)

    def action_answer(self) -> None:
        kind = self.session.step.kind
        if kind == "question":
            choices = self.query_one("#lesson-choices", OptionList)
            choices.focus()
            if choices.highlighted is None:
                choices.highlighted = 0
        elif kind == "compute":
            self.query_one("#lesson-input", Input).focus()
        else:
            self.notify("nothing to answer in this step" + (": x runs the experiment" if kind == "experiment" else ""),
                        timeout=3)

    def action_leave_answer(self) -> None:
        self.query_one(Ladder).focus()

    def action_experiment(self) -> None:
        session = self.session
        if session.step.kind != "experiment":
            self.notify("this step has no experiment", timeout=3)
            return
        panel = self.query_one(LessonPanel)
        try:
            result = session.experiment()
        except (ValueError, TypeError) as exc:
            panel.say((f"The experiment could not run: {exc}", "bold red"))
            return
        self.app.show_trace(result.trace)
        # Once the new run's ladder (and an attack's summary under it) is laid out.
        self.call_after_refresh(lambda: self.call_after_refresh(self._keep_current_in_view))
        panel.show_head(session)
        if result.holds:
            panel.say(("✓ It happened: " + result.observed, "bold green"),
                      ("The run shown is the changed one; c compares it with the lesson's run.", "dim"))
        else:
            panel.say(("✗ Not what the lesson expected: " + result.observed, "bold red"))

    def action_reset_lesson(self) -> None:
        self.session.reset()
        self.notify("lesson reset: your progress in it is forgotten", timeout=4)
        self.show_step()

    # -- what the learner does in the panel ------------------------------------------------

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        if message.option_list.id == "lesson-choices":
            self.judge(self.session.step.choices[message.option_index].answer)

    def on_input_submitted(self, message: Input.Submitted) -> None:
        if message.input.id == "lesson-input":
            self.judge(message.value)

    def on_button_pressed(self, message: Button.Pressed) -> None:
        if message.button.id == "lesson-run":
            self.action_experiment()

    def judge(self, typed: str) -> None:
        session = self.session
        panel = self.query_one(LessonPanel)
        try:
            verdict = session.answer(typed)
        except (NoAnswer, SelectorError) as exc:
            panel.say((f"This step cannot be checked: {exc}", "bold red"))
            return
        panel.show_head(session)
        parts = [(("✓ " if verdict.right else "✗ ") + f"{typed.strip()}: " + verdict.feedback,
                  "bold green" if verdict.right else "bold red")]
        if verdict.answer_shown:
            parts.append((f"The answer is {verdict.answer_shown}.", "bold"))
        if verdict.right:
            parts.append(("N: next step", "dim"))
        panel.say(*parts)
