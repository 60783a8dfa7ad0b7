"""The Textual UI driven by key presses and clicks (Pilot): what each panel shows."""

from __future__ import annotations

import pytest

from sshviz.events import AlgorithmsNegotiated
from sshviz.scenario import Scenario, run_scenario
from sshviz.trace.capture import import_capture
from sshviz.trace.files import open_traces
from sshviz.trace.samples import sample_names
from sshviz.tui.app import SshvizApp
from sshviz.tui.screens.main import MainScreen
from sshviz.tui.widgets.fields import FieldInfo, FieldsTree
from sshviz.tui.widgets.hexview import HexView
from sshviz.tui.widgets.keypanel import KeyPanel
from sshviz.tui.widgets.ladder import Ladder

from .captures import trace_capture
from .conftest import plain

SIZE = (140, 42)


def key_panel_text(app) -> str:
    return app.screen.query_one(KeyPanel).text()


def tree_children(app):
    return app.screen.query_one(FieldsTree).top_items


async def step_to(pilot, app, name: str, occurrence: int = 1) -> None:
    """Press n until the selected message is the ``occurrence``-th one called ``name``."""
    seen = 0
    for _ in range(200):
        event = app.timeline.current
        if event.name == name:
            seen += 1
            if seen == occurrence:
                await pilot.pause()
                return
        await pilot.press("n")
    raise AssertionError(f"never reached {name}")


async def test_starts_on_the_first_version_line():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert app.timeline.position == 0
        assert app.timeline.current.name == "VERSION"
        names = [item.field.name for item in tree_children(app)]
        assert names == ["identification"]
        parts = [child.field.name for child in tree_children(app)[0].children]
        assert parts == ["protoversion", "softwareversion", "CR LF"]
        assert "waiting" not in key_panel_text(app) and "after both KEXINITs" in key_panel_text(app)


async def test_stepping_to_kexinit_shows_its_ten_name_lists():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        await pilot.pause()
        assert app.timeline.current.name == "KEXINIT"
        lists = [item for item in tree_children(app) if item.field.type == "name-list"]
        assert [item.field.name for item in lists] == [
            "kex_algorithms", "server_host_key_algorithms",
            "encryption_algorithms_client_to_server", "encryption_algorithms_server_to_client",
            "mac_algorithms_client_to_server", "mac_algorithms_server_to_client",
            "compression_algorithms_client_to_server", "compression_algorithms_server_to_client",
            "languages_client_to_server", "languages_server_to_client"]
        kex = lists[0]
        assert "curve25519-sha256" in [child.field.value for child in kex.children]
        assert all(child.field.type == "name" for child in kex.children)
        # The tree's lines say the same, with types and an explanation.
        tree = app.screen.query_one(FieldsTree)
        lines = [tree.row_text(i) for i in range(len(tree.rows))]  # whole rows, unfolded
        assert "KEXINIT" in lines[0] and "RFC 4253 7.1" in lines[0]
        assert any(line.lstrip(" ▶").startswith("kex_algorithms name-list = ") and "in order of preference" in line
                   for line in lines)


async def test_key_panel_shows_K_H_and_six_keys_after_newkeys():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        before = key_panel_text(app)
        assert "session_id" not in before
        await step_to(pilot, app, "NEWKEYS", 2)
        text = key_panel_text(app)
        result = next(e for s in app.timeline.events for _, e in s.changes if type(e).__name__ == "KexComputed")
        compact = "".join(text.split())  # long values wrap over lines
        assert result.H.hex() in compact and result.K[4:].hex() in compact
        assert "the shared secret" in text and "\nK " in text
        assert "H=SHA256(V_C||V_S||I_C||I_S||K_S||Q_C||Q_S||K)" in compact
        for letter in "ABCDEF":
            assert f'HASH(K||H||"{letter}"||session_id)' in compact
        assert "session_id" in text
        assert "client→server" in text and "chacha20-poly1305@openssh.com" in compact


async def test_a_direction_is_protected_from_its_newkeys_on():
    """The server reports its new keys while handling KEX_ECDH_INIT, but its KEX_ECDH_REPLY and
    NEWKEYS still travel in clear: the panel follows the NEWKEYS messages."""
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        protection = {}
        for _ in range(9):
            words = " ".join(key_panel_text(app).split()).split("Protection")[1]
            protection[app.timeline.current.name] = (words.split("client→server ")[1].split()[0],
                                                     words.split("server→client ")[1].split()[0])
            await pilot.press("n")
            await pilot.pause()
        assert protection["KEX_ECDH_INIT"] == protection["KEX_ECDH_REPLY"] == ("in", "in")
        assert protection["EXT_INFO"] == ("in", "chacha20-poly1305@openssh.com")
        assert protection["NEWKEYS"] == ("chacha20-poly1305@openssh.com",) * 2  # the client's, last


