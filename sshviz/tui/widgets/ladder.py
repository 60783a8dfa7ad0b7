"""The ladder: the session as a sequence diagram, client on the left, server on the right, one
line per message. Drawn with the Line API (only visible lines are rendered, each cached), so a
trace of 100,000 messages scrolls and jumps as fast as one of thirty."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip

from ..bindings import LADDER
from ..present import message_label
from ..timeline import PHASES, Row, Timeline
from .lines import LineView

PHASE_CLASSES = {phase: f"ladder--{phase}" for phase in PHASES}


class Ladder(LineView, can_focus=True):
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
        super().__init__(cache_size=2000, **kwargs)
        self.timeline: Timeline | None = None
        self._drawn = (0, 0, 0)  # (position, rows, digits) when last drawn

    def show(self, timeline: Timeline) -> None:
        """Draw a new timeline (a new run or trace)."""
        self.timeline = timeline
        self.lines_cache.clear()
        self._drawn = (0, 0, 0)
        self.update()
        self.refresh()

    def update(self) -> None:
        """The timeline grew or moved: resize, keep the current message in view, and redraw
        only the lines that changed (a step changes two or three, unless the view scrolls)."""
        timeline = self.timeline
        if timeline is None or not timeline.events:
            return
        position, rows, digits = timeline.position, len(timeline.rows), number_width(timeline)
        old_position, old_rows, old_digits = self._drawn
        self._drawn = (position, rows, digits)
        self.set_virtual_size(Size(1, rows))
        top = round(self.scroll_y)
        self.scroll_to_row(timeline.row_of_event[position])
        if round(self.scroll_y) != top or digits != old_digits:
            self.refresh()  # scrolled, or the numbers widened: every line is new
            return
        # Lines from the old current message to the new one change state (current, past,
        # future), and so do new lines at the end.
        first = timeline.row_of_event[min(position, old_position)] if old_position < len(timeline) else 0
        last = timeline.row_of_event[max(position, old_position)] if old_position < len(timeline) else rows
        self._refresh_rows(first, last + 2)
        if rows > old_rows:
            self._refresh_rows(old_rows, rows)

    def _refresh_rows(self, start: int, end: int) -> None:
        top = round(self.scroll_y)
        self.refresh(Region(0, start - top, self.size.width, end - start))

    def scroll_to_row(self, row: int) -> None:
        """Keep ``row`` on screen, with its phase heading when there is room, without animation."""
        height = self.scrollable_content_region.height or self.size.height
        top = round(self.scroll_y)
        if height <= 0:
            return
        if row < top + 1 or row >= top + height - 1:
            self.scroll_to(y=max(0, row - height // 3), animate=False, immediate=True)

    # -- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        timeline = self.timeline
        row_index = round(self.scroll_y) + y
        if timeline is None or row_index >= len(timeline.rows):
            return self.blank()
        row = timeline.rows[row_index]
        position = timeline.position
        state = ("current" if row.kind == "message" and row.event == position
                 else "future" if row.event > position else "past")
        digits = number_width(timeline)
        return self.cached((row_index, width, state, digits),
                           lambda: self._render_row(row, width, state, digits))

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
        text.truncate(width, overflow="ellipsis")  # a long marker says it was cut
        if state == "future":
            text.stylize(style("ladder--future"))
        elif state == "current":
            text.stylize(style("ladder--current"))
        return self.text_strip(text, width)

    def _message_line(self, index: int, width: int, digits: int) -> Text:
        """``  7 │━ NAME ━━━━━━━━━━━━━▶│`` for client to server, mirrored for server to client;
        a heavy line for encrypted packets, a thin one for cleartext, a dotted one for bytes
        nobody decoded (whether they were encrypted is not known)."""
        style = self.get_component_rich_style
        event = self.timeline.events[index]
        encrypted = event.kind == "packet" and event.record.encrypted
        line_char = "┄" if event.kind == "raw" else "━" if encrypted else "─"
        arrow_style = style("ladder--encrypted" if encrypted else "ladder--clear")
        name = message_label(event)
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
        where = self.clicked(event, len(self.timeline.rows)) if self.timeline else None
        if where is not None:
            self.post_message(self.Picked(self.timeline.rows[where.y].event))


def number_width(timeline: Timeline) -> int:
    """Digits of the largest message number, so the numbers line up."""
    return len(str(max(len(timeline.events) - 1, 0)))
