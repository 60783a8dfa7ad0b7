"""``sshviz serve`` against clients that misbehave before logging in: it must stay up, and the
next student must still log in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from .openssh import stop
from .serving import PASSWORD, PROJECT, USER, hit_and_run, serve


def test_clients_that_close_without_reading_do_not_kill_the_server(tmp_path):
    # Each sends its version line and closes: the server's reply meets a closed socket, which
    # raised SIGPIPE and killed the server (status 141) after 70-160 such connections.
    with serve(tmp_path) as server:
        assert hit_and_run(server.port, 400) == 400
        time.sleep(0.5)  # the last replies meet their closed sockets
        assert server.alive()
        result = server.login()
        assert (result.returncode, result.stdout) == (0, b"hello\n"), result.stderr


def test_connect_piped_into_a_reader_that_goes_away_ends_quietly(tmp_path):
    # `sshviz connect host --exec CMD | head -c 10`: no traceback, the status a shell shows
    # for a command ended by SIGPIPE.
    root = tmp_path / "root"
    root.mkdir()
    (root / "big.txt").write_bytes(b"0123456789abcdef" * 65536)  # 1 MiB
    with serve(tmp_path, "--root", str(root)) as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "sshviz", "connect", f"{USER}@127.0.0.1", "-p", str(server.port),
             "--password-env", "SSHVIZ_TEST_PW", "--known-hosts", str(tmp_path / "known_hosts"),
             "--accept-new", "--exec", "cat /big.txt"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=PROJECT,
            env=dict(os.environ, SSHVIZ_TEST_PW=PASSWORD))
        try:
            assert process.stdout.read(10) == b"0123456789"
            process.stdout.close()
            status = process.wait(30)
            stderr = process.stderr.read()
        finally:
            stop(process)
    assert (status, stderr) == (141, b"")


COUNT_PRINTERS = textwrap.dedent("""
    import gc, signal, sys
    from sshviz.cli.connect import TranscriptPrinter

    def count(*_):
        alive = sum(isinstance(o, TranscriptPrinter) for o in gc.get_objects())
        print(f"printers: {alive}", file=sys.stderr, flush=True)

    signal.signal(signal.SIGUSR1, count)
    from sshviz.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_serve_print_forgets_each_connection_when_it_closes(tmp_path):
    # --print kept a TranscriptPrinter for every connection ever made.
    script = tmp_path / "count.py"
    script.write_text(COUNT_PRINTERS)
    with serve(tmp_path, "--print", program=[sys.executable, str(script)]) as server:
        assert hit_and_run(server.port, 20) == 20
        deadline = time.monotonic() + 20
        while sum("disconnected by" in line for line in server.stdout) < 20:
            assert time.monotonic() < deadline, server.stdout[-5:]
            time.sleep(0.05)
        server.process.send_signal(signal.SIGUSR1)
        assert server.wait_for_line("^printers:", stream="stderr") == "printers: 0"
