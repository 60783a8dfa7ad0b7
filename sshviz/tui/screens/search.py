"""Search: messages whose name (SFTP names too) or any field value contains the text."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ..bindings import DIALOG
from ..present import find_in, message_label, search_matcher
from ..timeline import Timeline

LIMIT = 500


class SearchScreen(ModalScreen[int | None]):
    BINDINGS = DIALOG
    last_query = ""  # kept between searches, like a find dialog

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline

    def compose(self) -> ComposeResult:
        with Vertical(id="search-body") as body:
            body.border_title = "search messages (enter searches, escape closes)"
            yield Input(SearchScreen.last_query, placeholder="a message name or a field value, e.g. KEXINIT, alice, aes",
                        id="search-input")
            yield Static(id="search-status")
            yield OptionList(id="search-results")

    def on_mount(self) -> None:
        if SearchScreen.last_query:
            self.run_search(SearchScreen.last_query)

    def on_input_submitted(self, message: Input.Submitted) -> None:
        SearchScreen.last_query = message.value
        self.run_search(message.value)
        self.query_one(OptionList).focus()

    def run_search(self, query: str) -> None:
        timeline = self.timeline
        found = list(timeline.search(search_matcher(query), LIMIT))
        results = self.query_one(OptionList)
        results.clear_options()
        results.add_options(
            Option(f"#{index:<5} {message_label(timeline.events[index]):<26} {find_in(timeline.events[index], query)}",
                   id=str(index))
            for index in found)
        if found:
            results.highlighted = 0
        more = " (the first ones)" if len(found) == LIMIT else ""
        self.query_one("#search-status", Static).update(
            f"{len(found)} message(s) match {query!r}{more}" if query.strip() else "")

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        self.dismiss(int(message.option.id))

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
