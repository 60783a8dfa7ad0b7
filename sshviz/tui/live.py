"""The UI on live connections: ``serve``'s list of connections and ``connect``'s own, each
connection's messages on the ladder as they arrive.

The server (or client) runs as a task in the app's own asyncio loop; the UI never waits for it
and it never waits for the UI. Its recorders append to the connections' traces as messages
come; the UI looks a few times a second (``REFRESH``) and redraws only what changed, so a burst
of sessions costs the UI one batched redraw per tick, not one per message."""

from __future__ import annotations

import asyncio
import io
import os
import threading
from typing import Awaitable, Callable, Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

from ..trace.model import Trace, TraceHeader
from .app import SshvizApp
from .bindings import LIVE_SESSION
from .timeline import Timeline

REFRESH = 0.1  # seconds between looks at the connections (a session's ladder)
LIST_EVERY = 3  # ... and the connection list every this many looks


class LiveApp(SshvizApp):
    """The app on ``connections`` (a presentation.live.LiveConnections), with ``run(app)``
    (the server, or the client) started once it is mounted: in the app's own loop, or with
    ``in_thread`` in a thread and loop of its own, so that a server busy with a class's
    transfers never holds up a key press (the interpreter switches between the two threads
    every few milliseconds; in one loop, a key would wait for every connection's pending
    reads). ``single``: one connection (connect), shown at once, no list."""

    def __init__(self, connections, run: Callable[["LiveApp"], Awaitable[object]], single: bool = False,
                 title: str = "", in_thread: bool = False) -> None:
        super().__init__(trace=Trace(TraceHeader(connections.source)))
        self.connections = connections
        self._run_server = run
        self.single = single
        self.in_thread = in_thread
        self.listening = title  # the server's address and host key, for the title bar
        self.sub_title = title
        self.shown = None  # the LiveConnection on the ladder
        self.following = True
        self.error: BaseException | None = None  # what stopped the server or client
        self.traces_dir = os.path.abspath(os.environ.get("SSHVIZ_TRACES") or os.getcwd())
        self._server_task: asyncio.Task | None = None
        self._server_loop: asyncio.AbstractEventLoop | None = None  # where run() runs
        self._server_thread: threading.Thread | None = None
        self._looks = 0
        self._shown_changes = -1
        self._on_screen = False

    def get_default_screen(self) -> Screen:
        from .screens.connections import ConnectionsScreen
        from .screens.session import LiveSessionScreen

        return LiveSessionScreen() if self.single else ConnectionsScreen()

    def on_mount(self) -> None:
        self._ui_loop = asyncio.get_running_loop()
        if self.in_thread:
            self._server_thread = threading.Thread(target=self._serve_in_thread, name="sshviz-server", daemon=True)
            self._server_thread.start()
        else:
            self._server_loop = asyncio.get_running_loop()
            self._server_task = self._server_loop.create_task(self._serve())
        self.set_interval(REFRESH, self.look)

    def on_ready(self) -> None:  # no demo to start; a server that failed before this ends the app now
        self._on_screen = True
        if self.error is not None:
            self.exit(1)

    async def _serve(self) -> None:
        try:
            await self._run_server(self)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the CLI says it in one line once the UI has closed
            self.from_server(self._failed, exc)

    def _serve_in_thread(self) -> None:
        loop = self._server_loop = asyncio.new_event_loop()
        self._server_task = loop.create_task(self._serve())
        try:
            loop.run_until_complete(self._server_task)
        except BaseException:  # noqa: BLE001 (cancelled: the UI is closing)
            pass
        finally:
            loop.close()

    def _failed(self, exc: BaseException) -> None:
        self.error = exc
        if self._on_screen:  # else on_ready ends it: exiting before the first frame upsets Textual
            self.exit(1)

    def from_server(self, function: Callable, *args) -> None:
        """Call ``function(*args)`` in the UI's thread (the server may run in another)."""
        if self._server_thread is not None and threading.current_thread() is self._server_thread:
            self.call_from_thread_soon(function, *args)
        else:
            function(*args)

    def call_from_thread_soon(self, function: Callable, *args) -> None:
        """As Textual's call_from_thread, without waiting for it to be done (the UI may be
        closing, waiting for the server thread)."""
        self._ui_loop.call_soon_threadsafe(function, *args)

    def show_listening(self, text: str) -> None:
        """The server's address and host key in the title bar (from any thread)."""

        def show() -> None:
            self.listening = text
            if self.shown is None:
                self.sub_title = text

        self.from_server(show)

    async def action_quit(self) -> None:
        await self.stop_serving()
        self.exit(self.return_code or 0)

    async def stop_serving(self) -> None:
        task, loop = self._server_task, self._server_loop
        if task is None or loop is None or task.done():
            return
        if self._server_thread is not None:
            loop.call_soon_threadsafe(task.cancel)
            await asyncio.to_thread(self._server_thread.join, 10)
            return
        task.cancel()
        try:
            await task
        except BaseException:  # noqa: BLE001 (cancelled, or what it raised on the way out)
            pass

    async def on_unmount(self) -> None:
        await self.stop_serving()

    # -- watching one connection ----------------------------------------------------------------

    def watch_connection(self, connection) -> None:
        """Show ``connection`` on the ladder, following it."""
        self.shown = connection
        self.trace = connection.trace
        self.timeline = Timeline(connection.trace, live=True)
        if connection.closed:
            self.timeline.end()
        self.following = True
        self.timeline.go(max(0, len(self.timeline) - 1))
        self._shown_changes = connection.changes

    def look(self) -> None:
        """What arrived since the last look: new messages on the ladder (selected when
        following), the connection list every few looks."""
        self._looks += 1
        screen = self.screen
        from .screens.connections import ConnectionsScreen
        from .screens.session import LiveSessionScreen

        newest = self.connections.connections[-1] if self.connections.connections else None
        session = next((s for s in self.screen_stack if isinstance(s, LiveSessionScreen)), None)
        if self.single and newest is not None and newest is not self.shown:  # connect tried again
            self.watch_connection(newest)
            if session is not None and session.is_mounted:
                session.reload()
        shown = self.shown
        if shown is not None and shown.changes != self._shown_changes:
            self._shown_changes = shown.changes
            timeline = self.timeline
            came = timeline.catch_up()
            if shown.closed and not timeline.complete:
                timeline.end()
            if came and self.following:
                timeline.go(len(timeline) - 1)
            if session is not None and session.is_mounted:
                session.arrived(came)
        if isinstance(screen, ConnectionsScreen) and self._looks % LIST_EVERY == 0:
            screen.update_rows()

    # -- what connect asks and says ----------------------------------------------------------------

    async def _answer(self, screen):
        """Show a dialog; its result once dismissed (the client waits, the UI goes on)."""
        answered = asyncio.get_running_loop().create_future()
        self.push_screen(screen, lambda result: answered.done() or answered.set_result(result))
        return await answered

    async def ask_prompts(self, title: str, instruction: str, prompts: list[tuple[str, bool]]):
        from .screens.prompts import PromptsScreen

        return await self._answer(PromptsScreen(title, instruction, prompts))

    async def ask_host_key(self, name: str, key_type: str, fingerprint: str, known_hosts: str) -> bool:
        from .screens.prompts import HostKeyScreen

        return bool(await self._answer(HostKeyScreen(name, key_type, fingerprint, known_hosts)))

    async def warn_host_key(self, name: str, key_type: str, fingerprint: str, detail: str) -> None:
        from .screens.prompts import ChangedKeyScreen

        await self._answer(ChangedKeyScreen(name, key_type, fingerprint, detail))

    def ended(self, text: str, error: bool = False) -> None:
        """How the client's session ended; the UI stays open on it."""
        self.connections.say(text)
        self.notify(text, title="connection", severity="error" if error else "information", timeout=30)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from .screens.session import LiveSessionScreen

        if any(isinstance(s, LiveSessionScreen) for s in self.screen_stack):
            for binding in LIVE_SESSION:
                yield SystemCommand(binding.description, binding.tooltip or binding.description,
                                    lambda action=binding.action: self.main.run_action(action))
            yield from super().get_system_commands(screen)
        else:
            yield from App.get_system_commands(self, screen)

    def save(self, connection) -> str | None:
        """Save ``connection``'s trace as it is now (the file format of --trace), written in a
        thread so that a long trace holds up neither the UI nor the server; the notification
        says where. In a browser (``sshviz web --watch``) the browser downloads it instead."""
        from ..trace.fileformat import dumps_trace, save_trace

        trace = connection.saved_trace()
        peer = connection.peer.replace("[", "").replace("]", "").replace(":", "_")
        name = f"sshviz-{connection.side}-{connection.number}-{peer}.yaml"
        path = os.path.join(self.traces_dir, name)
        elide = self.connections.elide_after
        if self.is_web:
            async def deliver() -> None:
                text = await asyncio.to_thread(dumps_trace, trace, elide)
                self.deliver_text(io.StringIO(text), save_filename=name, mime_type="application/yaml")
                self.notify(f"#{connection.number}: {len(trace.events)} messages in {name}: your browser "
                            "downloads it", title="trace", timeout=8)

            self.run_worker(deliver(), exclusive=False, group="save")
            return name

        async def write() -> None:
            try:
                await asyncio.to_thread(save_trace, trace, path, elide)
            except OSError as exc:
                self.notify(f"cannot save {name} in {self.traces_dir}: {exc.strerror or exc}",
                            title="trace", severity="error")
                return
            self.notify(f"#{connection.number}: {len(trace.events)} messages saved to {path}",
                        title="trace saved", timeout=8)

        self.run_worker(write(), exclusive=False, group="save")
        return path
