"""The UI as a classroom uses it (issue 11): the keyboard in dialogs, the annotated byte view,
a 120x40 terminal, light theme and presentation layout, screenshots, what changed after a
rerun, the palette's jumps. Driven by Pilot."""

from __future__ import annotations

import asyncio

from sshviz.scenario import Scenario
from sshviz.tui.app import SshvizApp
from sshviz.tui.screens.main import MainScreen

from .conftest import plain

SIZE = (120, 40)


async def test_what_if_dialog_works_from_the_keyboard():
    """The first option has the focus; down moves to the next option, right changes a choice,
    enter runs."""
    from textual.widgets import Select

    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "attack"
        seen = []
        while app.focused.id != "opt-cipher":
            seen.append(app.focused.id)
            assert len(seen) < 40, seen
            await pilot.press("down")
        before = app.focused.value
        await pilot.press("right")
        after = app.focused.value
        assert isinstance(app.focused, Select) and after != before
        await pilot.press("up", "down")
        assert app.focused.id == "opt-cipher"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.scenario.cipher == after


async def test_what_if_runs_an_attack_with_a_number_setting():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#attack").value = "tamper"
        await pilot.pause()
        app.screen.query_one("#atk-tamper-byte").value = "9"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert app.attack.name == "tamper" and app.attack.values["byte"] == "9"




async def test_ctrl_s_works_in_a_dialog_and_says_where_it_saved(tmp_path, monkeypatch):
    monkeypatch.setenv("SSHVIZ_SCREENSHOTS", str(tmp_path))
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "s")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert type(app.screen).__name__ == "WhatIfScreen"  # the dialog stays open
        (saved,) = tmp_path.iterdir()
        assert saved.name == "sshviz-0002-KEXINIT-whatif.svg"
        (notice,) = app._notifications
        assert str(saved) in notice.message and saved.is_absolute()


async def test_screenshots_keep_the_spaces_between_names_and_types(tmp_path):
    """SVG renderers drop a text's leading spaces unless told to keep them: "msg_number" and
    " byte" are two texts, and without xml:space they read "msg_numberbyte"."""
    import re

    app = SshvizApp(Scenario())
    app.screenshot_dir = str(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "ctrl+s")
        await pilot.pause()
        svg = next(tmp_path.iterdir()).read_text()
        assert re.match(r'<svg xml:space="preserve" ', svg)
        texts = re.findall(r">([^<]*)</text>", svg)
        assert "msg_number" in texts and any(t.startswith("&#160;byte") for t in texts)


async def test_b_annotates_every_field_of_the_packet_with_a_legend():
    from sshviz.tui.widgets.fields import FieldsTree
    from sshviz.tui.widgets.hexview import HexView

    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"nnnnn")  # KEX_ECDH_REPLY
        hex_view = app.screen.query_one(HexView)
        assert not hex_view.annotated
        await pilot.press("b")
        await pilot.pause()
        assert hex_view.annotated and "annotated" in app.screen.query_one("#hex-pane").border_title
        (labels,) = hex_view._labels
        assert labels[:4] == ["packet_length", "padding_length", "msg_number", "host_key"]
        assert {"key_type", "key", "Q_S", "signature", "padding"} <= set(labels)
        owners = hex_view._owners[0]
        assert all(owner >= 0 for owner in owners)  # every byte has its field
        legend = " ".join(hex_view.render_line(y).text for y in range(6))
        assert "packet_length" in legend and "Q_S" in legend
        # Folding host_key in the tree colours it as one field.
        tree = app.screen.query_one(FieldsTree)
        tree.focus()
        row = next(i for i, r in enumerate(tree.rows) if r.item.field.name == "host_key")
        tree.move_to(row)
        await pilot.press("enter")
        await pilot.pause()
        assert "key_type" not in hex_view._labels[0] and "host_key" in hex_view._labels[0]
        await pilot.press("b")
        assert not hex_view.annotated and hex_view._owners == []


async def test_at_120x40_the_fields_are_folded_not_cut():
    from sshviz.tui.widgets.fields import FieldsTree

    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"nnnnn")
        await pilot.pause()
        tree = app.screen.query_one(FieldsTree)
        reply = app.timeline.current.message
        shown = "".join("".join(tree.render_line(y).text.split()) for y in range(tree.size.height))
        assert "SSH_MSG_KEX_ECDH_REPLY" in shown
        assert reply["Q_S"].hex() in shown  # the whole value, folded over lines
        assert tree.virtual_size.width <= tree.scrollable_content_region.width
        # F1 comes first in the footer, so a narrow one still shows it.
        shown = [active.binding.key for active in app.screen.active_bindings.values() if active.binding.show]
        assert shown[0] == "f1"


async def test_below_100x30_a_note_says_the_terminal_is_too_small():
    app = SshvizApp(Scenario())
    async with app.run_test(size=(90, 25)) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-small")
        assert "too small" in str(app.screen.query_one("#too-small").content)
        assert not app.screen.query_one("#panes").display or app.screen.query_one("#panes").styles.display == "none"
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not app.screen.has_class("-small")