async def test_key_panel_shows_the_group_a_group_exchange_chose():
    app = SshvizApp(Scenario(kex="diffie-hellman-group-exchange-sha256"))
    async with app.run_test(size=SIZE) as pilot:
        await step_to(pilot, app, "KEX_DH_GEX_REPLY")
        group = next(e for e in app.timeline.events if e.name == "KEX_DH_GEX_GROUP").message
        words = " ".join(key_panel_text(app).split())
        assert f"g 0{group['g']} mpint: the generator the server chose" in words
        assert "the group's modulus" in words and "".join(words.split()).count(f"{group['p']:x}"[:40]) == 1
        assert "n 3072 uint32: preferred group size in bits" in words  # the request is in H too
        assert "each direction switches to them at its NEWKEYS" in words


@pytest.mark.parametrize("kex, sizes, hash_name", [
    ("sntrup761x25519-sha512", (1158, 1039), "SHA-512"), ("mlkem768x25519-sha256", (1184, 1088), "SHA-256")])
async def test_key_panel_explains_a_hybrid_kem(kex, sizes, hash_name):
    app = SshvizApp(Scenario(kex=kex))
    async with app.run_test(size=SIZE) as pilot:
        await step_to(pilot, app, "KEX_HYBRID_REPLY")
        words = " ".join(key_panel_text(app).split())
        assert "A KEM (key encapsulation mechanism)" in words and "decapsulates" in words
        assert f"public key ({sizes[0]} bytes) || its X25519 public key (32)" in words
        assert f"the ciphertext ({sizes[1]} bytes)" in words
        assert f"K = {hash_name}(KEM secret || X25519 secret), hashed into H as a string" in words
        assert "Why both" in words and "unless both are broken" in words
        if kex.startswith("sntrup"):  # the client's private key, never sent
            assert "client secret sntrup761_private_key = " in words
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await step_to(pilot, app, "KEX_ECDH_REPLY")
        assert "KEM" not in key_panel_text(app)


async def test_key_panel_and_fields_explain_a_host_certificate():
    app = SshvizApp(Scenario(hostkey="ssh-ed25519-cert-v01@openssh.com"))
    async with app.run_test(size=SIZE) as pilot:
        await step_to(pilot, app, "KEX_ECDH_REPLY")
        words = " ".join(key_panel_text(app).split())
        assert "host key ssh-ed25519-cert-v01@openssh.com" in words
        assert "SSH's answer to certificate authorities" in words and "@cert-authority" in words
        fields = {f.name: f for f in app.timeline.current.message.fields}
        opened = [f.name for f in fields["host_key"].walk()]
        assert {"key_id", "valid_principals", "valid_before", "signature_key"} <= set(opened)
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await step_to(pilot, app, "KEX_ECDH_REPLY")
        assert "certificate" not in key_panel_text(app)


async def test_hex_highlight_moves_with_the_selected_field():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        hex_view = app.screen.query_one(HexView)
        app.screen.query_one(FieldsTree).focus()
        await pilot.press("down")  # msg_number: payload byte 0, packet byte 5
        await pilot.pause()
        assert hex_view.highlight == [(5, 6)]
        await pilot.press("down")  # cookie: 16 bytes after it
        await pilot.pause()
        assert hex_view.highlight == [(6, 22)]
        assert "cookie" in plain(app.screen.query_one(FieldInfo).content)
        assert "RFC 4253 7.1" in plain(app.screen.query_one(FieldInfo).content)
        # On the wire the same bytes carry the field (no keys yet: the same bytes, in clear).
        await pilot.press("w")
        await pilot.pause()
        assert hex_view.highlight == [(6, 22)]
        assert hex_view.sections[0].data[6:22] == app.timeline.current.message["cookie"]


async def test_clicking_a_byte_selects_its_field():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        hex_view = app.screen.query_one(HexView)
        # Line 1 of the view is bytes 0-15; byte 7 is inside the cookie (bytes 6-21).
        await pilot.click(HexView, offset=(1 + 6 + 7 * 3, 1))
        await pilot.pause()
        tree = app.screen.query_one(FieldsTree)
        assert tree.cursor_item.field.name == "cookie"
        assert hex_view.highlight == [(6, 22)]


