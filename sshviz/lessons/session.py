"""A learner going through one lesson: the step shown, the tries at it, what to say back, and
the progress kept as they go. The terminal UI draws it; it needs no UI to be tested."""

from __future__ import annotations

from dataclasses import dataclass

from .computations import NoAnswer
from .model import Lesson, Step
from .progress import ProgressStore
from .run import ExperimentResult, LessonRun
from .selectors import SelectorError

TRIES_BEFORE_ANSWER = 2


@dataclass(frozen=True)
class Verdict:
    """What the learner is told after an answer: right or not, the feedback, and the right
    answer once they have tried twice."""

    right: bool
    feedback: str
    answer_shown: str = ""


class LessonSession:
    """``lesson`` with the learner's place in it, restored from and saved to ``progress``."""

    def __init__(self, lesson: Lesson, progress: ProgressStore | None = None, run: LessonRun | None = None):
        self.lesson = lesson
        self.run = run or LessonRun(lesson)
        self.progress = progress if progress is not None else ProgressStore()
        self.number = min(self.progress.position(lesson.name), len(lesson.steps))
        self.last_experiment: ExperimentResult | None = None

    @property
    def step(self) -> Step:
        return self.lesson.steps[self.number - 1]

    @property
    def done(self) -> set[str]:
        return self.progress.done(self.lesson.name)

    def is_done(self, step: Step | None = None) -> bool:
        return (step or self.step).key in self.done

    def tries(self, step: Step | None = None) -> list[str]:
        return self.progress.answers(self.lesson.name, (step or self.step).key)

    # -- moving ----------------------------------------------------------------------------

    def go(self, number: int) -> bool:
        number = max(1, min(number, len(self.lesson.steps)))
        if number == self.number:
            return False
        self.number = number
        self.last_experiment = None
        self.progress.set_position(self.lesson.name, number)
        return True

    def next(self) -> bool:
        """On to the next step; a read step counts as done once the learner moves past it."""
        if self.step.kind == "read":
            self._done()
        return self.go(self.number + 1)

    def previous(self) -> bool:
        return self.go(self.number - 1)

    def reset(self) -> None:
        self.progress.reset(self.lesson.name)
        self.number = 1
        self.last_experiment = None

    # -- doing -----------------------------------------------------------------------------

    def hint(self) -> str:
        return self.step.hint or "No hint for this step: the text above says what to look at."

    def right_answer(self) -> str:
        step = self.step
        if step.kind == "question":
            return step.right_choice.answer
        if step.kind == "compute":
            return self.run.answer(step)[0]
        return ""

    def answer(self, typed: str) -> Verdict:
        """Judge an answer to a question (a choice's text) or a compute step."""
        step = self.step
        typed = typed.strip()
        if not typed:
            return Verdict(False, "Type an answer first.")
        try:
            right = self.run.judge(step, typed)
        except (NoAnswer, SelectorError) as exc:  # `lessons --check` catches these first
            return Verdict(False, f"This step cannot be checked: {exc}")
        self.progress.record_answer(self.lesson.name, step.key, typed)
        if step.kind == "question":
            choice = next((c for c in step.choices if c.answer.lower() == typed.lower()), None)
            feedback = choice.feedback if choice is not None else "That is not one of the answers."
        else:
            feedback = "Right." if right else "Not that: look again at the bytes."
        if right:
            self._done()
            return Verdict(True, feedback)
        wrong = sum(1 for t in self.tries() if not self.run.judge(step, t))
        shown = self.right_answer() if wrong >= TRIES_BEFORE_ANSWER else ""
        return Verdict(False, feedback, shown)

    def experiment(self) -> ExperimentResult:
        """Run the step's experiment; it is done when its observation happened."""
        result = self.run.experiment(self.step)
        self.last_experiment = result
        if result.holds:
            self._done()
        return result

    def _done(self) -> None:
        self.progress.mark_done(self.lesson.name, self.step.key)

    @property
    def finished(self) -> bool:
        return all(step.key in self.done for step in self.lesson.steps)
