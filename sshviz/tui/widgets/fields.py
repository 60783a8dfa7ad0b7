"""The selected message's fields as an outline: each with its RFC type, value and a one-line
explanation; name-lists split into names, key blobs and signatures opened up, SFTP packets
inside CHANNEL_DATA, and the binary packet around the message."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from rich.text import Text
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Static

from ...events import VersionRecord
from ...trace.model import TraceEvent
from ...wire.spec import DecodedField
from ..bindings import FIELDS
from ..present import VERSION_RFC, FieldItem, attacker_line, message_items, walk
from .lines import LineView

VALUE_WIDTH = 200  # characters of a value shown (wrapped) before "…": a 96-byte signature whole
GUIDE = "│ "
# Opened when first shown: structures (key blobs, signatures, repeated groups, SFTP packets);
# name-lists and the binary packet stay folded until the user opens them.
_FOLDED_TYPES = ("name-list",)
_FOLDED_NAMES = ("packet",)


def item_key(item: FieldItem) -> str:
    return item.title or item.field.name


def opened_by_default(item: FieldItem) -> bool:
    if item.title.startswith("calculation"):
        return False  # one line each until opened: the fields come first
    return item.field.type not in _FOLDED_TYPES and item.field.name not in _FOLDED_NAMES


class FieldRow(NamedTuple):
    item: FieldItem
    path: tuple[str, ...]  # names from the root: how an opened node is remembered
    depth: int


class FieldsTree(LineView, can_focus=True):
    """The fields as an outline, drawn with the Line API: the first line is the whole message,
    then each field, indented under the one that holds it. Moving the cursor posts FieldChosen.
    Which nodes are open is remembered by path, so the next message of the same kind opens
    the same way."""

    BINDINGS = FIELDS
    COMPONENT_CLASSES = {"fields--cursor", "fields--guide"}

    class Reshaped(Message):
        """A field was opened or folded: the rows shown changed."""

    class FieldChosen(Message):
        def __init__(self, item: FieldItem | None) -> None:
            super().__init__()
            self.item = item

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.event: TraceEvent | None = None
        self.root_item: FieldItem | None = None
        self.top_items: list[FieldItem] = []
        self.rows: list[FieldRow] = []
        self.lines: list[tuple[int, Text]] = []  # (row, that row's piece) for each line on screen
        self.row_start: list[int] = [0]  # each row's first line, then the number of lines
        self.cursor = 0
        self._opened: dict[tuple[str, ...], bool] = {}  # the user's choices, by path

    @property
    def cursor_item(self) -> FieldItem | None:
        return self.rows[self.cursor].item if self.rows else None

    def show(self, event: TraceEvent, context=None) -> FieldItem | None:
        """Show ``event``'s fields (and the calculations made with it, with the keys of
        ``context``) with the cursor on the field of the same path if the new message has one
        (a what-if rerun, or a step to a similar message, stays in place). Returns the item
        under the cursor."""
        keep = self.rows[self.cursor].path if self.rows else None
        self.event = event
        self.root_item = whole_message_item(event)
        self.top_items = message_items(event, context)
        self._rebuild()
        paths = [row.path for row in self.rows]
        self.cursor = paths.index(keep) if keep in paths else 0
        region = self._row_region(self.cursor)
        self.scroll_to(y=max(0, region.bottom - self.scrollable_content_region.height), animate=False,
                       immediate=True)
        return self.cursor_item

    def _is_open(self, item: FieldItem, path: tuple[str, ...]) -> bool:
        return self._opened.get(path, opened_by_default(item))

    def _rebuild(self) -> None:
        rows = [FieldRow(self.root_item, (), 0)]

        def add(items: list[FieldItem], parent: tuple[str, ...], depth: int) -> None:
            for item in items:
                path = parent + (item_key(item),)
                rows.append(FieldRow(item, path, depth))
                if item.children and self._is_open(item, path):
                    add(item.children, path, depth + 1)

        add(self.top_items, (), 1)
        self.rows = rows
        self._wrap()

    def _wrap(self) -> None:
        """Fold each row to the panel's width: a long value or explanation goes on under its
        field, indented, rather than off the edge (a projector shows 120 columns, not 200)."""
        width = max(20, self.scrollable_content_region.width or 80)
        console = self.app.console
        lines: list[tuple[int, Text]] = []
        starts: list[int] = []
        for index, row in enumerate(self.rows):
            starts.append(len(lines))
            text = message_title(self.event) if index == 0 else field_label(row.item)
            indent = 0 if index == 0 else len(GUIDE) * (row.depth - 1) + 2
            text.no_wrap = False
            text.overflow = "fold"
            wrapped = text.wrap(console, max(8, width - indent)) if text.cell_len > width - indent else [text]
            lines += [(index, piece) for piece in wrapped]
        self.lines = lines
        self.row_start = starts + [len(lines)]
        self.lines_cache.clear()
        self.set_virtual_size(Size(width, len(lines)))
        self.refresh()

    def on_resize(self) -> None:
        if self.rows:
            self._wrap()

    def row_text(self, index: int) -> str:
        """Row ``index`` as one line of plain text, however it is folded on screen."""
        row = self.rows[index]
        if index == 0:
            return message_title(self.event).plain
        return GUIDE * (row.depth - 1) + ("  " if not row.item.children else "▶ ") + field_label(row.item).plain

    # -- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        line = round(self.scroll_y) + y
        if line >= len(self.lines):
            return self.blank()
        index = self.lines[line][0]
        return self.cached((line, index == self.cursor), lambda: self._render_line(line))

    def _render_line(self, line: int) -> Strip:
        index, piece = self.lines[line]
        row = self.rows[index]
        text = Text(no_wrap=True)
        if index > 0:
            first = self.row_start[index] == line
            text.append(GUIDE * (row.depth - 1), self.get_component_rich_style("fields--guide"))
            if not first:
                text.append("  ")
            elif row.item.children:
                text.append("▼ " if self._is_open(row.item, row.path) else "▶ ")
            else:
                text.append("  ")
        text.append(piece)
        if index == self.cursor:
            text.stylize(self.get_component_rich_style("fields--cursor"))
        return self.text_strip(text, self.virtual_size.width)

    # -- moving ----------------------------------------------------------------------------

    def _row_region(self, index: int) -> Region:
        start, end = self.row_start[index], self.row_start[index + 1]
        return Region(0, start, 1, end - start)

    def move_to(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        if index != self.cursor:
            top = round(self.scroll_y)
            for changed in (self.cursor, index):  # cached lines are keyed by cursor or not
                region = self._row_region(changed)
                self.refresh(Region(0, region.y - top, self.size.width, region.height))
            self.cursor = index
            self.post_message(self.FieldChosen(self.cursor_item))
        self.scroll_to_region(self._row_region(index), animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_cursor_to(self, index: int) -> None:
        self.move_to(index if index >= 0 else len(self.rows) - 1)

    def action_toggle(self) -> None:
        """Open or fold the field under the cursor."""
        row = self.rows[self.cursor] if self.rows else None
        if row is None or not row.item.children or self.cursor == 0:
            return
        self._opened[row.path] = not self._is_open(row.item, row.path)
        self._rebuild()
        self.post_message(self.Reshaped())

    def select_item(self, item: FieldItem) -> None:
        """Put the cursor on ``item`` (e.g. after a click in the hex view), opening the fields
        that hold it."""
        def find(items: list[FieldItem], path: tuple[str, ...]):
            for each in items:
                here = path + (item_key(each),)
                if each is item:
                    return [here]
                found = find(each.children, here)
                if found:
                    return [here] + found
            return None

        trail = find(self.top_items, ())
        if trail is None:
            return
        for path in trail[:-1]:
            self._opened[path] = True
        self._rebuild()
        self.post_message(self.Reshaped())
        self.move_to([row.path for row in self.rows].index(trail[-1]))

    def shown_items(self) -> list[FieldItem]:
        """The fields on the tree's rows (opened ones' parts included, folded ones' not)."""
        return [row.item for row in self.rows[1:]]

    def items(self) -> list[FieldItem]:
        """Every item, open or folded, outermost first."""
        return list(walk(self.top_items))

    def on_click(self, event: events.Click) -> None:
        """A click selects a field; a click on its ▶ or ▼ also opens or folds it."""
        where = self.clicked(event, len(self.lines))
        if where is None:
            return
        index = self.lines[where.y][0]
        row = self.rows[index]
        icon = len(GUIDE) * (row.depth - 1)
        self.move_to(index)
        if row.item.children and icon <= where.x < icon + 2 and self.row_start[index] == where.y:
            self.action_toggle()


