"""`sshviz web` as users run it, in real headless Chromium: the page loads nothing from outside
this machine, the sshviz UI appears and steps with keys, a screenshot downloads, the page's
address chooses an attack, the session limit answers with a page, idle sessions end, and each
browser gets its own data directory. Then the command line's one-line errors and its warning.

What the terminal shows is read from xterm.js's own buffer, the text it draws on its canvas
(``browser.expose_terminal``: the test serves textual.js with one assignment added that hands
its terminal to the page)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest

from .browser import SCREEN_SHOWS, SCREEN_TEXT, browser, expose_terminal, watched_page  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 20  # a session's first frame: an app process starting (1-2 s alone; CI is shared)


class WebRun(NamedTuple):
    url: str  # where the tests reach it
    process: subprocess.Popen
    log: list[str]
    state: Path
    said: str  # the address it said to open

    def wait_for_log(self, pattern: str, seconds: float = START_SECONDS) -> re.Match:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in list(self.log):
                found = re.search(pattern, line)
                if found:
                    return found
            time.sleep(0.05)
        raise AssertionError(f"no log line matching {pattern!r} in {self.log}")


@contextlib.contextmanager
def sshviz_web(tmp_path: Path, *options: str) -> Iterator[WebRun]:
    """``sshviz web --port 0 OPTIONS`` in a process of its own, its state directory in
    ``tmp_path``; stopped with SIGTERM, as a service manager would."""
    state = tmp_path / "state"
    process = subprocess.Popen([sys.executable, "-m", "sshviz", "web", "--port", "0", *options], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ, XDG_STATE_HOME=str(state)))
    log: list[str] = []
    try:
        first = process.stdout.readline()
        found = re.search(r"listening on 127\.0\.0\.1 port (\d+): open (\S+)/ ", first)
        assert found, first + process.stdout.read()
        threading.Thread(target=lambda: log.extend(iter(process.stdout.readline, "")), daemon=True).start()
        yield WebRun(f"http://127.0.0.1:{found.group(1)}", process, log, state, found.group(2))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=15) == 0
        finally:
            if process.poll() is None:
                process.kill()


class Tab(NamedTuple):
    page: object
    console_errors: list[str]
    requests_outside: list[str]
    status: int | None


def _is_loopback(url: str) -> bool:
    return re.match(r"(https?|wss?)://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?/", url) is not None


@contextlib.contextmanager
def open_tab(browser, url: str) -> Iterator[Tab]:  # noqa: F811  (browser is the fixture's)
    """``url`` in a fresh browser context (a browser of its own: its own cookies). Every request
    to anything but loopback is aborted and listed, WebSockets too, as on a classroom network
    with no way out."""
    with watched_page(browser, _is_loopback, viewport={"width": 1400, "height": 900},
                      accept_downloads=True) as (page, console_errors, requests_outside):
        expose_terminal(page.context)
        response = page.goto(url, wait_until="load")
        yield Tab(page, console_errors, requests_outside, response.status if response else None)


def wait_for_screen(page, text: str) -> str:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(SCREEN_SHOWS, arg=text, timeout=START_SECONDS * 1000)
    except PlaywrightTimeout:
        raise AssertionError(f"the terminal never showed {text!r}; it shows:\n"
                             + page.evaluate(f"() => !!window.sshvizTerminal && ({SCREEN_TEXT})()")) from None
    return page.evaluate(SCREEN_TEXT)


def press_until(page, key: str, text: str, tries: int = 10) -> str:
    """Press ``key`` (a pause between presses) until the terminal shows ``text``."""
    for _ in range(tries):
        page.keyboard.press(key)
        try:
            page.wait_for_function(SCREEN_SHOWS, arg=text, timeout=1000)
            return page.evaluate(SCREEN_TEXT)
        except Exception:
            continue
    return wait_for_screen(page, text)


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> Iterator[WebRun]:
    with sshviz_web(tmp_path_factory.mktemp("web")) as run:
        yield run


def test_the_demo_in_a_browser_with_nothing_from_outside(browser, web):  # noqa: F811
    with open_tab(browser, web.url + "/") as tab:
        page = tab.page
        screen = wait_for_screen(page, "#0 of 1+")
        assert "VERSION" in screen and "SSH-2.0-sshviz_0.1" in screen
        # The ladder's heading keeps a space between its three parts ("version exchangeserver" was
        # the step's phase run into "server").
        heading = next(line for line in screen.splitlines() if "#0 of 1+" in line)
        assert re.search(r"client\s+#0 of 1\+( · version exchange)?\s+server", heading), heading
        assert "exchangeserver" not in screen
        # The terminal's font is the page's own, loaded from this server.
        assert page.evaluate("() => document.fonts.check('16px \"Roboto Mono\"')")
        assert page.evaluate("""() => [...document.fonts].some(
            face => face.family.replace(/"/g, '') === 'Roboto Mono' && face.status === 'loaded')""")
        # The terminal has the keys from the start (no click first), so the footer lists them.
        assert "n Next" in wait_for_screen(page, "f1 Help")
        for _ in range(3):
            page.keyboard.press("n")
        screen = wait_for_screen(page, "#3 of")
        assert "KEXINIT" in screen
        page.keyboard.press("]")  # the next phase: user authentication starts with SERVICE_REQUEST
        assert "SERVICE_REQUEST" in wait_for_screen(page, "authentication")

        # ctrl+s: the browser downloads the SVG; nothing is written where the server runs.
        with page.expect_download(timeout=START_SECONDS * 1000) as download_info:
            page.keyboard.press("Control+s")
        download = download_info.value
        assert re.fullmatch(r"sshviz-\d{4}-SERVICE_REQUEST\.svg", download.suggested_filename)
        svg = Path(download.path()).read_text(encoding="utf-8")
        assert svg.startswith("<svg") and "SERVICE_REQUEST" in svg
        assert "your browser" in wait_for_screen(page, download.suggested_filename)
        assert not list(ROOT.glob("sshviz-*.svg"))

        assert tab.requests_outside == []
        assert tab.console_errors == []
        assert tab.status == 200
    web.wait_for_log(r"session ended for 127\.0\.0\.1")


def test_the_address_chooses_an_attack_and_refuses_anything_else(browser, web):  # noqa: F811
    with open_tab(browser, web.url + "/?attack=terrapin") as tab:
        screen = wait_for_screen(tab.page, "attacker")
        assert "terrapin" in screen
        assert tab.requests_outside == [] and tab.console_errors == []
    started = sum("session started" in line for line in web.log)
    for query, words in [("?attack=nosuch", "there is no attack 'nosuch'; the attacks are terrapin"),
                         ("?replay=nosuch", "there is no sample trace 'nosuch'"),
                         ("?command=rm", "not command"),
                         ("?lesson=../../etc/passwd", "there is no lesson '../../etc/passwd'"),
                         ("?attack=terrapin&replay=rekey", "one of lesson=NAME, attack=NAME or replay=NAME")]:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(web.url + "/" + query, timeout=10)
        assert refused.value.code == 400
        page = refused.value.read().decode()
        assert "Not a session this server offers" in page and words in page.replace("&#39;", "'"), page
    time.sleep(0.5)
    assert sum("session started" in line for line in web.log) == started


def test_a_lesson_answered_in_a_browser_keeps_its_progress_for_that_browser(browser, web):  # noqa: F811
    with open_tab(browser, web.url + "/?lesson=01-ssh-at-a-glance") as tab:
        page = tab.page
        wait_for_screen(page, "step 1 of 9")
        for key in ["N", "N", "i"]:  # step 3's question: its answers get the keys
            page.keyboard.press(key)
        # Keys typed in one burst reach the app together, and an Enter that comes before the list
        # of answers has its highlight chooses nothing: press it as a person would, until it does.
        press_until(page, "Enter", "✗ transport")  # the first answer, a wrong one
        page.keyboard.press("ArrowDown")
        press_until(page, "Enter", "✓ user authentication")
        page.keyboard.press("N")
        wait_for_screen(page, "step 4 of 9")
        cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "sshviz_browser")
        progress = web.state / "sshviz" / "web-browsers" / cookie / "data" / "sshviz" / "progress.json"
        assert "ssh-at-a-glance" in progress.read_text()
        # The same browser comes back to where it was; another starts at the beginning.
        page.reload()
        assert "3/9 steps done" in wait_for_screen(page, "step 4 of 9")
        with open_tab(browser, web.url + "/?lesson=01-ssh-at-a-glance") as other:
            assert "0/9 steps done" in wait_for_screen(other.page, "step 1 of 9")
        assert tab.requests_outside == [] and tab.console_errors == []


