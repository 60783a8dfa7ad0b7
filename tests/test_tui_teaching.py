"""The UI as a classroom uses it (issue 11): the keyboard in dialogs, the annotated byte view,
a 120x40 terminal, light theme and presentation layout, screenshots, what changed after a
rerun, the palette's jumps. Driven by Pilot."""

from __future__ import annotations

import asyncio
import functools
import inspect

from sshviz.scenario import Scenario
from sshviz.tui.app import SshvizApp
from sshviz.tui.screens.main import MainScreen

SIZE = (120, 40)


async def test_what_if_dialog_works_from_the_keyboard():
    """The first option has the focus; down moves to the next option, right changes a choice,
    enter runs."""
    from textual.widgets import Select

    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "attack"
        seen = []
        while app.focused.id != "opt-cipher":
            seen.append(app.focused.id)
            assert len(seen) < 40, seen
            await pilot.press("down")
        before = app.focused.value
        await pilot.press("right")
        after = app.focused.value
        assert isinstance(app.focused, Select) and after != before
        await pilot.press("up", "down")
        assert app.focused.id == "opt-cipher"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.scenario.cipher == after


async def test_what_if_runs_an_attack_with_a_number_setting():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#attack").value = "tamper"
        await pilot.pause()
        app.screen.query_one("#atk-tamper-byte").value = "9"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert app.attack.name == "tamper" and app.attack.values["byte"] == "9"




async def test_ctrl_s_works_in_a_dialog_and_says_where_it_saved(tmp_path, monkeypatch):
    monkeypatch.setenv("SSHVIZ_SCREENSHOTS", str(tmp_path))
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "s")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert type(app.screen).__name__ == "WhatIfScreen"  # the dialog stays open
        (saved,) = tmp_path.iterdir()
        assert saved.name == "sshviz-0002-KEXINIT-whatif.svg"
        (notice,) = app._notifications
        assert str(saved) in notice.message and saved.is_absolute()


async def test_screenshots_keep_the_spaces_between_names_and_types(tmp_path):
    """SVG renderers drop a text's leading spaces unless told to keep them: "msg_number" and
    " byte" are two texts, and without xml:space they read "msg_numberbyte"."""
    import re

    app = SshvizApp(Scenario())
    app.screenshot_dir = str(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "ctrl+s")
        await pilot.pause()
        svg = next(tmp_path.iterdir()).read_text()
        assert re.match(r'<svg xml:space="preserve" ', svg)
        texts = re.findall(r">([^<]*)</text>", svg)
        assert "msg_number" in texts and any(t.startswith("&#160;byte") for t in texts)

def _sync(test):
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return run


for _name, _test in list(globals().items()):
    if _name.startswith("test_") and inspect.iscoroutinefunction(_test):
        globals()[_name] = _sync(_test)
