"""The lesson panel: the step's text (Markdown), then what the learner does with it: a list of
choices, a box to type a computed answer, or a button to run an experiment; and what the
lesson says back (feedback, hints, the answer after two tries)."""

from __future__ import annotations

from rich.markdown import Markdown
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Button, Input, OptionList, Static

KIND_WORDS = {"read": "read", "question": "question", "compute": "work it out", "experiment": "experiment"}
DOING = {
    "read": "N: next step",
    "question": "i: choose an answer (↑↓, enter) · h: hint",
    "compute": "i: type your answer, enter checks it · h: hint",
    "experiment": "x: run the experiment · h: hint",
}


class LessonPanel(Vertical):
    """Shows one step of a LessonSession; the screen reacts to what the learner does in it."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.head_text = Text()  # what the head and the feedback say, as drawn
        self.feedback_text = Text()

    def compose(self) -> ComposeResult:
        yield Static(id="lesson-head")
        with VerticalScroll(id="lesson-body"):
            yield Static(id="lesson-text")
            yield OptionList(id="lesson-choices")
            yield Input(placeholder="your answer", id="lesson-input")
            yield Button("Run the experiment (x)", id="lesson-run", variant="primary")
            yield Static(id="lesson-feedback")

    def show(self, session) -> None:
        """Draw ``session``'s current step afresh."""
        step = session.step
        self.border_title = session.lesson.title
        self.show_head(session)
        self.query_one("#lesson-text", Static).update(Markdown(step.text))
        choices = self.query_one("#lesson-choices", OptionList)
        choices.clear_options()
        choices.add_options([choice.answer for choice in step.choices])
        choices.display = step.kind == "question"
        box = self.query_one("#lesson-input", Input)
        box.value = ""
        box.display = step.kind == "compute"
        self.query_one("#lesson-run", Button).display = step.kind == "experiment"
        self.say()
        self.query_one("#lesson-body", VerticalScroll).scroll_home(animate=False)

    def show_head(self, session) -> None:
        """The step's number and kind, whether it is done, how far the lesson is, what to do."""
        lesson, step = session.lesson, session.step
        done = len([s for s in lesson.steps if s.key in session.done])
        head = Text()
        head.append(f"step {session.number} of {len(lesson.steps)}", "bold")
        head.append(f" · {KIND_WORDS[step.kind]}")
        if session.is_done():
            head.append(" · ✓ done", "bold green")
        head.append(f"\n{done}/{len(lesson.steps)} steps done · {DOING[step.kind]}", "dim")
        self.head_text = head
        self.query_one("#lesson-head", Static).update(head)

    def say(self, *parts, keep: bool = False) -> None:
        """Feedback under the step: (text, style) pairs, after what was said before if
        ``keep``, else in its place; nothing clears it."""
        said = self.feedback_text.copy() if keep else Text()
        for text, style in parts:
            if text:
                said.append("\n" if said else "")
                said.append(text, style)
        self.feedback_text = said
        self.query_one("#lesson-feedback", Static).update(said)
        if said:
            self.call_after_refresh(self.query_one("#lesson-body", VerticalScroll).scroll_end, animate=False)
