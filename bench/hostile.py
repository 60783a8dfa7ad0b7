"""A hostile classroom against `sshviz serve` and OpenSSH's sshd, in the same run, one after the
other, for several rounds (figures printed, never asserted):

- accepted before the limit: of 200 idle connections from one address, how many get a version
  line; the same from 200 addresses (sshd's MaxStartups 10:30:100 drops most, by chance);
- login time, idle: OpenSSH's ssh logging in and running `echo`, median of 5;
- login time under load: 20 such logins while one address holds 200 idle connections, another
  floods unanswered requests without reading, another connects and hangs up 3,000 times, and
  three ask for 8192-bit Diffie-Hellman exchanges again and again (DHEat); median and slowest
  of those that got in, and how many were refused or failed;
- server memory: resident memory of the server and every process it started (sshd's children,
  sshviz's workers) as the load ends.

Both servers run with their defaults (sshd: Debian's, MaxStartups 10:30:100; sshviz: as
`sshviz serve` starts). Stops by itself: every attacker and login has a time limit.

    python bench/hostile.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.openssh import shared_keys, ssh_command, sshd  # noqa: E402
from tests.serving import (USER, dheat, first_bytes, hit_and_run, hold_idle,  # noqa: E402
                           in_background, reply_flood, rss_kib, serve)

STUDENT = "127.0.0.1"


class Target:
    """A server to attack: its port, the user to log in as, its process."""

    def __init__(self, name: str, port: int, user: str, pid: int, directory: Path):
        self.name, self.port, self.user, self.pid, self.directory = name, port, user, pid, directory

    def login(self) -> tuple[float, bool]:
        args = ssh_command(self.port, self.user, self.directory, f"BindAddress={STUDENT}",
                           "ConnectTimeout=60", identity=shared_keys() / "user_ed25519", command="echo hello")
        start = time.perf_counter()
        try:
            result = subprocess.run(args, capture_output=True, timeout=120, input=b"", check=False)
        except subprocess.TimeoutExpired:
            return time.perf_counter() - start, False
        return time.perf_counter() - start, result.stdout == b"hello\n"


@contextlib.contextmanager
def started(name: str):
    directory = Path(tempfile.mkdtemp(prefix=f"sshviz-bench-{name}-"))
    if name == "sshd":
        with sshd() as server:
            yield Target(name, server.port, "root", server.process.pid, directory)
    else:
        with serve(directory) as served:
            yield Target(name, served.port, USER, served.process.pid, directory)


def accepted(target: Target, sources: list[str]) -> int:
    held = []
    for source in sources:
        with contextlib.suppress(OSError):
            held += hold_idle([source], target.port)
    greeted = sum(data.startswith(b"SSH-") for data in first_bytes(held))
    for sock in held:
        sock.close()
    time.sleep(1)  # let the server forget them
    return greeted


def measure(target: Target) -> dict:
    figures = {"one address": accepted(target, ["127.0.2.1"] * 200),
               "200 addresses": accepted(target, [f"127.0.{3 + n // 250}.{1 + n % 250}" for n in range(200)])}
    figures["idle login"] = statistics.median(target.login()[0] for _ in range(5))
    stop = threading.Event()
    idle = []
    with contextlib.suppress(OSError):
        idle = hold_idle(["127.0.2.1"] * 200, target.port)
    hit, _ = in_background(hit_and_run, target.port, 3000, "127.0.2.3")
    attackers = [in_background(reply_flood, target.port, "127.0.2.2", stop),
                 *(in_background(dheat, target.port, f"127.0.2.{4 + i}", stop) for i in range(3))]
    time.sleep(1)  # the attack is under way
    logins = [target.login() for _ in range(20)]
    hit.join(120)
    figures["memory"] = rss_kib(target.pid) / 1024
    stop.set()
    for thread, _ in attackers:
        thread.join(60)
    figures["dheat"] = sum(result[0] for _, result in attackers[1:] if result)
    for sock in idle:
        sock.close()
    times = [seconds for seconds, ok in logins if ok]  # a refused login is quick and no login
    figures["loaded login"] = statistics.median(times) if times else float("nan")
    figures["slowest"] = max(times) if times else float("nan")
    figures["failed"] = sum(not ok for _, ok in logins)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"sshd": [], "sshviz": []}
    for round_number in range(args.rounds):
        for name in ("sshd", "sshviz") if round_number % 2 == 0 else ("sshviz", "sshd"):
            with started(name) as target:
                results[name].append(measure(target))
            print(f"round {round_number + 1}: {name} {results[name][-1]}", file=sys.stderr)
    rows = [("accepted of 200 idle, one address", "one address", "{:.0f}"),
            ("accepted of 200 idle, 200 addresses", "200 addresses", "{:.0f}"),
            ("login, idle (s, median)", "idle login", "{:.2f}"),
            ("login under load (s, median of those in)", "loaded login", "{:.2f}"),
            ("login under load (s, slowest of those in)", "slowest", "{:.2f}"),
            ("logins failed under load (of 20)", "failed", "{:.0f}"),
            ("DHEat exchanges served meanwhile", "dheat", "{:.0f}"),
            ("server memory under load (MiB)", "memory", "{:.0f}")]
    print(f"\n{'median of ' + str(args.rounds) + ' rounds':<40} {'sshviz serve':>14} {'OpenSSH sshd':>14}")
    for label, key, form in rows:
        values = [form.format(statistics.median(r[key] for r in results[name])) for name in ("sshviz", "sshd")]
        print(f"{label:<40} {values[0]:>14} {values[1]:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
