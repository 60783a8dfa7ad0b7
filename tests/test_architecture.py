"""The layers of ARCHITECTURE.md, held by import-linter's contracts in pyproject.toml: each
layer imports only from those below it (indirect imports included), siblings marked
independent stay so, only the terminal UI imports Textual, only the web adapter (and the
command line that starts it) imports textual-serve and aiohttp, and the UI never imports the
protocol objects behind the events."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                              "sys.exit(lint_imports_command())"]


def lint(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(LINT + ["--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_every_import_contract_holds():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("sshviz/trace/elide.py", "from ..conductor import Conductor", "Layers point one way"),
    ("sshviz/wire/types.py", "import textual", "Only the terminal UI imports Textual"),
    ("sshviz/tui/timeline.py", "from ..transport import packet", "The terminal UI reads events"),
    ("sshviz/tui/app.py", "import textual_serve", "Only the web adapter and the command line"),
    ("sshviz/trace/elide.py", "import aiohttp", "Only the web adapter and the command line"),
])
def test_a_wrong_import_breaks_its_contract(tmp_path, module, line, contract):
    shutil.copytree(ROOT / "sshviz", tmp_path / "sshviz", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / module, "a") as f:
        f.write(f"\n{line}  # breaks the layering\n")
    result = lint(tmp_path)
    assert result.returncode == 1, result.stdout[-2000:]
    broken = [row for row in result.stdout.splitlines() if row.endswith(" BROKEN")]
    assert broken and all(row.startswith(contract) for row in broken), result.stdout
