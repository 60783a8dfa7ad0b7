"""A learner going through a lesson in the terminal UI, driven by Pilot: the views follow the
steps, a wrong and a right answer, a hint, the answer after two tries, a compute step, an
experiment, progress saved and restored after a restart; the `lesson` command's one-line
errors; and snapshots of the lesson screen at 120x40 and 200x50."""

from __future__ import annotations

import pytest
from textual.widgets import Input, OptionList

from sshviz.cli import main
from sshviz.lessons import ProgressStore, find_lesson
from sshviz.lessons.session import LessonSession
from sshviz.tui.app import SshvizApp
from sshviz.tui.widgets.fields import FieldsTree
from sshviz.tui.widgets.lessonpanel import LessonPanel

SIZE = (120, 40)
WIDE = (200, 50)
FIRST = "ssh-at-a-glance"


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


def lesson_app(name: str = FIRST) -> SshvizApp:
    return SshvizApp(lesson=LessonSession(find_lesson(name), ProgressStore()))


def feedback(app) -> str:
    return app.screen.query_one(LessonPanel).feedback_text.plain


def head(app) -> str:
    return app.screen.query_one(LessonPanel).head_text.plain


async def test_the_views_follow_the_steps():
    app = lesson_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert head(app).startswith("step 1 of 9 · read")
        assert app.timeline.current.name == "VERSION" and app.timeline.current.direction == "c2s"
        assert app.screen.query_one(FieldsTree).cursor_item.field.name == "identification"
        await pilot.press("N")
        assert head(app).startswith("step 2 of 9 · read")
        assert (app.timeline.current.name, app.timeline.current.direction) == ("KEXINIT", "c2s")
        await pilot.press("N", "N")  # to the compute step: its field is lit up
        assert head(app).startswith("step 4 of 9 · work it out")
        assert app.timeline.position == 13
        assert app.screen.query_one(FieldsTree).cursor_item.field.name == "msg_number"
        await pilot.press("P")
        assert head(app).startswith("step 3 of 9 · question")


async def test_a_wrong_answer_a_hint_then_the_right_answer():
    app = lesson_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("N", "N", "h")
        assert "hint: Look at the first part of the message's name" in feedback(app)
        await pilot.press("i", "down", "down", "enter")  # "connection"
        await pilot.pause()
        assert feedback(app).startswith("✗ connection: No: channels can only be opened")
        assert "✓ done" not in head(app)
        await pilot.press("up", "enter")  # "user authentication"
        await pilot.pause()
        assert feedback(app).startswith("✓ user authentication: Yes. USERAUTH_REQUEST")
        assert "✓ done" in head(app)
        assert ProgressStore().answers(FIRST, "3") == ["connection", "user authentication"]


async def test_a_compute_step_shows_the_answer_after_two_wrong_tries():
    app = lesson_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("N", "N", "N", "i")
        assert isinstance(app.focused, Input)
        await pilot.press(*"49", "enter")
        await pilot.pause()
        assert feedback(app) == "✗ 49: Not that: look again at the bytes."
        app.screen.query_one("#lesson-input", Input).value = ""
        await pilot.press(*"0x33", "enter")
        await pilot.pause()
        assert feedback(app).splitlines() == ["✗ 0x33: Not that: look again at the bytes.", "The answer is 50."]
        app.screen.query_one("#lesson-input", Input).value = ""
        await pilot.press(*"0x32", "enter")  # 50 in hex is accepted too
        await pilot.pause()
        assert feedback(app).splitlines()[0] == "✓ 0x32: Right."
        await pilot.press("escape")
        assert not isinstance(app.focused, Input)


async def test_an_experiment_reruns_the_session_and_checks_the_observation():
    app = lesson_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        lesson_trace = app.trace
        await pilot.press(*["N"] * 6)
        assert head(app).startswith("step 7 of 9 · experiment")
        await pilot.press("x")
        await pilot.pause()
        assert feedback(app).startswith("✓ It happened: the negotiated cipher_c2s is aes256-ctr")
        assert app.trace is not lesson_trace and app.before is lesson_trace
        assert app.trace.header.algorithms["cipher_c2s"] == "aes256-ctr"
        assert "✓ done" in head(app)
        await pilot.press("N", "N")  # the next step with a message goes back to the lesson's run
        assert app.trace is lesson_trace and app.timeline.current.name == "DISCONNECT"


