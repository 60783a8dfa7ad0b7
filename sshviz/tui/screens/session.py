"""A live connection on the main screen's panels: its messages arrive while it is shown. Following,
the newest is selected as it comes; paused, the selection stays where the teacher put it and
new messages line up below it. The main screen's keys work as on any trace; what has no meaning
for a real session (restart, what if, compare, the attack lab) is off."""

from __future__ import annotations

from .. import bindings
from .main import MainScreen

NOT_LIVE = frozenset({"restart", "what_if", "compare", "attack"})


class LiveSessionScreen(MainScreen, inherit_bindings=False):
    # Its own keys first after help, so a 120-column footer shows them; none of NOT_LIVE.
    BINDINGS = [bindings.MAIN[0], *bindings.LIVE_SESSION,
                *(b for b in bindings.MAIN[1:] if b.action not in NOT_LIVE)]

    def on_mount(self) -> None:
        super().on_mount()
        self._title()

    def reload(self) -> None:
        super().reload()
        self._title()

    def check_action(self, action: str, parameters) -> bool | None:
        if action in NOT_LIVE:
            return False
        if action == "back":
            return not self.app.single
        return super().check_action(action, parameters)

    def arrived(self, count: int) -> None:
        """The app took in ``count`` new messages (or the connection's state changed)."""
        self.sync()
        self._title()

    def _title(self) -> None:
        """Following or paused over the ladder; the connection and its state in the header."""
        app = self.app
        connection = app.shown
        if connection is None:
            title, header = "waiting for the connection…", app.sub_title
        else:
            newer = len(self.timeline) - 1 - self.timeline.position
            title = ("following (f pauses)" if app.following else
                     f"paused: {newer} newer (f)" if newer else "paused (f follows)")
            header = f"#{connection.number} {connection.peer}" + (
                f" · {connection.user_text()}" if connection.user else "") + f" · {connection.state_text()}"
        pane = self.query_one("#ladder-pane")
        if pane.border_title != title:
            pane.border_title = title
        if app.sub_title != header:
            app.sub_title = header

    # -- actions ---------------------------------------------------------------------------------

    def _moved(self) -> None:
        """The teacher moved the selection: following stops unless it is on the newest."""
        timeline = self.timeline
        self.app.following = bool(timeline.events) and timeline.position == len(timeline) - 1 and self.app.following
        self._title()

    def action_step(self, delta: int) -> None:
        timeline = self.timeline
        if not timeline.step(delta):
            timeline.go(0 if delta < 0 else max(0, len(timeline) - 1))
            if delta > 0:
                self.notify("the session has ended" if timeline.complete else "no newer message yet", timeout=2)
        if delta < 0:
            self.app.following = False
        self.sync()
        self._moved()

    def on_ladder_picked(self, message) -> None:
        super().on_ladder_picked(message)
        self.app.following = False
        self._title()

    def action_previous_phase(self) -> None:
        super().action_previous_phase()
        self.app.following = False
        self._title()

    def action_search(self) -> None:
        self.app.following = False
        super().action_search()
        self._title()

    def action_run_to_end(self) -> None:
        self.action_follow(True)

    def action_follow(self, on: bool | None = None) -> None:
        app = self.app
        app.following = not app.following if on is None else on
        if app.following and self.timeline.events:
            self.timeline.go(len(self.timeline) - 1)
            self.sync()
        self._title()

    def action_save(self) -> None:
        if self.app.shown is not None:
            self.app.save(self.app.shown)

    def action_back(self) -> None:
        if not self.app.single:
            self.app.shown = None
            self.app.sub_title = self.app.listening
            self.app.pop_screen()

    def action_help(self) -> None:
        from .help import LIVE_INTRODUCTION, HelpScreen

        self.app.push_screen(HelpScreen(LIVE_INTRODUCTION, bindings.LIVE_HELP_SECTIONS))
