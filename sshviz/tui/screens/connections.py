"""serve's list of connections: one row per connection (peer, user, software, HASSH, what it
offered, state, bytes each way), one per address the limits refused, the selected connection's
offer in full under the list, and the server's log. The app calls ``update_rows`` a few times a
second; only cells whose text changed are written."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ..bindings import CONNECTIONS, LIVE_HELP_SECTIONS

# (label, width at 120 columns, share of what a wider terminal adds)
COLUMNS = (("#", 3, 0), ("peer", 19, 1), ("user", 8, 1), ("client software", 14, 3), ("HASSH", 8, 0),
           ("offered", 20, 1), ("state", 13, 4), ("in", 6, 0), ("out", 6, 0))
def size(count: int) -> str:
    """Bytes in at most six characters: 812, 2.4K, 4.0M, 1.2G (KiB, MiB, GiB)."""
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if count >= scale:
            value = count / scale
            return f"{value:.1f}{unit}" if value < 100 else f"{value:.0f}{unit}"
    return str(count)


def connection_cells(connection) -> tuple:
    """A row's cells, as Text so that nothing a client sent is read as markup."""
    offer = connection.offer
    grade = Text()
    if offer is not None:
        grade.append("PQ" if offer.post_quantum else "no PQ", "green" if offer.post_quantum else "red")
        grade.append(" · ")
        grade.append("strict" if offer.strict_kex else "no strict", "green" if offer.strict_kex else "red")
        grade.append(" · ")
        grade.append(f"{len(offer.weak)} weak", "yellow" if offer.weak else "green")
    state = Text(connection.state_text(), style="red" if connection.notes else "")
    return (Text(str(connection.number)), Text(connection.peer), Text(connection.user_text()),
            Text(connection.software_text()), Text(offer.hassh[:8] if offer else ""), grade, state,
            Text(size(connection.bytes_in), justify="right"), Text(size(connection.bytes_out), justify="right"))


def refusal_cells(refusal) -> tuple:
    return (Text("—"), Text(refusal.address), Text(""), Text(""), Text(""), Text(""),
            Text(f"refused ×{refusal.count}: {refusal.reason}", style="red"), Text(""), Text(""))


class ConnectionsScreen(Screen):
    BINDINGS = CONNECTIONS

    def __init__(self) -> None:
        super().__init__()
        self._shown: dict[str, tuple] = {}  # row key -> the cells' texts written last
        self._seen_changes = -1
        self._detail_for = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="connections-pane"):
            table = DataTable(id="connections", cursor_type="row", zebra_stripes=True)
            for label, width, _ in COLUMNS:
                table.add_column(label, width=width, key=label)
            yield table
        yield Static(id="offer-detail")
        yield Static(id="server-log")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#connections-pane").border_title = "connections (enter: watch one)"
        self.query_one("#offer-detail").border_title = "what the selected client offered"
        self.query_one("#server-log").border_title = "log"
        self.query_one(DataTable).focus()
        self.update_rows()

    def on_screen_resume(self) -> None:
        self.update_rows()

    def on_resize(self, event) -> None:
        """Columns fit 120 columns; a wider terminal gives the extra to the texts."""
        table = self.query_one(DataTable)
        padding = 2 * table.cell_padding * len(COLUMNS) + 4  # borders and the scroll bar
        extra = max(0, event.size.width - padding - sum(width for _, width, _ in COLUMNS))
        shares = sum(share for _, _, share in COLUMNS)
        for column, (_, width, share) in zip(table.ordered_columns, COLUMNS):
            column.width = width + extra * share // shares
        # DataTable has no public way to set a column's width: drop its caches of drawn rows
        # and sizes, which it makes again from the widths.
        table._require_update_dimensions = True
        table._clear_caches()
        table.refresh()

    @property
    def live(self):
        return self.app.connections

    def update_rows(self) -> None:
        """Bring the rows up to date: new connections and refusals added, changed cells
        rewritten, forgotten connections removed."""
        live = self.live
        if live.changes == self._seen_changes:
            return
        self._seen_changes = live.changes
        table = self.query_one(DataTable)
        wanted: dict[str, tuple] = {}
        for connection in list(live.connections):
            wanted[f"c{connection.number}"] = connection_cells(connection)
        # list(): the server (in its own thread) may add to them while this reads.
        for (address, reason), refusal in list(live.refusals.items()):
            wanted[f"r{address} {reason}"] = refusal_cells(refusal)
        for key in [k for k in self._shown if k not in wanted]:
            table.remove_row(key)
            del self._shown[key]
        for key, cells in wanted.items():
            plain = tuple(cell.plain for cell in cells)
            old = self._shown.get(key)
            if old is None:
                table.add_row(*cells, key=key)
            elif old != plain:
                for (label, _, _), cell, before in zip(COLUMNS, cells, old):
                    if cell.plain != before:
                        table.update_cell(key, label, cell)
            self._shown[key] = plain
        self.query_one("#server-log", Static).update(Text("\n".join(list(live.log)[-4:])), layout=False)
        self._show_detail(force=True)

    def selected(self):
        """The connection under the cursor, or None (an empty list, a refusal row)."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        if not key.startswith("c"):
            return None
        number = int(key[1:])
        return next((c for c in self.live.connections if c.number == number), None)

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        self.action_open()

    def _show_detail(self, force: bool = False) -> None:
        connection = self.selected()
        state = (connection, connection.offer if connection else None)
        if state == self._detail_for and not force:
            return
        self._detail_for = state
        text = Text()
        if connection is None:
            text.append("No connection selected." if not self.live.connections else
                        "Refused by the server's limits before anything was said.", "dim")
        elif connection.offer is None:
            text.append(f"#{connection.number} {connection.peer}: no KEXINIT from the client yet", "dim")
        else:
            text.append(f"#{connection.number} {connection.peer} {connection.software_text()}\n", "bold")
            text.append("\n".join(connection.offer.lines()))
        self.query_one("#offer-detail", Static).update(text)

    # -- actions ---------------------------------------------------------------------------------

    def action_open(self) -> None:
        from .session import LiveSessionScreen

        connection = self.selected()
        if connection is None:
            self.notify("select a connection (not a refusal) to watch", timeout=3)
            return
        self.app.watch_connection(connection)
        self.app.push_screen(LiveSessionScreen())

    def action_save(self) -> None:
        connection = self.selected()
        if connection is None:
            self.notify("select a connection to save", timeout=3)
            return
        self.app.save(connection)

    def action_toggle_light(self) -> None:
        self.app.theme = "textual-dark" if self.app.current_theme.dark is False else "textual-light"

    def action_help(self) -> None:
        from .help import LIVE_INTRODUCTION, HelpScreen

        self.app.push_screen(HelpScreen(LIVE_INTRODUCTION, LIVE_HELP_SECTIONS))
