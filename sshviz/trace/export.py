"""A trace as a packet capture and a Wireshark key log, so Wireshark (or tshark) can check
sshviz: the capture holds synthesized TCP/IPv4 frames between two loopback addresses with the
server on port 22 (where Wireshark looks for SSH), one segment per version line or packet, in
trace order; the key log holds each key exchange's secret as the trace recorded it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dpkt

from ..sides import Direction
from .keylog import keylog_lines
from .model import Trace

CLIENT = ("127.0.0.1", 50022)
SERVER = ("127.0.0.2", 22)
EPOCH = 1_700_000_000.0  # capture time of a trace with no creation date (fixed: exports repeat)
MAX_SEGMENT = 65535 - 20 - 20  # an IPv4 packet is at most 64 KiB
ISN = {"c2s": 1_000_000, "s2c": 2_000_000}


class ExportError(ValueError):
    pass


def write_pcap(trace: Trace, path: str | Path) -> int:
    """Write the capture; returns the number of frames."""
    elided = [e.index for e in trace.events if e.elided]
    if elided:
        raise ExportError(f"event {elided[0]} (and {len(elided) - 1} more) had bulk channel data "
                          f"left out when the trace was saved; a capture needs every byte "
                          f"(save the trace again with --full-data)")
    frames = list(_frames(trace))
    with open(path, "wb") as f:
        writer = dpkt.pcap.Writer(f, snaplen=65535 + 14, linktype=dpkt.pcap.DLT_EN10MB)
        for timestamp, frame in frames:
            writer.writepkt(frame, ts=timestamp)
    return len(frames)


def write_keylog(trace: Trace, path: str | Path, form: str = "auto") -> int:
    lines = keylog_lines(trace, form)
    if not lines:
        raise ExportError("this trace holds no key exchange secrets (imported from a capture "
                          "without a key log?), so there is no key log to write")
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="ascii")
    return len(lines)


def _frames(trace: Trace):
    start = _start_time(trace)
    first = trace.events[0].time if trace.events else 0.0
    seq = {"c2s": ISN["c2s"], "s2c": ISN["s2c"]}

    def at(time: float) -> float:
        return start + max(0.0, time - first)

    def segment(direction: str, flags: int, payload: bytes = b"", time: float = 0.0):
        other = Direction(direction).opposite
        ack = seq[other] if flags & dpkt.tcp.TH_ACK else 0
        frame = _frame(direction, seq[direction], ack, flags, payload)
        seq[direction] = (seq[direction] + len(payload) + (1 if flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN) else 0)) \
            & 0xFFFFFFFF
        return at(time), frame

    open_time = first - 0.0003
    seq["c2s"] -= 1
    seq["s2c"] -= 1
    yield segment("c2s", dpkt.tcp.TH_SYN, time=open_time)
    yield segment("s2c", dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, time=open_time + 0.0001)
    yield segment("c2s", dpkt.tcp.TH_ACK, time=open_time + 0.0002)
    last = first
    for event in trace.events:
        wire = event.record.wire
        for offset in range(0, len(wire), MAX_SEGMENT):
            yield segment(event.direction, dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK,
                          wire[offset: offset + MAX_SEGMENT], event.time)
        last = event.time
    yield segment("c2s", dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK, time=last + 0.0001)
    yield segment("s2c", dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK, time=last + 0.0002)
    yield segment("c2s", dpkt.tcp.TH_ACK, time=last + 0.0003)


def _frame(direction: str, seq: int, ack: int, flags: int, payload: bytes) -> bytes:
    (src, sport), (dst, dport) = (CLIENT, SERVER) if direction == "c2s" else (SERVER, CLIENT)
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, win=65535, data=payload)
    tcp.off = 5
    ip = dpkt.ip.IP(src=_ip(src), dst=_ip(dst), p=dpkt.ip.IP_PROTO_TCP, ttl=64, data=tcp)
    ip.len = 20 + len(tcp)
    ethernet = dpkt.ethernet.Ethernet(src=b"\x02\x00\x00\x00\x00\x01" if direction == "c2s" else b"\x02\x00\x00\x00\x00\x02",
                                      dst=b"\x02\x00\x00\x00\x00\x02" if direction == "c2s" else b"\x02\x00\x00\x00\x00\x01",
                                      type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
    return bytes(ethernet)


def _ip(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


def _start_time(trace: Trace) -> float:
    created = trace.header.created
    if created:
        try:
            return datetime.fromisoformat(created).timestamp()
        except ValueError:
            pass
    return EPOCH


def wireshark_cannot(trace: Trace, version: tuple[int, int]) -> list[str]:
    """What in ``trace`` Wireshark ``version`` (major, minor) cannot decrypt, one reason a
    line; found by trying tshark 4.0 and 4.4 on sshviz's exports (tests/test_trace_export.py)."""
    from ..events import AlgorithmsNegotiated, KexComputed

    reasons = []
    negotiations = [c for e in trace.events for _, c in e.changes if isinstance(c, AlgorithmsNegotiated)]
    rounds = {c.H for e in trace.events for _, c in e.changes if isinstance(c, KexComputed)}
    new = version >= (4, 4)
    for n in negotiations[:1]:
        ciphers = {n.chosen("cipher_c2s"), n.chosen("cipher_s2c")} - {None}
        chacha = "chacha20-poly1305@openssh.com" in ciphers
        counting = chacha or any(c.endswith("-ctr") for c in ciphers)  # the sequence number matters
        if n.strict_kex and (counting if new else chacha):
            reasons.append(("strict KEX: it does not restart the sequence number at NEWKEYS, so the "
                            "first packets after it do not open" if new else
                            "strict KEX with chacha20-poly1305 (it does not restart the sequence number, "
                            "ChaCha20's nonce, at NEWKEYS): nothing after the first NEWKEYS decrypts"))
        kex = n.chosen("kex") or ""
        readable = kex.startswith("curve25519") or kex.startswith("diffie-hellman-group") and (
            new or "exchange" not in kex)
        if not readable:
            reasons.append(f"the key exchange {kex}: it decrypts curve25519 and the finite-field "
                           f"Diffie-Hellman groups{'' if new else ' (not group exchange)'} only")
        macs = {n.chosen("mac_c2s"), n.chosen("mac_s2c")} - {None}
        if not _aead(n):
            if new:
                other = sorted(m for m in macs if m != "hmac-sha2-256")
                if other:
                    reasons.append(f"the MAC {', '.join(other)}: it checks hmac-sha2-256 only")
            else:
                etm = sorted(m for m in macs if m.endswith("-etm@openssh.com"))
                if etm:
                    reasons.append(f"encrypt-then-MAC ({', '.join(etm)})")
    if len(rounds) > 1 and not new:
        reasons.append("a rekey: it stops at the second key exchange")
    return reasons


def _aead(negotiated) -> bool:
    return all(negotiated.algorithms[c].unused for c in ("mac_c2s", "mac_s2c"))
