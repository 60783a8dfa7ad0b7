"""The command palette's jumps to messages: "go to #N" (or just the number), and every message
of the session by its name, SFTP packets inside CHANNEL_DATA included."""

from __future__ import annotations

import re

from textual.command import Hit, Hits, Provider

from .present import message_label

SHOWN = 40  # at most this many messages offered for one query
GO_TO = re.compile(r"^\s*(?:go\s*to\s*)?#?\s*(\d+)\s*$", re.IGNORECASE)


class MessageCommands(Provider):
    """Reads the app's timeline; a jump goes through the main screen, like a click on the ladder."""

    def _go(self, index: int) -> None:
        app = self.app
        if app.timeline.go(index):
            app.main.sync()

    async def search(self, query: str) -> Hits:
        timeline = self.app.timeline
        number = GO_TO.match(query)
        if number is not None:
            index = int(number.group(1))
            if timeline.ensure(index):
                yield Hit(1.0, f"Go to #{index} {message_label(timeline.events[index])}",
                          lambda: self._go(index), help="jump to this message")
            else:
                yield Hit(0.5, f"Go to #{index}: the session has {len(timeline)} messages", lambda: None)
            return
        words = query.lower().split()
        if not words:
            return
        matcher = self.matcher(query)
        found = 0
        for event in timeline.events:
            label = f"#{event.index} {message_label(event)}"
            lowered = label.lower()
            if all(word in lowered for word in words):
                yield Hit(max(matcher.match(label), 0.1) * 0.9, matcher.highlight(f"Go to {label}"),
                          lambda index=event.index: self._go(index), help="jump to this message")
                found += 1
                if found >= SHOWN:
                    return
