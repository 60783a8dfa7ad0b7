"""A hostile classroom on loopback: the attacks `sshviz serve` must survive, as plain functions
that the load test (tests/test_hostile_load.py) and the benchmark (bench/hostile.py) share.
Each takes the server's port and the source address to attack from (every 127.0.0.0/8 address
is local, so each attacker has its own), and stops by itself."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

from sshviz.crypto import dh_groups
from sshviz.crypto.random import SeededRandom
from sshviz.transport.packet import PacketWriter
from sshviz.wire.catalog import MSG

HOST = "127.0.0.1"


def connect(port: int, source: str, timeout: float = 10) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=timeout, source_address=(source, 0))


def hold_idle(port: int, source: str, count: int) -> list[socket.socket]:
    """``count`` connections from ``source`` that say nothing. Returns those still open after
    a moment (the server closes the ones it refuses); the caller closes them."""
    held = []
    for _ in range(count):
        with contextlib.suppress(OSError):
            held.append(connect(port, source))
    time.sleep(0.5)
    still_open = []
    for sock in held:
        sock.setblocking(False)
        try:
            alive = sock.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            alive = True  # nothing to read, not closed
        except OSError:
            alive = False
        if alive:
            still_open.append(sock)
        else:
            sock.close()
    return still_open


def accepted_before_refusal(port: int, source: str, count: int) -> int:
    """How many of ``count`` idle connections from ``source`` get the server's version line."""
    held = []
    for _ in range(count):
        with contextlib.suppress(OSError):
            held.append(connect(port, source))
    greeted = 0
    for sock in held:
        sock.settimeout(2)
        with contextlib.suppress(OSError):
            if sock.recv(4).startswith(b"SSH-"):
                greeted += 1
    for sock in held:
        sock.close()
    return greeted


def hit_and_run(port: int, source: str, count: int) -> int:
    """Connect, send a version line, close without reading: ``count`` times. Returns how many
    connections were made (the server may refuse some at once)."""
    made = 0
    for _ in range(count):
        with contextlib.suppress(OSError):
            with connect(port, source, timeout=2) as sock:
                made += 1
                sock.sendall(b"SSH-2.0-hit-and-run\r\n")
    return made


def _kexinit(kex: str) -> bytes:
    cipher, mac = ["aes128-ctr"], ["hmac-sha2-256"]
    return MSG.KEXINIT.build(
        cookie=os.urandom(16), kex_algorithms=[kex], server_host_key_algorithms=["ssh-ed25519"],
        encryption_algorithms_client_to_server=cipher, encryption_algorithms_server_to_client=cipher,
        mac_algorithms_client_to_server=mac, mac_algorithms_server_to_client=mac,
        compression_algorithms_client_to_server=["none"], compression_algorithms_server_to_client=["none"],
        languages_client_to_server=[], languages_server_to_client=[], first_kex_packet_follows=False,
        reserved=0).encode()


def dheat(port: int, source: str, stop: threading.Event, kex: str = "diffie-hellman-group18-sha512",
          group: int = dh_groups.MODP_8192) -> int:
    """The DHEat attack (as ssh-audit names it): ask for an 8192-bit Diffie-Hellman exchange
    with a random public value, which costs the attacker nothing and the server two large
    exponentiations; read the reply, close, again, until ``stop``. Returns the exchanges made."""
    writer = PacketWriter("c2s", SeededRandom(source))
    made = 0
    while not stop.is_set():
        try:
            with connect(port, source) as sock:
                e = 2 + int.from_bytes(os.urandom(group.bit_length() // 8), "big") % (group - 4)
                sock.sendall(b"SSH-2.0-dheat\r\n" + writer.encode(_kexinit(kex)).wire
                             + writer.encode(MSG.KEXDH_INIT.build(e=e).encode()).wire)
                received = 0
                while received < group.bit_length() // 8 and not stop.is_set():  # the reply carries f
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += len(chunk)
                made += 1
        except OSError:
            time.sleep(0.05)
    return made


def reply_flood(port: int, source: str, stop: threading.Event, seconds: float = 20) -> str:
    """Finish the key exchange, then send message after message the server must answer
    (unknown numbers: UNIMPLEMENTED), never reading. Returns how it ended."""
    from sshviz.endpoint import ClientConfig, ClientConnection
    from sshviz.transport.transport import TransportConfig
    from sshviz.wire.spec import UNKNOWN_TAIL, Message, MessageSpec

    client = ClientConnection(ClientConfig(TransportConfig(kex=["curve25519-sha256"])))
    client.auth.start = lambda: None  # never ask for authentication
    strange = Message(MessageSpec(150, "STRANGE", UNKNOWN_TAIL, "", "", "attack"), {"data": b"x" * 1000})
    deadline = time.monotonic() + seconds
    try:
        with connect(port, source) as sock:
            client.start()
            while not client.transport.first_kex_done:
                sock.sendall(client.data_to_send())
                data = sock.recv(65536)
                if not data:
                    return "closed during the key exchange"
                client.receive_data(data)
            sock.settimeout(5)
            while not stop.is_set() and time.monotonic() < deadline:
                for _ in range(100):
                    client.transport.send_raw(strange)
                sock.sendall(client.data_to_send())
            return "still open"
    except OSError as exc:
        return f"closed by the server ({type(exc).__name__})"


def in_background(function, *args) -> tuple[threading.Thread, list]:
    """Run ``function(*args)`` in a thread; its result lands in the returned list."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(function(*args)), daemon=True)
    thread.start()
    return thread, result


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
