"""How fast traces load and captures import, measured in one run.

    python bench/trace_speed.py [--megabytes 100] [--keep DIR]

1. A trace of about 100,000 events: an in-process session whose server sends --megabytes of
   file contents in 1 KiB channel packets (the client asks for small packets), saved as sshviz
   saves traces by default (bulk data elided after the first 64 KiB), then loaded. Goal: < 2 s.
2. A capture of about --megabytes MB: the same kind of transfer in 16 KiB channel packets
   (an SFTP download once the SFTP layer is in this build, else `cat` over exec), exported as a
   pcap with its key log, then imported by sshviz (decrypting everything) and decoded by
   `tshark -r FILE -o ssh.keylog_file:KEYLOG` on the same files. Goal: sshviz at least as fast.
   Timed twice: the import alone (in this process), and `sshviz inspect --brief` as a whole
   command (Python's start and sshviz's imports included, as tshark's start is in its time).
   So that tshark 4.0 really decrypts it, the session runs without strict KEX (tshark predates
   it) and with packets below 32 KiB (tshark 4.0 gives up on longer SSH packets).

Everything is made in a temporary directory that is removed at the end (unless --keep). Not a
test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=100, help="size of each transfer (default: %(default)s)")
    parser.add_argument("--keep", type=Path, help="keep the files in this directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sshviz-bench-"))
    try:
        print(f"1. trace of a {args.megabytes} MiB transfer in small packets", flush=True)
        trace, how = transfer(work, args.megabytes, max_packet=1024)
        path = work / "long.yaml"
        _, saved = timed(lambda: save_trace(trace, path))
        events = len(trace.events)
        del trace
        loaded, load_time = timed(lambda: load_trace(path))
        assert len(loaded.events) == events
        del loaded
        print(f"   {how}: {events:,} events, file {path.stat().st_size / MIB:.1f} MiB (saved in {saved:.1f} s)")

        print(f"2. capture of a {args.megabytes} MiB transfer", flush=True)
        trace, how = transfer(work, args.megabytes, max_packet=16384, strict_kex=False)
        capture, keylog = work / "transfer.pcap", work / "transfer.keylog"
        write_pcap(trace, capture)
        write_keylog(trace, keylog)
        packets = sum(1 for e in trace.events if e.kind == "packet")
        del trace
        (imported,), import_time = timed(lambda: import_capture(capture, KeyLog.load(keylog)))
        opened = sum(1 for e in imported.events if e.opened)
        assert opened == len(imported.events), "sshviz could not open every packet"
        del imported
        tshark = shutil.which("tshark")
        tshark_time = None
        if tshark:
            command = [tshark, "-r", str(capture), "-o", f"ssh.keylog_file:{keylog}"]
            done, tshark_time = timed(lambda: subprocess.run(command, stdout=subprocess.PIPE,
                                                             stderr=subprocess.DEVNULL))
            decrypted = done.stdout.count(b"Channel Data")
        inspect = [sys.executable, "-m", "sshviz", "inspect", str(capture), "--keylog", str(keylog), "--brief"]
        _, inspect_time = timed(lambda: subprocess.run(inspect, stdout=subprocess.DEVNULL, check=True,
                                                       cwd=Path(__file__).resolve().parent.parent))
        print(f"   {how}: pcap {capture.stat().st_size / MIB:.1f} MiB, {packets:,} SSH packets")

        print()
        print(f"{'measure':<44} {'sshviz':>10} {'goal / tshark':>16}")
        print(f"{f'load a {events:,}-event trace':<44} {load_time:>9.2f}s {'< 2.00s':>16}")
        other = f"{tshark_time:.2f}s" if tshark_time is not None else "(no tshark)"
        print(f"{'import the capture, decrypting everything':<44} {import_time:>9.2f}s {other:>16}")
        print(f"{'  the same as a command (sshviz inspect --brief)':<44} {inspect_time:>9.2f}s {other:>16}")
        if tshark_time is not None:
            print(f"   (tshark: `tshark -r FILE -o ssh.keylog_file:KEYLOG`, {decrypted:,} Channel Data decoded)")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name in ("long.yaml", "transfer.pcap", "transfer.keylog"):
                shutil.copy(work / name, args.keep / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
