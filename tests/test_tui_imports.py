"""Layering rules for the UI: only sshviz/tui imports Textual, and the UI reads events, never
the protocol objects (endpoints, transport, authentication and connection layers)."""

from __future__ import annotations

import ast
from pathlib import Path

import sshviz

PACKAGE = Path(sshviz.__file__).parent
TUI = PACKAGE / "tui"
# What the UI must not import: the protocol objects behind the events.
PROTOCOL_MODULES = ("sshviz.endpoint", "sshviz.transport", "sshviz.auth", "sshviz.connection",
                    "sshviz.net", "sshviz.fs", "sshviz.crypto")


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports, relative imports resolved."""
    module = "sshviz." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    return names


def python_files(root: Path):
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_only_the_tui_package_imports_textual():
    offenders = []
    for path in python_files(PACKAGE):
        if TUI in path.parents:
            continue
        if any(name == "textual" or name.startswith("textual.") for name in imported_modules(path)):
            offenders.append(str(path.relative_to(PACKAGE.parent)))
    assert not offenders, f"textual imported outside sshviz/tui: {offenders}"


def test_the_tui_reads_events_not_protocol_objects():
    offenders = []
    for path in python_files(TUI):
        for name in imported_modules(path):
            if name.startswith(PROTOCOL_MODULES):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}: {name}")
    assert not offenders, "\n".join(offenders)


def test_the_import_walk_sees_relative_imports():
    names = imported_modules(TUI / "present.py")
    assert "sshviz.events" in names and "sshviz.tui.timeline" in names