async def test_byte_ranges_say_both_ends_and_the_count():
    from sshviz.tui.widgets.fields import FieldInfo, FieldsTree, byte_range

    assert byte_range(1, 17, "of the payload") == "bytes 1..16 of the payload (16 bytes)"
    assert byte_range(0, 1, "of the payload") == "byte 0 of the payload (1 byte)"
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        app.screen.query_one(FieldsTree).focus()
        await pilot.press("down", "down")  # cookie
        await pilot.pause()
        assert "bytes 1..16 of the payload (16 bytes)" in str(app.screen.query_one(FieldInfo).content)


async def test_a_line_over_the_fields_says_what_happened_at_this_step():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        await pilot.pause()
        line = str(app.screen.query_one("#step-line").content)
        assert line.startswith("#2 The server lists what it supports, best first")


async def test_a_kexinit_sent_before_the_peers_arrived_is_drawn_in_flight():
    """At #2 the client has the server's KEXINIT and negotiates; its own KEXINIT (#3) was sent
    already: the ladder draws it in flight and the key panel says so."""
    from sshviz.tui.widgets.keypanel import KeyPanel
    from sshviz.tui.widgets.ladder import Ladder

    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        await pilot.pause()
        timeline = app.timeline
        assert timeline.current.name == "KEXINIT" and timeline.current.direction == "s2c"
        assert len(timeline) >= 4 and timeline.flying(3) and not timeline.flying(4)
        ladder = app.screen.query_one(Ladder)
        row = timeline.row_of_event[3] - round(ladder.scroll_y)
        assert "KEXINIT · in flight" in ladder.render_line(row).text
        text = " ".join(app.screen.query_one(KeyPanel).text().split())
        assert "in flight: the client's KEXINIT (#3)" in text
        await pilot.press("n")
        assert not timeline.flying(3) and "in flight" not in ladder.render_line(row).text


async def test_t_switches_to_a_light_theme_and_l_to_the_presentation_layout():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        await pilot.press("t")
        assert app.theme == "textual-light"
        await pilot.press("l")
        await pilot.pause()
        screen = app.screen
        assert screen.has_class("-present")
        assert screen.query_one("#explain").display and not screen.query_one("#hex-pane").display
        explained = plain(screen.query_one("#explain-text").content, 60)
        assert "#2" in explained and "kex_algorithms" in explained and "cookie" in explained
        # a field's wrapped lines keep its indent: none starts in the first columns
        lines = explained.splitlines()
        fields = lines[next(i for i, line in enumerate(lines) if line.startswith("• ")):]
        assert len(fields) > 20 and all(line.startswith(("• ", "  ")) for line in fields), fields
        await pilot.press("n")
        await pilot.pause()
        assert "#3" in plain(screen.query_one("#explain-text").content, 60)
        await pilot.press("l", "t")
        assert not screen.has_class("-present") and app.theme == "textual-dark"
        # Both are in the command palette too (one command per binding).
        names = [command.title for command in app.get_system_commands(screen)]
        assert "Light/dark" in names and "Layout" in names


async def test_the_palette_goes_to_any_message_sftp_ones_included_and_to_a_number():
    from sshviz.tui.commands import MessageCommands

    app = SshvizApp(Scenario(sftp_actions=["put hello.txt", "ls"]))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        provider = MessageCommands(app.screen)

        async def hits(query):
            return [hit async for hit in provider.search(query)]

        (go,) = await hits("go to #12")
        assert "#12" in str(go.text)
        go.command()
        await pilot.pause()
        assert app.timeline.position == 12
        assert len(await hits("7")) == 1
        app.timeline.produce_all()
        writes = await hits("FXP_WRITE")
        assert writes and all("FXP_WRITE" in str(hit.text) for hit in writes)
        writes[0].command()
        await pilot.pause()
        assert "FXP_WRITE" in str(writes[0].text) and app.timeline.current.name == "CHANNEL_DATA"


def test_after_a_what_if_what_changed_is_said_and_c_compares_the_two_runs():

    from sshviz.scenario import Scenario
    from sshviz.tui import make_app
    from sshviz.tui.screens.compare import CompareScreen

    async def run():
        app = make_app(scenario=Scenario())
        async with app.run_test(size=(140, 42)) as pilot:
            await pilot.pause()
            await pilot.press("c")  # nothing to compare yet
            assert not isinstance(app.screen, CompareScreen)
            await pilot.press("n", "n", "n")
            app.rerun(Scenario(cipher="aes128-gcm@openssh.com"))
            await pilot.pause()
            said = app.what_changed()
            assert "cipher_c2s: chacha20-poly1305@openssh.com → aes128-gcm@openssh.com" in said
            assert "8 messages of another length" in said
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(app.screen, CompareScreen)
            table = app.screen.table
            assert table.row_count == 28
            marks = [cell for cell in table.columns[0]._cells]
            assert marks.count("≠") == 8 and "−" not in marks
            await pilot.press("escape")
            assert not isinstance(app.screen, CompareScreen)

    asyncio.run(run())

