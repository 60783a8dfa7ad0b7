"""``sshviz lessons``: the course's lessons with the learner's progress, and ``--check``, which
proves lessons true against their real runs (for teachers and CI)."""

from __future__ import annotations

import sys
from contextlib import contextmanager


def register(sub) -> None:
    parser = sub.add_parser(
        "lessons", help="list the lessons of the SSH course, or check lesson files",
        description="List the lessons of the self-paced SSH course (open one with `sshviz lesson "
                    "NAME`), with their level, length and your progress. With --check, validate "
                    "lesson files against their real runs: the format, every message and field a "
                    "step selects, one right answer per question, an answer for every compute "
                    "step, and every experiment's observation (see docs/lessons.md).")
    parser.add_argument("--check", action="store_true",
                        help="check the lessons (the course's, or the FILEs) and print one line per "
                             "problem; exit status 1 if there is any")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="lesson files to list or check (default: the course)")
    parser.set_defaults(func=lessons)


def lessons(args) -> int:
    from ..lessons import ProgressStore, load_course
    from ..lessons.model import display_path

    lessons_found, errors = load_course([_path(f) for f in args.files] if args.files else None)
    if args.check:
        return check(lessons_found, errors)
    for error in errors:
        print(f"sshviz: error: {error}", file=sys.stderr)
    if not lessons_found and not errors:
        print("no lessons found", file=sys.stderr)
        return 1
    progress = ProgressStore()
    if progress.warning:
        print(f"sshviz: warning: {progress.warning}", file=sys.stderr)
    rows = [(lesson.path.name.split("-", 1)[0] if lesson.path.name[0].isdigit() else "", lesson.name,
             lesson.level, f"{lesson.minutes} min", progress.summary(lesson.name, len(lesson.steps)),
             lesson.title) for lesson in lessons_found]
    widths = [max(len(r[i]) for r in rows) for i in range(5)] if rows else []
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[5])
    if rows:
        print(f"\nopen one with: sshviz lesson NAME or NUMBER  (files: {display_path(lessons_found[0].path.parent)})")
    return 1 if errors else 0


def check(lessons_found, errors) -> int:
    from ..lessons.check import check_lesson

    problems = [str(error) for error in errors]
    with _progress(len(lessons_found)) as advance:
        for lesson in lessons_found:
            advance(lesson.name)
            problems += check_lesson(lesson)
    for line in problems:
        print(line)
    checked = len(lessons_found) + len(errors)
    print(f"{checked} lesson{'s' * (checked != 1)} checked: "
          + (f"{len(problems)} problem{'s' * (len(problems) != 1)}" if problems else "all good"),
          file=sys.stderr)
    return 1 if problems else 0


def _path(name: str):
    from pathlib import Path

    return Path(name)


@contextmanager
def _progress(total: int):
    """A bar on stderr while lessons are checked (each runs its scenario and experiments)."""
    if not sys.stderr.isatty() or total < 2:
        yield lambda name: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("checking lessons", total=total)
        started = [False]

        def advance(name: str) -> None:
            if started[0]:
                bar.advance(task)
            started[0] = True
            bar.update(task, description=f"checking {name}")

        yield advance
