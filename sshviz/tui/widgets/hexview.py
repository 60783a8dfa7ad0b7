"""The hex view: a message's bytes, each part of the packet in its own colour (packet_length,
padding_length, payload, padding, MAC; or clear, encrypted and MAC on the wire), the selected
field's bytes highlighted. Annotated (b), every field the tree shows has a colour of its own
and a legend names them, the Illustrated TLS way. A Line API widget, since a packet can hold
256 KiB."""

from __future__ import annotations

import textwrap

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from ...presentation.annotate import narrowest_owners
from ..present import FieldItem, HexSection
from .lines import LineView

# The parts HexSection marks (see present.hex_sections), with their names in the legend.
PART_NAMES = {"length": "packet_length", "padlen": "padding_length", "payload": "payload",
              "padding": "padding", "mac": "MAC", "clear": "in clear", "encrypted": "encrypted",
              "other": "lines before the version", "version": "identification line",
              "raw": "not decoded", "original": "as sent, before the attacker"}
OFFSET_WIDTH = 6  # "0000  "
# The annotated view's colours, as backgrounds under dark text: light enough to read on a
# projector, distinct from their neighbours, the same on a dark or a light theme.
FIELD_COLOURS = ("#9ecbff", "#ffd166", "#b8e986", "#ffab91", "#d7b9ff", "#7fe3d8", "#ffb3c7",
                 "#e6d98c", "#a8c5ff", "#c5e1a5")
FIELD_TEXT = "#101010"


def bytes_per_line(width: int) -> int:
    """32 bytes a line when they fit (offset, hex, a gap, text), else 16, else 8: a wide panel
    is filled, not left half empty."""
    for count in (32, 16):
        if width >= OFFSET_WIDTH + count * 3 + 2 + count:
            return count
    return 8


