"""The selected message's fields as a tree: each with its RFC type, value and a one-line
explanation; name-lists split into names, key blobs and signatures opened up, SFTP packets
inside CHANNEL_DATA, and the binary packet around the message."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from ...events import VersionRecord
from ...trace.model import TraceEvent
from ...wire.spec import DecodedField
from ..present import VERSION_RFC, FieldItem, message_items

VALUE_WIDTH = 48
# Groups opened when a message is shown; name-lists and the packet framing stay folded.
_FOLDED_TYPES = ("name-list",)


def path_of(item: FieldItem, parents: list[FieldItem]) -> tuple[str, ...]:
    return tuple(p.title or p.field.name for p in parents) + (item.title or item.field.name,)


class FieldsTree(Tree[FieldItem]):
    """The tree; its root is the whole message. Highlighting a node posts FieldChosen."""

    class FieldChosen(Message):
        def __init__(self, item: FieldItem | None) -> None:
            super().__init__()
            self.item = item

    def __init__(self, **kwargs) -> None:
        super().__init__("no message", **kwargs)
        self.guide_depth = 3
        self._field_nodes: dict[tuple[str, ...], TreeNode[FieldItem]] = {}
        self.event: TraceEvent | None = None

    def show(self, event: TraceEvent) -> None:
        """Show ``event``'s fields, keeping the cursor on the field of the same name if the new
        message has one (so a what-if rerun or a step to a similar message stays in place)."""
        was = self.cursor_node
        keep = next((path for path, node in self._field_nodes.items() if node is was), None)
        self.event = event
        self.clear()
        self._field_nodes = {}
        root_item = whole_message_item(event)
        self.root.data = root_item
        self.root.set_label(message_title(event))
        for item in message_items(event):
            self._add(self.root, item, [])
        self.root.expand()
        target = self._field_nodes.get(keep) if keep else None
        self.move_cursor(target or self.root, animate=False)
        self.post_message(self.FieldChosen(target.data if target else root_item))

    def _add(self, parent: TreeNode[FieldItem], item: FieldItem, parents: list[FieldItem]) -> None:
        label = field_label(item)
        if item.children:
            node = parent.add(label, data=item)
            for child in item.children:
                self._add(node, child, parents + [item])
            if item.field.type not in _FOLDED_TYPES and item.field.name != "packet":
                node.expand()
        else:
            node = parent.add_leaf(label, data=item)
        self._field_nodes[path_of(item, parents)] = node

    def select_item(self, item: FieldItem) -> None:
        """Put the cursor on ``item`` (e.g. after a click in the hex view)."""
        for node in self._field_nodes.values():
            if node.data is item:
                parent = node.parent
                while parent is not None:
                    parent.expand()
                    parent = parent.parent
                self.move_cursor(node, animate=False)
                return

    def items(self):
        """Every item in the tree, outermost first."""
        return [node.data for node in self._field_nodes.values()]

    def on_tree_node_highlighted(self, message: Tree.NodeHighlighted) -> None:
        message.stop()
        self.post_message(self.FieldChosen(message.node.data))


def message_title(event: TraceEvent) -> Text:
    title = Text(no_wrap=True)
    if isinstance(event.record, VersionRecord):
        title.append("VERSION", "bold")
        title.append(f"  identification string · {VERSION_RFC}", "dim")
        return title
    message = event.message
    title.append(event.name, "bold")
    if message is not None:
        title.append(f"  {message.spec.rfc_name} = {message.number} · {message.spec.rfc}", "dim")
        title.append(f"  {message.spec.doc}", "italic dim")
    return title


def whole_message_item(event: TraceEvent) -> FieldItem:
    """The root: the whole payload (or identification line)."""
    record = event.record
    if isinstance(record, VersionRecord):
        return FieldItem(DecodedField("identification", "", None, 0, len(record.wire),
                                      "the version exchange line"), "none", 0, VERSION_RFC)
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
    if field.type not in ("repeat", "") and not (field.children and field.type == "string"):
        value = item.value_text
        if len(value) > VALUE_WIDTH:
            value = value[: VALUE_WIDTH - 1] + "…"
        label.append(" = ")
        label.append(value, "")
    elif field.type == "repeat":
        label.append(f" × {field.value}")
    elif field.children:
        label.append(f" [{field.end - field.start - 4} bytes]", "dim")
    if item.explanation:
        label.append(f"  {item.explanation}", "italic dim")
    return label


class FieldInfo(Static):
    """One field in words, under the tree: name, type, where its bytes are, what it means, and
    the RFC section that defines it."""

    def show(self, item: FieldItem | None) -> None:
        if item is None:
            self.update("")
            return
        text = Text()
        field = item.field
        text.append(item.title or field.name, "bold")
        if field.type:
            text.append(f"  {field.type}", "italic")
        where = {"payload": "of the payload", "packet": "of the packet", "version": "of the line"}.get(item.space)
        start, end = item.span
        if where:
            text.append(f"  bytes {start}–{end} {where} ({end - start})", "dim")
        if item.rfc:
            text.append(f"  {item.rfc}", "bold")
        if item.explanation:
            text.append(f"\n{item.explanation}", "italic")
        self.update(text)
