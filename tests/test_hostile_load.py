"""A hostile classroom at once, on loopback: one address holds 200 idle connections, another
floods the server with messages to answer without reading, another connects and hangs up
3,000 times, three more ask for 8192-bit Diffie-Hellman exchanges again and again (DHEat);
meanwhile 20 real OpenSSH logins from another address must all succeed, and the server stays
up with bounded memory. Bounded: every attacker stops by itself."""

from __future__ import annotations

import threading

import pytest

from .serving import (dheat, first_bytes, hit_and_run, hold_idle, in_background, reply_flood,
                      rss_kib, serve)

pytestmark = pytest.mark.slow

LOGINS = 20
STUDENT = "127.0.0.1"


def test_the_server_survives_a_hostile_classroom(tmp_path):
    with serve(tmp_path) as served:
        stop = threading.Event()
        idle = hold_idle(["127.0.2.1"] * 200, served.port)
        greeted = sum(data.startswith(b"SSH-") for data in first_bytes(idle))
        hit, hits = in_background(hit_and_run, served.port, 3000, "127.0.2.3")
        attackers = [in_background(reply_flood, served.port, "127.0.2.2", stop),
                     *(in_background(dheat, served.port, f"127.0.2.{4 + i}", stop) for i in range(3))]
        try:
            logins = [served.login(STUDENT, "echo hello") for _ in range(LOGINS)]
            hit.join(120)
        finally:
            stop.set()
            for thread, _ in attackers:
                thread.join(60)
            for sock in idle:
                sock.close()
        assert hits == [3000]
        failed = [(r.returncode, r.stderr[-300:]) for r in logins if r.stdout != b"hello\n"]
        assert not failed
        assert served.alive()
        assert greeted == 50  # the per-address limit: one address holds at most 50
        flood_end = attackers[0][1][0]
        assert flood_end.startswith("closed by the server"), flood_end
        assert all(result and result[0] > 0 for _, result in attackers[1:]), "DHEat got no exchange"
        assert rss_kib(served.process.pid) < 150 * 1024
        assert served.login(STUDENT, "echo still here").stdout == b"still here\n"
        assert not [line for line in served.stderr if "Traceback" in line]
