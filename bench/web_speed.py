"""How fast `sshviz web` opens a session, and what a session costs (prints figures; nothing here
asserts a time).

    python bench/web_speed.py [--rounds 7] [--tabs 5]

1. Opening: from asking for the page to the first sshviz frame in it (the start screen, while
   the demo session starts), and to the demo's first message ("#0 of 1+"), read from the terminal
   xterm.js draws, in headless Chromium, one tab after another (goal: under 2 s). Next to it, the same for a minimal Textual app (a header, one line, a
   footer) served by textual-serve's own Server as its users run it: the part of the time that
   is textual-serve, a browser and a Python process starting, whatever the app.
2. Memory: with TABS sessions open at once, each app process's resident memory (RSS) and its
   proportional share (PSS, which splits pages the processes share), plus the server's RSS
   divided among the sessions (goal: under 80 MB a session, so 30 fit on a laptop).

Both servers run as separate processes on loopback ports chosen by the system; rounds
alternate between them. It stops by itself: each wait is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import SCREEN_TEXT, expose_terminal, launch  # noqa: E402

WAIT_MS = 30_000
# Any of the texts: a frame may come and go between two looks (the start screen, on a fast run).
SHOWS_ANY = "texts => !!window.sshvizTerminal && texts.some(text => (" + SCREEN_TEXT + ")().includes(text))"
MINIMAL_APP = textwrap.dedent("""
    from textual.app import App
    from textual.widgets import Footer, Header, Static
    class Minimal(App):
        def compose(self):
            yield Header()
            yield Static("hello from a minimal app")
            yield Footer()
    Minimal().run()
""")
MINIMAL_SERVER = textwrap.dedent("""
    import shlex, sys
    from textual_serve.server import Server
    Server("exec " + shlex.join([sys.executable, sys.argv[1]]), host="127.0.0.1", port=int(sys.argv[2])).serve()
""")


@contextlib.contextmanager
def server(command: list[str], url: str, log: list[str]):
    """``command`` running until the block ends, once ``url`` answers; its output in ``log``."""
    import urllib.error
    import urllib.request

    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    threading.Thread(target=lambda: log.extend(iter(process.stdout.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"{command} did not start: {''.join(log)}")
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_session(browser, url: str, *shows: tuple[str, ...]):
    """A new browser context on ``url``; the seconds until the terminal shows one of each of
    ``shows``' texts (in turn), and the context."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    expose_terminal(context)
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url)
    seconds = []
    for text in shows:
        page.wait_for_function(SHOWS_ANY, arg=list(text), timeout=WAIT_MS, polling="raf")
        seconds.append(time.perf_counter() - started)
    return seconds, context


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in KiB."""
    rss = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
    pss = int(re.search(r"^Pss:\s+(\d+)", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M).group(1))
    return rss, pss


def spread(values: list[float], unit: str, scale: float = 1.0) -> str:
    values = [v * scale for v in values]
    return (f"median {statistics.median(values):7.2f} {unit}  (min {min(values):.2f}, max {max(values):.2f}, "
            f"{len(values)} rounds)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tabs", type=int, default=5)
    args = parser.parse_args()

    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="sshviz-web-bench-"))
    (scratch / "minimal.py").write_text(MINIMAL_APP)
    (scratch / "serve_minimal.py").write_text(MINIMAL_SERVER)
    sshviz_log: list[str] = []
    minimal_log: list[str] = []
    sshviz_port, minimal_port = free_port(), free_port()
    sshviz_url, minimal_url = f"http://127.0.0.1:{sshviz_port}/", f"http://127.0.0.1:{minimal_port}/"
    sshviz_command = [sys.executable, "-m", "sshviz", "web", "--port", str(sshviz_port),
                      "--max-sessions", str(args.tabs + 2)]
    minimal_command = [sys.executable, str(scratch / "serve_minimal.py"), str(scratch / "minimal.py"),
                       str(minimal_port)]
    times: dict[str, list[float]] = {"sshviz web, first frame": [], "sshviz web, the demo's first message": [],
                                     "textual-serve, minimal app": []}
    with launch() as browser, \
            server(sshviz_command, sshviz_url, sshviz_log) as sshviz_server, \
            server(minimal_command, minimal_url, minimal_log):
        # The first frame is the start screen, shown while the demo session starts.
        targets = {("sshviz web, first frame", "sshviz web, the demo's first message"):
                   (sshviz_url, ("Starting the demo session", "#0 of 1+"), ("#0 of 1+",)),
                   ("textual-serve, minimal app",): (minimal_url, ("hello from a minimal app",))}
        for names, (url, *shows) in targets.items():  # a first run of each warms the file cache
            open_session(browser, url, *shows)[1].close()
        for _ in range(args.rounds):
            for names, (url, *shows) in targets.items():
                seconds, context = open_session(browser, url, *shows)
                for name, value in zip(names, seconds):
                    times[name].append(value)
                context.close()

        print("Opening a page until its first app frame (goal for sshviz web: under 2 s)")
        for name, values in times.items():
            print(f"  {name:38} {spread(values, 's')}")

        # Memory: TABS sessions at once.
        time.sleep(1)  # the rounds' sessions end
        sshviz_log.clear()
        contexts = [open_session(browser, sshviz_url, ("#0 of 1+",))[1] for _ in range(args.tabs)]
        time.sleep(1)
        pids = [int(p) for p in re.findall(r"\(pid (\d+);", "".join(sshviz_log))]
        sessions = [memory_kb(pid) for pid in pids]
        server_rss, server_pss = memory_kb(sshviz_server.pid)
        rss = [r / 1024 for r, _ in sessions]
        pss = [p / 1024 for _, p in sessions]
        share = server_rss / 1024 / len(sessions)
        print(f"\nMemory with {len(sessions)} sessions open at once (goal: under 80 MB a session)")
        print(f"  app process RSS              median {statistics.median(rss):7.1f} MB  (min {min(rss):.1f}, "
              f"max {max(rss):.1f})")
        print(f"  app process PSS              median {statistics.median(pss):7.1f} MB  (min {min(pss):.1f}, "
              f"max {max(pss):.1f})")
        print(f"  server RSS                   {server_rss / 1024:7.1f} MB, {share:.1f} MB a session")
        print(f"  a session: RSS + server share {statistics.median(rss) + share:6.1f} MB "
              f"(PSS + share {statistics.median(pss) + share:.1f} MB)")
        for context in contexts:
            context.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
