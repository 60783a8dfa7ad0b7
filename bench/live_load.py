"""The live classroom's figures, from one run (printed, never asserted):

- logins per second: a burst of 50 OpenSSH `ssh HOST echo` logins at once, each from its own
  loopback address, against `sshviz serve` with its UI running (headless, in a process of its
  own, as `serve` runs on a terminal) and against OpenSSH's sshd on the same machine, in
  alternating rounds; median and spread of the rounds. sshd runs with MaxStartups 200 (its
  default 10:30:100 would drop a third of such a burst); sshviz serve with its defaults.
- peak memory: resident memory of each server and the processes it started (sshd's children,
  sshviz's workers), sampled every 0.1 s through the bursts, the highest seen.
- the UI under load: key press (down/up in the connection list) to the frame that shows it,
  median and slowest, while 50 clients log in and run commands again and again.

Goals (issue 12): no fewer logins per second than sshd; the UI under 50 ms under load.
Stops by itself: every login has a time limit, and the server process is ended at the end.

    python bench/live_load.py [--rounds 3] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.openssh import shared_keys, ssh_command, sshd, stop  # noqa: E402
from tests.serving import rss_kib  # noqa: E402

KEYS = 40


# -- the child: sshviz serve with its UI, headless ---------------------------------------------


async def child(directory: Path, keys: Path) -> None:
    """serve with the UI headless; prints its port, then answers 'keys' with key press to frame
    times (ms) and ends on 'quit' (both read from standard input). ``keys``: the parent's
    test keys, whose user key logs in."""
    from tests import openssh
    from tests.live_ui import KeyToFrame, live_app, port_of, serve_args

    openssh._KEYS_DIR = keys

    os.environ["XDG_STATE_HOME"] = str(directory / "state")
    app = live_app(serve_args(directory, "--max-startups", "200:30:300"))
    async with app.run_test(size=(120, 40)) as pilot:
        port = await port_of(app)
        print(f"port {port}", flush=True)
        clock = KeyToFrame(app)
        lines: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        threading.Thread(target=lambda: [loop.call_soon_threadsafe(lines.put_nowait, line.strip())
                                         for line in sys.stdin], daemon=True).start()
        while (command := await lines.get()) != "quit":
            if command == "keys":
                table = app.screen.query_one("DataTable")
                times = []
                while len(times) < KEYS:
                    if table.row_count < 2:
                        await pilot.pause(0.1)
                        continue
                    key = "down" if table.cursor_row == 0 else "up"
                    times.append(await clock.key(key, lambda: table.cursor_row) * 1000)
                    await asyncio.sleep(0.05)  # a person presses a few keys a second
                print("keys " + " ".join(f"{t:.2f}" for t in times), flush=True)


# -- the parent: the bursts, the rounds, the figures -------------------------------------------


class Server:
    def __init__(self, name: str, port: int, user: str, pid: int, directory: Path):
        self.name, self.port, self.user, self.pid, self.directory = name, port, user, pid, directory
        self.peak_kib = 0
        self._sampling = False

    def login(self, source: str) -> bool:
        args = ssh_command(self.port, self.user, self.directory / source, f"BindAddress={source}",
                           "ConnectTimeout=60", identity=shared_keys() / "user_ed25519", command="echo hello")
        try:
            result = subprocess.run(args, capture_output=True, timeout=120, input=b"", check=False)
        except subprocess.TimeoutExpired:
            return False
        return result.stdout == b"hello\n"

    @contextlib.contextmanager
    def sampling(self):
        """Peak memory while the block runs."""
        self._sampling = True

        def sample() -> None:
            while self._sampling:
                self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
                time.sleep(0.1)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._sampling = False
            thread.join()

    def burst(self, clients: int) -> tuple[float, int]:
        """(logins per second, failures) for ``clients`` logins at once."""
        for number in range(clients):
            (self.directory / f"127.0.1.{number + 1}").mkdir(exist_ok=True)
        results: list[bool] = []
        threads = [threading.Thread(target=lambda n=n: results.append(self.login(f"127.0.1.{n + 1}")))
                   for n in range(clients)]
        with self.sampling():
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        return clients / elapsed, results.count(False)


@contextlib.contextmanager
def sshviz_with_ui(directory: Path):
    process = subprocess.Popen([sys.executable, __file__, "--child", str(directory), "--keys", str(shared_keys())],
                               stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    try:
        line = process.stdout.readline()
        if not line.startswith("port "):
            raise SystemExit(f"sshviz serve did not start: {line!r}")
        from tests.live_ui import USER

        yield Server("sshviz", int(line.split()[1]), USER, process.pid, directory), process
    finally:
        with contextlib.suppress(OSError):
            process.stdin.write("quit\n")
            process.stdin.flush()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            stop(process)


def ui_under_load(server: Server, process: subprocess.Popen, clients: int) -> list[float]:
    """Key press to frame times (ms) while ``clients`` log in again and again."""
    done = threading.Event()

    def student(number: int) -> None:
        while not done.is_set():
            server.login(f"127.0.1.{number + 1}")

    threads = [threading.Thread(target=student, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(2)  # the class is logging in
    with server.sampling():
        process.stdin.write("keys\n")
        process.stdin.flush()
        line = process.stdout.readline()
    done.set()
    for thread in threads:
        thread.join(130)
    return [float(t) for t in line.split()[1:]]


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--child", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--keys", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(Path(args.child), Path(args.keys)))
        return 0
    rates: dict[str, list[float]] = {"sshviz": [], "sshd": []}
    failures = {"sshviz": 0, "sshd": 0}
    base = Path(tempfile.mkdtemp(prefix="sshviz-live-load-"))
    (base / "sshviz").mkdir()
    (base / "sshd").mkdir()
    with sshviz_with_ui(base / "sshviz") as (viz, process), sshd(extra=["MaxStartups 200:30:300"]) as openssh:
        servers = {"sshviz": viz, "sshd": Server("sshd", openssh.port, "root", openssh.process.pid, base / "sshd")}
        servers["sshviz"].burst(5)  # warm up: host keys known, workers started
        servers["sshd"].burst(5)
        for round_number in range(args.rounds):
            for name in ("sshviz", "sshd") if round_number % 2 == 0 else ("sshd", "sshviz"):
                rate, failed = servers[name].burst(args.clients)
                rates[name].append(rate)
                failures[name] += failed
                print(f"round {round_number + 1}: {name} {rate:.1f} logins/s, {failed} failed", file=sys.stderr)
        keys = ui_under_load(viz, process, args.clients)
    print(f"\n{args.clients} logins at once, {args.rounds} rounds{'':<14} {'sshviz serve (UI)':>18} {'OpenSSH sshd':>14}")
    print(f"{'logins per second, median (range)':<44} {spread(rates['sshviz']):>18} {spread(rates['sshd']):>14}")
    print(f"{'logins failed':<44} {failures['sshviz']:>18} {failures['sshd']:>14}")
    print(f"{'peak server memory (MiB)':<44} {viz.peak_kib / 1024:>18.0f} {servers['sshd'].peak_kib / 1024:>14.0f}")
    print(f"UI key press to frame under load, {len(keys)} keys: median {statistics.median(keys):.1f} ms, "
          f"slowest {max(keys):.1f} ms (goal: under 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
