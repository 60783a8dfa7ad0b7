"""`sshviz connect` at a keyboard-interactive prompt shows what the server sent with it: its
title and instructions (RFC 4256 3.3), escaped, then the prompts. The title used to be lost:
the message's field "name" was read as the message's own name."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

asyncssh = pytest.importorskip("asyncssh")

PROJECT = Path(__file__).parent.parent
CODE = "424242"


class TwoFactorServer(asyncssh.SSHServer):
    def begin_auth(self, username):
        return True

    def password_auth_supported(self):
        return False

    def public_key_auth_supported(self):
        return False

    def kbdint_auth_supported(self):
        return True

    def get_kbdint_challenge(self, username, lang, submethods):
        return "Two-factor login", "Type the code\x1b[2J from your card", "", [("Code: ", False)]

    def validate_kbdint_response(self, username, responses):
        return responses == [CODE]


def asyncssh_server() -> tuple[int, callable]:
    """A keyboard-interactive asyncssh server in a thread; returns its port and a stopper."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder = {}

    async def start():
        async def handle(process):
            process.stdout.write("logged in\n")
            process.exit(0)

        key = asyncssh.generate_private_key("ssh-ed25519")
        holder["server"] = await asyncssh.create_server(TwoFactorServer, "127.0.0.1", 0, server_host_keys=[key],
                                                        process_factory=handle)
        holder["port"] = holder["server"].sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)

    def stop():
        loop.call_soon_threadsafe(holder["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)

    return holder["port"], stop


def test_connect_shows_the_servers_title_and_instructions_before_the_prompt(tmp_path):
    port, stop = asyncssh_server()
    main, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "sshviz", "connect", "student@127.0.0.1", "-p", str(port), "--known-hosts",
             str(tmp_path / "known_hosts"), "--accept-new", "--exec", "true"],
            stdin=terminal, stdout=terminal, stderr=terminal, cwd=PROJECT, env=dict(os.environ, HOME=str(tmp_path)),
            start_new_session=True)
        seen = b""
        deadline = time.monotonic() + 30
        while b"Code: " not in seen and time.monotonic() < deadline:
            if select.select([main], [], [], 1)[0]:
                seen += os.read(main, 4096)
        os.write(main, CODE.encode() + b"\n")
        while process.poll() is None and time.monotonic() < deadline:
            if select.select([main], [], [], 0.5)[0]:
                try:
                    seen += os.read(main, 4096)
                except OSError:
                    break
        status = process.wait(10)
    finally:
        os.close(main)
        os.close(terminal)
        stop()
    text = seen.decode().replace("\r\n", "\n")
    assert status == 0, text
    assert "Two-factor login\nType the code\\x1b[2J from your card\nCode: " in text
    assert "\x1b[2J" not in text
    assert "logged in" in text
