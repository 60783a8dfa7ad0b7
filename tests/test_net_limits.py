"""Connection limits: OpenSSH's MaxStartups curve and PerSourceMaxStartups, a total below the
open-file limit, and quiet logs when they bite. Unit tests first (no sockets, injected
randomness), then ``sshviz serve`` playing a classroom on loopback: every address in
127.0.0.0/8 is local, so each student and the attacker get their own."""

from __future__ import annotations

import os
import re
import resource
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from sshviz.net.limits import (DEFAULT_MAX_STARTUPS, DEFAULT_PER_SOURCE, ConnectionLimits,
                               LineThrottle, MaxStartups, connections_for_open_files, source_of)

from .openssh import shared_keys, ssh_command, stop
from .serving import PROJECT, USER, first_bytes, hold_idle, serve


@pytest.mark.parametrize("text, parsed", [
    ("10:30:100", MaxStartups(10, 30, 100)),
    ("100:30:200", MaxStartups(100, 30, 200)),
    ("10", MaxStartups(10, 100, 10)),
])
def test_max_startups_reads_like_sshd(text, parsed):
    assert MaxStartups.parse(text) == parsed
    assert str(MaxStartups.parse(text)) == f"{parsed.start}:{parsed.rate}:{parsed.full}"


@pytest.mark.parametrize("text, message", [
    ("10:30", "'10:30' is not START:RATE:FULL (such as 100:30:200) or a number"),
    ("a:b:c", "'a:b:c' is not START:RATE:FULL (such as 100:30:200) or a number"),
    ("-1", "'-1' is not START:RATE:FULL (such as 100:30:200) or a number"),
    ("0", "'0': at least 1 connection"),
    ("10:30:10", "'10:30:10': needs START at least 1, RATE from 1 to 100 and FULL above START"),
    ("10:0:100", "'10:0:100': needs START at least 1, RATE from 1 to 100 and FULL above START"),
    ("10:101:100", "'10:101:100': needs START at least 1, RATE from 1 to 100 and FULL above START"),
])
def test_bad_max_startups_say_why(text, message):
    with pytest.raises(ValueError) as error:
        MaxStartups.parse(text)
    assert str(error.value) == message


def test_the_refusal_curve_rises_linearly_from_rate_at_start_to_certain_at_full():
    curve = MaxStartups(10, 30, 100)
    assert [curve.refusal_chance(n) for n in (0, 9, 10, 55, 99, 100, 500)] == [
        0.0, 0.0, 0.30, 0.65, pytest.approx(0.30 + 0.70 * 89 / 90), 1.0, 1.0]


def test_refusals_past_start_follow_the_injected_randomness():
    draws = [0.29, 0.31, 0.99, 0.5]
    limits = ConnectionLimits(MaxStartups(2, 30, 4), per_source=None, random=lambda: draws.pop(0))
    assert [limits.admit(f"10.0.0.{n}").refused for n in (1, 2)] == ["", ""]  # no draw below START
    assert draws == [0.29, 0.31, 0.99, 0.5]
    # 2 waiting: refused with 30% chance, and 0.29 is under it; 0.31 is not.
    assert limits.admit("10.0.0.3").refused == "2 connections not authenticated yet (--max-startups 2:30:4)"
    assert limits.admit("10.0.0.4").refused == ""
    # 3 waiting: 65%, and 0.99 is not under it. Then 4 waiting: FULL, refused with no draw.
    assert limits.admit("10.0.0.5").refused == ""
    assert limits.admit("10.0.0.6").refused == "4 connections not authenticated yet (--max-startups 2:30:4)"
    assert draws == [0.5]
    assert (limits.startups, limits.connections) == (4, 4)


def test_a_connection_stops_counting_as_a_startup_once_authenticated():
    limits = ConnectionLimits(MaxStartups.parse("2"), per_source=None, random=lambda: 0.0)
    first, second = limits.admit("10.0.0.1"), limits.admit("10.0.0.2")
    assert limits.admit("10.0.0.3").refused == "2 connections not authenticated yet (--max-startups 2:100:2)"
    limits.authenticated(first)
    limits.authenticated(first)  # said twice, counted once
    assert (limits.startups, limits.connections) == (1, 2)
    third = limits.admit("10.0.0.3")
    assert third.refused == ""
    for admission in (first, second, third, second):  # an end said twice counts once
        limits.ended(admission)
    assert (limits.startups, limits.connections, limits.startups_by_source) == (0, 0, {})


