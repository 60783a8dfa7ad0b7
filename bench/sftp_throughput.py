"""SFTP throughput over loopback as users feel it: whole commands, figures printed (never asserted).

For one file (512 MiB by default) and aes128-gcm@openssh.com, each round downloads and uploads
it with three commands, their order turned round every round so that load elsewhere on the
machine hits each alike:

- ``sshviz connect --sftp-batch FILE`` against OpenSSH's sshd (internal-sftp),
- OpenSSH's ``sftp -b FILE`` against the same sshd,
- OpenSSH's ``sftp -b FILE`` against ``sshviz serve`` (in its own process).

The figures are medians and spread (lowest-highest) over the rounds of each command's wall
time (start-up, key exchange and authentication included), of its CPU time (user + system, of
the command and the processes it started: sftp runs ssh) and of the server's CPU time for that
transfer; then the ratios the goals of issue 17 name: the sshviz client against OpenSSH's sftp
(goal: at most 1.0x wall) and the sshviz server against sshd (goal: parity).

A second line times the sshviz client through its Python API inside this process (no start-up),
and ``--libraries`` adds asyncssh and paramiko the same way.

Every file lives in a temporary directory removed at the end; every copy is checked against the
source's SHA-256; each command has a time limit, so the run always stops by itself. Python's
bytecode is cached (in the temporary directory) and warmed up first, as an installed sshviz has
it, even when PYTHONDONTWRITEBYTECODE is set.

    python bench/sftp_throughput.py [--mib 512] [--rounds 5] [--timeout 300] [--libraries]
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import openssh as openssh_helpers  # noqa: E402
from tests.openssh import free_port, keygen, require, shared_keys, sshd, wait_for_port  # noqa: E402
from tests.sftp_helpers import sftp_options  # noqa: E402

CIPHER = "aes128-gcm@openssh.com"
USER = getpass.getuser()
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """Seconds of CPU a process used, with those of its children it has waited for (an sshd's
    per-connection processes, once they end)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS  # utime stime cutime cstime


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the command's (client's) CPU
    server_cpu: list[float] = field(default_factory=list)
    failure: str | None = None


@dataclass
class Transfer:
    """One command that makes ``produced``, a copy of the source; ``server_pid`` is the process
    whose CPU counts as the server's."""

    label: str
    direction: str
    run: Callable[[], None]
    produced: Path
    server_pid: int | None


