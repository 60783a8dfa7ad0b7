"""Where the sample traces in ``traces/`` (and the other files shipped with sshviz, such as the
lessons) are: inside an installed package, or in a source checkout. What each sample shows and
how it is made again: ``sshviz.samples``."""

from __future__ import annotations

from pathlib import Path

SUFFIX = ".yaml"


def shipped_dir(name: str) -> Path | None:
    """A directory of files shipped with sshviz (traces, lessons): the installed package's
    data, else the checkout's directory of that name."""
    installed = Path(__file__).resolve().parents[1] / "_data" / name
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parents[2] / name
    return checkout if checkout.is_dir() else None


def traces_dir() -> Path | None:
    """Where the sample traces are."""
    return shipped_dir("traces")


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
