"""The Textual UI. The only package that imports Textual; it reads trace events only.

``run_app`` opens it on an in-process scenario (run live, message by message as the user
steps) or on a prebuilt Trace (a saved file or an imported capture)."""

from __future__ import annotations

import gc


def make_app(scenario=None, trace=None):
    """The app, its timeline built, ready to run."""
    from .app import SshvizApp

    app = SshvizApp(scenario=scenario, trace=trace)
    # The trace (up to 100,000s of events) lives as long as the app: keep the garbage
    # collector from walking it again and again while the user steps.
    gc.freeze()
    return app


def run_app(scenario=None, trace=None, on_exit=None) -> int:
    """Open the UI on ``scenario`` (default: the default Scenario) or on ``trace``; returns an
    exit status. ``on_exit`` gets the session shown last (played to its end) once the UI has
    closed: ``demo --trace`` saves it."""
    app = make_app(scenario, trace)
    app.run()
    if on_exit is not None:
        app.timeline.produce_all()
        on_exit(app.timeline.trace)
    return app.return_code or 0


__all__ = ["make_app", "run_app"]