def message_title(event: TraceEvent) -> Text:
    title = Text(no_wrap=True)
    if isinstance(event.record, VersionRecord):
        title.append("VERSION", "bold")
        title.append(f"  identification string · {VERSION_RFC}", "dim")
        return title
    message = event.message
    title.append(event.name, "bold")
    if message is not None:
        title.append(f"  {message.spec.rfc_name} = {message.spec.number} · {message.spec.rfc}", "dim")
        title.append(f"  {message.spec.doc}", "italic dim")
    return title


def whole_message_item(event: TraceEvent) -> FieldItem:
    """The root: the whole payload (or identification line). Under it, what an attacker did to
    the unit, when it did something, in place of what the message is (the title says that)."""
    item = _whole_message_item(event)
    if event.interception is not None:
        item.field = dataclasses.replace(item.field, doc=attacker_line(event))
    return item


def _whole_message_item(event: TraceEvent) -> FieldItem:
    record = event.record
    if isinstance(record, VersionRecord):
        return FieldItem(DecodedField("identification", "", None, 0, len(record.wire),
                                      "the version exchange line"), "none", 0, VERSION_RFC)
    if not event.opened:
        doc = ("bytes no one decoded" if event.kind == "raw" else
               "a packet seen only encrypted: its size and direction are known, not its message")
        return FieldItem(DecodedField(event.name, "", None, 0, len(record.wire), doc), "none", 0, "")
    message = record.message
    doc = message.spec.doc if message is not None else "a packet this decoder could not read"
    rfc = message.spec.rfc if message is not None else ""
    # The whole payload is the white part of the hex view already; nothing to highlight.
    return FieldItem(DecodedField(event.name, "", None, 0, len(record.payload), doc), "none", 0, rfc)


