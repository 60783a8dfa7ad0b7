"""Screen snapshots of the main screens at 120x40 (a projector) and 200x50, dark and light, at a fixed seed (seeded runs repeat byte for
byte, so the screens do too). Update after a deliberate change with
``pytest tests/test_tui_snapshots.py --snapshot-update`` and look at the new SVGs."""

from __future__ import annotations

import pytest

from sshviz.scenario import Scenario
from sshviz.trace.model import sftp_messages, sftp_name
from sshviz.tui.app import SshvizApp
from sshviz.tui.widgets.fields import FieldsTree

SIZE = (120, 40)  # a projector's terminal
WIDE = (200, 50)
SIZES_AND_THEMES = [pytest.param(size, theme, id=f"{size[0]}x{size[1]}-{theme.split('-')[1]}")
                    for size in (SIZE, WIDE) for theme in ("textual-dark", "textual-light")]


def app(theme: str = "textual-dark", **options) -> SshvizApp:
    made = SshvizApp(Scenario(seed=1, **options))
    made.theme = theme
    return made


@pytest.mark.parametrize("size, theme", SIZES_AND_THEMES)
def test_server_kexinit_annotated_with_the_clients_in_flight(snap_compare, size, theme):
    assert snap_compare(app(theme), press=["n", "n", "b"], terminal_size=size)


@pytest.mark.parametrize("size, theme", SIZES_AND_THEMES)
def test_presentation_layout(snap_compare, size, theme):
    assert snap_compare(app(theme), press=["n"] * 5 + ["l"], terminal_size=size)


def test_kexinit_with_its_name_lists(snap_compare):
    assert snap_compare(app(), press=["n", "n"], terminal_size=SIZE)


def test_key_panel_after_both_newkeys(snap_compare):
    assert snap_compare(app(), press=["n"] * 8 + ["k"], terminal_size=SIZE)


def test_encrypted_packet_on_the_wire_with_a_field_selected(snap_compare):
    async def select_service_name(pilot):
        await pilot.press(*["n"] * 9, "w")
        pilot.app.screen.query_one(FieldsTree).focus()
        await pilot.press("down", "down")

    assert snap_compare(app(cipher="aes128-ctr", mac="hmac-sha2-256"), run_before=select_service_name,
                        terminal_size=SIZE)


def test_the_whole_session_on_the_ladder(snap_compare):
    assert snap_compare(app(auth="password", wrong_password_first=True), press=["e"], terminal_size=WIDE)


def test_what_if_dialog(snap_compare):
    assert snap_compare(app(), press=["s"], terminal_size=SIZE)


def test_help_screen(snap_compare):
    assert snap_compare(app(), press=["f1"], terminal_size=SIZE)


def test_search_results(snap_compare):
    assert snap_compare(app(), press=["slash", *"alice", "enter"], terminal_size=SIZE)


def test_too_small_terminal(snap_compare):
    assert snap_compare(app(), press=["n", "n"], terminal_size=(80, 24))


def test_sftp_write_inside_channel_data(snap_compare):
    async def select_the_written_data(pilot):
        await pilot.pause()  # the screen is mounted
        timeline = pilot.app.timeline
        timeline.produce_all()
        write = next(e.index for e in timeline.events
                     if any(sftp_name(m) == "SSH_FXP_WRITE" for m in sftp_messages(e)))
        timeline.go(write)
        pilot.app.screen.sync()
        pilot.app.screen.query_one(FieldsTree).focus()
        await pilot.press(*["down"] * 10)

    assert snap_compare(app(sftp_actions=["put hello.txt", "ls"]), run_before=select_the_written_data,
                        terminal_size=WIDE)


def test_terrapin_after_the_drop(snap_compare):
    """The attacker's column: the inserted IGNORE, the dropped EXT_INFO, both sides' numbers."""
    attacked = SshvizApp(attack=("terrapin", {"strict_kex": "off"}, 1))
    assert snap_compare(attacked, press=["n"] * 10, terminal_size=(120, 40))
