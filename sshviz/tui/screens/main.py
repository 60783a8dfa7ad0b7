"""The main screen: ladder, fields, key panel and hex view of one timeline. Every action moves
the app's timeline and then ``sync()`` brings each panel up to date."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ...presentation.explain import plain_line
from ..bindings import MAIN
from ..present import FieldItem, hex_sections, key_state
from ..timeline import PHASES
from ..widgets.fields import FieldInfo, FieldsTree
from ..widgets.hexview import HexView, highlight_in, legend
from ..widgets.keypanel import KeyPanel
from ..widgets.ladder import Ladder


class MainScreen(Screen):
    BINDINGS = MAIN
    # Below 160 columns (a projector's 120 too): ladder and one column of fields over bytes, k
    # swaps fields and keys; from 160, the keys get a column of their own.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (160, "-wide")]
    SMALLEST = (100, 30)  # below this, a note says the terminal is too small

    def __init__(self) -> None:
        super().__init__()
        self.wire = False  # the hex view shows the plaintext packet until toggled
        self.annotated = False  # b: every field's bytes in a colour of its own
        self.selected: FieldItem | None = None
        self._shown_event = None
        self._explained = None  # the event the presentation layout explains
        self._shown_milestones = -1
        self._shown_summary = None  # (attack run, whether the run had ended) last summarised

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="too-small")
        with Grid(id="panes"):
            with Vertical(id="ladder-pane"):
                yield Static(Lifelines(), id="lifelines")
                yield Ladder(id="ladder")
                with VerticalScroll(id="attack-summary"):
                    yield Static(id="attack-text")
            with Vertical(id="fields-pane"):
                yield Static(id="step-line")
                yield FieldsTree(id="fields")
                yield FieldInfo(id="field-info")
            yield KeyPanel(id="keys")
            yield from self.side_panes()
            with Vertical(id="hex-pane"):
                yield Static(id="hex-legend")
                yield HexView(id="hex")
            with VerticalScroll(id="explain"):
                yield Static(id="explain-text")
        yield Footer()

    def side_panes(self) -> ComposeResult:
        """Panels a screen built on this one adds to the grid (a lesson's), before the bytes."""
        return iter(())

    def on_mount(self) -> None:
        self.query_one("#ladder-pane").border_title = "session"
        self.query_one("#fields-pane").border_title = "fields"
        self.query_one("#keys").border_title = "keys"
        self.query_one("#hex-pane").border_title = "bytes"
        self.query_one("#explain").border_title = "this step (l: all panels)"
        self.query_one(Ladder).focus()
        self.reload()

    def on_resize(self, event) -> None:
        width, height = event.size
        small = width < self.SMALLEST[0] or height < self.SMALLEST[1]
        self.set_class(small, "-small")
        if small:
            self.query_one("#too-small", Static).update(
                f"The terminal is too small for sshviz: {width}x{height}.\n\n"
                f"It needs at least {self.SMALLEST[0]} columns and {self.SMALLEST[1]} lines: make the "
                f"window larger or the font smaller.\n\nq quits.")

    # -- keeping the panels in step --------------------------------------------------------

    @property
    def timeline(self):
        return self.app.timeline

    def reload(self) -> None:
        """A new timeline (a run, a rerun, a trace): redraw everything."""
        self._shown_event = None
        self._shown_milestones = -1
        self._shown_summary = None
        attacked = self.app.attacked
        self.set_class(attacked, "-attack")
        self.query_one(Ladder).show(self.timeline, attacked)
        self.sync()

    def sync(self) -> None:
        timeline = self.timeline
        ladder = self.query_one(Ladder)
        ladder.update()
        event = timeline.current
        total = f"{len(timeline)}" + ("" if timeline.complete else "+")
        # The counter is a one-line widget of its own: a new border title would repaint the
        # whole ladder pane.
        self.query_one("#lifelines", Static).update(
            Lifelines(f"#{timeline.position} of {total}" if event else "no messages",
                      PHASES[timeline.phase_at(timeline.position)] if event else "",
                      self.has_class("-attack")), layout=False)
        self._show_summary()
        if event is None:
            return
        if event is not self._shown_event:
            self._shown_event = event
            self.query_one("#step-line", Static).update(step_text(event), layout=False)
            self.selected = self.query_one(FieldsTree).show(event)
            self._show_bytes()
            self.query_one(FieldInfo).show(self.selected)
        if self.has_class("-present") and event is not self._explained:
            self._explained = event
            self.query_one("#explain-text", Static).update(explanation(event, self.query_one(FieldsTree).top_items))
        milestones = timeline.milestones_until(timeline.position)
        if len(milestones) != self._shown_milestones:
            self._shown_milestones = len(milestones)
            self.query_one(KeyPanel).show(key_state(milestones), timeline)

    def _show_summary(self) -> None:
        """The attack under the ladder: what it attacks; once the run has ended, how it ended
        and which check stopped it, or that nothing did."""
        run = self.app.attack_run
        state = (run, self.timeline.complete)
        if run is None or state == self._shown_summary:
            return
        self._shown_summary = state
        self.query_one("#attack-text", Static).update(attack_summary(run, self.timeline.complete))
        # The summary grew and the ladder shrank: keep the current message in view.
        self.call_after_refresh(self._keep_current_in_view)

    def _keep_current_in_view(self) -> None:
        timeline = self.timeline
        if timeline.events:
            self.query_one(Ladder).scroll_to_row(timeline.row_of_event[timeline.position])

    def _show_bytes(self) -> None:
        event = self.timeline.current
        if event is None:
            return
        sections = hex_sections(event, self.wire)
        hex_view = self.query_one(HexView)
        hex_view.show(sections, self.selected, self.query_one(FieldsTree).shown_items() if self.annotated else None)
        self.query_one("#hex-legend", Static).update(legend(sections, hex_view.get_component_rich_style, self.annotated),
                                                     layout=False)
        title = ("bytes: wire only (nothing was decrypted)" if not event.opened else
                 f"bytes: {'wire' if self.wire else 'plaintext'} (w toggles)")
        title += " · every field annotated (b: only the selected)" if self.annotated else " · b annotates every field"
        pane = self.query_one("#hex-pane")
        if pane.border_title != title:  # setting it repaints the pane, even to the same text
            pane.border_title = title

    def on_fields_tree_field_chosen(self, message: FieldsTree.FieldChosen) -> None:
        self.selected = message.item
        self.query_one(HexView).mark(message.item)
        self.query_one(FieldInfo).show(message.item)

    def on_fields_tree_reshaped(self, message: FieldsTree.Reshaped) -> None:
        if self.annotated:
            self.query_one(HexView).annotate(fields=self.query_one(FieldsTree).shown_items())

    def on_ladder_picked(self, message: Ladder.Picked) -> None:
        if self.timeline.go(message.index):
            self.sync()

    def on_hex_view_byte_clicked(self, message: HexView.ByteClicked) -> None:
        """Select the narrowest field whose bytes include the clicked one."""
        best = None
        for item in self.query_one(FieldsTree).items():
            start, end = highlight_in(message.section, item)
            if start <= message.offset < end and (best is None or end - start < best[1] - best[0]):
                best = (start, end, item)
        if best is not None:
            self.query_one(FieldsTree).select_item(best[2])

    # -- actions (bound in bindings.MAIN) ---------------------------------------------------

    def check_action(self, action: str, parameters) -> bool | None:
        """The attack's key shows only on an attacked run."""
        if action == "attack":
            return self.app.attack_run is not None
        return True

    def action_step(self, delta: int) -> None:
        timeline = self.timeline
        if not timeline.step(delta):
            # Past either end: stop at the end that exists.
            timeline.go(0 if delta < 0 else len(timeline) - 1)
            if delta > 0:
                self.notify("the session has ended", timeout=2)
        self.sync()

    def action_next_phase(self) -> None:
        if not self.timeline.next_phase():
            self.notify("no later phase", timeout=2)
        self.sync()

    def action_previous_phase(self) -> None:
        self.timeline.previous_phase()
        self.sync()

    def action_run_to_end(self) -> None:
        self.timeline.to_end()
        self.sync()

    def action_restart(self) -> None:
        self.app.restart()

    def action_toggle_keys(self) -> None:
        self.toggle_class("-keys")

    def action_toggle_annotated(self) -> None:
        self.annotated = not self.annotated
        self._show_bytes()

    def action_toggle_light(self) -> None:
        self.app.theme = "textual-dark" if self.app.current_theme.dark is False else "textual-light"

    def action_toggle_presentation(self) -> None:
        self.toggle_class("-present")
        self._explained = None
        self.sync()

    def action_toggle_wire(self) -> None:
        self.wire = not self.wire
        self._show_bytes()

    def action_search(self) -> None:
        from .search import SearchScreen

        def jump(index: int | None) -> None:
            if index is not None and self.timeline.go(index):
                self.sync()

        self.app.push_screen(SearchScreen(self.timeline), jump)

    def action_what_if(self) -> None:
        self.app.what_if()

    def action_attack(self) -> None:
        from .attack import AttackScreen

        run = self.app.attack_run
        if run is None:
            self.notify("no attacker in this run: s (what if…) chooses an attack", timeout=3)
            return
        self.app.push_screen(AttackScreen(attack_summary(run, self.timeline.complete)))

    def action_compare(self) -> None:
        from .compare import CompareScreen

        if self.app.before is None:
            self.notify("nothing to compare yet: s (what if…) runs the session again another way", timeout=3)
            return
        self.app.push_screen(CompareScreen(self.app.before, self.app.whole_run(), ("before", "now")))

    def action_help(self) -> None:
        from .help import HelpScreen

        self.app.push_screen(HelpScreen())


def explanation(event, items):
    """The presentation layout's panel: the step in words, then each field of the message with
    its value and what it means, for a room to read; a field's wrapped lines keep its indent."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from ..present import walk
    from ..widgets.fields import field_label, message_title

    def hanging(prefix: str, label: Text) -> Table:
        label = label.copy()
        label.no_wrap = False  # the fields view keeps a label to one line; here it wraps
        line = Table.grid()
        line.add_column(width=len(prefix), no_wrap=True)
        line.add_column(ratio=1)
        line.add_row(prefix, label)
        return line

    heading = Text()
    heading.append(f"#{event.index}  ", "bold")
    heading.append(message_title(event))
    heading.append("\n\n")
    heading.append(plain_line(event), "bold italic")
    heading.append("\n")
    lines = [heading]
    for item in items:
        if item.field.name == "packet":
            continue
        lines.append(hanging("• ", field_label(item)))
        for child in walk(item.children) if item.field.type != "name-list" else []:
            lines.append(hanging("    ", field_label(child)))
    return Group(*lines)


def step_text(event):
    """The line over the fields: the step's number and what happened, in words."""
    from rich.text import Text

    text = Text()
    text.append(f"#{event.index} ", "bold")
    text.append(plain_line(event), "italic")
    return text


class Lifelines:
    """The ladder's heading: client and server over their lifelines, the step and its phase
    between them; with an attacker, it heads the middle column and the step goes below. A
    space always parts the three (a narrow ladder is just wide enough for "client #0 of 1+ ·
    version exchange server" without one), and where the step and its phase do not fit
    between them, the phase is left out: the ladder's divider below names it too."""

    def __init__(self, where: str = "", phase: str = "", attacked: bool = False) -> None:
        self.where, self.phase, self.attacked = where, phase, attacked

    def __rich_console__(self, console, options):
        from rich.cells import cell_len
        from rich.table import Table

        step = f"{self.where} · {self.phase}" if self.phase else self.where
        table = Table.grid(expand=True, padding=(0, 1))
        table.add_column(justify="left")
        table.add_column(justify="center")
        table.add_column(justify="right")
        if self.attacked:
            table.add_row("[b]client[/b] [dim]seq[/dim]", "[b red]attacker[/b red]", "[dim]seq[/dim] [b]server[/b]")
            table.add_row("", step, "")
        else:
            if cell_len(f"client {step} server") > options.max_width:
                step = self.where
            table.add_row("[b]client[/b]", step, "[b]server[/b]")
        yield table


def attack_summary(run, ended: bool):
    """The attack's summary lines: attack and settings, the property attacked, and (once the
    run has ended) the outcome and the verdict."""
    from rich.text import Text

    lines = run.summary() if ended else run.summary()[:2]
    text = Text()
    for row, line in enumerate(lines):
        if row:
            text.append("\n")
        head, sep, rest = line.partition(": ")
        if row < 3 and sep:
            text.append(head + sep, "bold")
            text.append(rest)
        else:
            text.append(line, "italic")
    if not ended:
        text.append("\nhow it ends and what stopped it: once the run has ended (e runs to the end)", "dim")
    return text
