"""The learner's progress, kept in the user's data directory ($XDG_DATA_HOME/sshviz, else
~/.local/share/sshviz) as progress.json: per lesson, the steps done, the answers given, the
step last seen. Writes are atomic (a temporary file renamed over the old one); a file that
cannot be read is set aside under another name, with a one-line warning, never a crash."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

FORMAT = 1


def data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "sshviz"


class ProgressStore:
    """Progress of every lesson, by lesson name: ``{"done": [step keys], "answers": {step key:
    [answers in order]}, "at": step number}``. ``warning`` says what was wrong with a file
    that had to be set aside."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else data_dir() / "progress.json"
        self.warning = ""
        self.lessons: dict[str, dict] = self._read()

    def _read(self) -> dict:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            self.warning = f"progress file {self.path} could not be read ({exc.strerror or exc}); starting afresh"
            return {}
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("lessons"), dict):
                raise ValueError("not a progress file of this version")
            lessons = data["lessons"]
            for name, entry in lessons.items():
                if not (isinstance(entry, dict) and isinstance(entry.get("done", []), list)
                        and isinstance(entry.get("answers", {}), dict)):
                    raise ValueError(f"lesson {name!r} is not what progress looks like")
            return lessons
        except ValueError as exc:  # json.JSONDecodeError is one
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                os.replace(self.path, aside)
                where = f"set aside as {aside}"
            except OSError as move_error:
                where = f"left in place ({move_error.strerror or move_error})"
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.warning = f"progress file {self.path} was unreadable ({reason}); {where}; starting afresh"
            return {}

    def of(self, lesson: str) -> dict:
        entry = self.lessons.setdefault(lesson, {})
        entry.setdefault("done", [])
        entry.setdefault("answers", {})
        entry.setdefault("at", 1)
        return entry

    def done(self, lesson: str) -> set[str]:
        return set(self.lessons.get(lesson, {}).get("done", []))

    def mark_done(self, lesson: str, step_key: str) -> None:
        entry = self.of(lesson)
        if step_key not in entry["done"]:
            entry["done"].append(step_key)
        self.save()

    def record_answer(self, lesson: str, step_key: str, answer: str) -> None:
        self.of(lesson)["answers"].setdefault(step_key, []).append(answer)
        self.save()

    def answers(self, lesson: str, step_key: str) -> list[str]:
        return list(self.lessons.get(lesson, {}).get("answers", {}).get(step_key, []))

    def set_position(self, lesson: str, number: int) -> None:
        self.of(lesson)["at"] = number
        self.save()

    def position(self, lesson: str) -> int:
        at = self.lessons.get(lesson, {}).get("at", 1)
        return at if isinstance(at, int) and at >= 1 else 1

    def reset(self, lesson: str) -> None:
        self.lessons.pop(lesson, None)
        self.save()

    def summary(self, lesson: str, steps: int) -> str:
        done = len(self.done(lesson))
        if not done:
            return "not started"
        return "done" if done >= steps else f"{done}/{steps} steps"

    def save(self) -> None:
        """Write the file whole, atomically: a reader sees the old file or the new one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": FORMAT, "lessons": self.lessons}, indent=1, sort_keys=True)
        fd, temporary = tempfile.mkstemp(prefix=".progress-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
