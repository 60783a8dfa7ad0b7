"""Helpers shared by the test files: stepping a conductor and reading what it reported, byte
spans that tile, the check that no bug was caught, a whole good session, fakes of the
interfaces adapters and programs are given, and small servers on loopback.

Plain functions, imported where they are used (``from .conftest import step_until``)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import re
import socket
import subprocess
import sys
import threading

import pytest

from sshviz.conductor import Conductor
from sshviz.connection.builtin import BuiltinShell
from sshviz.events import AlgorithmsNegotiated, ChannelData, Disconnected
from sshviz.scenario import Scenario, run_scenario
from sshviz.wire.catalog import DisconnectReason
from sshviz.wire.spec import (BOOLEAN, BYTE, MPINT, NAME_LIST, REST, STRING, TEXT, UINT32, UINT64,
                              UNKNOWN_TAIL, Field, Message, Optional, Repeat, Section, Switch, When)
from sshviz.wire.types import DecodeError

from .serving import PROJECT

# -- conductors -------------------------------------------------------------------------------


def step_until(conductor: Conductor, name: str, sender: str | None = None):
    while (step := conductor.step()) is not None:
        if step.name == name and (sender is None or step.sender == sender):
            return step
    raise AssertionError(f"{name} never went by")


def changes(conductor, kind, side=None):
    return [e for step in conductor.steps for s, e in step.changes
            if isinstance(e, kind) and (side is None or s == side)]


def assert_no_internal_error(*endpoints) -> None:
    """No bug was caught at any of ``endpoints`` (``endpoint.internal_error`` keeps its traceback)."""
    for endpoint in endpoints:
        assert endpoint.internal_error is None, endpoint.internal_error


def check_session(sc: Scenario, conductor: Conductor | None = None) -> Conductor:
    """Run ``sc`` (in ``conductor``, when one is made for it already) to its end and check it was
    the good session it describes: no bug caught, its algorithms negotiated, the command's
    output, and both sides leaving BY_APPLICATION."""
    if conductor is None:
        conductor = run_scenario(sc)
    else:
        conductor.run()
    client, server = conductor.client, conductor.server
    assert_no_internal_error(client, server)
    negotiated = changes(conductor, AlgorithmsNegotiated, "client")[0]
    assert negotiated.chosen("kex") == sc.kex
    assert negotiated.chosen("host_key") == sc.hostkey
    assert negotiated.chosen("cipher_c2s") == sc.cipher
    assert negotiated.chosen("compression_s2c") == sc.compression
    disconnects = changes(conductor, Disconnected)
    assert [d.reason for d in disconnects] == [DisconnectReason.BY_APPLICATION] * 2, disconnects
    driver_output = b"".join(e.data for e in changes(conductor, ChannelData, "client"))
    assert driver_output == b"Hello, SSH!\n"
    return conductor


# -- byte spans -------------------------------------------------------------------------------


def assert_tiles(fields, start: int, end: int) -> None:
    """``fields`` (anything with a name, start and end) cover ``[start, end)`` one after the
    other, with no gap and no overlap."""
    position = start
    for field in fields:
        assert field.start == position, field.name
        position = field.end
    assert position == end


# -- what decoding a cut message must give ----------------------------------------------------


class _Fails(Exception):
    def __init__(self, message: str, offset: int | None):
        super().__init__(message)
        self.message, self.offset = message, offset


def cut_outcome(layout: tuple, values: dict, start: int, cut: int) -> tuple[str, int | None] | None:
    """What decoding ``layout`` from ``start`` must give when the bytes end at ``cut``, before
    the end of ``values``' encoding: None when the shorter bytes still decode (a trailing
    byte[n] read to the end, an Optional part left out, a repeat to the end with fewer items),
    else the DecodeError's message (after the message's own name) and offset.

    Worked out from the layout and the values, not from the bytes: each read (a byte, uint32,
    uint64, fixed bytes, a string's length then its body) needs its bytes before ``cut``."""
    try:
        end = _cut_walk(layout, values, start, cut)
    except _Fails as failure:
        return failure.message, failure.offset
    assert end == cut, (end, cut)
    return None


def _cut_walk(layout: tuple, values: dict, pos: int, cut: int) -> int:
    for item in layout:
        kind = type(item)
        if kind is Field:
            pos = _cut_read(item, values, pos, cut)
        elif kind is Switch:
            case = item.cases.get(values.get(item.on), item.default)
            case = case.fields if type(case) is Section else case
            pos = _cut_walk(UNKNOWN_TAIL if case is None else case, values, pos, cut)
        elif kind is Repeat:
            items = values.get(item.name, [])
            if item.count is not None and len(items) > cut - pos:
                raise _Fails(f"{item.name}: count {len(items)} exceeds the {cut - pos} bytes left", None)
            for one in items:
                if item.count is None and pos >= cut:
                    break  # a repeat to the end stops where the bytes do
                pos = _cut_walk(item.fields, one, pos, cut)
        elif kind is When:
            if item.test(values):
                pos = _cut_walk(item.fields, values, pos, cut)
        elif kind is Optional:
            if pos < cut:
                pos = _cut_walk(item.fields, values, pos, cut)
    return pos


_SIZES = {BYTE: (1, "byte"), BOOLEAN: (1, "byte"), UINT32: (4, "uint32"), UINT64: (8, "uint64")}


def _cut_read(field, values: dict, pos: int, cut: int) -> int:
    def need(size: int, what: str) -> int:
        if pos + size > cut:
            raise _Fails(f"field {field.name!r}: truncated {what}: needs {size} bytes at offset {pos}, "
                         f"{cut - pos} left", pos)
        return pos + size

    wire = field.type
    if wire is REST:
        return cut  # whatever is left
    if wire in _SIZES:
        return need(*_SIZES[wire])
    if wire in (STRING, TEXT, MPINT, NAME_LIST):
        if field.name in values:
            value = values[field.name]
        elif field.count_for is not None:
            value = len(values[field.count_for])
        else:
            value = field.default
        body = len(wire.write(value)) - 4
        pos = need(4, "uint32")
        return need(body, "string body")
    return need(int(wire.name[5:-1]), wire.name)  # byte[n]


def assert_says_where(error: DecodeError, name: str, data: bytes) -> None:
    """``error`` names the message ``name`` and says what went wrong where in ``data``."""
    text = str(error)
    assert text.startswith(f"{name}: "), text
    if (found := re.search(r"truncated [\w \[\]]+: needs (\d+) bytes at offset (\d+), (\d+) left$", text)):
        needs, at, left = map(int, found.groups())
        assert (error.offset, at + left) == (at, len(data)) and needs > left, text
    elif (found := re.search(r"(\d+) unexpected trailing bytes after \S+ at offset (\d+)$", text)):
        count, at = map(int, found.groups())
        assert (error.offset, at + count) == (at, len(data)), text
    elif (found := re.search(r": count (\d+) exceeds the (\d+) bytes left$", text)):
        assert error.offset is None and int(found.group(1)) > int(found.group(2)), text
    elif (found := re.search(r"(invalid mpint|name-list) at offset (\d+)", text)):
        assert error.offset == int(found.group(2)) < len(data), text
    else:
        raise AssertionError(f"a DecodeError nobody expects: {text}")


def assert_decoded_whole(message: Message, data: bytes, encoded: bytes) -> None:
    """``message``, decoded from all of ``data``, encodes back to ``data`` (as ``encoded``), but
    for booleans, which any non-zero byte makes TRUE and which encode as 1."""
    assert_tiles(message.fields, 0, len(data))
    canonical = bytearray(data)
    for at in _booleans(message.fields):
        canonical[at] = 1 if canonical[at] else 0
    assert encoded == bytes(canonical)


def _booleans(fields):
    """Where the booleans are among ``fields`` and the items of their repeats (not inside
    strings, which encode back as the bytes they came from)."""
    for field in fields:
        if field.type == "boolean":
            yield field.start
        elif field.type in ("repeat", ""):  # a repeat, or one of its items
            yield from _booleans(field.children)


# -- fakes of the interfaces adapters and programs are given ------------------------------------


class FakeSocket:
    """The asyncio transport interface, recording what the adapter asks of it."""

    def __init__(self):
        self.written = bytearray()
        self.reading = True
        self.closing = self.aborted = False

    def set_write_buffer_limits(self, high=None, low=None):
        pass

    def get_extra_info(self, name):
        return ("127.0.0.1", 1)

    def write(self, data):
        self.written += data

    def is_closing(self):
        return self.closing

    def close(self):
        self.closing = True

    def abort(self):
        self.aborted = self.closing = True

    def pause_reading(self):
        self.reading = False

    def resume_reading(self):
        self.reading = True


class SentMessages:
    """A transport for a connection layer alone: what it sends is kept, nothing waits unsent."""

    unsent_bytes = 0

    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)


