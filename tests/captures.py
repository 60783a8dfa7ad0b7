"""Captures made at test time: synthesized from a trace's bytes (cut into segments of any size,
reordered, retransmitted, over IPv4 or IPv6, pcap or pcapng), or recorded off the loopback
interface with dumpcap while real programs talk."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import dpkt
import pytest

from .rootfs import DEBIAN13, HOST, Programs

CLIENT4, SERVER4 = ("10.0.0.1", 40001), ("10.0.0.2", 2022)
CLIENT6, SERVER6 = ("::1", 58831), ("::1", 2022)


def segments_of(trace, seed: int = 0, max_size: int = 1500):
    """(direction, bytes) pieces of the trace's wire bytes, cut at random places."""
    rng = random.Random(seed)
    for event in trace.events:
        wire = event.record.wire
        position = 0
        while position < len(wire):
            size = rng.randint(1, max_size)
            yield event.direction, wire[position: position + size]
            position += size


class SegmentWriter:
    """Builds TCP segments for both directions with real sequence numbers."""

    def __init__(self, ipv6: bool = False, client=None, server=None):
        self.ipv6 = ipv6
        self.client = client or (CLIENT6 if ipv6 else CLIENT4)
        self.server = server or (SERVER6 if ipv6 else SERVER4)
        self.seq = {"c2s": 1000, "s2c": 900000}

    def handshake(self):
        yield self.packet("c2s", dpkt.tcp.TH_SYN, b"", advance=1)
        yield self.packet("s2c", dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, b"", advance=1)

    def data(self, direction: str, payload: bytes, seq: int | None = None):
        return self.packet(direction, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, payload, seq=seq)

    def packet(self, direction: str, flags: int, payload: bytes, seq: int | None = None,
               advance: int | None = None):
        (src, sport), (dst, dport) = (self.client, self.server) if direction == "c2s" else (self.server, self.client)
        number = self.seq[direction] if seq is None else seq
        if seq is None:
            self.seq[direction] += len(payload) if advance is None else advance
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=number & 0xFFFFFFFF, ack=0, flags=flags,
                           win=65535, data=payload)
        tcp.off = 5
        if self.ipv6:
            ip = dpkt.ip6.IP6(src=_ip6(src), dst=_ip6(dst), nxt=dpkt.ip.IP_PROTO_TCP, hlim=64, data=tcp,
                              plen=len(tcp))
            ip.extension_hdrs = {}
        else:
            ip = dpkt.ip.IP(src=bytes(map(int, src.split("."))), dst=bytes(map(int, dst.split("."))),
                            p=dpkt.ip.IP_PROTO_TCP, ttl=64, data=tcp)
            ip.len = 20 + len(tcp)
        return bytes(ip)


def _ip6(text: str) -> bytes:
    import ipaddress

    return ipaddress.ip_address(text).packed


def write_capture(path: Path, packets: list[bytes], ipv6: bool = False, link: str = "ethernet",
                  pcapng: bool = False) -> Path:
    """IP packets into a capture with the given link layer: ethernet, null (BSD loopback, as
    macOS records ::1) or raw."""
    frames = []
    for ip in packets:
        if link == "ethernet":
            frames.append(bytes(dpkt.ethernet.Ethernet(
                src=b"\x02" * 6, dst=b"\x04" * 6, data=ip,
                type=dpkt.ethernet.ETH_TYPE_IP6 if ipv6 else dpkt.ethernet.ETH_TYPE_IP)))
        elif link == "null":
            family = 30 if ipv6 else 2
            frames.append(family.to_bytes(4, "little") + ip)
        else:
            frames.append(ip)
    linktype = {"ethernet": dpkt.pcap.DLT_EN10MB, "null": dpkt.pcap.DLT_NULL, "raw": 101}[link]
    with open(path, "wb") as f:
        writer = (dpkt.pcapng.Writer(f, linktype=linktype) if pcapng
                  else dpkt.pcap.Writer(f, linktype=linktype, snaplen=262144))
        for number, frame in enumerate(frames):
            writer.writepkt(frame, ts=1_700_000_000 + number / 1000)
    return path


def trace_capture(trace, path: Path, seed: int = 0, reorder: bool = False, retransmit: bool = False,
                  ipv6: bool = False, link: str = "ethernet", pcapng: bool = False,
                  handshake: bool = True, max_size: int = 1500) -> Path:
    """A capture of ``trace``'s bytes, cut into random segments; optionally each direction's
    segments reordered within small windows and some sent twice."""
    rng = random.Random(seed)
    writer = SegmentWriter(ipv6)
    packets = list(writer.handshake()) if handshake else []
    segments = []
    for direction, piece in segments_of(trace, seed, max_size):
        seq = writer.seq[direction]
        packets_for = writer.data(direction, piece)
        segments.append((direction, seq, piece, packets_for))
    if reorder:  # within a run of one direction's segments: the other side cannot answer early
        start = 0
        while start < len(segments):
            end = start
            while end < len(segments) and end - start < 3 and segments[end][0] == segments[start][0]:
                end += 1
            window = segments[start:end]
            rng.shuffle(window)
            segments[start:end] = window
            start = end
    for direction, seq, piece, packet in segments:
        packets.append(packet)
        if retransmit and rng.random() < 0.2:
            packets.append(writer.data(direction, piece, seq=seq))
            if len(piece) > 2:  # and a partial overlap
                packets.append(writer.data(direction, piece[1:], seq=seq + 1))
    return write_capture(path, packets, ipv6, link, pcapng)


