"""``lessons --check``: a lesson proved against its real run. Every selector resolves, every
question has one right answer (and a "what comes next?" question's right answer is what comes
next), every compute step has an answer from the engine, every experiment's observation holds in
its rerun and not already in the unchanged run. Each problem is one line, FILE:LINE: what."""

from __future__ import annotations

from ..trace.model import Trace
from .computations import NoAnswer
from .model import Lesson, Step
from .run import LessonRun
from .selectors import SelectorError, names_of


def check_lesson(lesson: Lesson, run: LessonRun | None = None) -> list[str]:
    run = run or LessonRun(lesson)
    problems: list[str] = []

    def problem(line: int, text: str) -> None:
        problems.append(f"{lesson.where}:{line}: {text}")

    try:
        trace = run.trace
    except (ValueError, OSError) as exc:  # a trace file that cannot be read, said in a line
        problem(lesson.source.line, f"run: the run could not be made: {exc}")
        return problems
    for step in lesson.steps:
        where = f"step {step.number}: "
        try:
            selection = run.select(step)
        except SelectorError as exc:
            problem(step.line, where + str(exc))
            continue
        if step.kind == "question":
            problems += [f"{lesson.where}:{step.line}: {where}{p}" for p in _question(step, trace, selection.event)]
        elif step.kind == "compute":
            try:
                run.answer(step)
            except (NoAnswer, SelectorError) as exc:
                problem(step.compute.line or step.line, f"{where}compute: {exc}")
        elif step.kind == "experiment":
            problems += [f"{lesson.where}:{step.expect.line or step.line}: {where}{p}"
                         for p in _experiment(run, step)]
    return problems


def _question(step: Step, trace: Trace, event) -> list[str]:
    rights = [c for c in step.choices if c.right]
    if len(rights) != 1:
        return [f"a question needs exactly one right answer, this one has {len(rights)}"]
    if step.asks != "next-message":
        return []
    later = trace.events[event.index + 1:]
    if not later:
        return [f"nothing comes after {step.message} in the run"]
    following = names_of(later[0])
    problems = []
    for choice in step.choices:
        comes_next = choice.answer.upper().removeprefix("SSH_") in following
        if choice.right and not comes_next:
            problems.append(f"the right answer {choice.answer!r} is not what comes next: the run has "
                            f"{later[0].name} (#{later[0].index})")
        elif comes_next and not choice.right:
            problems.append(f"the wrong answer {choice.answer!r} is what comes next")
    return problems


def _experiment(run: LessonRun, step: Step) -> list[str]:
    try:
        result = run.experiment(step)
    except (ValueError, TypeError) as exc:
        return [f"the experiment could not run: {exc}"]
    problems = []
    if not result.holds:
        problems.append(f"expect: {step.expect.name} does not happen in the rerun ({result.observed})")
    before, observed = run.observed_before(step)
    if before:
        problems.append(f"expect: {step.expect.name} already holds without the change ({observed}), "
                        "so the experiment shows nothing")
    return problems
