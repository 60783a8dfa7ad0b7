"""Lessons: a self-paced course, each lesson a YAML file of small steps tied to the messages of
a real, seeded run. The loader reads a file into a ``Lesson`` (one clear error per broken
file), ``LessonRun`` plays its run and answers for it (selected messages and fields, computed
answers, experiments), ``check_lesson`` proves a lesson true against its run, and
``ProgressStore`` keeps the learner's progress. The terminal UI shows them; nothing here
imports Textual.
"""

from .course import find_lesson, lesson_files, lessons_dir, load_course
from .loader import LessonError, load_lesson, loads_lesson
from .model import Choice, Lesson, Step
from .progress import ProgressStore
from .run import LessonRun

__all__ = ["Choice", "Lesson", "LessonError", "LessonRun", "ProgressStore", "Step", "find_lesson",
           "lesson_files", "lessons_dir", "load_course", "load_lesson", "loads_lesson"]
