"""What a lesson file says, once read: a lesson, its run and its steps. Plain records, each
remembering the line it came from so a check can point at it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

STEP_KINDS = ("read", "question", "compute", "experiment")
LEVELS = ("beginner", "intermediate", "advanced")


@dataclass(frozen=True)
class RunSource:
    """Where a lesson's messages come from: scenario options (as `sshviz run` takes them), a
    sample trace by name, or a trace or capture file (relative to the lesson's file), with the
    key log that opens its encrypted part, if any."""

    scenario: dict | None = None
    sample: str | None = None
    trace: Path | None = None
    line: int = 0
    keylog: Path | None = None


@dataclass(frozen=True)
class Choice:
    """One answer of a question, with what the learner is told on picking it."""

    answer: str
    right: bool
    feedback: str
    line: int = 0


@dataclass(frozen=True)
class Named:
    """A named computation or observation with its parameters, e.g. ``negotiated`` with
    ``{"category": "cipher", "is": "aes256-ctr"}``."""

    name: str
    params: dict = dataclasses.field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class Step:
    """One small thing to read or do. ``message`` and ``field`` select what the views show
    (see selectors.py); the rest depends on ``kind``."""

    number: int  # from 1, as errors and the panel count
    kind: str
    text: str
    line: int
    message: str | None = None
    field: str | None = None
    hint: str = ""
    id: str = ""  # what progress is kept under; the step's number unless given
    # question
    choices: tuple[Choice, ...] = ()
    asks: str = ""  # "" or "next-message": the right choice must be the message that follows
    # compute
    compute: Named | None = None
    # experiment
    change: dict = dataclasses.field(default_factory=dict)  # scenario options, and "attack": {name, settings}
    expect: Named | None = None

    @property
    def key(self) -> str:
        return self.id or str(self.number)

    @property
    def right_choice(self) -> Choice | None:
        return next((c for c in self.choices if c.right), None)


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    level: str
    minutes: int
    source: RunSource
    steps: tuple[Step, ...]
    path: Path
    summary: str = ""

    @property
    def where(self) -> str:
        """The file as errors name it."""
        return display_path(self.path)


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, else as it is."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