async def test_clicking_a_fields_arrow_opens_it():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        tree = app.screen.query_one(FieldsTree)
        row = next(i for i, r in enumerate(tree.rows) if r.item.field.name == "kex_algorithms")
        before = len(tree.rows)
        await pilot.click(FieldsTree, offset=(0, tree.row_start[row]))  # the ▶ in front of it (rows fold over lines)
        await pilot.pause()
        assert tree.cursor_item.field.name == "kex_algorithms"
        assert len(tree.rows) == before + len(tree.cursor_item.children)
        await pilot.press("n", "p")  # the same kind of message opens the same way
        assert len(tree.rows) == before + len(tree.cursor_item.children)


async def test_wire_view_marks_encrypted_bytes_and_mac():
    app = SshvizApp(Scenario(cipher="aes128-ctr", mac="hmac-sha2-256"))
    async with app.run_test(size=SIZE) as pilot:
        await step_to(pilot, app, "SERVICE_REQUEST")
        hex_view = app.screen.query_one(HexView)
        plain_parts = [name for _, _, name in hex_view.sections[0].parts]
        assert plain_parts == ["length", "padlen", "payload", "padding", "mac"]
        await pilot.press("w")
        await pilot.pause()
        section = hex_view.sections[0]
        assert section.data == app.timeline.current.record.wire
        assert [name for _, _, name in section.parts] == ["clear", "encrypted", "mac"]
        assert "encrypted with aes128-ctr" in section.title


@pytest.mark.parametrize("size", [SIZE, (100, 30)])  # 100x30: the smallest the UI draws
async def test_the_hex_title_is_shown_whole(size):
    """It says what is encrypted and what is not: wrapped to the view, never cut off."""
    app = SshvizApp(Scenario())
    async with app.run_test(size=size) as pilot:
        await step_to(pilot, app, "SERVICE_REQUEST")
        await pilot.press("w")
        await pilot.pause()
        hex_view = app.screen.query_one(HexView)
        shown = " ".join(hex_view.render_line(y).text.strip() for y in range(4))
        title = hex_view.sections[0].title
        assert "packet_length encrypted with a key of its own" in title
        assert f"{title} · {len(hex_view.sections[0].data)} bytes" in shown


async def test_compressed_payload_gets_its_own_section():
    app = SshvizApp(Scenario(compression="zlib"))
    async with app.run_test(size=SIZE) as pilot:
        await step_to(pilot, app, "SERVICE_REQUEST")
        hex_view = app.screen.query_one(HexView)
        assert len(hex_view.sections) == 2
        assert "decompression" in hex_view.sections[1].title
        app.screen.query_one(FieldsTree).focus()
        await pilot.press("down")  # msg_number: in the decompressed payload, not the packet
        await pilot.pause()
        assert hex_view.highlight == [(0, 0), (0, 1)]


async def what_if(pilot, app, **values) -> None:
    """Open the what-if dialog, set options (by Scenario field name) and press Run again."""
    await pilot.press("s")
    await pilot.pause()
    for name, value in values.items():
        app.screen.query_one(f"#opt-{name}").value = value
    await pilot.click("#whatif-run")
    await pilot.pause()


async def test_what_if_changes_the_negotiated_cipher():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n")
        await what_if(pilot, app, cipher="aes256-gcm@openssh.com", seed="5")
        assert isinstance(app.screen, MainScreen)
        assert app.scenario.cipher == "aes256-gcm@openssh.com" and app.scenario.seed == 5
        assert app.timeline.position == 3  # the same step, run again
        negotiated = [e for s in app.timeline.events for _, e in s.changes if isinstance(e, AlgorithmsNegotiated)]
        assert negotiated and all(n.chosen("cipher_c2s") == "aes256-gcm@openssh.com" for n in negotiated)
        assert "aes256-gcm@openssh.com" in key_panel_text(app)
        assert "aes256-gcm" in app.sub_title