def test_an_unknown_ticket_gets_no_session(web):
    import asyncio

    import aiohttp

    async def connect() -> tuple[str, int | None]:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(web.url.replace("http:", "ws:") + "/ws/nosuchticket") as ws:
                message = await ws.receive(timeout=10)
                return message.type.name, ws.close_code

    # In a thread of its own: the browser tests' driver keeps an event loop in this one.
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(asyncio.run(connect())))
    worker.start()
    worker.join(30)
    assert outcome == [("CLOSE", 1008)]


def test_each_browser_has_its_own_data_directory(browser, web):  # noqa: F811
    def session_of(tab) -> tuple[str, dict[str, str]]:
        wait_for_screen(tab.page, "#0 of")
        cookie = next(c["value"] for c in tab.page.context.cookies() if c["name"] == "sshviz_browser")
        pid = int(web.wait_for_log(r"session started for \S+ \(pid (\d+)").group(1))
        web.log[:] = [line for line in web.log if f"pid {pid};" not in line]
        environ = dict(item.split("=", 1) for item in
                       Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in item)
        return cookie, environ

    web.wait_for_log(r"\(0 running\)")  # the other tests' sessions have ended
    web.log.clear()
    with open_tab(browser, web.url + "/") as first:
        cookie, environ = session_of(first)
        assert re.fullmatch(r"[0-9a-f]{32}", cookie)
        assert environ["XDG_DATA_HOME"] == str(web.state / "sshviz" / "web-browsers" / cookie / "data")
        assert environ["XDG_STATE_HOME"] == str(web.state / "sshviz" / "web-browsers" / cookie / "state")
        first.page.reload()
        assert session_of(first)[0] == cookie  # the same browser again: the same directory
        with open_tab(browser, web.url + "/") as second:
            other, environ = session_of(second)
            assert other != cookie and other in environ["XDG_DATA_HOME"]


