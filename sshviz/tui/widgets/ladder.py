"""The ladder: the session as a sequence diagram, client on the left, server on the right, one
line per message; with an attacker on the wire, a third column between them says what it did
to each unit, and each side's sequence number of a packet stands at that side's end. Drawn with the Line API (only visible lines are rendered, each cached), so a
trace of 100,000 messages scrolls and jumps as fast as one of thirty."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip

from ..attacked import MADE_BY_ATTACKER, SequenceNumbers, mark
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
        "ladder--attack", "ladder--seq", "ladder--flight",
    }

    class Picked(Message):
        """The user clicked a message."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, **kwargs) -> None:
        super().__init__(cache_size=2000, **kwargs)
        self.timeline: Timeline | None = None
        self.numbers: SequenceNumbers | None = None  # set when an attacker is on the wire
        self._drawn = (0, 0, 0)  # (position, rows, digits) when last drawn

    def show(self, timeline: Timeline, attacked: bool = False) -> None:
        """Draw a new timeline (a new run or trace); ``attacked``: with the attacker's column."""
        self.timeline = timeline
        self.numbers = SequenceNumbers(timeline.events) if attacked else None
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
                 else "flight" if row.kind == "message" and timeline.flying(row.event, position)
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
        elif self.numbers is not None:
            text.append(self._attacked_line(row.event, width - 1, digits))
        else:
            text.append(self._message_line(row.event, width - 1, digits))
        if state == "flight":
            # Sent already, still on its way: drawn, and said, so nobody reads that the other
            # side's choice came first.
            text = self._flight_line(row.event, width, digits)
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

    def _flight_line(self, index: int, width: int, digits: int) -> Text:
        """A message sent before the current one arrived: ``3 │─ KEXINIT · in flight ┄┄┄▷│``."""
        style = self.get_component_rich_style
        event = self.timeline.events[index]
        phase_style = style(PHASE_CLASSES[self.timeline.phase_at(index)])
        inner = max(4, width - 1 - digits - 4)
        label = fit(f" {message_label(event)} · in flight ", inner - 3)
        fill = "┄" * max(0, inner - len(label) - 2)
        text = Text(no_wrap=True)
        text.append("▌", phase_style)
        text.append(f"{index:>{digits}} ", style("ladder--number"))
        text.append("│", style("ladder--lifeline"))
        flight = style("ladder--flight")
        if event.direction == "c2s":
            text.append("┄", flight)
            text.append(label, flight)
            text.append(fill + "▷", flight)
        else:
            text.append("◁" + fill, flight)
            text.append(label, flight)
            text.append("┄", flight)
        text.append("│", style("ladder--lifeline"))
        return text

    def _attacked_line(self, index: int, width: int, digits: int) -> Text:
        """Three lifelines: client, attacker, server. An arrow the attacker let pass crosses the
        middle one; one it touched is cut there, its action in the middle column: from the
        sender to the attacker (nothing when the attacker made the unit), then on to the
        receiver (nothing when dropped). Each side's sequence number of a packet stands at its
        end: ``  8 │ 3◀━━━━━━━━━━━━━━━┊ ✂ dropped ┊◀━ EXT_INFO ━━━━ 3│``."""
        style = self.get_component_rich_style
        event = self.timeline.events[index]
        encrypted = event.kind == "packet" and event.record.encrypted
        line_char = "┄" if event.kind == "raw" else "━" if encrypted else "─"
        arrow_style = style("ladder--encrypted" if encrypted else "ladder--clear")
        name_style = style("ladder--name")
        c2s = event.direction == "c2s"
        sent, received = self.numbers[index]
        client_seq, server_seq = (sent, received) if c2s else (received, sent)
        inner = max(MIDDLE + 8, width - digits - 4 - 2 * SEQ_WIDTH)  # between the number columns
        left = (inner - MIDDLE) // 2
        right = inner - MIDDLE - left
        text = Text(no_wrap=True)
        text.append(f"{index:>{digits}} ", style("ladder--number"))
        text.append("│", style("ladder--lifeline"))
        text.append(seq_text(client_seq, left=True), style("ladder--seq"))
        interception = event.interception
        name = message_label(event)
        if interception is None:
            # Passed untouched: one arrow over the attacker's lifeline.
            line = segment(inner, c2s, line_char, name + (" ✗ not delivered" if not event.delivered else ""),
                           arrow_style, name_style)
            middle = left + MIDDLE // 2
            if line.plain[middle] == line_char:  # the attacker's lifeline, where no name covers it
                line = line[:middle] + Text("┼" if line_char == "─" else "┿", arrow_style) + line[middle + 1:]
            text.append(line)
        else:
            sender_sent = interception.action not in MADE_BY_ATTACKER
            first, second = (left, right) if c2s else (right, left)
            # The sender's half carries the name; when the attacker made the unit, the other.
            to_attacker = segment(first, c2s, line_char, name, arrow_style, name_style) if sender_sent else None
            if event.delivered:
                onwards = segment(second, c2s, line_char, None if sender_sent else name, arrow_style, name_style)
            elif interception.action != "dropped":  # the receiver had already closed
                onwards = Text(fit(" ✗ not delivered", second).ljust(second), name_style)
            else:
                onwards = None
            before, after = (to_attacker, onwards) if c2s else (onwards, to_attacker)
            text.append(before if before is not None else " " * left)
            text.append(middle_mark(interception.action), style("ladder--attack"))
            text.append(after if after is not None else " " * right)
        text.append(seq_text(server_seq, left=False), style("ladder--seq"))
        text.append("│", style("ladder--lifeline"))
        return text

    # -- mouse -----------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        where = self.clicked(event, len(self.timeline.rows)) if self.timeline else None
        if where is not None:
            self.post_message(self.Picked(self.timeline.rows[where.y].event))


MIDDLE = 13  # the attacker's column: "┊⇄ reordered┊"
SEQ_WIDTH = 3  # a sequence number beside each side's lifeline


def middle_mark(action: str) -> str:
    return ("┊" + mark(action).center(MIDDLE - 2)[: MIDDLE - 2] + "┊")


def fit(label: str, room: int) -> str:
    """``label`` cut with an ellipsis to ``room`` characters."""
    return label if len(label) <= room else label[: max(0, room - 2)] + "… "


def segment(size: int, c2s: bool, line_char: str, name: str | None, arrow_style, name_style) -> Text:
    """An arrow ``size`` wide pointing the way the unit travels, ``name`` on it."""
    label = fit(f" {name} ", size - 3) if name else ""
    fill = line_char * max(0, size - len(label) - 2)
    text = Text(no_wrap=True)
    if c2s:
        text.append(line_char, arrow_style)
        text.append(label, name_style)
        text.append(fill + "▶", arrow_style)
    else:
        text.append("◀" + fill, arrow_style)
        text.append(label, name_style)
        text.append(line_char, arrow_style)
    return text


def seq_text(seq: int | None, left: bool) -> str:
    """A sequence number in its column beside a lifeline (blank where the side has none)."""
    shown = "" if seq is None else str(seq)[-SEQ_WIDTH:]
    if len(shown) < SEQ_WIDTH:
        shown = f"{shown:>{SEQ_WIDTH - 1}} " if left else f" {shown:<{SEQ_WIDTH - 1}}"
    return shown


def number_width(timeline: Timeline) -> int:
    """Digits of the largest message number, so the numbers line up."""
    return len(str(max(len(timeline.events) - 1, 0)))
