"""The Textual UI. The only package that imports Textual; it reads trace events only.

``run_app`` opens it on an in-process scenario (run live, message by message as the user
steps) or on a prebuilt Trace (a saved file or an imported capture)."""

from __future__ import annotations


def run_app(scenario=None, trace=None) -> int:
    """Open the UI on ``scenario`` (default: the default Scenario) or on ``trace``; returns an
    exit status."""
    from .app import SshvizApp

    app = SshvizApp(scenario=scenario, trace=trace)
    app.run()
    return app.return_code or 0


__all__ = ["run_app"]