def test_the_session_limit_refuses_the_next_tab_with_a_page(browser, tmp_path):  # noqa: F811
    with sshviz_web(tmp_path, "--max-sessions", "2") as web_run, \
            open_tab(browser, web_run.url + "/") as first, open_tab(browser, web_run.url + "/") as second:
        wait_for_screen(first.page, "#0 of")
        wait_for_screen(second.page, "#0 of")
        with open_tab(browser, web_run.url + "/") as third:
            assert third.status == 503
            assert third.page.text_content("#refused h1") == "All sessions are taken"
            assert "at most 2 sessions at once" in third.page.text_content("#refused")
            assert third.requests_outside == []
            # The browser reports the page's own status, and nothing else went wrong.
            assert third.console_errors == ["Failed to load resource: the server responded with a status "
                                            f"of 503 (Service Unavailable) ({web_run.url}/:0)"]
            web_run.wait_for_log(r"refused a session for 127\.0\.0\.1: 2 are open")
            assert sum("session started" in line for line in web_run.log) == 2
            # One tab closes: its session ends, and "Try again" gets one.
            first.page.close()
            web_run.wait_for_log(r"session ended for 127\.0\.0\.1 \(1 running\)")
            third.page.click("text=Try again")
            wait_for_screen(third.page, "#0 of")
        assert sum("session started" in line for line in web_run.log) == 3


def test_an_idle_session_is_ended(browser, tmp_path):  # noqa: F811
    with sshviz_web(tmp_path, "--idle-timeout", "2") as web_run, open_tab(browser, web_run.url + "/") as tab:
        wait_for_screen(tab.page, "#0 of")
        pid = int(web_run.wait_for_log(r"pid (\d+)").group(1))
        tab.page.wait_for_selector("body.-closed", timeout=START_SECONDS * 1000)
        assert tab.page.is_visible("text=This session has ended")
        web_run.wait_for_log(r"ending the session of 127\.0\.0\.1: no key for 2 seconds")
        web_run.wait_for_log(r"session ended")
        with pytest.raises(ProcessLookupError):
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)


def test_an_app_that_dies_ends_its_page_and_no_other(browser, web):  # noqa: F811
    with open_tab(browser, web.url + "/") as doomed, open_tab(browser, web.url + "/") as other:
        wait_for_screen(doomed.page, "#0 of")
        wait_for_screen(other.page, "#0 of")
        cookie = next(c["value"] for c in doomed.page.context.cookies() if c["name"] == "sshviz_browser")
        # The doomed tab's app: the running one whose data directory is named by its cookie.
        pids = [int(m.group(1)) for m in (re.search(r"pid (\d+);", line) for line in list(web.log)) if m]
        pid = next(p for p in pids if Path(f"/proc/{p}").exists()
                   and cookie in Path(f"/proc/{p}/environ").read_bytes().decode(errors="replace"))
        os.kill(pid, signal.SIGKILL)
        doomed.page.wait_for_selector("body.-closed", timeout=START_SECONDS * 1000)
        assert doomed.page.is_visible("text=This session has ended")
        other.page.keyboard.press("n")
        wait_for_screen(other.page, "#1 of")


# -- the command line --------------------------------------------------------------------------