def field_label(item: FieldItem) -> Text:
    label = Text(no_wrap=True)
    if item.title:
        label.append(item.title, "bold")
        if item.explanation:
            label.append(f"  {item.explanation}", "italic dim")
        return label
    field = item.field
    label.append(field.name, "bold")
    if field.type:
        label.append(f" {field.type}", "dim")
    if field.type == "name":  # an item of a name-list: the name is the value
        pass
    elif field.type not in ("repeat", "") and not (field.children and field.type == "string"):
        value = item.value_text
        room = VALUE_WIDTH // 2 if field.children else VALUE_WIDTH  # a name-list's names are under it
        if len(value) > room:
            value = value[: room - 1] + "…"
        label.append(" = ")
        label.append(value, "")
    elif field.type == "repeat":
        label.append(f" × {field.value}")
    elif field.children:
        label.append(f" [{field.end - field.start - 4} bytes]", "dim")
    if item.explanation:
        label.append(f"  {item.explanation}", "italic dim")
    return label


def byte_range(start: int, end: int, where: str) -> str:
    """The bytes ``start`` up to (not including) ``end`` of ``where``, said one way everywhere:
    both ends included, counted from 0, with their number: "bytes 1..16 of the payload (16 bytes)"."""
    count = end - start
    if count <= 0:
        return f"no bytes (empty, at byte {start} {where})"
    if count == 1:
        return f"byte {start} {where} (1 byte)"
    return f"bytes {start}..{end - 1} {where} ({count} bytes)"


class FieldInfo(Static):
    """One field in words, under the tree: name, type, where its bytes are, what it means, and
    the RFC section that defines it."""

    def show(self, item: FieldItem | None) -> None:
        if item is None:
            self.update("", layout=False)
            return
        text = Text()
        field = item.field
        text.append(item.title or field.name, "bold")
        if field.type:
            text.append(f"  {field.type}", "italic")
        where = {"payload": "of the payload", "packet": "of the packet", "version": "of the line"}.get(item.space)
        if where:
            text.append(f"  {byte_range(*item.span, where)}", "dim")
        if item.rfc:
            text.append(f"  {item.rfc}", "bold")
        if item.explanation:
            text.append(f"\n{item.explanation}", "italic")
        self.update(text, layout=False)  # a fixed height: no need to lay the screen out again