def test_one_address_holds_at_most_per_source_unauthenticated_connections():
    limits = ConnectionLimits(MaxStartups(100, 30, 200), per_source=3)
    held = [limits.admit("127.0.2.1") for _ in range(3)]
    assert all(not a.refused for a in held)
    refused = limits.admit("127.0.2.1")
    assert refused.refused == "3 connections from 127.0.2.1 not authenticated yet (--per-source-max-startups 3)"
    limits.ended(refused)  # a refused connection was never counted
    assert limits.admit("127.0.1.7").refused == ""  # another address is not held back
    assert limits.admit("::ffff:127.0.2.1").refused != ""  # the same address in IPv6 form
    limits.authenticated(held[0])  # logged in: no longer waiting
    assert limits.admit("127.0.2.1").refused == ""
    assert limits.startups_by_source == {"127.0.2.1": 3, "127.0.1.7": 1}


def test_the_total_counts_authenticated_connections_too():
    limits = ConnectionLimits(per_source=None, max_connections=2)
    first, second = limits.admit("10.0.0.1"), limits.admit("10.0.0.2")
    limits.authenticated(first)
    limits.authenticated(second)
    assert limits.admit("10.0.0.3").refused == "2 connections open, the most allowed (--max-connections)"
    limits.ended(first)
    assert limits.admit("10.0.0.3").refused == ""


@pytest.mark.parametrize("address, source", [
    ("127.0.0.1", "127.0.0.1"), ("::ffff:10.1.2.3", "10.1.2.3"), ("fe80::1%eth0", "fe80::1"),
    ("2001:db8::1", "2001:db8::1"), ("not-an-address", "not-an-address"),
])
def test_sources_are_addresses(address, source):
    assert source_of(address) == source


def test_the_defaults_let_a_class_of_fifty_in_at_once_even_behind_one_address():
    limits = ConnectionLimits()
    assert (DEFAULT_MAX_STARTUPS, DEFAULT_PER_SOURCE) == (MaxStartups(100, 30, 200), 50)
    assert all(not limits.admit("192.0.2.1").refused for _ in range(50))
    assert limits.admit("192.0.2.1").refused  # the 51st from that address waits its turn
    assert all(not limits.admit(f"198.51.100.{n}").refused for n in range(1, 51))  # fewer than START


def test_a_throttled_line_is_logged_once_in_an_interval_with_a_count_of_the_others():
    now = [100.0]
    log = LineThrottle(lambda: now[0], interval=10)
    assert log.line("refused: why") == "refused: why"
    now[0] = 105
    assert [log.line("refused: why") for _ in range(3)] == [None, None, None]
    now[0] = 110
    assert log.line("refused: why") == "refused: why (and 3 more since the last such line)"
    assert log.line("refused: why") is None


@pytest.mark.parametrize("open_files, connections", [(1024, 496), (20000, 9984), (128, 48), (40, 4), (10, 1)])
def test_the_total_stays_below_the_open_file_limit(open_files, connections):
    assert connections_for_open_files(open_files) == connections


# -- sshviz serve playing a classroom ----------------------------------------------------------


