"""Slow arithmetic (Diffie-Hellman exponentiations, scrypt) can be left to the adapter: the
endpoint hands it a picklable job and reads nothing more until the result comes back, and the
session is the same, byte for byte, as when the work runs in line."""

from __future__ import annotations

import pickle

import pytest

from sshviz.scenario import Scenario, make_conductor, run_scenario
from sshviz.trace.codec import encode_change
from sshviz.wire.catalog import DisconnectReason as R


def run_with_deferred_work(scenario: Scenario, tamper=None):
    """The scenario with the server's slow work deferred, and each job run as a worker process
    would: from pickled function and arguments, its result pickled back."""
    conductor = make_conductor(scenario)
    server = conductor.server
    server.work.deferred = True
    jobs = []
    while not conductor.done or server.pending_work is not None:
        job = server.pending_work
        if job is None:
            conductor.step()
            continue
        jobs.append(job.function.__name__)
        function, args = pickle.loads(pickle.dumps((job.function, job.args)))
        if tamper is not None:
            args = tamper(args)
        result = pickle.loads(pickle.dumps(function(*args)))
        conductor.act("server", lambda endpoint: endpoint.finish_work(result))
    conductor.trace.fill_header()
    return conductor, jobs


def flattened(trace) -> tuple[list, list]:
    """The bytes on the wire, unit by unit, and every (side, event) in order. (With deferred
    work, what a side reports when the job comes back joins the trace event being made then,
    so the grouping of events under packets may differ; their order may not.)"""
    wire = [(event.direction, bytes(event.record.wire)) for event in trace.events]
    changes = [(side, encode_change(side, change)) for event in trace.events for side, change in event.changes]
    return wire, changes


@pytest.mark.parametrize("options, expected_jobs", [
    (dict(kex="diffie-hellman-group14-sha256", auth="password", wrong_password_first=True),
     ["server_arithmetic", "verify_password", "verify_password"]),
    (dict(kex="diffie-hellman-group-exchange-sha256", auth="keyboard-interactive", rekey=True),
     ["server_arithmetic", "verify_password", "server_arithmetic"]),
])
def test_deferred_work_gives_the_same_session_byte_for_byte(options, expected_jobs):
    inline = run_scenario(Scenario(**options))
    deferred, jobs = run_with_deferred_work(Scenario(**options))
    assert jobs == expected_jobs
    assert deferred.driver_state.exit_status == 0
    assert flattened(deferred.trace) == flattened(inline.trace)


def test_fast_arithmetic_is_not_deferred():
    _, jobs = run_with_deferred_work(Scenario(kex="curve25519-sha256", auth="publickey"))
    assert jobs == []


def test_a_bad_value_found_by_the_worker_ends_the_connection_as_in_line():
    def out_of_range(args):
        agent, _ = args
        return agent, 1  # the client's e = 1: refused by the arithmetic itself
    conductor, jobs = run_with_deferred_work(Scenario(kex="diffie-hellman-group14-sha256"), out_of_range)
    ended = [e for s in conductor.steps for side, e in s.changes
             if side == "server" and type(e).__name__ == "Disconnected"]
    assert jobs == ["server_arithmetic"]
    assert [(e.reason, e.description) for e in ended] == [
        (R.KEY_EXCHANGE_FAILED, "Diffie-Hellman public value out of range (must be 1 < value < p-1)")]
    assert conductor.server.internal_error is None
