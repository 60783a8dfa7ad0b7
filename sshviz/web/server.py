"""The web server: one app process per browser tab, drawn in the page by textual-serve's
textual.js (xterm.js), with a limit on sessions, idle sessions ended, and every file the page
loads served from here.

textual-serve's ``Server`` gives the download route and the loop that passes the browser's keys
to the app; this module replaces its page (our template, our fonts, no request to another
host), its websocket route (a one-time ticket per page, so a session is counted from the moment
its page is made, and a page from another site cannot open one) and its start-up (a port chosen
by the system, our log lines)."""

from __future__ import annotations

import asyncio
import re
import secrets
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import jinja2
import textual_serve
from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

HERE = Path(__file__).parent
TEXTUAL_STATIC = Path(textual_serve.__file__).parent / "static"  # textual.js and xterm.css
BROWSER_COOKIE = "sshviz_browser"
BROWSER_ID = re.compile(r"[0-9a-f]{32}")
TICKET_SECONDS = 60  # a page's session is kept for it this long before its websocket comes
CHECK_SECONDS = 5  # how often idle sessions and unused tickets are looked for
STOP_SECONDS = 5  # an app that has not quit this long after being told to is killed
FULL_RETRY_SECONDS = 30
# Query arguments textual.js and textual-serve's page read themselves, not the app's.
PAGE_ARGUMENTS = ("fontsize", "delay", "ping")


class Refused(Exception):
    """A page the server will not start a session for: why, in words for the page."""


@dataclass
class Session:
    """One browser tab's session: reserved when its page is made (``ticket``), running once its
    websocket comes (``process``)."""

    ticket: str
    argv: list[str]
    browser: str
    peer: str
    made: float = field(default_factory=time.monotonic)
    process: SessionProcess | None = None
    websocket: web.WebSocketResponse | None = None


class SessionProcess(AppService):
    """textual-serve's app process, with the session's own environment and a note of when the
    browser last sent a key or a new size (for the idle limit)."""

    def __init__(self, command: str, environment: Mapping[str, str], **kwargs) -> None:
        super().__init__(command, **kwargs)
        self.environment = dict(environment)
        self.last_input = time.monotonic()

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        return {**super()._build_environment(width, height), **self.environment}

    async def send_bytes(self, data: bytes) -> bool:
        self.last_input = time.monotonic()
        return await super().send_bytes(data)

    async def set_terminal_size(self, width: int, height: int) -> None:
        self.last_input = time.monotonic()
        await super().set_terminal_size(width, height)

    async def run(self) -> None:
        """The app's output to the browser until the process ends, however it ends: then the
        browser is told (its page says the session has ended), even when the app could not say
        so itself (killed, or failed before its first frame)."""
        try:
            await super().run()
        finally:
            await self.remote_close()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def stop_within(self, seconds: float) -> None:
        """Ask the app to quit; kill it if it has not within ``seconds``."""
        try:
            await asyncio.wait_for(asyncio.shield(self.stop()), seconds)
        except asyncio.TimeoutError:
            if self._process is not None and self._process.returncode is None:
                self._process.kill()


