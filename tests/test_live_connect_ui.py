"""``sshviz connect`` with the UI (headless, Pilot) against a real OpenSSH sshd: the session's
messages on the ladder as they arrive; a first contact asks about the host key in a dialog
(trusted: added to known_hosts, and the client connects again; refused: nothing more is
sent); a changed host key is refused with a loud dialog; --exec runs with the UI open."""

from __future__ import annotations

import getpass

import pytest

from sshviz.cli import build_parser
from sshviz.cli.connect import ui_session
from sshviz.crypto.keyfiles import read_public_key
from sshviz.tui.live import LiveApp
from sshviz.tui.screens.prompts import ChangedKeyScreen, HostKeyScreen
from sshviz.tui.screens.session import LiveSessionScreen

from .live_ui import SIZE, until
from .openssh import shared_keys, sshd

pytestmark = pytest.mark.interop
USER = getpass.getuser()


def connect_app(tmp_path, port: int, known_hosts, *options: str) -> LiveApp:
    args = build_parser("connect").parse_args(
        ["connect", f"{USER}@127.0.0.1", "-p", str(port), "-i", str(shared_keys() / "user_ed25519"),
         "--known-hosts", str(known_hosts), "--ui", *options])
    live, run = ui_session(args, USER, "127.0.0.1", port)
    return LiveApp(live, run, single=True)


async def first_contact(pilot) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, HostKeyScreen), what="the host key dialog")
    await pilot.pause(0.2)  # laid out, so that a click finds its button


async def test_first_contact_asks_and_trusting_connects_again_and_logs_in(tmp_path):
    with sshd(host_keys=("ed25519",)) as server:
        known = tmp_path / "known_hosts"
        app = connect_app(tmp_path, server.port, known)
        async with app.run_test(size=SIZE) as pilot:
            await first_contact(pilot)
            fingerprint = (shared_keys() / "host_ed25519.pub").read_text().split()[1]
            expected = read_public_key(str(shared_keys() / "host_ed25519.pub"))[0].fingerprint()
            assert expected in str(app.screen.query_one("#hostkey-text").render())
            first = app.connections.connections[0]
            assert first.closed and "AUTH" not in " ".join(e.name for e in first.trace.events)
            await pilot.click("#trust")
            await until(pilot, lambda: len(app.connections.connections) == 2
                        and app.connections.connections[1].state.startswith("logged in"), what="the second login")
            assert fingerprint in known.read_text()
            await until(pilot, lambda: app.shown is app.connections.connections[1], what="the new one shown")
            assert isinstance(app.screen, LiveSessionScreen)
            # Following: the newest message selected, the session channel among them.
            await until(pilot, lambda: app.timeline.position == len(app.timeline) - 1 and "CHANNEL_OPEN_CONFIRMATION"
                        in [e.name for e in app.timeline.events[:app.timeline.position + 1]],
                        what="the session channel on the ladder")


async def test_refusing_a_new_key_sends_nothing_more(tmp_path):
    with sshd(host_keys=("ed25519",)) as server:
        known = tmp_path / "known_hosts"
        app = connect_app(tmp_path, server.port, known)
        async with app.run_test(size=SIZE) as pilot:
            await first_contact(pilot)
            await pilot.click("#refuse")
            await until(pilot, lambda: any("not trusted" in line for line in app.connections.log), what="the ending")
            assert len(app.connections.connections) == 1
            assert not known.exists() or not known.read_text()


async def test_a_changed_host_key_is_refused_loudly(tmp_path):
    with sshd(host_keys=("ed25519",)) as server:
        known = tmp_path / "known_hosts"
        other = (shared_keys() / "user_ed25519.pub").read_text().split()
        known.write_text(f"[127.0.0.1]:{server.port} {other[0]} {other[1]}\n")
        app = connect_app(tmp_path, server.port, known)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, ChangedKeyScreen), what="the changed-key dialog")
            await pilot.pause(0.2)
            text = str(app.screen.query_one("#changedkey-text").render())
            assert "HOST KEY HAS CHANGED" in text and "man in the middle" in text
            connection = app.connections.connections[0]
            assert connection.closed
            assert not any(e.name.startswith("USERAUTH") for e in connection.trace.events)
            await pilot.click("#close")
            assert len(app.connections.connections) == 1


async def test_exec_runs_with_the_ui_open_and_the_output_is_logged(tmp_path):
    with sshd(host_keys=("ed25519",)) as server:
        known = server.known_hosts_file()
        app = connect_app(tmp_path, server.port, known, "--exec", "echo from-sshd")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.connections.connections and app.connections.connections[0].closed,
                        what="the end of the command")
            await until(pilot, lambda: app.timeline.complete, what="the ladder complete")
            assert "from-sshd" in list(app.connections.log)
            assert any("exit status 0" in line for line in app.connections.log)
            names = [e.name for e in app.timeline.events]
            assert "CHANNEL_DATA" in names and names[-1] in ("DISCONNECT", "CHANNEL_CLOSE")
