"""The server's built-in command set. The server never runs operating-system commands:
``exec`` and ``shell`` are served by these few commands, enough for ``ssh host 'echo hi'``
and an interactive session from a real OpenSSH client.

With a pty the shell behaves like a terminal line discipline: it echoes what is typed,
handles backspace, Ctrl-C and Ctrl-D, and ends lines with CR LF.

A command line runs as a generator: a command that has more to say than the client has read
(``cat`` of a big file) waits, keeping its place, until the channel is writable again, so any
size streams through the channel window without piling up in the server.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import stat as st
import unicodedata
from collections import deque
from typing import Callable, Generator

from .layer import SessionProgram

# Output waiting for the client above this: cat waits for the client to read, ls refuses to
# add more, and the shell stops taking input (its window is not refilled). As the SFTP server.
OUTPUT_HIGH = 8 * 1024 * 1024
CAT_CHUNK = 64 * 1024
MAX_LINE = 256 * 1024  # bytes of one input line kept; the rest is dropped, as a terminal does

HELP = """Built-in commands of the sshviz server (no operating-system commands are run):
  echo [text...]   print the text
  whoami           print the user name
  pwd              print the current directory
  cd [dir]         change directory inside the sandbox root
  ls [path...]     list a directory inside the sandbox root
  cat path...      print files inside the sandbox root
  help             this text
  exit [status]    leave the shell
Names that are not plain text are printed escaped, like GNU ls -b but in hex: each byte that
is not UTF-8 or belongs to a control character shows as \\xNN, a backslash as \\\\. Give
such a name back in single quotes, as printed: cat 'caf\\xe9.txt'
"""


# Characters a name may hold that must not reach a terminal as they are: controls (newline,
# escape sequences), format characters (U+202E turns text around), line and paragraph
# separators, and the raw bytes that were not UTF-8 (lone surrogates, from surrogateescape).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_TYPED_ESCAPE = re.compile(rb"\\(\\|x[0-9a-fA-F]{2})")


def _utf8_bytes(text: str) -> bytes:
    """The bytes a name decoded with surrogateescape came from."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no byte decoded to
        return text.encode("utf-8", "surrogatepass")


def shown_name(name: str) -> str:
    """A file name as the built-in commands print it, like GNU ls -b but in hex: text stays
    text; each byte that is not UTF-8, and each byte of a control or format character, is
    written \\xNN; a backslash is doubled. ``typed_name`` reads it back."""
    if name.isprintable() and "\\" not in name:
        return name
    return "".join("\\\\" if char == "\\" else
                   "".join(f"\\x{byte:02x}" for byte in _utf8_bytes(char))
                   if unicodedata.category(char) in _ESCAPED_CATEGORIES else char
                   for char in name)


def typed_name(argument: str) -> str:
    """The name a command argument means: ``\\xNN`` is that byte and ``\\\\`` a backslash, so
    what ``ls`` prints names the file; any other backslash is taken as typed."""
    if "\\" not in argument:
        return argument
    raw = _TYPED_ESCAPE.sub(lambda m: b"\\" if m[1] == b"\\" else bytes([int(m[1][1:], 16)]),
                            _utf8_bytes(argument))
    return raw.decode("utf-8", "surrogateescape")