# -- real captures ----------------------------------------------------------------------------


def require_dumpcap() -> str:
    dumpcap = shutil.which("dumpcap")
    if dumpcap is None:
        pytest.skip("dumpcap is not installed (scripts/test installs tshark, which brings it)")
    if os.geteuid() != 0:
        pytest.skip("capturing on the loopback interface needs root")
    return dumpcap


def require_tshark() -> str:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed (scripts/test installs Debian's tshark package)")
    return tshark


TSHARK_IDS = {HOST: "tshark-host", DEBIAN13: "tshark4.4"}


@pytest.fixture(scope="module", params=[HOST, DEBIAN13], ids=TSHARK_IDS.get)
def tshark(request) -> Programs:
    """Where tshark comes from (import it into a test module to use it): the host's (4.0 in CI),
    then Debian 13's 4.4, which skips when it cannot run here or is the host's own version."""
    programs = request.param
    if programs is HOST:
        require_tshark()
    else:
        programs.require("/usr/bin/tshark")
        if programs.tshark_version == HOST.tshark_version:
            pytest.skip(f"the host's tshark is {HOST.tshark_version} already")
    return programs


def tshark_major(programs: Programs) -> tuple[int, int]:
    """(4, 0) and the like."""
    return tuple(int(n) for n in programs.tshark_version.split(".")[:2])  # type: ignore[return-value]


@contextlib.contextmanager
def loopback_capture(path: Path, port: int, pcapng: bool = False):
    """dumpcap on the loopback interface, keeping TCP port ``port``, while the block runs."""
    dumpcap = require_dumpcap()
    args = [dumpcap, "-q", "-i", "lo", "-f", f"tcp port {port}", "-w", str(path)]
    if not pcapng:
        args.insert(1, "-P")
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not path.exists() or path.stat().st_size == 0:  # the file appears once capturing
        if process.poll() is not None or time.monotonic() > deadline:
            error = process.stderr.read().decode(errors="replace").strip()
            process.kill()
            pytest.skip(f"dumpcap could not capture on lo: {error[:200]}")
        time.sleep(0.05)
    try:
        yield path
    finally:
        time.sleep(0.3)  # let the last segments reach the capture
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)


def tshark_messages(capture: Path, keylog: Path, port: int = 22, tshark: Programs = HOST,
                    client_port: int | None = None) -> list[tuple[str, int]]:
    """(direction, message number) of every SSH message tshark decodes, in order; a frame of
    SSH data tshark cannot decrypt appears as (direction, -1). ``port`` is the server's; the
    direction comes from it (tshark 4.0 leaves its own out of frames it finds malformed, such
    as OpenSSH's host-bound publickey requests, which it does not know). ``tshark`` says whose
    tshark: the files must be under the temporary directory for the root filesystem's.
    ``client_port`` keeps only the connection from that port."""
    shown = "ssh" if client_port is None else f"ssh && tcp.port == {client_port}"
    args = ["-r", str(capture), "-o", f"ssh.keylog_file:{keylog}", "-Y", shown,
            "-T", "fields", "-E", "occurrence=a", "-e", "tcp.dstport", "-e", "ssh.message_code",
            "-e", "ssh.protocol"]
    if port != 22:
        args[2:2] = ["-d", f"tcp.port=={port},ssh"]
    if tshark is HOST:
        args = [require_tshark(), *args]
    else:
        tshark.require("/usr/bin/tshark")
        args = tshark.argv("/usr/bin/tshark", *args)
    out = subprocess.run(args, capture_output=True, text=True, timeout=300).stdout
    rows = []
    for line in out.splitlines():
        destination, codes, protocol = (line.split("\t") + ["", ""])[:3]
        direction = "c2s" if destination == str(port) else "s2c"
        codes = [int(c) for c in codes.split(",") if c]
        if codes:
            rows += [(direction, code) for code in codes]
        elif not protocol:
            rows.append((direction, -1))
    return rows


def what_tshark_shows(ours: list[tuple[str, int]], lost: str | None) -> list[tuple[str, int]]:
    """``ours`` as a tshark that does not decrypt ``lost`` (None: nothing; "after NEWKEYS": every
    packet after each side's NEWKEYS; "the first after NEWKEYS": as many packets each way as that
    side sent up to its NEWKEYS, as a tshark that does not reset its count at a strict-KEX
    NEWKEYS loses; tests/test_trace_export.py) lists them."""
    shown, sent, after = [], {"c2s": 0, "s2c": 0}, {"c2s": None, "s2c": None}
    for direction, number in ours:
        if after[direction] is None:
            shown.append((direction, number))
            sent[direction] += 1
            if number == 21:  # NEWKEYS
                after[direction] = 0
            continue
        gone = lost == "after NEWKEYS" or (lost == "the first after NEWKEYS" and after[direction] < sent[direction])
        shown.append((direction, -1 if gone else number))
        after[direction] += 1
    return shown


def available_tsharks() -> list[Programs]:
    """The host's tshark, and Debian 13's when it can run here and is another version."""
    found = [HOST] if shutil.which("tshark") else []
    if DEBIAN13.unusable() is None and DEBIAN13.exists("/usr/bin/tshark") \
            and DEBIAN13.tshark_version != HOST.tshark_version:
        found.append(DEBIAN13)
    return found
