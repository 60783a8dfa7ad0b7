"""Slow work (a large Diffie-Hellman exponentiation, an scrypt check) that a protocol object
hands to its adapter, so that one connection's arithmetic does not hold up the others."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple


class Job(NamedTuple):
    function: Callable  # a module-level function: it and its arguments must pickle
    args: tuple
    then: Callable[[Any], None]  # goes on with the result, in the protocol object


class SlowWork:
    """Where an endpoint's slow work runs. By default at once, in line (the conductor, the
    client). An adapter with a worker pool sets ``deferred``: then a job waits in ``pending``
    until the adapter runs ``function(*args)`` elsewhere and hands the result to ``finish``;
    meanwhile the endpoint reads no further input, so everything still happens in order."""

    def __init__(self):
        self.deferred = False
        self.pending: Job | None = None

    def run(self, function: Callable, args: tuple, then: Callable[[Any], None], slow: bool = True) -> None:
        """``then(function(*args))``, now or once the adapter has run it (``slow`` False: now)."""
        if self.deferred and slow:
            self.pending = Job(function, args, then)
        else:
            then(function(*args))

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        """The adapter ran the pending job: go on with its result, or raise what it raised."""
        job, self.pending = self.pending, None
        if error is not None:
            raise error
        job.then(result)
