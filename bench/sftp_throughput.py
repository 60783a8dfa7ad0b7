"""SFTP throughput over loopback, one run, figures printed (never asserted).

Downloads and uploads one file (256 MiB by default) with aes128-gcm@openssh.com for:

- the sshviz client, asyncssh, paramiko and OpenSSH's sftp against OpenSSH's sshd
  (internal-sftp), and
- OpenSSH's sftp against the sshviz server (``sshviz serve`` in its own process),

then the goals of issue 5 (medians of --rounds runs; each figure includes connecting and
authenticating, well under a second): sshviz client vs asyncssh and vs OpenSSH's sftp, sshviz server vs
sshd. Everything lives in a temporary directory that is removed at the end; each transfer has
a time limit, so the run always stops by itself.

    python bench/sftp_throughput.py [--size-mib 256] [--rounds 3] [--timeout 300]
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.openssh import free_port, keygen, require, shared_keys, sshd, wait_for_port  # noqa: E402
from tests.sftp_helpers import sftp_options  # noqa: E402

CIPHER = "aes128-gcm@openssh.com"
USER = getpass.getuser()
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


class Bench:
    def __init__(self, work: Path, size: int, timeout: float):
        self.work = work
        self.size = size
        self.timeout = timeout
        self.source = work / "source.bin"
        self.transfers: list = []
        self.samples: dict[tuple[str, str], list[float]] = {}
        self.failures: dict[tuple[str, str], str] = {}
        self.results: dict[tuple[str, str], float] = {}  # median MB/s

    def measure(self, label: str, direction: str, action, produced: Path) -> None:
        """Queue a transfer: ``action`` must make ``produced``, a copy of the source."""
        self.transfers.append((label, direction, action, produced))

    def run_rounds(self, rounds: int) -> None:
        """Every transfer once per round, rounds interleaved so a burst of load elsewhere on
        the machine hits all peers alike."""
        for round_number in range(rounds):
            for label, direction, action, produced in self.transfers:
                produced.unlink(missing_ok=True)
                start = time.perf_counter()
                try:
                    action()
                    elapsed = time.perf_counter() - start
                    if produced.stat().st_size != self.size:
                        raise RuntimeError(f"wrong size {produced.stat().st_size}")
                    self.samples.setdefault((label, direction), []).append(self.size / elapsed / 1e6)
                except Exception as exc:  # one failing peer must not stop the others
                    self.failures[(label, direction)] = f"{type(exc).__name__}: {exc}"
                produced.unlink(missing_ok=True)
            print(f"  round {round_number + 1} of {rounds} done", flush=True)

    def report(self) -> None:
        print(f"  {'':<34} {'':<9} {'median':>8} {'best':>8}  MB/s")
        for label, direction, _, _ in self.transfers:
            key = (label, direction)
            samples = sorted(self.samples.get(key, []))
            if samples:
                self.results[key] = samples[len(samples) // 2]
                print(f"  {label:<34} {direction:<9} {self.results[key]:8.1f} {samples[-1]:8.1f}"
                      + (f"  ({self.failures[key]})" if key in self.failures else ""))
            else:
                print(f"  {label:<34} {direction:<9} failed: {self.failures.get(key)}")

    # -- clients ------------------------------------------------------------------------------

    def sshviz_client(self, port: int, key: Path, remote_dir: Path) -> None:
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
        self.measure("sshviz client -> sshd", "download", lambda: run(False), self.work / "down.bin")
        self.measure("sshviz client -> sshd", "upload", lambda: run(True), remote_dir / "up.bin")

    def asyncssh_client(self, port: int, key: Path, remote_dir: Path) -> None:
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
        self.measure("asyncssh -> sshd", "download", lambda: run(False), self.work / "down.bin")
        self.measure("asyncssh -> sshd", "upload", lambda: run(True), remote_dir / "up.bin")

    def paramiko_client(self, port: int, key: Path, remote_dir: Path) -> None:
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

        self.measure("paramiko -> sshd", "download", lambda: transfer(False), self.work / "down.bin")
        self.measure("paramiko -> sshd", "upload", lambda: transfer(True), remote_dir / "up.bin")

    def openssh_sftp(self, label: str, args: list[str], source: str, remote_dir: str,
                     produced_up: Path) -> None:
        def transfer(command: str) -> None:
            result = subprocess.run(["sftp", "-q", "-c", CIPHER, "-b", "-", *args], input=command,
                                    capture_output=True, text=True, timeout=self.timeout)
            if result.returncode:
                raise RuntimeError(result.stderr.strip() or f"exit status {result.returncode}")

        down = self.work / "down.bin"
        self.measure(label, "download", lambda: transfer(f"get {source} {down}\n"), down)
        self.measure(label, "upload", lambda: transfer(f"put {self.source} {remote_dir}/up.bin\n"),
                     produced_up)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per transfer")
    parser.add_argument("--rounds", type=int, default=3, help="times each transfer runs (median and "
                        "best are printed)")
    args = parser.parse_args()
    require("/usr/sbin/sshd", "sftp", "ssh-keygen")
    size = args.size_mib * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="sshviz-bench-") as tmp:
        work = Path(tmp)
        bench = Bench(work, size, args.timeout)
        with bench.source.open("wb") as f:
            chunk = os.urandom(1024 * 1024)
            for i in range(args.size_mib):
                f.write(chunk[i:] + chunk[:i])
        key = shared_keys() / "user_ed25519"
        public = Path(str(key) + ".pub").read_text().strip()
        print(f"SFTP throughput, {args.size_mib} MiB over loopback, {CIPHER} ({os.cpu_count()} cores)")

        remote = work / "sshd-remote"
        remote.mkdir()
        served = work / "served"
        served.mkdir()
        os.link(bench.source, served / "source.bin")
        host_key = keygen(work, "host_ed25519", "ed25519")
        host_public = Path(str(host_key) + ".pub").read_text().strip()
        authorized = work / "authorized_keys"
        authorized.write_text(public + "\n")
        port = free_port()
        known = work / "known_hosts_sshviz"
        known.write_text(f"[127.0.0.1]:{port} {host_public}\n")
        version = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
        print(f"peers: OpenSSH sshd with internal-sftp ({version}); sshviz serve in its own process")
        with sshd(extra=[f"Ciphers {CIPHER}"], host_keys=("ed25519",), authorized=("ed25519",)) as openssh:
            server = subprocess.Popen(
                [sys.executable, "-m", "sshviz", "serve", "--root", str(served), "--port", str(port),
                 "--user", USER, "--authorized-keys", str(authorized), "--host-key", str(host_key),
                 "--cipher", CIPHER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
            try:
                wait_for_port(port)
                bench.sshviz_client(openssh.port, key, remote)
                bench.asyncssh_client(openssh.port, key, remote)
                bench.paramiko_client(openssh.port, key, remote)
                options = [*sftp_options(openssh.port, key, openssh.known_hosts_file()), f"{USER}@127.0.0.1"]
                bench.openssh_sftp("OpenSSH sftp -> sshd", options, str(bench.source), str(remote),
                                   remote / "up.bin")
                options = [*sftp_options(port, key, known), f"{USER}@127.0.0.1"]
                bench.openssh_sftp("OpenSSH sftp -> sshviz serve", options, "/source.bin", "",
                                   served / "up.bin")
                bench.run_rounds(args.rounds)
            finally:
                server.terminate()
                server.wait(10)
        bench.report()
        summarize(bench.results)
    return 0


def summarize(results: dict) -> None:
    def rate(label: str, direction: str):
        value = results.get((label, direction))
        return value if isinstance(value, float) else None

    print("goals (medians):")
    for direction in ("download", "upload"):
        ours = rate("sshviz client -> sshd", direction)
        for other, goal in (("asyncssh -> sshd", "faster than asyncssh"),
                            ("OpenSSH sftp -> sshd", "as fast as OpenSSH sftp")):
            theirs = rate(other, direction)
            if ours and theirs:
                print(f"  sshviz client {direction}: {ours / theirs:.2f}x {other.split()[0]} ({goal})")
        server, sshd = rate("OpenSSH sftp -> sshviz serve", direction), rate("OpenSSH sftp -> sshd", direction)
        if server and sshd:
            print(f"  sshviz server {direction}: {server / sshd:.2f}x sshd (goal: at least 0.9x)")


if __name__ == "__main__":
    sys.exit(main())
