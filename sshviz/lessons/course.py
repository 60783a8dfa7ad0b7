"""Where the course's lesson files are (inside an installed package, or in a source checkout),
and finding one by name, number or path."""

from __future__ import annotations

from pathlib import Path

from ..trace.samples import shipped_dir
from .loader import LessonError, load_lesson
from .model import Lesson

SUFFIX = ".yaml"


def lessons_dir() -> Path | None:
    """The installed package's lessons, else the checkout's lessons/."""
    return shipped_dir("lessons")


def lesson_files() -> list[Path]:
    directory = lessons_dir()
    return sorted(directory.glob("*" + SUFFIX)) if directory is not None else []


def load_course(paths=None) -> tuple[list[Lesson], list[LessonError]]:
    """Every lesson that loads, and one error for each file that does not."""
    lessons, errors = [], []
    for path in paths if paths is not None else lesson_files():
        try:
            lessons.append(load_lesson(path))
        except LessonError as exc:
            errors.append(exc)
    return lessons, errors


def find_lesson(name: str) -> Lesson:
    """A lesson by file path, by name (``ssh-at-a-glance``) or by number (``1``, ``01``);
    LessonError if there is none."""
    candidate = Path(name)
    if candidate.suffix == SUFFIX or "/" in name:
        if not candidate.is_file():
            raise LessonError(candidate, 0, "no such lesson file")
        return load_lesson(candidate)
    for path in lesson_files():
        number = path.name.split("-", 1)[0]
        if name == path.stem or (name.isdigit() and number.isdigit() and int(name) == int(number)):
            return load_lesson(path)
    lessons, errors = load_course()
    for lesson in lessons:
        if lesson.name == name:
            return lesson
    if not lessons:
        raise LessonError(Path(name), 0, "no lesson of that name (none are installed)")
    import difflib

    near = difflib.get_close_matches(name, [lesson.name for lesson in lessons], n=1)
    raise LessonError(Path(name), 0, "no lesson of that name" + (f": did you mean {near[0]}?" if near else "")
                      + " (sshviz lessons lists them, with their numbers)")
