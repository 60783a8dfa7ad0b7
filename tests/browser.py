"""Helpers for tests that open a page in a real browser: Debian's Chromium, headless, driven by
Playwright's sync API.

``browser`` is a module-scoped fixture (one Chromium per test module: starting it costs a few
tenths of a second); import it into the test module with the helpers it uses::

    from .browser import browser, open_page  # noqa: F401  (browser is a fixture)

``open_page(browser, target)`` opens a file:// page in a fresh browser context and yields an
``OpenedPage``: the page, the console and page errors it reported, and every request it made
outside the page's own files. Such requests are blocked (the page is meant to work offline, and a
report that fetched fonts or scripts from the network would leak that it was opened) and listed,
so a test asserts the list is empty.

Playwright never downloads a browser here: it launches /usr/bin/chromium. When that or Playwright
is missing, ``require`` skips with the reason (scripts/test installs Chromium from Debian's
packages and Playwright with the test extras)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, NamedTuple

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
# Schemes a self-contained page may load from: its own files, inline data, and blobs it made.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
TIMEOUT_MS = 10_000


def require() -> None:
    """Skip (with why) when the browser or its driver is not installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (scripts/test installs Chromium from Debian's packages)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (scripts/test installs it with the test extras: pip install -e '.[test]')")


def launch_args() -> list[str]:
    # Chromium refuses to run as root with its sandbox on. /dev/shm is small in some containers
    # (Debian's launcher checks its size but the check can misfire): use /tmp instead.
    args = ["--disable-dev-shm-usage"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    return args


@contextlib.contextmanager
def launch() -> Iterator[Browser]:
    """Debian's Chromium, headless, closed (with Playwright's driver) on leaving."""
    require()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=launch_args())
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


class OpenedPage(NamedTuple):
    page: Page
    console_errors: list[str]
    requests_outside: list[str]


def _is_local(url: str) -> bool:
    return url.startswith(LOCAL_SCHEMES)


# A page served by `sshviz web` draws the terminal with xterm.js inside textual.js, which keeps
# its Terminal to itself. expose_terminal serves textual.js with one assignment added that hands
# it to the page, and SCREEN_TEXT reads what it shows (its buffer, the text it draws) as lines.
TERMINAL_OPENS = "this.terminal.open(e)"
SCREEN_TEXT = """() => {
  const buffer = window.sshvizTerminal.buffer.active, lines = [];
  for (let y = 0; y < buffer.length; y++) lines.push(buffer.getLine(y).translateToString(true));
  return lines.join("\\n");
}"""
SCREEN_SHOWS = "text => !!window.sshvizTerminal && (" + SCREEN_TEXT + ")().includes(text)"


def expose_terminal(context) -> None:
    """Route textual.js in ``context`` through a copy that sets ``window.sshvizTerminal``."""
    def serve(route):
        response = route.fetch()
        body = response.text()
        assert body.count(TERMINAL_OPENS) == 1, "textual.js changed: its terminal cannot be found"
        route.fulfill(response=response,
                      body=body.replace(TERMINAL_OPENS, TERMINAL_OPENS + ",window.sshvizTerminal=this.terminal"))

    context.route("**/textual.js", serve)


class WatchedPage(NamedTuple):
    page: Page
    console_errors: list[str]
    requests_outside: list[str]


@contextlib.contextmanager
def watched_page(browser: Browser, allowed: Callable[[str], bool], **context_options) -> Iterator[WatchedPage]:
    """A page in a fresh browser context (``context_options`` for it), closed on leaving.

    Every request whose URL ``allowed`` refuses (scripts, styles, fonts, images, fetches,
    navigations, frames, WebSockets) is aborted and its URL appended (once) to
    ``requests_outside``. ``console_errors`` gets each console message of type error and each
    uncaught exception ("pageerror: ...")."""
    console_errors: list[str] = []
    requests_outside: list[str] = []
    context = browser.new_context(**context_options)
    try:
        context.set_default_timeout(TIMEOUT_MS)

        def note(request_url: str) -> None:
            if request_url not in requests_outside:
                requests_outside.append(request_url)

        def route(route):
            if allowed(route.request.url):
                route.continue_()
            else:
                note(route.request.url)
                route.abort("blockedbyclient")

        def route_web_socket(ws):
            note(ws.url)
            ws.close()

        context.route("**/*", route)
        context.route_web_socket(lambda url: not allowed(url), route_web_socket)
        page = context.new_page()

        def on_console(message):
            if message.type == "error":
                where = message.location
                at = f" ({where['url']}:{where['lineNumber']})" if where and where.get("url") else ""
                console_errors.append(f"{message.text}{at}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: console_errors.append(f"pageerror: {error}"))
        # A request that slipped past the route (none should) is still recorded.
        page.on("request", lambda request: None if allowed(request.url) else note(request.url))
        yield WatchedPage(page, console_errors, requests_outside)
    finally:
        context.close()


@contextlib.contextmanager
def open_page(browser: Browser, target: Path | str, *, fragment: str | None = None) -> Iterator[OpenedPage]:
    """Open ``target`` (a Path to an HTML file, or a str of HTML that is written to a temporary
    file first) as a file:// URL, with ``#fragment`` when given, and wait for its load event.
    Requests outside the page's own files (not file:, data:, blob: or about:) are aborted and
    listed (``watched_page``)."""
    scratch = None
    if isinstance(target, str):
        scratch = tempfile.mkdtemp(prefix="sshviz-page-")
        path = Path(scratch) / "page.html"
        path.write_text(target, encoding="utf-8")
    else:
        path = target
    url = path.resolve().as_uri() + (f"#{fragment}" if fragment is not None else "")
    try:
        with watched_page(browser, _is_local) as watched:
            watched.page.goto(url, wait_until="load")
            yield OpenedPage(*watched)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