async def test_what_if_left_as_it_is_runs_the_same_scenario():
    scenario = Scenario(seed=4, banner="hi")
    app = SshvizApp(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await what_if(pilot, app)
        assert app.scenario == scenario  # an empty SFTP list stays empty, not the text "[]"


async def test_what_if_plays_sftp_commands():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await what_if(pilot, app, sftp_actions="put hello.txt, ls")
        assert app.scenario.sftp_actions == ["put hello.txt", "ls"]
        await pilot.press("e")
        assert "SFTP" in [row.text for row in app.timeline.rows if row.kind == "phase"]


async def test_what_if_wrong_password_first():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await what_if(pilot, app, auth="password", wrong_password_first=True)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("e")
        failures = [e for e in app.timeline.events if e.name == "USERAUTH_FAILURE"]
        assert len(failures) == 2  # "none", then the wrong password


async def test_what_if_says_what_the_less_obvious_options_do():
    from textual.widgets import Label

    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert "instead of the command" in app.screen.query_one("#opt-sftp_actions").placeholder
        assert "e.g. sftp: start a subsystem" in app.screen.query_one("#opt-subsystem").placeholder
        tips = {str(label.content): label.tooltip for label in app.screen.query(Label)}
        assert "RFC 4253 7" in tips["guess kex"] and "Terrapin" in tips["strict kex"]


async def test_what_if_says_what_is_wrong_and_stays_open():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await what_if(pilot, app, seed="twelve")
        assert type(app.screen).__name__ == "WhatIfScreen"
        assert "seed: a whole number, not 'twelve'" in str(app.screen.query_one("#whatif-error").content)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen) and app.scenario.seed == 1


async def search(pilot, app, text: str):
    """Open the search dialog, search for ``text``; returns the list of results."""
    await pilot.press("slash")
    await pilot.pause()
    await pilot.press(*text, "enter")
    await pilot.pause()
    return app.screen.query_one("#search-results")


async def test_search_finds_messages_by_name_and_field_value():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        results = await search(pilot, app, "alice")
        found = [int(results.get_option_at_index(i).id) for i in range(results.option_count)]
        assert found and all(app.timeline.events[i].name.startswith("USERAUTH_REQUEST") for i in found)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert app.timeline.position == found[0]


async def test_search_results_name_the_sftp_packets():
    app = SshvizApp(Scenario(sftp_actions=["put hello.txt"]))
    async with app.run_test(size=SIZE) as pilot:
        results = await search(pilot, app, "Hello, SFTP")
        assert "CHANNEL_DATA · FXP_WRITE" in str(results.get_option_at_index(0).prompt)


async def test_phases_run_to_end_and_restart():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_square_bracket")
        assert app.timeline.current.name == "KEXINIT"
        await pilot.press("right_square_bracket")
        assert app.timeline.current.name == "SERVICE_REQUEST"
        await pilot.press("left_square_bracket")
        assert app.timeline.current.name == "KEXINIT"
        await pilot.press("e")
        assert app.timeline.complete and app.timeline.current.name == "DISCONNECT"
        await pilot.press("p")
        assert app.timeline.position == len(app.timeline) - 2
        await pilot.press("r")
        assert app.timeline.position == 0 and len(app.timeline) == 1  # a fresh live run


async def test_clicking_the_ladder_selects_a_message():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        ladder = app.screen.query_one(Ladder)
        row = app.timeline.row_of_event[5]
        ladder.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        await pilot.click(Ladder, offset=(10, row))
        await pilot.pause()
        assert app.timeline.position == 5


async def test_opens_a_prebuilt_trace():
    trace = run_scenario(Scenario(seed=3)).trace
    app = SshvizApp(trace=trace)
    async with app.run_test(size=SIZE) as pilot:
        assert app.timeline.complete and len(app.timeline) == len(trace.events)
        await pilot.press("e")
        assert app.timeline.current is trace.events[-1]
        assert app.scenario.seed == 3  # an in-process trace keeps its scenario for what-if


@pytest.mark.parametrize("sample", sample_names())
async def test_every_sample_trace_steps_to_its_end(sample):
    """Saved traces, in-process and recorded against OpenSSH, through every panel."""
    (trace,) = open_traces(sample)
    app = SshvizApp(trace=trace)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(len(trace.events)):
            await pilot.press("n")
        await pilot.press("w", "right_square_bracket", "left_square_bracket", "e")
        assert app.timeline.current is trace.events[-1]
        assert "Protection" in key_panel_text(app)