def run_web(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sshviz", "web", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("args, message", [
    (["--public-url", "ftp://192.0.2.10"], "argument --public-url: 'ftp://192.0.2.10' is not an http:// or "
                                           "https:// address such as http://192.0.2.10:8000"),
    (["--public-url", "192.0.2.10:8000"], "argument --public-url: '192.0.2.10:8000' is not an http://"),
    (["--max-sessions", "0"], "argument --max-sessions: '0' is not a positive whole number"),
    (["--idle-timeout", "soon"], "argument --idle-timeout: 'soon' is not a positive whole number"),
    (["--port", "70000"], "argument --port: '70000' is not a port number (0 to 65535)"),
])
def test_bad_options_are_one_line_errors(args, message):
    done = run_web(*args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_port_in_use_is_a_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_web("--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip() == f"sshviz: error: cannot listen on 127.0.0.1 port {port}: Address already in use"


def test_listening_beyond_loopback_is_said_loudly_with_the_address_to_hand_out():
    from sshviz.cli.web import web_warning

    assert web_warning("127.0.0.1", 8000, None) == []
    assert web_warning("::1", 8000, None) == []
    lines = web_warning("192.0.2.10", 8000, None)
    assert lines[0] == lines[-1] == "!" * 78
    assert lines[1] == ("!! listening on 192.0.2.10 port 8000: anyone who can reach this machine can open "
                        "sessions in a browser")
    assert lines[2:-1] == ["!! hand out: http://192.0.2.10:8000/"]
    assert web_warning("2001:db8::5", 8000, None)[2] == "!! hand out: http://[2001:db8::5]:8000/"
    # Behind a LAN name or a proxy, the address given is the one to hand out.
    assert web_warning("0.0.0.0", 8000, "http://lab.example:80")[2:-1] == ["!! hand out: http://lab.example:80/"]


def test_the_links_follow_the_public_url_or_the_address_the_browser_used(tmp_path, web):
    def page_links(url: str, host: str | None = None) -> set[str]:
        request = urllib.request.Request(url, headers={"Host": host} if host else {})
        with urllib.request.urlopen(request, timeout=10) as response:
            html = response.read().decode()
        return set(re.findall(r'(?:href|src|data-session-websocket-url)="([a-z]+://[^/"]+)/', html))

    # No --public-url: the address each browser asked for (a LAN address, a name).
    assert page_links(web.url + "/") == {web.url, web.url.replace("http:", "ws:")}
    assert page_links(web.url + "/", host="192.0.2.7:8000") == {"http://192.0.2.7:8000", "ws://192.0.2.7:8000"}
    assert web.said == web.url
    # Behind a proxy or another name: the one given, whatever the browser asked for.
    with sshviz_web(tmp_path, "--public-url", "https://sshviz.lab.example/") as proxied:
        assert proxied.said == "https://sshviz.lab.example"
        assert page_links(proxied.url + "/") == {"https://sshviz.lab.example", "wss://sshviz.lab.example"}


def test_web_watch_shows_a_session_that_openssh_makes_against_serve(browser, tmp_path):  # noqa: F811
    # sshviz serve publishes its feed; sshviz web --watch puts `sshviz watch` in each tab; a real
    # OpenSSH client logs in meanwhile and the page shows its session arrive.
    import tempfile

    from .openssh import shared_keys, ssh_command
    from .serving import USER, serve

    with tempfile.TemporaryDirectory(prefix="webwatch", dir="/tmp") as short:  # a socket path is short
        feed = Path(short) / "private" / "feed"
        with serve(tmp_path, "--feed", str(feed)) as served:
            served.wait_for_line("^feed for watchers")
            with sshviz_web(tmp_path / "web", "--watch", str(feed)) as run, open_tab(browser, run.url + "/") as tab:
                wait_for_screen(tab.page, "connections")
                done = subprocess.run(ssh_command(served.port, USER, tmp_path, identity=shared_keys() / "user_ed25519",
                                                  command="echo hello from the class"),
                                      capture_output=True, timeout=60)
                assert done.returncode == 0 and done.stdout == b"hello from the class\n", done.stderr
                screen = wait_for_screen(tab.page, USER)
                assert "OpenSSH_" in screen and "127.0.0.1:" in screen
                tab.page.keyboard.press("Enter")  # the session's ladder, as on the projector
                assert "CHANNEL_REQUEST" in wait_for_screen(tab.page, "KEXINIT")
                # v: the connection's trace is downloaded by the browser, not written where web runs
                with tab.page.expect_download(timeout=START_SECONDS * 1000) as download_info:
                    tab.page.keyboard.press("v")
                download = download_info.value
                assert re.fullmatch(r"sshviz-server-1-127\.0\.0\.1_\d+\.yaml", download.suggested_filename)
                from sshviz.trace.fileformat import load_trace

                saved = load_trace(download.path())
                assert saved.header.client_version.startswith("SSH-2.0-OpenSSH_")
                assert "CHANNEL_REQUEST" in [e.name for e in saved.events]
                assert not list(ROOT.glob("sshviz-server-*.yaml"))
                assert tab.requests_outside == [] and tab.console_errors == []
