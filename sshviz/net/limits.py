"""How many connections a server takes, decided without sockets: OpenSSH's MaxStartups and
PerSourceMaxStartups for connections that have not authenticated yet, and a total kept below
the process's open-file limit. The adapter asks ``admit`` as a connection arrives and says when
it authenticates and when it ends; randomness and time are injected, so tests can play any
curve."""

from __future__ import annotations

import ipaddress
import random as _random
import resource
from dataclasses import dataclass
from typing import Callable

# File descriptors kept for the process itself (standard streams, the event loop, listening
# sockets, host key and trace files) before any connection is counted.
RESERVED_FILES = 32
# Each connection counts two: its socket, and one more for what it opens (a forwarded socket,
# an SFTP file, its trace file).
FILES_PER_CONNECTION = 2


@dataclass(frozen=True)
class MaxStartups:
    """OpenSSH's MaxStartups START:RATE:FULL: with START connections waiting to authenticate, a
    new one is refused with probability RATE%, rising linearly to 100% at FULL."""

    start: int
    rate: int
    full: int

    @classmethod
    def parse(cls, text: str) -> "MaxStartups":
        """``START:RATE:FULL``, or ``N`` alone for a hard limit of N (as sshd reads them)."""
        parts = text.split(":")
        if not all(part.isdigit() for part in parts) or len(parts) not in (1, 3):
            raise ValueError(f"{text!r} is not START:RATE:FULL (such as 100:30:200) or a number")
        if len(parts) == 1:
            value = int(parts[0])
            if value < 1:
                raise ValueError(f"{text!r}: at least 1 connection")
            return cls(value, 100, value)
        start, rate, full = map(int, parts)
        if not (start >= 1 and 1 <= rate <= 100 and full > start):
            raise ValueError(f"{text!r}: needs START at least 1, RATE from 1 to 100 and FULL above START")
        return cls(start, rate, full)

    def refusal_chance(self, startups: int) -> float:
        """The probability of refusing a new connection while ``startups`` wait (sshd's
        should_drop_connection)."""
        if startups < self.start:
            return 0.0
        if startups >= self.full:
            return 1.0
        return (self.rate + (100 - self.rate) * (startups - self.start) / (self.full - self.start)) / 100

    def __str__(self) -> str:
        return f"{self.start}:{self.rate}:{self.full}"


# A class of 50 logging in at the same moment passes twice over; sshd's 10:30:100 refuses a
# third of them. The per-address limit is half of START: a class behind one address (NAT, or
# everyone on the machine running the server) still logs in at once, and one address alone
# never brings the others to where refusals begin.
DEFAULT_MAX_STARTUPS = MaxStartups(100, 30, 200)
DEFAULT_PER_SOURCE = 50


@dataclass(eq=False)
class Admission:
    """One connection's place in the counts: ``refused`` says why it has none."""

    source: str
    refused: str = ""
    startup: bool = False  # counted among the connections that have not authenticated
    ended: bool = False


def source_of(address: str) -> str:
    """The address a limit counts by: an IPv4 address in IPv6 form counts as itself."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class ConnectionLimits:
    """Admits or refuses each new connection: at most ``max_connections`` in all, at most
    ``per_source`` not yet authenticated from one address (None: no such limit), and beyond
    ``max_startups.start`` not yet authenticated, refusals at random (``random()`` in [0, 1))
    as OpenSSH's MaxStartups. A connection stops counting as a startup once authenticated."""

    def __init__(self, max_startups: MaxStartups = DEFAULT_MAX_STARTUPS,
                 per_source: int | None = DEFAULT_PER_SOURCE, max_connections: int | None = None,
                 random: Callable[[], float] = _random.random):
        self.max_startups = max_startups
        self.per_source = per_source
        self.max_connections = max_connections
        self.random = random
        self.connections = 0
        self.startups = 0
        self.startups_by_source: dict[str, int] = {}

    def admit(self, address: str) -> Admission:
        source = source_of(address)
        refused = self._refusal(source)
        if refused:
            return Admission(source, refused)
        self.connections += 1
        self.startups += 1
        self.startups_by_source[source] = self.startups_by_source.get(source, 0) + 1
        return Admission(source, startup=True)

    def _refusal(self, source: str) -> str:
        if self.max_connections is not None and self.connections >= self.max_connections:
            return f"{self.connections} connections open, the most allowed (--max-connections)"
        waiting = self.startups_by_source.get(source, 0)
        if self.per_source is not None and waiting >= self.per_source:
            return (f"{waiting} connections from {source} not authenticated yet "
                    f"(--per-source-max-startups {self.per_source})")
        chance = self.max_startups.refusal_chance(self.startups)
        if chance >= 1 or (chance > 0 and self.random() < chance):  # no draw when certain
            return f"{self.startups} connections not authenticated yet (--max-startups {self.max_startups})"
        return ""

    def authenticated(self, admission: Admission) -> None:
        if admission.startup and not admission.ended:
            admission.startup = False
            self._drop_startup(admission.source)

    def ended(self, admission: Admission) -> None:
        if admission.refused or admission.ended:
            return
        admission.ended = True
        self.connections -= 1
        if admission.startup:
            admission.startup = False
            self._drop_startup(admission.source)

    def _drop_startup(self, source: str) -> None:
        self.startups -= 1
        left = self.startups_by_source[source] - 1
        if left:
            self.startups_by_source[source] = left
        else:
            del self.startups_by_source[source]


class LineThrottle:
    """Lets a kind of log line through at most once per ``interval`` seconds, saying how many
    were held back since: a flood of connections must not become a flood of lines."""

    def __init__(self, clock: Callable[[], float], interval: float = 10.0):
        self.clock = clock
        self.interval = interval
        self._last: float | None = None
        self._held = 0

    def line(self, text: str) -> str | None:
        """The line to log now, or None when one was logged lately."""
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self._held += 1
            return None
        more = f" (and {self._held} more since the last such line)" if self._held else ""
        self._last, self._held = now, 0
        return text + more


def raise_open_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (a server needs one per
    connection); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # an unlimited hard limit may be more than the kernel allows
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connections_for_open_files(open_files: int) -> int:
    """The most connections to take with this many file descriptors, so that accepting one
    never fails for want of a descriptor."""
    return max(1, (open_files - RESERVED_FILES) // FILES_PER_CONNECTION)
