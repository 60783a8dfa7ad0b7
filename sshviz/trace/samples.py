"""Where the sample traces in ``traces/`` are: inside an installed package, or in a source
checkout. What each one shows and how it is made again: ``sshviz.samples``."""

from __future__ import annotations

from pathlib import Path

SUFFIX = ".yaml"


def traces_dir() -> Path | None:
    """Where the sample traces are: the installed package's data, else the checkout's traces/."""
    installed = Path(__file__).resolve().parents[1] / "_data" / "traces"
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parents[2] / "traces"
    return checkout if checkout.is_dir() else None


def sample_names() -> list[str]:
    directory = traces_dir()
    if directory is None:
        return []
    return sorted(p.name[: -len(SUFFIX)] for p in directory.glob("*" + SUFFIX))


def find_sample(name: str) -> Path | None:
    directory = traces_dir()
    if directory is None or "/" in name:
        return None
    path = directory / (name if name.endswith(SUFFIX) else name + SUFFIX)
    return path if path.is_file() else None