@pytest.mark.interop
def test_fifty_students_log_in_at_the_same_moment_under_the_defaults(tmp_path):
    with serve(tmp_path) as server:
        logins = [subprocess.Popen(
            ssh_command(server.port, USER, tmp_path, f"BindAddress=127.0.1.{n}", "ConnectTimeout=120",
                        identity=shared_keys() / "user_ed25519", command=f"echo student {n}"),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n in range(1, 51)]
        results = [(p.wait(180), p.stdout.read(), p.stderr.read()) for p in logins]
        assert [(status, out) for status, out, _ in results] == [
            (0, f"student {n}\n".encode()) for n in range(1, 51)], [err for _, _, err in results if err]
        assert not [line for line in server.stdout if "refused" in line]


@pytest.mark.interop
def test_one_address_holding_200_idle_connections_does_not_lock_out_another(tmp_path):
    with serve(tmp_path) as server:
        attacker = hold_idle(["127.0.2.1"] * 200, server.port)
        try:
            seen = first_bytes(attacker)
            assert [data.startswith(b"SSH-2.0-") for data in seen] == [True] * 50 + [False] * 150
            assert seen[50:] == [b""] * 150  # closed at once, nothing said
            result = server.login(source="127.0.1.1")
            assert (result.returncode, result.stdout) == (0, b"hello\n"), result.stderr
        finally:
            for sock in attacker:
                sock.close()
        # One line for the 150 refusals, which came within seconds.
        refused = [line for line in server.stdout if "refused" in line]
        assert len(refused) == 1
        assert re.fullmatch(r"127\.0\.2\.1:\d+: refused: 50 connections from 127\.0\.2\.1 not authenticated "
                            r"yet \(--per-source-max-startups 50\)", refused[0])
        # The attacker's places are given back when its connections end.
        deadline = time.monotonic() + 15
        while True:
            [again] = hold_idle(["127.0.2.1"], server.port)
            with again:
                if first_bytes([again])[0].startswith(b"SSH-2.0-"):
                    break
            assert time.monotonic() < deadline, "the server still counts closed connections"
            time.sleep(0.2)


def low_open_file_limit(limit: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return apply


@pytest.mark.interop
def test_the_total_stays_below_the_open_file_limit_and_refusals_are_quiet(tmp_path):
    # 128 open files: 48 connections (two descriptors each after a reserve of 32). 150 idle
    # connections from 15 addresses (under the per-address limit) used to run the server out of
    # descriptors, and asyncio then wrote a traceback for every failed accept.
    with serve(tmp_path, preexec_fn=low_open_file_limit(128)) as server:
        assert server.wait_for_line("^limits:") == (
            "limits: startups 100:30:200 (--max-startups), at most 50 from one address, 48 connections "
            "in all (open-file limit 128)")
        attacker = hold_idle([f"127.0.3.{n // 10 + 1}" for n in range(150)], server.port)
        try:
            seen = first_bytes(attacker)
            assert sum(data.startswith(b"SSH-2.0-") for data in seen) == 48
            assert seen.count(b"") == 102
        finally:
            for sock in attacker:
                sock.close()
        time.sleep(1)
        result = server.login(source="127.0.1.1")
        assert (result.returncode, result.stdout) == (0, b"hello\n"), result.stderr
        assert server.alive()
        refused = [line for line in server.stdout if "refused" in line]
        assert len(refused) == 1 and refused[0].endswith(
            ": refused: 48 connections open, the most allowed (--max-connections)")
    assert [line for line in server.stderr if not line.startswith("sshviz: made a new host key")] == []


def test_a_failing_accept_is_one_log_line_not_a_traceback_each_time(tmp_path):
    # The adapter with no limits, in a process allowed 40 open files, while 80 clients come:
    # asyncio's own server wrote a traceback for each failed accept, hundreds a second.
    script = tmp_path / "accept.py"
    script.write_text(textwrap.dedent("""
        import asyncio, resource, sys
        from sshviz.crypto.keys import PrivateKey
        from sshviz.endpoint import ServerConfig, ServerConnection
        from sshviz.net.adapter import start_server
        from sshviz.transport.transport import TransportConfig

        config = ServerConfig(TransportConfig(host_keys=[PrivateKey.generate("ssh-ed25519")]))
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

        async def main():
            server = await start_server("127.0.0.1", 0, lambda: ServerConnection(config))
            print(server.sockets[0].getsockname()[1], flush=True)
            await asyncio.sleep(4)

        asyncio.run(main())
    """))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=PROJECT)
    clients = []
    try:
        port = int(process.stdout.readline())
        clients = [socket.create_connection(("127.0.0.1", port), 5) for _ in range(80)]
        _, err = process.communicate(timeout=30)
    finally:
        for sock in clients:
            sock.close()
        stop(process)
    assert process.returncode == 0
    assert err.decode() == "sshviz: cannot accept connections: Too many open files; trying again every 1 s\n"


@pytest.mark.parametrize("args, message", [
    (["--max-startups", "10:30"], "argument --max-startups: '10:30' is not START:RATE:FULL (such as 100:30:200) or a number"),
    (["--max-startups", "10:30:5"], "argument --max-startups: '10:30:5': needs START at least 1, RATE from 1 to 100 and FULL above START"),
    (["--per-source-max-startups", "0"], "argument --per-source-max-startups: '0' is not a positive whole number"),
    (["--max-connections", "many"], "argument --max-connections: 'many' is not a positive whole number"),
])
def test_bad_limits_are_option_errors(capsys, args, message):
    from sshviz.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["serve", *args])
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_more_connections_than_the_open_files_allow_is_a_one_line_error(tmp_path):
    run = subprocess.run([sys.executable, "-m", "sshviz", "serve", "--port", "0", "--user", "x", "--password-env",
                          "PW", "--max-connections", "49"], preexec_fn=low_open_file_limit(128),
                         capture_output=True, timeout=60, cwd=PROJECT, stdin=subprocess.DEVNULL,
                         env=dict(os.environ, PW="pw", XDG_STATE_HOME=str(tmp_path)))
    assert run.returncode == 2
    assert run.stderr.decode().splitlines()[-1] == (
        "sshviz: error: --max-connections: at most 48 with an open-file limit of 128")
    assert run.stdout == b""
