"""The ladder: the session as a sequence diagram, client on the left, server on the right, one
line per message. Drawn with the Line API (only visible lines are rendered, each cached), so a
trace of 100,000 messages scrolls and jumps as fast as one of thirty."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..bindings import LADDER
from ..timeline import Row, Timeline, sftp_messages
from .lines import line_strip

PHASE_CLASSES = {phase: f"ladder--{phase}" for phase in ("version", "kex", "auth", "connection", "sftp")}


class Ladder(ScrollView, can_focus=True):
    """Reads a Timeline; the screen moves the timeline and calls ``update()``."""

    BINDINGS = LADDER
    COMPONENT_CLASSES = {
        *PHASE_CLASSES.values(),
        "ladder--number", "ladder--clear", "ladder--encrypted", "ladder--name",
        "ladder--current", "ladder--future", "ladder--marker", "ladder--lifeline",
    }

    class Picked(Message):
        """The user clicked a message."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.timeline: Timeline | None = None
        self._cache: LRUCache[tuple, Strip] = LRUCache(maxsize=2000)

    def show(self, timeline: Timeline) -> None:
        """Draw a new timeline (a new run or trace)."""
        self.timeline = timeline
        self._cache.clear()
        self.update()

    def update(self) -> None:
        """The timeline grew or moved: resize, keep the current message in view, redraw."""
        timeline = self.timeline
        if timeline is None:
            return
        self.virtual_size = Size(1, len(timeline.rows))
        if timeline.events:
            self.scroll_to_row(timeline.row_of_event[timeline.position])
        self.refresh()

    def scroll_to_row(self, row: int) -> None:
        """Keep ``row`` on screen, with its phase heading when there is room, without animation."""
        height = self.scrollable_content_region.height or self.size.height
        top = round(self.scroll_y)
        if height <= 0:
            return
        if row < top + 1 or row >= top + height - 1:
            self.scroll_to(y=max(0, row - height // 3), animate=False, immediate=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()  # the theme changed: every cached line has old colours

    # -- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        timeline = self.timeline
        row_index = round(self.scroll_y) + y
        if timeline is None or row_index >= len(timeline.rows):
            return Strip.blank(width, self.rich_style)
        row = timeline.rows[row_index]
        position = timeline.position
        state = ("current" if row.kind == "message" and row.event == position
                 else "future" if row.event > position else "past")
        digits = len(str(max(len(timeline.events) - 1, 0)))
        key = (row_index, width, state, digits)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(row, width, state, digits)
            self._cache[key] = strip
        return strip

    def _render_row(self, row: Row, width: int, state: str, digits: int) -> Strip:
        style = self.get_component_rich_style
        phase_style = style(PHASE_CLASSES[row.phase])
        text = Text(no_wrap=True, overflow="crop")
        text.append("▌", phase_style)
        if row.kind == "phase":
            label = f" {row.text} "
            text.append("━━" + label, phase_style + Style(bold=True))
            text.append("━" * max(0, width - len(label) - 3), phase_style)
        elif row.kind == "marker":
            pad = " " * (digits + 2)
            text.append(pad + "┊" + f"  ▼ {row.text}", style("ladder--marker"))
        else:
            text.append(self._message_line(row.event, width - 1, digits))
        if state == "future":
            text.stylize(style("ladder--future"))
        elif state == "current":
            text.stylize(style("ladder--current"))
        return line_strip(text, self, width)

    def _message_line(self, index: int, width: int, digits: int) -> Text:
        """``  7 │━ NAME ━━━━━━━━━━━━━▶│`` for client to server, mirrored for server to client;
        a heavy line for encrypted packets, a thin one for cleartext."""
        style = self.get_component_rich_style
        event = self.timeline.events[index]
        encrypted = event.kind == "packet" and event.record.encrypted
        line_char = "━" if encrypted else "─"
        arrow_style = style("ladder--encrypted" if encrypted else "ladder--clear")
        name = event.name
        carried = sftp_messages(event)
        if carried:
            name += " · " + ", ".join(m.message.spec.rfc_name.removeprefix("SSH_") for m in carried)
        if not event.delivered:
            name += " ✗ not delivered"
        inner = max(4, width - digits - 4)  # room between the two lifelines
        label = f" {name} "
        if len(label) > inner - 3:
            label = label[: max(0, inner - 4)] + "… "
        fill = line_char * max(0, inner - len(label) - 2)
        text = Text(no_wrap=True)
        text.append(f"{index:>{digits}} ", style("ladder--number"))
        text.append("│", style("ladder--lifeline"))
        if event.direction == "c2s":
            text.append(line_char, arrow_style)
            text.append(label, style("ladder--name"))
            text.append(fill + "▶", arrow_style)
        else:
            text.append("◀" + fill, arrow_style)
            text.append(label, style("ladder--name"))
            text.append(line_char, arrow_style)
        text.append("│", style("ladder--lifeline"))
        return text

    # -- mouse -----------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or self.timeline is None:
            return
        row_index = round(self.scroll_y) + offset.y
        if row_index < len(self.timeline.rows):
            self.post_message(self.Picked(self.timeline.rows[row_index].event))
