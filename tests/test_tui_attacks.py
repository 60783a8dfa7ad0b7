"""The attack lab in the UI: the attacker's column in the ladder, each side's sequence numbers,
the attack's summary, and choosing an attack in what-if."""

from __future__ import annotations

import pytest

from sshviz.scenario import Scenario
from sshviz.tui import make_app
from sshviz.tui.app import SshvizApp
from sshviz.tui.attacked import AttackChoice, SequenceNumbers
from sshviz.tui.screens.main import MainScreen
from sshviz.tui.widgets.fields import FieldInfo, FieldsTree
from sshviz.tui.widgets.hexview import HexView
from sshviz.tui.widgets.ladder import Ladder

SIZE = (120, 40)
TERRAPIN = ("terrapin", {"strict_kex": "off"}, 1)


def ladder_lines(app) -> dict[int, str]:
    """The ladder's message lines as plain text, by message index (the whole session)."""
    ladder = app.screen.query_one(Ladder)
    width = ladder.scrollable_content_region.width
    timeline = app.timeline
    digits = len(str(len(timeline.events) - 1))
    return {row.event: ladder._render_row(row, width, "past", digits).text
            for row in timeline.rows if row.kind == "message"}


def summary_text(app) -> str:
    return str(app.screen.query_one("#attack-text").content)


async def test_terrapin_marks_the_inserted_and_dropped_units_and_says_nothing_stopped_it():
    app = make_app(attack=TERRAPIN)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-attack")
        assert "the verdict" not in summary_text(app) and "once the run has ended" in summary_text(app)
        for _ in range(40):  # step to the end, and once past it
            await pilot.press("n")
        await pilot.pause()
        assert app.timeline.complete
        lines = ladder_lines(app)
        inserted = next(i for i, line in lines.items() if "+ inserted" in line)
        dropped = next(i for i, line in lines.items() if "✂ dropped" in line)
        assert "IGNORE" in lines[inserted] and "EXT_INFO" in lines[dropped]
        # The dropped EXT_INFO stops at the attacker: nothing reaches the client's half.
        row = lines[dropped]
        client_half = row[: row.index("┊")]
        assert "◀" not in client_half and "━" not in client_half
        # The inserted IGNORE starts at the attacker: nothing leaves the server.
        row = lines[inserted]
        assert "─" not in row[row.rindex("┊"):]
        # Untouched arrows cross the attacker's lifeline unmarked.
        assert not any(mark in lines[0] for mark in ("inserted", "dropped"))
        summary = summary_text(app)
        assert "attacked: integrity of the message sequence" in summary
        assert "the client authenticated without ever receiving EXT_INFO" in summary
        assert "outcome: the session ran to its end" in summary


async def test_the_sequence_numbers_drift_apart_and_line_up_again():
    app = make_app(attack=TERRAPIN)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        events = app.timeline.events
        numbers = SequenceNumbers(events)
        ignore = next(e.index for e in events if e.name == "IGNORE")
        newkeys = next(e.index for e in events if e.name == "NEWKEYS" and e.direction == "s2c")
        ext_info = next(e.index for e in events if e.name == "EXT_INFO")
        accept = next(e.index for e in events if e.name == "SERVICE_ACCEPT")
        assert numbers[ignore] == (None, 2)  # the server never sent it; the client counts it
        assert numbers[newkeys] == (2, 3)  # the server's third packet, the client's fourth
        assert numbers[ext_info] == (3, None)  # sent, never received
        assert numbers[accept] == (4, 4)  # in step again
        line = ladder_lines(app)[newkeys]
        assert line.split("│")[1].strip().startswith("3") and line.split("│")[1].rstrip().endswith("2")


async def test_the_selected_step_says_what_the_attacker_did():
    app = make_app(attack=("tamper", {}, 1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        changed = next(e for e in app.timeline.events if e.interception is not None)
        app.timeline.go(changed.index)
        app.screen.sync()
        await pilot.pause()
        info = str(app.screen.query_one(FieldInfo).content)
        assert "attacker: ✎ changed" in info and "bit 0 of byte 6 (of 44) flipped" in info
        tree = app.screen.query_one(FieldsTree)
        attacker = tree.top_items[0]
        assert attacker.title == "attacker: ✎ changed"
        assert attacker.children[0].field.value == changed.interception.original
        hex_view = app.screen.query_one(HexView)
        assert hex_view.sections[-1].data == changed.interception.original
        assert "before the attacker changed it" in hex_view.sections[-1].title
        assert "Stopped by the MAC" in summary_text(app)


async def test_restart_builds_the_same_attack_and_a_keeps_the_summary():
    app = make_app(attack=TERRAPIN)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        before = [(e.name, e.interception) for e in app.timeline.events]
        await pilot.press("r")
        await pilot.pause()
        assert app.timeline.position == 0 and app.attack == AttackChoice(
            "terrapin", {"strict_kex": "off", "cipher": "chacha20-poly1305@openssh.com"}, 1)
        await pilot.press("e")
        assert [(e.name, e.interception) for e in app.timeline.events] == before
        await pilot.press("a")
        await pilot.pause()
        assert type(app.screen).__name__ == "AttackScreen"
        assert "without ever receiving EXT_INFO" in str(app.screen.query_one("#attack-full").content)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_what_if_chooses_an_attack_and_back_to_none():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        assert not app.screen.has_class("-attack")
        await pilot.press("n", "n", "n")
        await pilot.press("s")
        await pilot.pause()
        assert not app.screen.query_one("#atk-terrapin-strict_kex").parent.display
        app.screen.query_one("#attack").value = "terrapin"
        await pilot.pause()
        assert app.screen.query_one("#atk-terrapin-strict_kex").parent.display
        assert not app.screen.query_one("#atk-tamper-target").parent.display
        assert app.screen.query_one("#opt-cipher").disabled and not app.screen.query_one("#opt-seed").disabled
        app.screen.query_one("#atk-terrapin-strict_kex").value = "on"
        app.screen.query_one("#opt-seed").value = "3"
        await pilot.click("#whatif-run")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.screen.has_class("-attack")
        assert app.attack.name == "terrapin" and app.attack.values["strict_kex"] == "on" and app.attack.seed == 3
        assert app.timeline.position == 3  # the same step, run again
        await pilot.press("e")
        assert "Stopped by strict KEX" in summary_text(app)
        # And back to a plain run: the attacker's column goes.
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#attack").value = "none"
        await pilot.click("#whatif-run")
        await pilot.pause()
        assert app.attack is None and app.attack_run is None and not app.screen.has_class("-attack")
        assert not any(e.interception for e in app.timeline.events)


async def test_a_saved_attacked_trace_shows_the_attacker_and_its_summary():
    from sshviz.attacks import run_attack

    trace = run_attack("replay").conductor.trace
    app = SshvizApp(trace=trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-attack")
        lines = ladder_lines(app)
        assert any("◉ read" in line for line in lines.values())
        assert any("↻ replayed" in line for line in lines.values())
        assert "Stopped by the sequence number" in summary_text(app)


def test_an_unknown_attack_is_refused():
    with pytest.raises(ValueError, match="unknown attack"):
        make_app(attack="teleport")
    with pytest.raises(ValueError, match="strict_kex must be one of"):
        make_app(attack=("terrapin", {"strict_kex": "maybe"}, 1))

