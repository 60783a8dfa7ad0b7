"""Helpers shared by the test files."""

from __future__ import annotations

from sshviz.conductor import Conductor


def step_until(conductor: Conductor, name: str, sender: str | None = None):
    while (step := conductor.step()) is not None:
        if step.name == name and (sender is None or step.sender == sender):
            return step
    raise AssertionError(f"{name} never went by")


def changes(conductor, kind, side=None):
    return [e for step in conductor.steps for s, e in step.changes
            if isinstance(e, kind) and (side is None or s == side)]
