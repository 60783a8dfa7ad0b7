"""``sshviz connect --sftp`` and ``--sftp-batch FILE``: the SFTP commands over a live
connection. ``connect`` builds the connection as usual; this module takes over the session
channel once it is open (``SessionDriver.on_channel_open``)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

from ..fs.confined import ConfinedFS
from ..net.sftp import bridge
from ..presentation.peertext import visible
from ..sftp.commands import SftpShell
from ..sftp.pending import spawn
from ..sftp.session import SessionSftp
from .errors import CLIError

PROGRESS_THRESHOLD = 4 * 1024 * 1024  # files smaller than this get no progress bar


def add_options(parser) -> None:
    group = parser.add_argument_group("SFTP")
    group.add_argument("--sftp", action="store_true",
                       help="start SFTP and read commands (ls, get, put, mkdir, ...; 'help' lists them)")
    group.add_argument("--sftp-batch", metavar="FILE",
                       help="run SFTP commands from FILE ('-' for stdin) like 'sftp -b': stop at the "
                            "first failing command unless it starts with '-'")


def wanted(args) -> bool:
    return bool(getattr(args, "sftp", False) or getattr(args, "sftp_batch", None))


def read_batch(path: str) -> list[str]:
    try:
        if path == "-":
            return sys.stdin.read().splitlines()
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except OSError as exc:
        raise CLIError(f"--sftp-batch: {path}: {exc.strerror}") from None


class StdinLines:
    """Lines of standard input read with os.read, the bytes after a line kept for the next.

    Not input(): it reads with C stdio, whose lock on stdin the reading thread holds while it
    waits, and with the C library of Debian 13 the program's exit waits for that lock: Ctrl-C at
    the sftp prompt (or the server going away) left ``connect`` hanging until killed. os.read
    holds no lock."""

    def __init__(self, fd: int = 0):
        self.fd = fd
        self.pending = b""
        self.ended = False

    def read(self) -> str:
        """The next line without its newline, as input() gives it; EOFError at the end."""
        while b"\n" not in self.pending and not self.ended:
            data = os.read(self.fd, 4096)
            if data:
                self.pending += data
            else:
                self.ended = True
        if not self.pending:
            raise EOFError
        line, _, self.pending = self.pending.partition(b"\n")
        encoding = getattr(sys.stdin, "encoding", None) or "utf-8"
        return line.decode(encoding, "surrogateescape")


_STDIN = StdinLines()


def read_line(prompt: str, lines: StdinLines = _STDIN) -> asyncio.Future:
    """The next line of standard input (after ``prompt``), read in a daemon thread, the event
    loop going on meanwhile. Not an executor thread: the end of the program would wait for it,
    that is for a line that may never come (Ctrl-C at the prompt, or the server gone)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    if prompt:
        sys.stdout.write(prompt)
        sys.stdout.flush()

    def settle(line: str | None, error: BaseException | None) -> None:
        if not future.done():
            future.set_exception(error) if error is not None else future.set_result(line)

    def read() -> None:
        try:
            outcome = (lines.read(), None)
        except BaseException as exc:  # EOFError above all
            outcome = (None, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            pass

    threading.Thread(target=read, daemon=True, name="sftp prompt").start()
    return future


class RichProgress:
    """A rich progress bar per file, for files of at least PROGRESS_THRESHOLD bytes."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, name: str):
        if not self.enabled:
            return None
        state: dict = {}

        def update(done: int, total: int | None) -> None:
            if "bar" not in state:
                if not total or total < PROGRESS_THRESHOLD:
                    return
                from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                           TimeRemainingColumn, TransferSpeedColumn)

                bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                               TransferSpeedColumn(), TimeRemainingColumn(), transient=False)
                bar.start()
                state["bar"], state["task"] = bar, bar.add_task(os.path.basename(name), total=total)
            bar = state["bar"]
            bar.update(state["task"], completed=done)
            if total is not None and done >= total:
                bar.stop()

        return update


class SftpRun:
    """The SFTP part of one ``connect``: set up, then commands until done."""

    def __init__(self, args, client, driver):
        self.batch = read_batch(args.sftp_batch) if args.sftp_batch else None
        self.client = client
        self.driver = driver
        self.protocol = None
        self.status = 0
        self.session: SessionSftp | None = None
        driver.on_channel_open = self._on_channel_open

    def _on_channel_open(self, driver, channel: int) -> None:
        self.session = SessionSftp(self.client, channel)
        driver.channel_consumer = self.session
        self.session.start()
        asyncio.get_running_loop().create_task(self._main())

    async def _call(self, coroutine):
        return await bridge(self.protocol.act(spawn, coroutine))

    async def _main(self) -> None:
        try:
            await bridge(self.session.ready)
            shell = SftpShell(self.session.client, ConfinedFS("/"), os.getcwd(), out=self._print,
                              progress=RichProgress(sys.stdout.isatty()))
            await self._call(shell.setup())
            if self.batch is not None:
                ok = await self._call(shell.run_batch(self.batch))
                self.status = 0 if ok else 1
            else:
                await self._interactive(shell)
        except Exception as exc:  # the session ended under us; say why in one line
            self.status = 1
            print(f"sshviz: sftp: {visible(str(exc))}", file=sys.stderr)
            if not self.protocol.closed.done():
                # SFTP may never have started (the subsystem refused): the server would wait
                # for more on the channel, so close it, which ends the connection.
                self.protocol.act(self.client.connection.close, self.session.channel)
            return
        if not self.protocol.closed.done():
            self.protocol.act(self.session.finish)

    async def _interactive(self, shell: SftpShell) -> None:
        prompt = "sftp> " if sys.stdin.isatty() else ""
        while not shell.finished and not self.protocol.closed.done():
            try:
                line = await read_line(prompt)
            except EOFError:
                break
            ok = await self._call(shell.run(line))
            if not ok and not sys.stdin.isatty():
                self.status = 1

    @staticmethod
    def _print(line: str) -> None:
        print(visible(line), flush=True)  # names and messages from the server, escaped