class Bench:
    def __init__(self, work: Path, size: int, timeout: float):
        self.work = work
        self.size = size
        self.timeout = timeout
        self.source = work / "source.bin"
        self.digest = ""
        self.commands: list[Transfer] = []  # whole commands, alternated
        self.in_process: list[Transfer] = []  # the Python API, a second line
        self.samples: dict[tuple[str, str], Samples] = {}
        self.scripts = 0
        # The sshviz commands' environment: the worktree's sshviz, bytecode cached.
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env.update(PYTHONPATH=str(REPO), PYTHONPYCACHEPREFIX=str(work / "pycache"))

    def make_source(self, mib: int) -> None:
        chunk = os.urandom(1024 * 1024)
        with self.source.open("wb") as f:
            for i in range(mib):
                f.write(chunk[i:] + chunk[:i])
        self.digest = sha256(self.source)

    def command(self, argv: list[str], batch: str) -> Callable[[], None]:
        self.scripts += 1
        script = self.work / f"batch-{self.scripts}"
        script.write_text(batch + "\n")
        argv = [*argv, str(script)] if argv[0] != "sftp" else [*argv[:1], "-b", str(script), *argv[1:]]

        def run() -> None:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                  env=self.env, cwd=REPO)
            if done.returncode:
                raise RuntimeError((done.stderr.strip() or f"exit status {done.returncode}")[-300:])
        return run

    def add(self, into: list, label: str, direction: str, run, produced: Path, server_pid) -> None:
        into.append(Transfer(label, direction, run, produced, server_pid))

    def measure(self, transfer: Transfer) -> None:
        samples = self.samples.setdefault((transfer.label, transfer.direction), Samples())
        transfer.produced.unlink(missing_ok=True)
        server_before = process_cpu(transfer.server_pid) if transfer.server_pid else 0.0
        cpu_before = children_cpu()
        start_cpu = time.process_time()
        start = time.perf_counter()
        try:
            transfer.run()
            wall = time.perf_counter() - start
            # A command's CPU is its own; the in-process clients' is this process's.
            cpu = (children_cpu() - cpu_before if transfer in self.commands
                   else time.process_time() - start_cpu)
            time.sleep(0.3)  # the server's processes for this connection end and are counted
            server = process_cpu(transfer.server_pid) - server_before if transfer.server_pid else 0.0
            if sha256(transfer.produced) != self.digest:
                raise RuntimeError("the copy differs from the source")
            samples.wall.append(wall)
            samples.cpu.append(cpu)
            samples.server_cpu.append(server)
        except Exception as exc:  # one failing command must not stop the others
            samples.failure = f"{type(exc).__name__}: {exc}"
        transfer.produced.unlink(missing_ok=True)

    def run_rounds(self, rounds: int) -> None:
        for number in range(rounds):
            order = self.commands if number % 2 == 0 else self.commands[::-1]
            for transfer in order + self.in_process:
                self.measure(transfer)
            print(f"  round {number + 1} of {rounds} done", flush=True)

    # -- report -------------------------------------------------------------------------------

    def median(self, label: str, direction: str, what: str) -> float | None:
        samples = self.samples.get((label, direction))
        values = getattr(samples, what) if samples else []
        return statistics.median(values) if values else None

    def report(self) -> None:
        def spread(values: list[float]) -> str:
            return f"{statistics.median(values):6.2f} ({min(values):.2f}-{max(values):.2f})"

        print(f"  {'':<30} {'':<9} {'wall s':>20} {'CPU s (client)':>20} {'CPU s (server)':>20}")
        for group, title in ((self.commands, None), (self.in_process, "in this process (no start-up):")):
            if group and title:
                print(f"  {title}")
            for transfer in sorted(group, key=lambda t: (t.direction != "download", group.index(t))):
                samples = self.samples.get((transfer.label, transfer.direction), Samples())
                if samples.wall:
                    server = spread(samples.server_cpu) if transfer.server_pid else ""
                    print(f"  {transfer.label:<30} {transfer.direction:<9} {spread(samples.wall):>20} "
                          f"{spread(samples.cpu):>20} {server:>20}")
                if samples.failure:
                    print(f"  {transfer.label:<30} {transfer.direction:<9} failed: {samples.failure}")

    def summarize(self) -> None:
        print("goals (ratios of medians; below 1.0 is faster):")
        for direction in ("download", "upload"):
            for ours, theirs, cpu_of, goal in (
                    ("sshviz connect -> sshd", "sftp -> sshd", "cpu", "at most 1.0x"),
                    ("sftp -> sshviz serve", "sftp -> sshd", "server_cpu", "parity")):
                wall = [self.median(label, direction, "wall") for label in (ours, theirs)]
                cpu = [self.median(label, direction, cpu_of) for label in (ours, theirs)]
                if None in wall:
                    continue
                print(f"  {direction:<8} {ours:<22} / {theirs}: wall {wall[0] / wall[1]:.2f}x "
                      f"(goal: {goal}), {'client' if cpu_of == 'cpu' else 'server'} CPU "
                      f"{cpu[0] / cpu[1]:.2f}x")

    # -- the in-process clients ---------------------------------------------------------------

    def sshviz_api(self, port: int, key: Path, remote_dir: Path) -> None:
        from sshviz.auth.client import ClientAuthConfig
        from sshviz.crypto.keyfiles import read_private_key
        from sshviz.endpoint import ClientConfig
        from sshviz.fs.confined import ConfinedFS
        from sshviz.net.sftp import open_sftp
        from sshviz.transport.transport import TransportConfig

        config = ClientConfig(TransportConfig(ciphers=[CIPHER], verify_host_key=lambda k: ("known", "bench")),
                              ClientAuthConfig(user=USER, keys=[read_private_key(str(key))]))
        local = ConfinedFS("/")

        async def transfer(upload: bool) -> None:
            sftp = await open_sftp("127.0.0.1", port, config)
            async with sftp:
                if upload:
                    await sftp.put(local, str(self.source), str(remote_dir / "up.bin"))
                else:
                    await sftp.get(str(self.source), local, str(self.work / "down.bin"))

        run = lambda upload: asyncio.run(asyncio.wait_for(transfer(upload), self.timeout))  # noqa: E731
        self.add(self.in_process, "sshviz API -> sshd", "download", lambda: run(False),
                 self.work / "down.bin", None)
        self.add(self.in_process, "sshviz API -> sshd", "upload", lambda: run(True),
                 remote_dir / "up.bin", None)

    def asyncssh_api(self, port: int, key: Path, remote_dir: Path) -> None:
        import asyncssh

        async def transfer(upload: bool) -> None:
            async with asyncssh.connect("127.0.0.1", port, username=USER, client_keys=[str(key)],
                                        known_hosts=None, encryption_algs=[CIPHER]) as conn:
                async with conn.start_sftp_client() as sftp:
                    if upload:
                        await sftp.put(str(self.source), str(remote_dir / "up.bin"))
                    else:
                        await sftp.get(str(self.source), str(self.work / "down.bin"))

        run = lambda upload: asyncio.run(asyncio.wait_for(transfer(upload), self.timeout))  # noqa: E731
        self.add(self.in_process, "asyncssh API -> sshd", "download", lambda: run(False),
                 self.work / "down.bin", None)
        self.add(self.in_process, "asyncssh API -> sshd", "upload", lambda: run(True),
                 remote_dir / "up.bin", None)

    def paramiko_api(self, port: int, key: Path, remote_dir: Path) -> None:
        import paramiko

        def transfer(upload: bool) -> None:
            transport = paramiko.Transport(("127.0.0.1", port))
            transport.get_security_options().ciphers = (CIPHER,)
            transport.connect(username=USER, pkey=paramiko.Ed25519Key.from_private_key_file(str(key)))
            transport.sock.settimeout(self.timeout)
            try:
                sftp = paramiko.SFTPClient.from_transport(transport)
                if upload:
                    sftp.put(str(self.source), str(remote_dir / "up.bin"))
                else:
                    sftp.get(str(self.source), str(self.work / "down.bin"))
            finally:
                transport.close()

        self.add(self.in_process, "paramiko API -> sshd", "download", lambda: transfer(False),
                 self.work / "down.bin", None)
        self.add(self.in_process, "paramiko API -> sshd", "upload", lambda: transfer(True),
                 remote_dir / "up.bin", None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512, help="size of the file in MiB (default: 512)")
    parser.add_argument("--rounds", type=int, default=5, help="times each transfer runs (default: 5)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per transfer")
    parser.add_argument("--libraries", action="store_true",
                        help="also time asyncssh and paramiko in this process")
    args = parser.parse_args()
    require("/usr/sbin/sshd", "sftp", "ssh-keygen")
    work = Path(tempfile.mkdtemp(prefix="sshviz-bench-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if openssh_helpers._KEYS_DIR is not None:  # the test helpers' keys, made for this run
            shutil.rmtree(openssh_helpers._KEYS_DIR, ignore_errors=True)
    return 0


def run(args, work: Path) -> None:
    bench = Bench(work, args.mib * 1024 * 1024, args.timeout)
    bench.make_source(args.mib)
    key = shared_keys() / "user_ed25519"
    version = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    load = os.getloadavg()[0]
    print(f"SFTP over loopback: {args.mib} MiB, {CIPHER}, {args.rounds} rounds, {os.cpu_count()} cores "
          f"(load average {load:.2f}); OpenSSH: {version}")
    remote = work / "sshd-remote"
    remote.mkdir()
    served = work / "served"
    served.mkdir()
    os.link(bench.source, served / "source.bin")
    host_key = keygen(work, "host_ed25519", "ed25519")
    authorized = work / "authorized_keys"
    authorized.write_text(Path(str(key) + ".pub").read_text())
    port = free_port()
    known = work / "known_hosts_sshviz"
    known.write_text(f"[127.0.0.1]:{port} {Path(str(host_key) + '.pub').read_text().strip()}\n")
    with sshd(extra=[f"Ciphers {CIPHER}"], host_keys=("ed25519",), authorized=("ed25519",)) as openssh:
        server = subprocess.Popen(
            [sys.executable, "-m", "sshviz", "serve", "--root", str(served), "--port", str(port),
             "--user", USER, "--authorized-keys", str(authorized), "--host-key", str(host_key),
             "--cipher", CIPHER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=bench.env,
            cwd=REPO)
        try:
            wait_for_port(port)
            sshd_known = openssh.known_hosts_file()
            connect = [sys.executable, "-m", "sshviz", "connect", f"{USER}@127.0.0.1", "-p",
                       str(openssh.port), "-i", str(key), "--known-hosts", str(sshd_known), "--cipher",
                       CIPHER, "--sftp-batch"]
            to_sshd = ["sftp", "-q", "-c", CIPHER, *sftp_options(openssh.port, key, sshd_known),
                       f"{USER}@127.0.0.1"]
            to_serve = ["sftp", "-q", "-c", CIPHER, *sftp_options(port, key, known), f"{USER}@127.0.0.1"]
            down = work / "down.bin"
            bench.command(connect, "pwd")()  # compiles and caches the bytecode
            for direction, batches in (
                    ("download", [f"get {bench.source} {down}"] * 2 + [f"get /source.bin {down}"]),
                    ("upload", [f"put {bench.source} {remote}/up.bin"] * 2 + [f"put {bench.source} /up.bin"])):
                made = down if direction == "download" else None
                for label, argv, batch, produced, pid in (
                        ("sshviz connect -> sshd", connect, batches[0], made or remote / "up.bin", openssh.process.pid),
                        ("sftp -> sshd", to_sshd, batches[1], made or remote / "up.bin", openssh.process.pid),
                        ("sftp -> sshviz serve", to_serve, batches[2], made or served / "up.bin", server.pid)):
                    bench.add(bench.commands, label, direction, bench.command(argv, batch), produced, pid)
            bench.sshviz_api(openssh.port, key, remote)
            if args.libraries:
                bench.asyncssh_api(openssh.port, key, remote)
                bench.paramiko_api(openssh.port, key, remote)
            bench.run_rounds(args.rounds)
        finally:
            server.terminate()
            server.wait(10)
    bench.report()
    bench.summarize()


if __name__ == "__main__":
    sys.exit(main())
