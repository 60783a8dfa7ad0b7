"""The Textual UI. The only package that imports Textual; it reads trace events only.

``run_app`` opens it on an in-process scenario (run live, message by message as the user
steps), on an attack of the attack lab (run live the same way, the attacker between the two
sides), or on a prebuilt Trace (a saved file or an imported capture)."""

from __future__ import annotations

import gc
import os
import sys


def make_app(scenario=None, trace=None, attack=None, lesson=None):
    """The app, its timeline built, ready to run. ``attack`` is an attack's name, or
    (name, settings, seed) with settings a dict of strings (``{"strict_kex": "off"}``), or an
    AttackChoice; ValueError for an unknown attack or setting. ``lesson``: a LessonSession
    (sshviz.lessons.session), shown beside its run."""
    from .app import SshvizApp

    app = SshvizApp(scenario=scenario, trace=trace, attack=attack, lesson=lesson)
    # The trace (up to 100,000s of events) lives as long as the app: keep the garbage
    # collector from walking it again and again while the user steps.
    gc.freeze()
    return app


def run_app(scenario=None, trace=None, on_exit=None, attack=None, lesson=None) -> int:
    """Open the UI on ``scenario`` (default: the default Scenario), on ``attack`` (see
    make_app: ``run_app(attack=("terrapin", {"strict_kex": "off"}, 1))``) or on ``trace``;
    returns an exit status. ``on_exit`` gets the session shown last (played to its end) once
    the UI has closed: ``demo --trace`` saves it. Without a terminal on standard input and
    output, one line says so and the status is 2: the UI would only write escape codes."""
    if not terminal_attached():
        print("sshviz: the UI needs a terminal, and standard "
              f"{'output' if not sys.stdout.isatty() else 'input'} is not one; "
              "`sshviz run` prints the session as text", file=sys.stderr)
        return 2
    app = make_app(scenario, trace, attack, lesson)
    app.run()
    if on_exit is not None:
        app.timeline.produce_all()
        on_exit(app.timeline.trace)
    return app.return_code or 0


def run_live(connections, run, single: bool = False, title: str = "", in_thread: bool = False) -> int:
    """Open the UI on live connections (a presentation.live.LiveConnections) and run
    ``run(app)``, the server or the client, in its loop (``in_thread``: a thread and loop of
    its own) until the UI is closed; what stopped ``run`` is raised once the UI has closed (the
    caller says it in one line)."""
    from .live import LiveApp

    app = LiveApp(connections, run, single=single, title=title, in_thread=in_thread)
    app.run()
    if app.error is not None:
        raise app.error
    return app.return_code or 0


def terminal_attached() -> bool:
    """A terminal on standard input and output, or a browser: under ``sshviz web`` (textual-serve)
    the two are pipes to the web server, which draws the screen in the page."""
    if served_to_browser():
        return True
    try:
        return sys.stdout.isatty() and sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def served_to_browser() -> bool:
    """Running under textual-serve, which starts the app with Textual's web driver."""
    return os.environ.get("TEXTUAL_DRIVER", "").endswith(":WebDriver")


__all__ = ["make_app", "run_app", "run_live", "terminal_attached"]
