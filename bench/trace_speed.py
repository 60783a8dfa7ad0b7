"""How fast traces load and captures import, as users run them, next to tshark, in one run.

    python bench/trace_speed.py [--megabytes 100] [--rounds 5] [--baseline CHECKOUT] [--keep DIR]

1. A trace of about 100,000 events: an in-process session whose server sends --megabytes of
   file contents in 1 KiB channel packets (the client asks for small packets), saved as sshviz
   saves traces by default (bulk data elided after the first 64 KiB). Timed as the command that
   loads it, `sshviz inspect TRACE --brief` (start-up, loading and printing every event), and
   as the in-process load. Goal: under 1 s.
2. A capture of about --megabytes MB: an SFTP download in 16 KiB channel packets, exported as
   a pcap with its key log. Timed as whole commands, `sshviz inspect CAPTURE --keylog KEYLOG
   --brief` and `tshark -r CAPTURE -o ssh.keylog_file:KEYLOG` (the host's tshark, and Debian
   13's 4.4 from the test root filesystem when tests/captures.py finds it; that one starts
   through unshare and chroot, which its time includes), each printing to /dev/null. Goal:
   sshviz at least as fast as tshark. So that tshark 4.0 really decrypts it, the session runs
   without strict KEX (tshark predates it) and with packets below 32 KiB (tshark 4.0 gives up
   on longer SSH packets).

With --baseline, the sshviz commands of another checkout run in the same rounds as more rows
(figures before and after a change, measured alike). The commands run in --rounds rounds, each
round every command once, the order turning round by round, after one untimed round (Python
runs as for an installed sshviz, with its bytecode cached, even where PYTHONDONTWRITEBYTECODE
is set); printed are the median wall time, the spread (fastest to slowest) and the median CPU
time (user + system). The in-process figures follow as a second line. Everything is made in a
temporary directory that is removed at the end (unless --keep). Not a test: nothing asserts a
time.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sshviz.fs import ConfinedFS  # noqa: E402
from sshviz.scenario import Scenario, make_conductor  # noqa: E402
from sshviz.trace.capture import import_capture  # noqa: E402
from sshviz.trace.export import write_keylog, write_pcap  # noqa: E402
from sshviz.trace.fileformat import load_trace, save_trace  # noqa: E402
from sshviz.trace.keylog import KeyLog  # noqa: E402

MIB = 1 << 20


def transfer(directory: Path, megabytes: int, max_packet: int, strict_kex: bool = True):
    """An in-process session moving ``megabytes`` MiB from server to client; returns (trace, how)."""
    (directory / "big").write_bytes(os.urandom(MIB))
    sftp = "sftp_actions" in {f.name for f in dataclasses.fields(Scenario)} and max_packet > 1024
    if sftp:
        (directory / "big").write_bytes(os.urandom(megabytes * MIB))
        scenario = Scenario(command=None, sftp_actions=["get big"], strict_kex=strict_kex)
        how = f"SFTP get of a {megabytes} MiB file"
    else:
        scenario = Scenario(command="cat" + " big" * megabytes, strict_kex=strict_kex)
        how = f"exec 'cat' of {megabytes} MiB"
    conductor = make_conductor(scenario, fs=ConfinedFS(str(directory)))
    conductor.client.connection.config.max_packet = max_packet
    how += f" in {max_packet}-byte channel packets"
    conductor.run(max_steps=10_000_000)
    conductor.trace.fill_header()
    return conductor.trace, how


def timed(action):
    gc.collect()
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


@dataclasses.dataclass
class Command:
    """One command line of the comparison, with its times over the rounds."""

    label: str
    argv: list[str]
    cwd: Path = ROOT  # a checkout's directory: `python -m sshviz` runs its sshviz
    walls: list[float] = dataclasses.field(default_factory=list)
    cpus: list[float] = dataclasses.field(default_factory=list)
    output: bytes = b""

    def run(self, timed: bool = True) -> None:
        # Waited for with os.wait4, which returns the moment the command ends, with its own CPU
        # time: subprocess.run with a timeout polls, at last every 50 ms, so every time it
        # measured was rounded up to the next poll. The timeout is a timer that kills it.
        start = time.perf_counter()
        process = subprocess.Popen(self.argv, stdout=subprocess.PIPE if not self.output else subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, cwd=self.cwd, env=AS_INSTALLED)
        killer = threading.Timer(600, process.kill)
        killer.start()
        stdout = process.stdout.read() if process.stdout else b""
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.stdout:
            process.stdout.close()
        if not timed:
            return
        self.walls.append(wall)
        self.cpus.append(usage.ru_utime + usage.ru_stime)
        if process.returncode:
            raise SystemExit(f"{self.label}: exit status {process.returncode}")
        if not self.output:
            self.output = stdout or b"-"  # kept from the first round only

    def line(self, goal: str = "") -> str:
        median = statistics.median(self.walls)
        return (f"  {self.label:<70} {median:6.2f} s  ({min(self.walls):.2f}-{max(self.walls):.2f})  "
                f"cpu {statistics.median(self.cpus):.2f} s{goal}")


# Python as an installed sshviz runs: with its bytecode cached (a first, untimed round of
# every command writes it, and brings the files into the page cache for every program alike).
AS_INSTALLED = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def alternate(commands: list[Command], rounds: int) -> None:
    """Each command once a round, the order turning round by round, after an untimed round."""
    for command in commands:
        command.run(timed=False)
    for number in range(rounds):
        order = commands[number % len(commands):] + commands[: number % len(commands)]
        for command in order:
            command.run()
        print(f"   round {number + 1}: " + ", ".join(f"{c.label.split()[0]} {c.walls[-1]:.2f} s" for c in order),
              flush=True)


def tshark_commands(capture: Path, keylog: Path) -> list[Command]:
    """The host's tshark, and Debian 13's when the test root filesystem has it."""
    try:
        from tests.captures import available_tsharks
    except ImportError:  # pytest missing: the host's tshark only
        path = shutil.which("tshark")
        return [Command("tshark -r CAPTURE -o ssh.keylog_file:KEYLOG",
                        [path, "-r", str(capture), "-o", f"ssh.keylog_file:{keylog}"])] if path else []
    commands = []
    for programs in available_tsharks():
        program = "tshark" if programs.root is None else "/usr/bin/tshark"
        where = "" if programs.root is None else ", Debian 13 chroot"
        commands.append(Command(f"tshark {programs.tshark_version} -r CAPTURE -o ssh.keylog_file:KEYLOG{where}",
                                programs.argv(program, "-r", str(capture), "-o", f"ssh.keylog_file:{keylog}")))
    return commands


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=100, help="size of each transfer (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the whole commands (default: %(default)s)")
    parser.add_argument("--keep", type=Path, help="keep the files in this directory")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                        help="another checkout of sshviz (say, main's, for figures before a change): "
                             "its sshviz commands run in the same rounds, as more rows")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sshviz-bench-"))
    try:
        print(f"1. trace of a {args.megabytes} MiB transfer in small packets", flush=True)
        trace, how = transfer(work, args.megabytes, max_packet=1024)
        path = work / "long.yaml"
        _, saved = timed(lambda saving=trace: save_trace(saving, path))
        events = len(trace.events)
        del trace
        load_times = []
        for _ in range(3):
            loaded, load_time = timed(lambda: load_trace(path))
            assert len(loaded.events) == events
            del loaded
            load_times.append(load_time)
        print(f"   {how}: {events:,} events, file {path.stat().st_size / MIB:.1f} MiB (saved in {saved:.1f} s)")
        load_argv = [sys.executable, "-m", "sshviz", "inspect", str(path), "--brief"]
        load_command = Command(f"sshviz inspect TRACE --brief ({events:,} events)", load_argv)
        load_baseline = [Command("  baseline: the same", load_argv, args.baseline)] if args.baseline else []
        alternate([load_command, *load_baseline], args.rounds)

        print(f"2. capture of a {args.megabytes} MiB transfer", flush=True)
        trace, how = transfer(work, args.megabytes, max_packet=16384, strict_kex=False)
        capture, keylog = work / "transfer.pcap", work / "transfer.keylog"
        write_pcap(trace, capture)
        write_keylog(trace, keylog)
        packets = sum(1 for e in trace.events if e.kind == "packet")
        del trace
        import_times = []
        for _ in range(3):
            (imported,), import_time = timed(lambda: import_capture(capture, KeyLog.load(keylog)))
            opened = sum(1 for e in imported.events if e.opened)
            assert opened == len(imported.events), "sshviz could not open every packet"
            del imported
            import_times.append(import_time)
        print(f"   {how}: pcap {capture.stat().st_size / MIB:.1f} MiB, {packets:,} SSH packets", flush=True)
        inspect_argv = [sys.executable, "-m", "sshviz", "inspect", str(capture), "--keylog", str(keylog), "--brief"]
        inspect = Command("sshviz inspect CAPTURE --keylog KEYLOG --brief", inspect_argv)
        inspect_baseline = [Command("  baseline: the same", inspect_argv, args.baseline)] if args.baseline else []
        tsharks = tshark_commands(capture, keylog)
        alternate([inspect, *inspect_baseline, *tsharks], args.rounds)

        print()
        print(f"whole commands, {args.rounds} rounds, alternating: median wall time (fastest-slowest), median CPU time")
        print(load_command.line("   goal < 1.00 s"))
        for command in load_baseline:
            print(command.line())
        print(inspect.line())
        for command in inspect_baseline:
            print(command.line())
        for tshark in tsharks:
            decoded = tshark.output.count(b"Channel Data")
            print(tshark.line(f"   ({decoded:,} Channel Data decrypted)"))
        if not tsharks:
            print("  (no tshark here)")
        if tsharks:
            fastest = min(statistics.median(t.walls) for t in tsharks)
            least = min(statistics.median(t.cpus) for t in tsharks)
            print(f"  sshviz / fastest tshark: {statistics.median(inspect.walls) / fastest:.2f}x wall time "
                  f"(goal at most 1.00x), {statistics.median(inspect.cpus) / least:.2f}x CPU time")
        print("in the process (median of 3):")
        print(f"  load the {events:,}-event trace{'':<39} {statistics.median(load_times):6.2f} s   goal < 1.00 s")
        print(f"  import the capture, decrypting everything{'':<28} {statistics.median(import_times):6.2f} s")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name in ("long.yaml", "transfer.pcap", "transfer.keylog"):
                shutil.copy(work / name, args.keep / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
