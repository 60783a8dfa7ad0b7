"""Slow work of many connections (Diffie-Hellman exponentiations, scrypt checks) run in
worker processes, fairly between the addresses asking for it.

An endpoint with deferred work hands the adapter a picklable job (``sshviz.transport.work``);
the pool runs it in another process so the event loop, and every other connection, goes on.
Jobs wait in one queue per source address, served in turn, so an address with many jobs
waiting delays itself, not the others; and each address has a budget of jobs (a token bucket),
so one that asks for expensive key exchanges over and over (the DHEat attack) is slowed to
its budget whatever its number of connections."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import deque
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Callable

# Jobs an address may start at once, then per second: a classroom's logins from one address
# (a NAT) pass, a flood waits for its turn.
DEFAULT_BURST = 40
DEFAULT_RATE = 4.0


@dataclass
class _Waiting:
    function: Callable
    args: tuple
    future: asyncio.Future


class _Bucket:
    """A token bucket: ``burst`` tokens, refilled at ``rate`` a second."""

    def __init__(self, burst: int, rate: float, now: float):
        self.tokens, self.burst, self.rate, self.time = float(burst), burst, rate, now

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.time) * self.rate)
        self.time = now

    def wait(self) -> float:
        """Seconds until a token is there."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class WorkPool:
    """Runs jobs in ``workers`` processes (or on ``executor``), one queue per source address,
    served round-robin, each address within its budget of ``burst`` jobs and ``rate`` more a
    second. ``submit`` returns an asyncio future of the job's result."""

    def __init__(self, workers: int, burst: int = DEFAULT_BURST, rate: float = DEFAULT_RATE,
                 executor: Executor | None = None, clock: Callable[[], float] | None = None):
        self.workers = workers
        self.burst, self.rate = burst, rate
        self._executor = executor  # made at the first job: many servers never need one
        self._clock = clock
        self._queues: dict[str, deque[_Waiting]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._served: dict[str, int] = {}  # when each address last had a turn
        self._turns = 0
        self.running = 0
        self._wakeup: asyncio.TimerHandle | None = None

    def submit(self, source: str, function: Callable, args: tuple) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queues.setdefault(source, deque()).append(_Waiting(function, args, future))
        self._schedule()
        return future

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def _schedule(self) -> None:
        """Start jobs while workers are free: the next address in turn with a token left."""
        now = self._now()
        soonest = None
        # The address that waited longest for a turn first (one never served before all).
        for source in sorted(self._queues, key=lambda s: self._served.get(s, -1)):
            if self.running >= self.workers:
                return
            queue = self._queues[source]
            while queue and queue[0].future.cancelled():
                queue.popleft()
            if not queue:
                self._forget(source)
                continue
            bucket = self._buckets.setdefault(source, _Bucket(self.burst, self.rate, now))
            bucket.refill(now)
            if bucket.tokens < 1:
                wait = bucket.wait()
                soonest = wait if soonest is None else min(soonest, wait)
                continue
            bucket.tokens -= 1
            self._start(queue.popleft())
            self._turns += 1
            self._served[source] = self._turns
            if not queue:
                self._forget(source)
        if soonest is not None and self._wakeup is None and self.running < self.workers:
            self._wakeup = asyncio.get_running_loop().call_later(soonest, self._woken)
        self._forget_full_buckets(now)

    def _forget(self, source: str) -> None:
        del self._queues[source]  # its last turn is remembered until its budget is full again

    def _woken(self) -> None:
        self._wakeup = None
        self._schedule()

    def _start(self, job: _Waiting) -> None:
        if self._executor is None:
            # Fresh interpreters for workers: a fork would copy the server's sockets into them.
            self._executor = ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"))
        self.running += 1
        done = asyncio.wrap_future(self._executor.submit(job.function, *job.args))

        def finished(result: asyncio.Future) -> None:
            self.running -= 1
            if not job.future.cancelled():
                if result.exception() is not None:
                    job.future.set_exception(result.exception())
                else:
                    job.future.set_result(result.result())
            self._schedule()

        done.add_done_callback(finished)

    def _forget_full_buckets(self, now: float) -> None:
        """Addresses back to a full budget with nothing waiting need no bucket any more."""
        for source in [s for s, b in self._buckets.items()
                       if s not in self._queues and b.tokens + (now - b.time) * b.rate >= b.burst]:
            del self._buckets[source]
            self._served.pop(source, None)

    def close(self) -> None:
        if self._wakeup is not None:
            self._wakeup.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
