"""A client and a server in memory, one version line or packet per step.

``step()`` takes the oldest unit waiting to be sent (from either side), hands its bytes to the
other side's ``receive_data``, and returns a ``TraceEvent`` that records the unit as the
receiver decoded it, with everything either side reported while handling it (negotiation, K
and H, keys switching on, authentication results, channel output).
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from .events import Event, PacketReceived, RawUnit, VersionReceived
from .sides import Side
from .trace.model import PLUMBING, Interception, SentSftpPlacer, Trace, TraceEvent, TraceHeader


class FakeClock:
    """Time for seeded runs: starts at 0 and moves only when the conductor says so."""

    def __init__(self, start: float = 0.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Conductor:
    """A client and a server in memory, joined by a queue of units (version lines, packets):
    each ``step`` delivers the oldest to its receiver and records it, as the receiver decoded
    it, with everything both sides reported meanwhile, as one ``TraceEvent``. What-ifs put
    bytes on the wire that no protocol logic would send (``inject``, ``tamper``).

    An ``attacker`` (the attack lab) sits on the wire: each unit a side sends goes to its
    ``intercept(sender, unit)``, which returns what is delivered instead, in order, as
    (sender, unit, Interception or None): the unit itself, a changed one, more units, or
    nothing (held back, to be released later, or ``dropped``). ``flush()`` releases what it
    still holds once nothing else is waiting."""

    TICK = 0.001  # fake seconds per step

    def __init__(self, client, server, clock: FakeClock | None = None,
                 driver: Callable[[str, list[Event]], None] | None = None,
                 header: TraceHeader | None = None, attacker=None):
        self.client = client
        self.server = server
        self.clock = clock
        self.driver = driver  # reacts to events, e.g. the scripted client
        self.trace = Trace(header or TraceHeader("in-process"))
        self._sftp = SentSftpPlacer()
        self.driver_state = None  # the scenario's driver, when one plays the client
        self.steps: list[TraceEvent] = self.trace.events
        self._queue: deque[tuple[Side, object]] = deque()
        self.attacker = attacker
        # Units the attacker has let through (or made), delivered before it is asked again.
        self._released: deque[tuple[Side, object, Interception | None]] = deque()
        self._sides = {Side.CLIENT: client, Side.SERVER: server}
        self.client_events: list[Event] = []
        self.server_events: list[Event] = []
        self._pending_changes = self._collect({})

    def _collect(self, first: dict[str, list[Event]]) -> list[tuple[str, Event]]:
        """Move new outgoing units into the queue and gather new events from both sides
        (``first`` holds events already taken from an endpoint)."""
        changes: list[tuple[str, Event]] = []
        record = {Side.CLIENT: self.client_events, Side.SERVER: self.server_events}
        for _ in range(8):  # a driver's reaction may cause more events; settle them
            new = []
            for side, endpoint in self._sides.items():
                events = endpoint.start()  # the first call starts it; later ones take its events
                if side in first:
                    events = first.pop(side) + events
                if events:
                    record[side].extend(events)
                    new += [(side, e) for e in events]
            if self.driver is not None:
                for side, event in new:
                    if not isinstance(event, PLUMBING):
                        self.driver(side, [event])
            changes += new
            for side, endpoint in self._sides.items():
                while (unit := endpoint.next_outgoing()) is not None:
                    self._queue.append((side, unit))
            if not (self.client.events or self.server.events):
                break
        return changes

    @property
    def done(self) -> bool:
        return not self._queue and not self._released and not (
            self.attacker is not None and self.attacker.holding())

    # -- what-ifs: bytes nobody's protocol logic would send ------------------------------------

    def act(self, side: str, action) -> None:
        """Let the application do something on one side now, e.g. ``client.ping(b"hi")``."""
        action(self._sides[side])
        self._pending_changes += self._collect({})

    def inject(self, side: str, message) -> None:
        """``side`` sends ``message`` now, after what it has queued, whatever its state says."""
        self.act(side, lambda endpoint: endpoint.transport.send_raw(message))

    def inject_bytes(self, side: str, data: bytes, note: str = "") -> None:
        """Raw bytes from ``side`` to its peer, after what is already queued."""
        side = Side(side)
        self._queue.append((side, RawUnit(side.sending, data, self.clock() if self.clock else 0.0, note)))

    def advance_time(self, seconds: float) -> None:
        """Let fake time pass, so timers fire (the login grace time, say)."""
        if self.clock is None:
            raise RuntimeError("this conductor has no fake clock")
        self.clock.advance(seconds)
        fired = {side: endpoint.handle_timeout(self.clock()) for side, endpoint in self._sides.items()}
        self._pending_changes += self._collect(fired)

    def tamper(self, change, side: str | None = None) -> bool:
        """Replace the wire bytes of the next unit (from ``side``, if given) with
        ``change(bytes)``: a flipped bit, a cut, a forged packet."""
        for index, (sender, unit) in enumerate(self._queue):
            if side is None or sender == side:
                self._queue[index] = (sender, RawUnit(unit.direction, change(unit.wire), unit.time, "tampered"))
                return True
        return False

    def _next_unit(self) -> tuple[Side, object, Interception | None] | None:
        """The next unit to deliver: the oldest waiting one, unless an attacker has a say."""
        while not self._released:
            if not self._queue:
                if self.attacker is None:
                    return None
                held = self.attacker.flush()
                if not held:
                    return None
                self._released.extend(held)
                continue
            sender, unit = self._queue.popleft()
            if self.attacker is None:
                return sender, unit, None
            self._released.extend(self.attacker.intercept(sender, unit))
        return self._released.popleft()

    def step(self) -> TraceEvent | None:
        taken = self._next_unit()
        if taken is None:
            return None
        sender, unit, interception = taken
        receiver_side = sender.opposite
        receiver = self._sides[receiver_side]
        if self.clock is not None:
            self.clock.advance(self.TICK)
        delivered = not receiver.closed and (interception is None or interception.reaches_receiver)
        first = receiver.receive_data(unit.wire) if delivered else []
        changes = self._pending_changes + self._collect({receiver_side: first})
        self._pending_changes = []
        record = unit  # what the receiver decoded replaces it below, when it decoded anything
        for side, event in changes:
            if side == receiver_side and isinstance(event, (PacketReceived, VersionReceived)):
                record = event.record
                break
        step = TraceEvent(len(self.steps), record.time, sender.sending, record,
                          [(side, e) for side, e in changes
                           if not isinstance(e, PLUMBING) and not self._sftp.hold(side, e)], delivered,
                          interception=interception)
        self._sftp.place(step)
        self.steps.append(step)
        return step

    def run(self, max_steps: int = 100_000) -> list[TraceEvent]:
        while len(self.steps) < max_steps and self.step() is not None:
            pass
        return self.steps
