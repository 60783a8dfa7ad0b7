"""The work pool runs slow jobs off the event loop, fairly between source addresses, and holds
each address to its budget, so one address's flood of expensive key exchanges waits for
itself while the others' logins go on."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

import pytest

from sshviz.net.work import WorkPool


class ManualExecutor:
    """Runs nothing until the test says: ``finish(n)`` completes the oldest n jobs."""

    def __init__(self):
        self.started: list[tuple[str, Future]] = []

    def submit(self, function, *args):
        future = Future()
        self.started.append((args[0], future))
        return future

    def finish(self, count: int = 1) -> None:
        for name, future in [pair for pair in self.started if not pair[1].done()][:count]:
            future.set_result(name)

    def shutdown(self, wait=True, cancel_futures=False):
        pass

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.started]


def job(name):
    return name


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


def test_jobs_start_in_turn_between_addresses():
    asyncio.run(_jobs_start_in_turn_between_addresses())


async def _jobs_start_in_turn_between_addresses():
    executor = ManualExecutor()
    pool = WorkPool(workers=1, executor=executor, clock=lambda: 0.0)
    futures = [pool.submit("attacker", job, (f"a{i}",)) for i in range(5)]
    futures.append(pool.submit("student", job, ("s0",)))
    await settle()
    assert executor.names == ["a0"]  # one worker
    executor.finish()
    await settle()
    assert executor.names == ["a0", "s0"]  # the student's turn comes before the attacker's next
    executor.finish(10)
    await settle()
    for _ in range(4):
        executor.finish(10)
        await settle()
    assert [f.result() for f in futures] == ["a0", "a1", "a2", "a3", "a4", "s0"]
    assert pool.running == 0 and pool.waiting == 0


def test_an_address_past_its_budget_waits_while_others_go_on():
    asyncio.run(_an_address_past_its_budget_waits_while_others_go_on())


async def _an_address_past_its_budget_waits_while_others_go_on():
    now = [0.0]
    executor = ManualExecutor()
    pool = WorkPool(workers=4, burst=2, rate=1.0, executor=executor, clock=lambda: now[0])
    flood = [pool.submit("attacker", job, (f"a{i}",)) for i in range(5)]
    await settle()
    executor.finish(10)
    await settle()
    assert executor.names == ["a0", "a1"]  # its burst: two, then it waits for tokens
    student = pool.submit("student", job, ("s0",))
    await settle()
    assert executor.names[-1] == "s0"
    executor.finish(10)
    await settle()
    assert student.result() == "s0" and pool.waiting == 3
    now[0] = 1.0  # a token a second
    await asyncio.sleep(1.05)  # the pool's own timer wakes it
    executor.finish(10)
    await settle()
    assert executor.names[-1] == "a2" and pool.waiting == 2
    pool.close()
    for future in flood[3:]:
        future.cancel()


def test_a_job_that_raises_hands_its_error_back():
    asyncio.run(_a_job_that_raises_hands_its_error_back())


async def _a_job_that_raises_hands_its_error_back():
    pool = WorkPool(workers=1, executor=type("Raising", (ManualExecutor,), {})(), clock=lambda: 0.0)
    future = pool.submit("x", job, ("boom",))
    await settle()
    pool._executor.started[0][1].set_exception(RuntimeError("boom"))
    await settle()
    with pytest.raises(RuntimeError, match="boom"):
        future.result()
    assert pool.running == 0


def test_worker_processes_run_real_jobs():
    # The real thing: a spawned process computes the server's DH arithmetic.
    from sshviz.crypto import dh_groups
    from sshviz.crypto.kex import DHAgent
    from sshviz.crypto.random import SeededRandom
    from sshviz.transport.kex import server_arithmetic

    client = DHAgent(dh_groups.MODP_2048, 2, 512, SeededRandom("client"))
    server = DHAgent(dh_groups.MODP_2048, 2, 512, SeededRandom("server"))

    async def run():
        pool = WorkPool(workers=1)
        try:
            return await pool.submit("127.0.0.1", server_arithmetic, (server, client.client_init()))
        finally:
            pool.close()

    agent, server_value, K = asyncio.run(run())
    assert client.client_finish(server_value) == K
    assert agent.details["shared_secret"] and agent.details["public_value"] == server_value