class BuiltinShell(SessionProgram):
    """One session's program: a single command (exec) or an interactive shell."""

    def __init__(self, user: str, fs, command: str | None, pty: bool):
        self.user = user
        self.fs = fs
        self.command = command
        self.pty = pty
        self.cwd = "/"
        self.io = None
        self.line = bytearray()
        self._echo = bytearray()  # what the terminal echoes, written once per piece of input
        self.finished = False
        self._job: Generator | None = None  # the command line running, if it waits for the client
        self._then: Callable[[int], None] | None = None  # what follows it, given its status
        self._lines: deque[str] = deque()  # lines typed while a command line was running
        self._eof = False  # the client will send no more input

    # -- program interface --------------------------------------------------------------------

    def start(self, io) -> None:
        self.io = io
        if self.command is not None:
            self._begin(self.command, self._finish)
        elif self.pty:
            self._out("sshviz built-in shell; type 'help' for the commands.\n")
            self._prompt()

    def data(self, data: bytes) -> None:
        if self.finished or self.command is not None:
            return
        for byte in data:
            if self.finished:
                return
            if self.pty:
                self._pty_byte(byte)
            elif byte == 0x0A:
                self._line_done()
            elif len(self.line) < MAX_LINE:
                self.line.append(byte)
        self._write(b"")
        if self.io.pending_bytes > OUTPUT_HIGH:
            self.io.pause_reading()  # until the client reads (writable)

    def writable(self) -> None:
        if self.io.pending_bytes <= OUTPUT_HIGH:
            self._pump()
            if self._job is None:
                self.io.resume_reading()

    def closed(self) -> None:
        if self._job is not None:
            self._job.close()  # a waiting cat closes its file
            self._job = None

    def eof(self) -> None:
        if not self.finished and self.command is None:
            self._eof = True
            if self.line:
                self._line_done()
            if self._job is None and not self.finished:
                self._finish(0)  # else once the lines before the EOF have run

    def signal(self, name: str) -> bool:
        if name == "INT" and self.command is None and not self.finished:
            self.line.clear()
            self._lines.clear()
            if self._job is not None:  # stops a streaming cat, as on a terminal
                self._job.close()
                self._job = None
                self.io.resume_reading()
            self._out("^C\n")
            self._prompt()
            return True
        return False

    def window_change(self, width: int, height: int) -> None:
        pass

    # -- terminal handling --------------------------------------------------------------------

    def _pty_byte(self, byte: int) -> None:
        if byte in (0x0D, 0x0A):
            self._echo += b"\r\n"
            self._line_done()
        elif byte in (0x7F, 0x08):
            if self.line:
                self.line.pop()
                self._echo += b"\b \b"
        elif byte == 0x03:  # Ctrl-C
            self.signal("INT")
        elif byte == 0x04:  # Ctrl-D
            if not self.line:
                self._out("\n")
                self._finish(0)
        elif byte == 0x15:  # Ctrl-U
            self._echo += b"\b \b" * len(self.line)
            self.line.clear()
        elif byte >= 0x20 and len(self.line) < MAX_LINE:
            self.line.append(byte)
            self._echo.append(byte)

    def _line_done(self) -> None:
        # Raw bytes stay what they were, as in an exec command (decoded the same way).
        text = self.line.decode("utf-8", "surrogateescape").strip()
        self.line.clear()
        if self._job is not None:
            self._lines.append(text)  # typed ahead: runs when the current line is done
        elif text:
            self._begin(text, self._line_finished)
        else:
            self._prompt()

    def _line_finished(self, status: int) -> None:
        if self.finished:
            return
        if self._lines:
            self._prompt()
            self.line += _utf8_bytes(self._lines.popleft())
            self._line_done()
        elif self._eof:
            self._finish(0)
        else:
            self._prompt()

    # -- running command lines ----------------------------------------------------------------

    def _begin(self, command_line: str, then: Callable[[int], None]) -> None:
        self._job, self._then = self.run(command_line), then
        self._pump()

    def _pump(self) -> None:
        """Run the current command line until it waits for the client or ends."""
        if self._job is None:
            return
        try:
            next(self._job)
        except StopIteration as done:
            self._job, then = None, self._then
            then(done.value or 0)

    def _prompt(self) -> None:
        # Like sh: a prompt only for a terminal, so piped input gives clean output.
        if self.pty and not self.finished:
            self._out(f"{self.user}@sshviz:{shown_name(self.cwd)}$ ")

    def _write(self, data: bytes) -> None:
        """Output, after the echo gathered so far (one write each, as each is a packet)."""
        if self._echo:
            echo, self._echo = bytes(self._echo), bytearray()
            self.io.write(echo)
        if data:
            self.io.write(data)

    def _out(self, text: str) -> None:
        data = _utf8_bytes(text)  # echo's raw bytes go back as they came
        self._write(data.replace(b"\n", b"\r\n") if self.pty else data)

    def _err(self, text: str) -> None:
        data = _utf8_bytes(text)
        data = data.replace(b"\n", b"\r\n") if self.pty else data
        # With a pty there is one stream, as on a real terminal.
        (self._write if self.pty else self.io.write_stderr)(data)

    def _finish(self, status: int) -> None:
        self.finished = True
        self._write(b"")
        self.io.exit(status)

    # -- commands -----------------------------------------------------------------------------

    def run(self, command_line: str) -> Generator[None, None, int]:
        """Run a command line: commands joined by ';', '&&' or '||' (no pipes or
        redirections). A generator: it yields while output waits for the client, and
        returns the last exit status."""
        try:
            lexer = shlex.shlex(command_line, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError as exc:
            self._err(f"sshviz: {exc}\n")
            return 2
        status, argv, joiner = 0, [], ";"
        for token in tokens + [";"]:
            if token not in (";", "&&", "||"):
                if token in ("|", "&", ">", "<") or set(token) <= set("&|"):
                    self._err(f"sshviz: {token!r} is not supported by the built-in shell\n")
                    return 2
                argv.append(token)
                continue
            if argv and (joiner == ";" or (joiner == "&&") == (status == 0)):
                status = yield from self._run_one(argv)
                if self.finished:
                    return status
            argv, joiner = [], token
        return status

    def _run_one(self, argv: list[str]) -> Generator[None, None, int]:
        name, args = argv[0], argv[1:]
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            self._err(f"sshviz: {name}: command not found (try 'help')\n")
            return 127
        result = handler(args)
        if isinstance(result, int):
            return result
        return (yield from result)  # a command that streams (cat)

    def _cmd_echo(self, args: list[str]) -> int:
        self._out(" ".join(args) + "\n")
        return 0

    def _cmd_whoami(self, args: list[str]) -> int:
        self._out(self.user + "\n")
        return 0

    def _cmd_pwd(self, args: list[str]) -> int:
        self._out(shown_name(self.cwd) + "\n")
        return 0

    def _cmd_help(self, args: list[str]) -> int:
        self._out(HELP)
        return 0

    def _cmd_exit(self, args: list[str]) -> int:
        try:
            status = int(args[0]) if args and args[0].isdigit() else 0
        except ValueError:  # digits int() does not take ("\u00b2"), or thousands of them
            status = 0
        if self.command is None:
            self._finish(status & 0xFF)
        return status & 0xFF

    def _no_fs(self, name: str) -> int:
        self._err(f"{name}: no sandbox root is configured on this server\n")
        return 1

    def _unread(self, name: str) -> bool:
        """Too much output waits for the client: say so instead of adding more."""
        if self.io.pending_bytes <= OUTPUT_HIGH:
            return False
        self._err(f"{name}: the client is not reading the output; stopped\n")
        return True

    def _fs_error(self, name: str, path: str, exc: OSError) -> int:
        reason = {errno.ENOENT: "No such file or directory", errno.ENOTDIR: "Not a directory",
                  errno.EISDIR: "Is a directory", errno.EACCES: "Permission denied"}.get(
            exc.errno, exc.strerror or "error")
        self._err(f"{name}: {shown_name(path)}: {reason}\n")
        return 1

    def _cmd_cd(self, args: list[str]) -> int:
        if self.fs is None:
            return self._no_fs("cd")
        target = typed_name(args[0]) if args else "/"
        try:
            if not st.S_ISDIR(self.fs.stat(target, self.cwd).st_mode):  # a missing one raises
                raise OSError(errno.ENOTDIR, "Not a directory")
            self.cwd = self.fs.realpath(target, self.cwd)
        except OSError as exc:
            return self._fs_error("cd", target, exc)
        return 0

    def _cmd_ls(self, args: list[str]) -> int:
        if self.fs is None:
            return self._no_fs("ls")
        status = 0
        for path in [typed_name(arg) for arg in args] or ["."]:
            if self._unread("ls"):
                return 1
            try:
                info = self.fs.stat(path, self.cwd)
                if st.S_ISDIR(info.st_mode):
                    names = [shown_name(n) + ("/" if st.S_ISDIR(s.st_mode) else "")
                             for n, s in self.fs.listdir(path, self.cwd) if not n.startswith(".")]
                    if len(args) > 1:
                        self._out(f"{shown_name(path)}:\n")
                    self._out("".join(n + "\n" for n in names))
                else:
                    self._out(shown_name(path) + "\n")
            except OSError as exc:
                status = self._fs_error("ls", path, exc)
        return status

    def _cmd_cat(self, args: list[str]) -> int | Generator[None, None, int]:
        if self.fs is None:
            return self._no_fs("cat")
        return self._stream_files([typed_name(arg) for arg in args])

    def _stream_files(self, paths: list[str]) -> Generator[None, None, int]:
        status = 0
        for path in paths:
            full = path if path.startswith("/") else self.cwd.rstrip("/") + "/" + path
            try:
                handle = self.fs.open_file(full, os.O_RDONLY)
            except OSError as exc:
                status = self._fs_error("cat", path, exc)
                continue
            try:
                offset = 0
                while chunk := handle.pread(CAT_CHUNK, offset):
                    offset += len(chunk)
                    self._write(chunk.replace(b"\n", b"\r\n") if self.pty else chunk)
                    while self.io.pending_bytes > OUTPUT_HIGH:
                        yield  # until the client has read some (writable)
            except OSError as exc:
                status = self._fs_error("cat", path, exc)
            finally:
                handle.close()
        return status