class HexView(LineView, can_focus=True):
    COMPONENT_CLASSES = {*(f"hex--{part}" for part in PART_NAMES), "hex--highlight", "hex--offset", "hex--title"}

    class ByteClicked(Message):
        """The user clicked a byte: its section and its offset in the section's data."""

        def __init__(self, section: HexSection, offset: int) -> None:
            super().__init__()
            self.section = section
            self.offset = offset

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sections: list[HexSection] = []
        self.highlight: list[tuple[int, int]] = []  # (start, end) per section, (0, 0) for none
        # (section, first byte), or (section, -1 - n) for line n of the section's title
        self._lines: list[tuple[int, int]] = []
        self._titles: list[list[str]] = []  # each section's title, wrapped to the view's width
        self._styles: dict[str, Style] = {}
        self._per_line = 16
        # The annotated view: every field in a colour of its own, a legend under each title.
        self.annotated = False
        self.fields: list[FieldItem] = []  # the fields the tree shows, outermost first
        self._owners: list[list[int]] = []  # per section, per byte: its label's index, or -1
        self._labels: list[list[str]] = []  # per section: the labels, in the order of their bytes
        self._legends: list[list[list[tuple[str, int]]]] = []  # per section: legend lines

    def show(self, sections: list[HexSection], item: FieldItem | None,
             fields: list[FieldItem] | None = None) -> None:
        """Show ``sections``, ``item``'s bytes highlighted; ``fields`` (the tree's rows) turns
        the annotated view on, None off."""
        self.sections = sections
        self.annotated = fields is not None
        self.fields = fields or []
        self.highlight = []
        self._annotate()
        self._layout()
        self.mark(item)
        self.refresh()

    def annotate(self, on: bool | None = None, fields: list[FieldItem] | None = None) -> None:
        """Turn the annotated view on or off (None: keep it), with ``fields`` the tree's rows
        now shown (a field opened in the tree gets its parts coloured here)."""
        if on is not None:
            self.annotated = on
        if fields is not None:
            self.fields = fields
        self._annotate()
        self._layout()
        self.refresh()

    def _annotate(self) -> None:
        """Which field each byte belongs to: the narrowest of the tree's shown rows that holds
        it, or the packet's part (packet_length, padding, MAC) where no field does."""
        self._owners, self._labels = [], []
        if not self.annotated:
            return
        for section in self.sections:
            spans = [(start, end, PART_NAMES[name]) for start, end, name in section.parts
                     if name not in ("payload", "version")]
            for item in self.fields:
                if item.space in section.spaces and item.field.name != "packet":
                    start, end = highlight_in(section, item)
                    if end > start:
                        spans.append((start, end, item.title or item.field.name))
            labels = [label for _, _, label in spans]
            owner = narrowest_owners(len(section.data), [(start, end) for start, end, _ in spans])
            # Number the labels in the order their bytes come, so neighbours differ in colour.
            order: dict[int, int] = {}
            for value in owner:
                if value >= 0 and value not in order:
                    order[value] = len(order)
            self._labels.append([labels[old] for old in order])
            self._owners.append([order.get(value, -1) for value in owner])

    def _legend_lines(self, index: int, width: int) -> list[list[tuple[str, int]]]:
        """The section's labels, each ``■ name`` in its colour, wrapped to ``width``."""
        lines: list[list[tuple[str, int]]] = [[]]
        used = 0
        for number, label in enumerate(self._labels[index]):
            cell = f" {label} "
            if used and used + len(cell) + 1 > width:
                lines.append([])
                used = 0
            lines[-1].append((cell, number))
            used += len(cell) + 1
        return lines if lines[0] else []

    def mark(self, item: FieldItem | None) -> None:
        """Highlight ``item``'s bytes wherever its coordinate space appears, and scroll to them."""
        highlight = [highlight_in(section, item) for section in self.sections]
        if highlight == self.highlight:
            return
        self.highlight = highlight
        self.lines_cache.clear()
        first = next(((i, start) for i, (start, end) in enumerate(self.highlight) if end > start), None)
        if first is not None:
            line = self._line_of(*first)
            height = self.scrollable_content_region.height
            top = round(self.scroll_y)
            if height and not top <= line < top + height:
                self.scroll_to(y=max(0, line - 1), animate=False, immediate=True)
        self.refresh()

    def _layout(self) -> None:
        width = self.scrollable_content_region.width or 80
        self._per_line = bytes_per_line(width)
        # Titles say what the bytes are (encrypted with what, what is in clear): wrapped, not cut.
        self._titles = [textwrap.wrap(f"{section.title} · {len(section.data)} bytes", max(20, width),
                                      break_long_words=False, break_on_hyphens=False)
                        for section in self.sections]
        self._legends = [self._legend_lines(index, width) for index in range(len(self._labels))]
        lines: list[tuple[int, int]] = []
        for index, section in enumerate(self.sections):
            lines += [(index, -1 - n) for n in range(len(self._titles[index]))]
            if index < len(self._legends):
                lines += [(index, LEGEND - n) for n in range(len(self._legends[index]))]
            lines += [(index, start) for start in range(0, len(section.data), self._per_line)]
        self._lines = lines
        self.lines_cache.clear()
        self.set_virtual_size(Size(max(width, OFFSET_WIDTH + self._per_line * 4 + 2), len(lines)))

    def _line_of(self, section: int, offset: int) -> int:
        return self._lines.index((section, offset - offset % self._per_line))

    def on_resize(self) -> None:
        self._layout()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        if index >= len(self._lines):
            return self.blank()
        return self.visible(self.cached(index, lambda: self._render(index)))

    def _render(self, index: int) -> Strip:
        section, start = self._lines[index]
        if start <= LEGEND:
            segments = []
            for cell, number in self._legends[section][LEGEND - start]:
                segments += [Segment(cell, self._field_style(number)), Segment(" ", self.base_style)]
        elif start < 0:
            segments = [Segment(self._titles[section][-1 - start], self._style("title"))]
        else:
            segments = self._bytes_line(section, start)
        return self.segments_strip(segments, self.virtual_size.width)

    def _style(self, name: str) -> Style:
        """A component style on the widget's background, looked up once per theme."""
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.base_style + self.get_component_rich_style(f"hex--{name}")
        return style

    def _field_style(self, number: int) -> Style:
        style = self._styles.get(f"field{number}")
        if style is None:
            colour = FIELD_COLOURS[number % len(FIELD_COLOURS)]
            style = self._styles[f"field{number}"] = self.base_style + Style(color=FIELD_TEXT, bgcolor=colour)
        return style

    def _bytes_line(self, index: int, start: int) -> list[Segment]:
        """``0010  xx xx ... xx  xx ... xx  text``: each byte in its part's colour, the selected
        field's bytes (and the gaps between them) highlighted."""
        section = self.sections[index]
        chunk = section.data[start:start + self._per_line]
        low, high = self.highlight[index] if index < len(self.highlight) else (0, 0)
        base, marked = self.base_style, self._style("highlight")
        half = self._per_line // 2
        hex_part = [Segment(f"{start:04x}  ", self._style("offset"))]
        text_part = [Segment(" ", base)]
        owners = self._owners[index] if index < len(self._owners) else None
        for i, value in enumerate(chunk):
            offset = start + i
            gap = "  " if i == half - 1 else " "
            if low <= offset < high:
                style = gap_style = marked
                if offset == high - 1:
                    gap_style = base
            elif owners is not None and owners[offset] >= 0:
                # A field's bytes and the gaps between them share its colour, so each field
                # reads as one block.
                style = self._field_style(owners[offset])
                same = offset + 1 < len(owners) and owners[offset + 1] == owners[offset] and i != half - 1
                gap_style = style if same and i < len(chunk) - 1 else base
            else:
                part = section.part_at(offset)
                style, gap_style = (self._style(part) if part else base), base
            hex_part.append(Segment(f"{value:02x}", style))
            hex_part.append(Segment(gap, gap_style))
            text_part.append(Segment(chr(value) if 32 <= value < 127 else "·", style))
        missing = self._per_line - len(chunk)
        if missing:
            hex_part.append(Segment(" " * (missing * 3 + (1 if len(chunk) < half else 0)), base))
        return hex_part + text_part

    def on_click(self, event: events.Click) -> None:
        where = self.clicked(event, len(self._lines))
        if where is None:
            return
        section, start = self._lines[where.y]
        column = where.x - OFFSET_WIDTH
        if start < 0 or column < 0:  # a title or the legend
            return
        half = self._per_line // 2
        position = column // 3 if column < half * 3 else (column - 1) // 3
        if 0 <= position < self._per_line and start + position < len(self.sections[section].data):
            self.post_message(self.ByteClicked(self.sections[section], start + position))


LEGEND = -1000  # (section, LEGEND - n): line n of the section's legend


def highlight_in(section: HexSection, item: FieldItem | None) -> tuple[int, int]:
    """Where ``item``'s bytes are inside ``section``: (0, 0) if its space is not there."""
    if item is None or item.space not in section.spaces:
        return 0, 0
    base = section.spaces[item.space]
    start, end = item.span
    return base + start, base + end


def legend(sections: list[HexSection], get_style, annotated: bool = False) -> Text:
    """The colours of the parts present, in the order they appear; annotated, the fields'
    colours are named under each section's title instead."""
    text = Text(no_wrap=True)
    if annotated:
        text.append("each field in its colour, named under the title ", "italic")
        text.append(" selected field ", get_style("hex--highlight"))
        return text
    present = list(dict.fromkeys(name for s in sections for start, end, name in s.parts if end > start))
    for part in present:
        text.append(f" {PART_NAMES[part]} ", get_style(f"hex--{part}"))
        text.append(" ")
    text.append(" selected field ", get_style("hex--highlight"))
    return text