class WebServer(Server):
    """A Textual app for browsers. ``app_argv(query)`` is the command line a tab's session runs
    (the page's query arguments in, ``Refused`` for ones it does not take); each browser keeps
    a cookie naming it, and ``browser_environment(id)`` is the environment its sessions get
    (their own data directories). At most ``max_sessions`` run at once, and one that has had
    no key for ``idle_timeout`` seconds is ended; ``log`` gets a line for each."""

    def __init__(self, app_argv: Callable[[Mapping[str, str]], list[str]], *, title: str,
                 host: str = "127.0.0.1", port: int = 8000, public_url: str | None = None,
                 max_sessions: int = 30, idle_timeout: float = 900,
                 browser_environment: Callable[[str], Mapping[str, str]] = lambda browser: {},
                 log: Callable[[str], None] = print) -> None:
        super().__init__("sshviz", host=host, port=port, title=title, public_url=public_url,
                         statics_path=HERE / "static", templates_path=HERE / "templates")
        self.given_public_url = public_url.rstrip("/") if public_url else None
        self.app_argv = app_argv
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.browser_environment = browser_environment
        self.log = log
        self.sessions: dict[str, Session] = {}  # by ticket, reserved and running
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                            autoescape=True)
        self._site: web.TCPSite | None = None

    # -- the routes ------------------------------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._security_headers])
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws/{ticket}", self.handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.static("/static/sshviz", HERE / "static", name="static"),
            web.static("/static/textual", TEXTUAL_STATIC, name="textual"),
        ])
        app.on_shutdown.append(self._end_all)
        return app

    @web.middleware
    async def _security_headers(self, request: web.Request, handler):
        """Every response says the page may load from this server only (textual.js adds its
        styles inline), so nothing slips out to the network even by mistake."""
        response = await handler(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            f"connect-src 'self' {self._websocket_origin(request)}; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    def _base_url(self, request: web.Request) -> str:
        """Where the browser reaches this server: --public-url, else what the browser asked for
        (so the links are right whichever of the machine's addresses it used)."""
        return self.given_public_url or f"{request.scheme}://{request.host}"

    def _websocket_origin(self, request: web.Request) -> str:
        base = self._base_url(request)
        return ("wss:" if base.startswith("https:") else "ws:") + base.split(":", 1)[1]

    async def handle_index(self, request: web.Request) -> web.Response:
        """The page for a new session, or a page saying why there is none."""
        self._forget_unused_tickets()
        query = {k: v for k, v in request.query.items() if k not in PAGE_ARGUMENTS}
        try:
            argv = self.app_argv(query)
        except Refused as exc:
            return self._refused(request, 400, "Not a session this server offers", str(exc))
        if len(self.sessions) >= self.max_sessions:
            self.log(f"refused a session for {request.remote}: {self.max_sessions} are open (--max-sessions)")
            return self._refused(
                request, 503, "All sessions are taken",
                f"This server runs at most {_count(self.max_sessions, 'session')} at once, and that many are "
                "open now. One is free again when someone closes their tab, or after a while "
                "without a key pressed.", retry_seconds=FULL_RETRY_SECONDS)
        browser = request.cookies.get(BROWSER_COOKIE, "")
        if not BROWSER_ID.fullmatch(browser):
            browser = secrets.token_hex(16)
        ticket = secrets.token_urlsafe(24)
        self.sessions[ticket] = Session(ticket, argv, browser, request.remote or "?")
        font_size = request.query.get("fontsize", "16")
        response = self._page("session.html", request, status=200,
                              websocket_url=f"{self._websocket_origin(request)}/ws/{ticket}",
                              font_size=int(font_size) if font_size.isdigit() and 6 <= int(font_size) <= 64 else 16,
                              idle=_minutes(self.idle_timeout))
        response.set_cookie(BROWSER_COOKIE, browser, max_age=365 * 24 * 3600, httponly=True, samesite="Strict")
        return response

    def _refused(self, request: web.Request, status: int, heading: str, reason: str,
                 retry_seconds: int | None = None) -> web.Response:
        response = self._page("refused.html", request, status=status, heading=heading, reason=reason,
                              retry_seconds=retry_seconds, again_url=str(request.rel_url))
        if retry_seconds:
            response.headers["Retry-After"] = str(retry_seconds)
        return response

    def _page(self, template: str, request: web.Request, *, status: int, **values) -> web.Response:
        html = self.templates.get_template(template).render(
            title=self.title, static_url=f"{self._base_url(request)}/static/", **values)
        # A page holds a one-time ticket: never one from a cache.
        return web.Response(text=html, status=status, content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """The session of the page that holds this ticket: its app process runs as long as the
        websocket is open and a key comes at least every idle_timeout seconds."""
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        session = self.sessions.get(request.match_info["ticket"])
        if session is None or session.websocket is not None:
            # An old page (the server restarted, or its ticket went unused): textual.js shows
            # "session ended" and its button makes a new page.
            await websocket.close(code=WSCloseCode.POLICY_VIOLATION, message=b"no such session")
            return websocket
        session.websocket = websocket
        width = _int(request.query.get("width"), 80)
        height = _int(request.query.get("height"), 24)
        # textual-serve runs a shell command: exec, so the process is the app's own (its pid,
        # its memory, and a kill that ends it).
        process = session.process = SessionProcess(
            "exec " + shlex.join(session.argv), self.browser_environment(session.browser),
            write_bytes=websocket.send_bytes, write_str=websocket.send_str, close=websocket.close,
            download_manager=self.download_manager)
        watcher = None
        try:
            await process.start(width, height)
            self.log(f"session started for {session.peer} (pid {process.pid}; "
                     f"{self._running()} of at most {self.max_sessions} running)")
            watcher = asyncio.create_task(self._end_when_idle(session))
            await self._process_messages(websocket, process)
        except asyncio.CancelledError:
            pass
        finally:
            if watcher is not None:
                watcher.cancel()
            await websocket.close()
            await process.stop_within(STOP_SECONDS)
            self.sessions.pop(session.ticket, None)
            self.log(f"session ended for {session.peer} ({self._running()} running)")
        return websocket

    # -- limits ------------------------------------------------------------------------------

    def _running(self) -> int:
        return sum(s.websocket is not None for s in self.sessions.values())

    def _forget_unused_tickets(self) -> None:
        now = time.monotonic()
        for ticket, session in list(self.sessions.items()):
            if session.websocket is None and now - session.made > TICKET_SECONDS:
                del self.sessions[ticket]

    async def _end_when_idle(self, session: Session) -> None:
        while True:
            await asyncio.sleep(min(CHECK_SECONDS, self.idle_timeout))
            idle = time.monotonic() - session.process.last_input
            if idle >= self.idle_timeout:
                self.log(f"ending the session of {session.peer}: no key for {_minutes(self.idle_timeout)}")
                await session.websocket.close(code=WSCloseCode.GOING_AWAY, message=b"idle")
                return

    async def _end_all(self, app: web.Application) -> None:
        for session in list(self.sessions.values()):
            if session.websocket is not None:
                await session.websocket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")

    # -- running ---------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen; returns the port (the one the system chose for port 0). OSError if the
        address cannot be had."""
        runner = web.AppRunner(await self._make_app(), access_log=None, shutdown_timeout=STOP_SECONDS)
        await runner.setup()
        self._site = web.TCPSite(runner, self.host, self.port)
        try:
            await self._site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        return runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()


def _int(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) < 10_000 else default


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} seconds"
    return f"{seconds / 60:g} minutes"


def _count(how_many: int, noun: str) -> str:
    return f"{how_many} {noun}{'' if how_many == 1 else 's'}"