@pytest.mark.parametrize("cipher", ["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"])
async def test_a_capture_without_keys_shows_what_the_wire_tells(cipher, tmp_path):
    """Without a key log, chacha20 hides packet boundaries (raw bytes) and AES-GCM shows each
    packet's length: every step draws, and nothing claims to be plaintext or in clear."""
    session = run_scenario(Scenario(cipher=cipher)).trace
    (trace,) = import_capture(trace_capture(session, tmp_path / "nokeys.pcap"))
    app = SshvizApp(trace=trace)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(len(trace.events)):
            await pilot.press("n", "w", "w")
        await pilot.press("right_square_bracket", "left_square_bracket", "e")
        await pilot.pause()
        sealed = next(e for e in trace.events if not e.opened and e.direction == "c2s")
        app.timeline.go(sealed.index)
        app.main.sync()
        await pilot.pause()
        assert app.timeline.phase_at(sealed.index) == "undecoded"
        items = {item.title or item.field.name: item for item in tree_children(app)}
        assert "no key log was given" in items["note"].explanation
        wire = sealed.record.wire
        hex_view = app.screen.query_one(HexView)
        assert hex_view.sections[0].data == wire
        if sealed.kind == "raw":
            assert items["bytes"].span == (0, len(wire))
        else:
            length = items["packet_length"]
            assert length.field.value == int.from_bytes(wire[:4], "big") == len(wire) - 4 - 16
            app.screen.query_one(FieldsTree).select_item(length)
            await pilot.pause()
            assert hex_view.highlight == [(0, 4)]
            assert hex_view.sections[0].part_at(0) == "clear" and hex_view.sections[0].part_at(4) == "encrypted"
            assert items["mac"].span == (len(wire) - 16, len(wire))
        keys = " ".join(key_panel_text(app).split())  # as words: wrapping depends on the width
        protection = keys.split("Protection")[1]
        assert "in clear" not in protection and protection.count(cipher) == 2
        assert "a capture needs its key log" in keys


async def test_a_trace_from_elsewhere_has_no_what_if():
    trace = run_scenario(Scenario()).trace
    trace.header.source = "capture"
    app = SshvizApp(trace=trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert app.scenario is None


async def test_an_empty_trace_opens_and_keys_do_nothing():
    trace = run_scenario(Scenario()).trace
    trace.events.clear()
    app = SshvizApp(trace=trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "e", "p", "right_square_bracket", "w")
        await pilot.pause()
        assert app.timeline.current is None and isinstance(app.screen, MainScreen)


def test_what_if_form_edits_options_added_to_scenario_later():
    """A new Scenario option gets a widget by its type: SFTP actions as a list of names."""
    import dataclasses

    from sshviz.tui.screens.whatif import _kind

    @dataclasses.dataclass
    class Later:
        sftp_actions: list[str] = dataclasses.field(default_factory=list)
        quiet: bool = False
        retries: int = 0
        options: dict = dataclasses.field(default_factory=dict)

    kinds = {f.name: _kind(f) for f in dataclasses.fields(Later)}
    assert kinds == {"sftp_actions": "list", "quiet": "bool", "retries": "int", "options": "skip"}


async def test_screenshot_is_saved(tmp_path):
    app = SshvizApp(Scenario())
    app.screenshot_dir = str(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "ctrl+s")
        await pilot.pause()
        saved = list(tmp_path.iterdir())
        assert [p.name for p in saved] == ["sshviz-0002-KEXINIT.svg"]
        assert saved[0].read_text().startswith("<svg")


async def test_a_screenshot_that_cannot_be_saved_is_a_notice(tmp_path):
    app = SshvizApp(Scenario())
    app.screenshot_dir = str(tmp_path / "missing")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        (notice,) = app._notifications
        assert notice.severity == "error" and "No such file or directory" in notice.message


async def test_help_lists_every_binding():
    from sshviz.tui.bindings import HELP_SECTIONS
    from sshviz.tui.screens.help import keys_table

    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        table = keys_table()
        for _, bindings in HELP_SECTIONS:
            for binding in bindings:
                assert (binding.tooltip or binding.description) in table
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_command_palette_offers_sshviz_commands():
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for wanted in ("Next", "Next phase", "Run to end", "Restart", "Search", "What if…", "SVG",
                       "Go to phase: authentication (#9)", "Go to KEXINIT (#2)", "Theme"):
            assert wanted in titles
        assert len(titles) == len(set(titles)), "two commands of one name cannot be told apart"
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Go to KEXINIT (#2)")
        command.callback()
        await pilot.pause()
        assert app.timeline.position == 2


async def test_narrow_terminal_swaps_fields_and_keys():
    app = SshvizApp(Scenario())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-narrow")
        assert not app.screen.query_one(KeyPanel).display
        await pilot.press("k")
        await pilot.pause()
        assert app.screen.query_one(KeyPanel).display
        assert not app.screen.query_one("#fields-pane").display


@pytest.mark.parametrize("theme", ["textual-light", "nord"])
async def test_themes_redraw_the_ladder(theme):
    app = SshvizApp(Scenario())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        ladder = app.screen.query_one(Ladder)
        before = ladder.render_line(1)
        app.theme = theme
        await pilot.pause()
        assert ladder.render_line(1) != before