async def test_progress_is_saved_as_the_learner_goes_and_restored_after_a_restart():
    app = lesson_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("N", "N", "i", "down", "enter", "N")
    assert ProgressStore().done(FIRST) == {"1", "2", "3"}
    again = lesson_app()
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert head(again).startswith("step 4 of 9 · work it out")
        assert "3/9 steps done" in head(again)
        assert again.timeline.position == 13
        await pilot.press("P")
        assert "✓ done" in head(again)
        await pilot.press("R")  # reset: back to the start, progress forgotten
        assert head(again).startswith("step 1 of 9") and "0/9 steps done" in head(again)
    assert ProgressStore().done(FIRST) == set()


async def test_a_corrupt_progress_file_is_a_warning_in_the_ui(data_home):
    path = data_home / "sshviz" / "progress.json"
    path.parent.mkdir(parents=True)
    path.write_text("{broken")
    app = lesson_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert head(app).startswith("step 1 of 9")
        assert any("was unreadable" in str(n.message) for n in app._notifications)


async def test_the_choices_are_the_questions_answers():
    app = lesson_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        choices = app.screen.query_one("#lesson-choices", OptionList)
        assert not choices.display
        await pilot.press("N", "N")
        assert choices.display and [str(choices.get_option_at_index(i).prompt)
                                    for i in range(choices.option_count)] == [
            "transport", "user authentication", "connection"]


# -- the command line ---------------------------------------------------------------------------

def test_a_broken_lesson_file_is_one_line_from_the_cli(tmp_path, capsys):
    bad = tmp_path / "07-bad.yaml"
    bad.write_text("name: bad\ntitle: Bad\nlevel: beginner\nminutes: 2\nrun: {sample: failed-login}\n"
                   "steps:\n  - kind: quiz\n    text: hm\n")
    assert main(["lesson", str(bad)]) == 2
    assert capsys.readouterr().err == (f"sshviz: error: {bad}:7: step 1: unknown step kind 'quiz' "
                                       "(kinds: read, question, compute, experiment)\n")


def test_an_unknown_lesson_is_one_line_from_the_cli(capsys):
    assert main(["lesson", "no-such-lesson"]) == 2
    assert capsys.readouterr().err == ("sshviz: error: no-such-lesson: no lesson of that name (sshviz "
                                       "lessons lists them, with their numbers)\n")
    assert main(["lesson", "kexnit"]) == 2
    assert capsys.readouterr().err == ("sshviz: error: kexnit: no lesson of that name: did you mean kexinit? "
                                       "(sshviz lessons lists them, with their numbers)\n")


def test_a_corrupt_progress_file_is_one_line_from_the_cli(data_home, capsys):
    path = data_home / "sshviz" / "progress.json"
    path.parent.mkdir(parents=True)
    path.write_text("\x00\x01 not json")
    main(["lesson", "1"])  # no terminal here: the UI does not start, the warning comes first
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"sshviz: warning: progress file {path} was unreadable (")
    assert "set aside as" in warnings[0] and not path.exists()


# -- snapshots ----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [SIZE, WIDE], ids=["120x40", "200x50"])
def test_lesson_screen_a_question_answered_wrongly(snap_compare, size):
    assert snap_compare(lesson_app(), press=["N", "N", "i", "down", "down", "enter", "h"], terminal_size=size)


@pytest.mark.parametrize("size", [SIZE, WIDE], ids=["120x40", "200x50"])
def test_lesson_screen_a_compute_step_with_its_field_lit_up(snap_compare, size):
    assert snap_compare(lesson_app("identification-and-packets"), press=["N", "N", "N"], terminal_size=size)