class RecordingIO:
    """The ChannelIO interface for a built-in command; nothing it is given is ever read by a
    client, so all it was given counts as waiting (``pending_bytes``)."""

    def __init__(self):
        self.out, self.err, self.status = b"", b"", None
        self.paused = False

    @property
    def pending_bytes(self):
        return len(self.out) + len(self.err)

    def pause_reading(self):
        self.paused = True

    def resume_reading(self):
        self.paused = False

    def write(self, data):
        self.out += data
        self.writes = getattr(self, "writes", 0) + 1

    def write_stderr(self, data):
        self.err += data

    def exit(self, status):
        self.status = status


def run_builtin(command, fs=None, pty=False) -> RecordingIO:
    """``command`` run by the built-in shell as alice; what it wrote and its status."""
    io = RecordingIO()
    BuiltinShell("alice", fs, command, pty).start(io)
    return io


def started_shell(fs=None, pty=False) -> tuple[BuiltinShell, RecordingIO]:
    """An interactive built-in shell for alice, started: type into it with ``shell.data``."""
    io = RecordingIO()
    shell = BuiltinShell("alice", fs, None, pty=pty)
    shell.start(io)
    return shell, io


# -- servers and clients on loopback ------------------------------------------------------------


@contextlib.contextmanager
def loopback_server(serve_one):
    """A listener on a free loopback port whose thread calls ``serve_one(sock)`` for each client
    in turn and closes it; yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run():
        with contextlib.suppress(OSError):
            while True:
                sock, _ = listener.accept()
                with sock:
                    serve_one(sock)

    threading.Thread(target=run, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def sshviz_connect(port: int, tmp_path, *options: str) -> subprocess.CompletedProcess:
    """``sshviz connect u@127.0.0.1 --exec true`` in a subprocess, with its own HOME and
    known_hosts in ``tmp_path``."""
    return subprocess.run(
        [sys.executable, "-m", "sshviz", "connect", "u@127.0.0.1", "-p", str(port), "--known-hosts",
         str(tmp_path / "known_hosts"), "--exec", "true", *options],
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=PROJECT,
        env=dict(os.environ, HOME=str(tmp_path)))


def talk_until(sock: socket.socket, client, kind) -> list:
    """Exchange bytes between a sans-I/O ``client`` and a blocking ``sock`` until the client
    reports an event of type ``kind``; returns the events of that last read."""
    events = client.start()
    while not any(isinstance(e, kind) for e in events):
        sock.sendall(client.data_to_send())
        data = sock.recv(65536)
        assert data and not client.closed, client.transport.disconnect_reason
        events = client.receive_data(data)
    return events


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Pilot tests are coroutines; the suite has no asyncio plugin, so each runs in a loop of
    its own."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**arguments))
        return True
    return None


def plain(renderable, width: int = 120) -> str:
    """What a Rich renderable shows at ``width`` columns, as plain text."""
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()
