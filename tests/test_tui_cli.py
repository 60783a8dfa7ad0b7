"""The command line's way into the UI: bare `sshviz` and `sshviz demo` open it on a scenario."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sshviz.tui
from sshviz.cli import main
from sshviz.scenario import Scenario


@pytest.fixture
def opened(monkeypatch):
    calls = []
    monkeypatch.setattr(sshviz.tui, "run_app", lambda scenario=None, trace=None: calls.append(scenario) or 0)
    return calls


def test_bare_sshviz_opens_the_demo_on_the_default_scenario(opened):
    assert main([]) == 0
    assert opened == [None]  # the app starts the default scenario itself, after its first frame


def test_the_first_frame_needs_nothing_of_the_engine():
    # A process of its own: this one has imported the engine long ago.
    code = ("import sys; from sshviz.tui import make_app; app = make_app(); "
            "from sshviz.tui.screens.start import StartScreen; "
            "assert isinstance(app.get_default_screen(), StartScreen); "
            "print(sorted(m for m in sys.modules if m.startswith(('sshviz.events', 'sshviz.wire', "
            "'sshviz.trace', 'sshviz.tui.screens.main', 'cryptography'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_default_demo_starts_once_the_window_is_up():
    import asyncio

    from sshviz.tui import make_app
    from sshviz.tui.screens.main import MainScreen

    async def run():
        app = make_app()
        assert app.timeline is None  # the start screen comes first
        async with app.run_test(size=(140, 42)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, MainScreen)
            assert app.scenario == Scenario() and len(app.timeline) >= 1
            # The first run is no what-if: no note says what changed, and c has nothing to compare.
            assert not app._notifications and app.before is None
            await pilot.press("n", "n")
            assert app.timeline.current.name == "KEXINIT"

    asyncio.run(run())


def test_the_ui_opens_in_a_browser_with_no_terminal(monkeypatch, capsys):
    """Under `sshviz web` (textual-serve's web driver) standard input and output are pipes to
    the web server: the UI runs all the same."""
    from sshviz.tui import terminal_attached

    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    assert not terminal_attached()
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert terminal_attached()


def test_demo_takes_the_run_options(opened):
    assert main(["demo", "--cipher", "aes128-ctr", "--auth", "password", "--wrong-password-first",
                 "--seed", "9", "--command", "whoami", "--rekey"]) == 0
    (scenario,) = opened
    assert (scenario.cipher, scenario.auth, scenario.wrong_password_first, scenario.seed,
            scenario.command, scenario.rekey) == ("aes128-ctr", "password", True, 9, "whoami", True)


def test_demo_plays_sftp_commands(opened):
    assert main(["demo", "--sftp", "put hello.txt", "--sftp", "ls"]) == 0
    assert opened[0].sftp_actions == ["put hello.txt", "ls"]


def test_replay_opens_a_sample_trace(monkeypatch):
    traces = []
    monkeypatch.setattr(sshviz.tui, "run_app", lambda scenario=None, trace=None: traces.append(trace) or 0)
    assert main(["replay", "rekey"]) == 0
    (trace,) = traces
    assert trace.header.source == "in-process" and len(trace.events) > 20


def test_a_bad_option_is_one_line(opened, capsys):
    assert main(["demo", "--kex", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sshviz: error: ") and err.count("\n") == 1
    assert opened == []


def test_a_wrong_password_first_without_a_password_method_is_refused(opened, capsys):
    assert main(["demo", "--wrong-password-first"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs the password or keyboard-interactive auth method" in err
    assert opened == []


def test_demo_saves_the_session_it_showed_and_says_where(monkeypatch, tmp_path, capsys):
    from sshviz.trace.fileformat import load_trace
    from sshviz.tui.app import SshvizApp

    monkeypatch.setattr(SshvizApp, "run", lambda self: None)  # as if the user quit at once
    monkeypatch.setattr(sshviz.tui, "terminal_attached", lambda: True)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--seed", "4", "--trace", "demo.yaml"]) == 0
    assert f"saved the session to {tmp_path / 'demo.yaml'}" in capsys.readouterr().out
    saved = load_trace(tmp_path / "demo.yaml")
    assert saved.header.scenario["seed"] == 4
    assert saved.events[-1].name == "DISCONNECT"  # played to its end, not where the user stopped


def test_demo_attack_opens_the_ui_on_the_attack(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(sshviz.tui, "run_app", lambda scenario=None, trace=None, attack=None, on_exit=None:
                        calls.append((scenario, attack)) or 0)
    assert main(["demo", "--attack", "terrapin", "--strict-kex", "on", "--seed", "4"]) == 0
    assert calls == [(None, ("terrapin", {"strict_kex": "on"}, 4))]
    assert main(["demo", "--attack", "terrapin", "--auth", "password"]) == 2
    assert "--auth does not go with --attack" in capsys.readouterr().err


def test_demo_attack_really_opens(tmp_path):
    import asyncio

    from sshviz.tui import make_app

    async def run():
        app = make_app(attack=("mitm", {"known_host": "no"}, 1))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for _ in range(60):
                await pilot.press("n")
            await pilot.pause()
            assert app.attack_run.outcome.clean and app.attack_run.outcome.authenticated

    asyncio.run(run())


def test_without_a_terminal_the_ui_says_so_in_one_line_and_returns(capsys):
    """Under pytest standard output is not a terminal: no escape codes, no hang."""
    assert sshviz.tui.run_app(Scenario()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a terminal" in err and "sshviz run" in err

