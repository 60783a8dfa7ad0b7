"""A lesson played against its run: the trace its steps point into, what each step selects,
the engine's answer to each compute step, and each experiment's rerun and observation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..presentation.explain import KeyContexts
from ..scenario import Scenario, run_scenario
from ..trace.model import Trace, TraceEvent
from .computations import Subject, compute, matches
from .loader import ATTACK_KEY, base_options
from .model import Lesson, Step
from .observations import observe
from .selectors import select_field, select_message


@dataclass(frozen=True)
class Selection:
    """What a step points at: a message of the run (or none) and the items down to its field."""

    event: TraceEvent | None
    field_chain: list

    @property
    def field_path(self) -> tuple[str, ...]:
        """The field's path as the fields view keys its rows (a group by its title)."""
        return tuple(item.title or item.field.name for item in self.field_chain)


@dataclass(frozen=True)
class ExperimentResult:
    """An experiment's rerun and whether the lesson's observation held in it."""

    trace: Trace
    holds: bool
    observed: str  # what the rerun did, in a few words
    scenario: Scenario | None  # what was run (None for an attack, which brings its own)
    attack: dict | None  # {"name": ..., settings...}


class LessonRun:
    """``lesson`` with its run made (lazily, once): seeded, so every learner sees the same bytes."""

    def __init__(self, lesson: Lesson):
        self.lesson = lesson
        self._trace: Trace | None = None
        self._contexts = KeyContexts()

    # -- the run ---------------------------------------------------------------------------

    def base_options(self) -> tuple[dict, bool]:
        """The scenario options of the lesson's run and whether the client knows only a wrong
        password (the failed-login sample)."""
        source = self.lesson.source
        wrong_only = False
        if source.sample is not None:
            from ..samples import SAMPLES

            wrong_only = next(s for s in SAMPLES if s.name == source.sample).wrong_password_only
        return base_options(source), wrong_only

    @property
    def scenario(self) -> Scenario | None:
        """The scenario of the lesson's run; None for a recorded trace."""
        if self.lesson.source.trace is not None:
            return None
        return Scenario(**self.base_options()[0])

    @property
    def trace(self) -> Trace:
        if self._trace is None:
            source = self.lesson.source
            if source.trace is not None:
                from ..trace.files import open_traces

                keylog = str(source.keylog) if source.keylog is not None else None
                self._trace = open_traces(str(source.trace), keylog)[0]
            else:
                options, wrong_only = self.base_options()
                self._trace = play(options, wrong_only)
        return self._trace

    # -- steps -----------------------------------------------------------------------------

    def select(self, step: Step, trace: Trace | None = None) -> Selection:
        """The step's message and field in the run (or in ``trace``, an experiment's rerun);
        SelectorError if they are not there."""
        trace = trace or self.trace
        if step.message is None:
            return Selection(None, [])
        event = select_message(trace, step.message)
        chain = []
        if step.field:
            context = (self._contexts.at(trace.events, event.index) if trace is self.trace
                       else KeyContexts().at(trace.events, event.index))
            chain = select_field(event, step.field, context)
        return Selection(event, chain)

    def answer(self, step: Step) -> tuple[str, str]:
        """The engine's answer to a compute step and how typed answers compare ("number", "hex"
        or "text"); NoAnswer or SelectorError when the run has none."""
        selection = self.select(step)
        return compute(step.compute, Subject(self.trace, selection.event, selection.field_chain))

    def judge(self, step: Step, typed: str) -> bool:
        """Whether a learner's answer is right: a choice's text for a question, the typed value
        for a compute step."""
        if step.kind == "question":
            right = step.right_choice
            return right is not None and typed.strip().lower() == right.answer.lower()
        answer, kind = self.answer(step)
        return matches(kind, typed, answer)

    def experiment_run(self, step: Step) -> tuple[Scenario | None, dict | None, bool]:
        """What an experiment runs: the changed scenario, or an attack; and whether the client
        knows only a wrong password."""
        options, wrong_only = self.base_options()
        if ATTACK_KEY in step.change:
            return None, dict(step.change[ATTACK_KEY]), False
        options.update(step.change)
        return Scenario(**options), None, wrong_only

    def experiment(self, step: Step) -> ExperimentResult:
        scenario, attack, wrong_only = self.experiment_run(step)
        if attack is not None:
            from ..attacks import run_attack

            settings = {k: v for k, v in attack.items() if k != "name"}
            trace = run_attack(attack["name"], settings, seed=self.base_options()[0].get("seed", 1)).conductor.trace
        else:
            trace = play(dataclasses.asdict(scenario), wrong_only)
        holds, observed = observe(step.expect, trace)
        return ExperimentResult(trace, holds, observed, scenario, attack)

    def observed_before(self, step: Step) -> tuple[bool, str]:
        """Whether the experiment's observation already holds in the unchanged run."""
        return observe(step.expect, self.trace)


def play(options: dict, wrong_password_only: bool = False) -> Trace:
    """The seeded run of a scenario's options (the client knowing only a wrong password, when
    asked: the failed-login sample)."""
    if not wrong_password_only:
        return run_scenario(Scenario(**options)).trace
    from ..samples import Sample, generate

    return generate(Sample("lesson", "", options, wrong_password_only=True))
