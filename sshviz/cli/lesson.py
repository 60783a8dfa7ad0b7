"""``sshviz lesson NAME|FILE``: one lesson of the course in the terminal UI, beside the run it
is about; progress is saved as the learner goes."""

from __future__ import annotations

import sys

from .errors import CLIError


def register(sub) -> None:
    parser = sub.add_parser(
        "lesson", help="take a lesson of the SSH course in the terminal UI",
        description="Open a lesson in the terminal UI, beside the session it is about: each step "
                    "selects its message and field in the ladder, fields and bytes. Keys: N next "
                    "step, P step back, h hint, i answer, x run the experiment, R reset the lesson. "
                    "Your progress is saved as you go and restored next time. `sshviz lessons` "
                    "lists the lessons.")
    parser.add_argument("lesson", metavar="NAME|FILE",
                        help="a lesson's name (ssh-at-a-glance), its number (1), or a lesson file")
    parser.set_defaults(func=lesson)


def lesson(args) -> int:
    from ..lessons import LessonError, ProgressStore, find_lesson
    from ..lessons.session import LessonSession
    from ..tui import run_app, terminal_attached

    try:
        found = find_lesson(args.lesson)
    except LessonError as exc:
        raise CLIError(str(exc)) from None
    progress = ProgressStore()
    if progress.warning:
        print(f"sshviz: warning: {progress.warning}", file=sys.stderr)
    if not terminal_attached():
        return run_app()  # says in one line that the UI needs a terminal
    session = LessonSession(found, progress)
    try:
        session.run.trace  # made now, so that a trace file that cannot be read is one line
    except (ValueError, OSError) as exc:
        raise CLIError(f"{found.where}: run: {exc}") from None
    return run_app(lesson=session)
