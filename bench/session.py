"""A full SSH session, timed: sshviz's client and server in memory (with every event recorded)
next to asyncssh's client and server in one process over loopback, doing the same work:
ssh-ed25519, aes128-gcm@openssh.com, publickey auth, one exec; for each key exchange of
curve25519-sha256, mlkem768x25519-sha256 and sntrup761x25519-sha512@openssh.com. asyncssh has
the hybrids only where its post-quantum backend is present (ML-KEM through `cryptography`;
sntrup761 only through the liboqs C library): a method it lacks is reported and skipped.

    python bench/session.py [--runs N] [--kex NAME ...]

Prints the median and spread of each, measured in the same run. Not a test: nothing asserts
a time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sshviz.scenario import Scenario, run_scenario  # noqa: E402
from tests.asyncssh_peer import asyncssh_server_accepting  # noqa: E402

SCENARIO = dict(hostkey="ssh-ed25519", cipher="aes128-gcm@openssh.com", auth="publickey",
                command="echo Hello, SSH!")
KEX = ["curve25519-sha256", "mlkem768x25519-sha256", "sntrup761x25519-sha512@openssh.com"]


def sshviz_session(kex: str) -> None:
    conductor = run_scenario(Scenario(kex=kex, **SCENARIO))
    assert conductor.driver_state.exit_status == 0 and len(conductor.trace.events) > 20


def asyncssh_has(kex: str) -> bool:
    from asyncssh.kex import get_kex_algs

    return kex.encode() in get_kex_algs()


async def asyncssh_sessions(runs: int, kex: str) -> list[float]:
    import asyncssh

    host_key = asyncssh.generate_private_key("ssh-ed25519")
    user_key = asyncssh.generate_private_key("ssh-ed25519")

    Server = asyncssh_server_accepting(asyncssh, user_key.export_public_key("openssh").decode())

    async def handle(process):
        process.stdout.write("Hello, SSH!\n")
        process.exit(0)

    server = await asyncssh.create_server(Server, "127.0.0.1", 0, server_host_keys=[host_key],
                                          kex_algs=[kex], encryption_algs=["aes128-gcm@openssh.com"],
                                          process_factory=handle)
    port = server.sockets[0].getsockname()[1]
    times = []
    for _ in range(runs + 3):
        start = time.perf_counter()
        async with asyncssh.connect("127.0.0.1", port, username="alice", known_hosts=None,
                                    client_keys=[user_key], kex_algs=[kex],
                                    encryption_algs=["aes128-gcm@openssh.com"]) as conn:
            result = await conn.run("echo Hello, SSH!")
        times.append(time.perf_counter() - start)
        assert result.stdout == "Hello, SSH!\n"
    server.close()
    return times[3:]  # the first runs warm caches up


def measure(fn, runs: int) -> list[float]:
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def report(name: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    print(f"{name:<52} median {statistics.median(ms):7.2f} ms   "
          f"min {ms[0]:7.2f}   p90 {ms[int(len(ms) * 0.9) - 1]:7.2f}   ({len(ms)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--kex", nargs="+", default=KEX, metavar="NAME")
    args = parser.parse_args()
    print("full session: " + ", ".join(f"{k}={v}" for k, v in SCENARIO.items()))
    for kex in args.kex:
        print(f"\n{kex}")
        ours = measure(lambda: sshviz_session(kex), args.runs)
        report("sshviz, in memory, every event recorded", ours)
        if not asyncssh_has(kex):
            print(f"{'asyncssh client + server, one process, loopback':<52} not available "
                  f"(asyncssh lacks {kex} here)")
            continue
        theirs = asyncio.run(asyncssh_sessions(args.runs, kex))
        report("asyncssh client + server, one process, loopback", theirs)
        print(f"sshviz / asyncssh (medians): {statistics.median(ours) / statistics.median(theirs):.2f}")


if __name__ == "__main__":
    main()
