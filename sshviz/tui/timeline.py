"""The session as the UI walks it: the trace events produced so far, the one selected, and the
indexes built once per event (ladder rows, phases, key-exchange milestones) so that stepping,
jumping and drawing stay cheap on traces of 100,000 messages.

A timeline reads TraceEvents only. Its source is a conductor, stepped on demand (a live
in-process run: messages appear as the user steps), or nothing: a saved trace or an imported
capture (every event is there from the start), or a live connection's trace, which its recorder
fills as messages arrive (``catch_up`` takes them in, ``end`` says no more will come). No
Textual here, so it is tested on its own.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Iterator, Sequence

from ..events import AlgorithmsNegotiated, AuthSucceeded, HostKeyChecked, KexComputed, KeysActivated
from ..presentation.annotate import PHASES, phase_of  # noqa: F401 (the UI names phases from here)
from ..presentation.explain import KeyContexts
from ..trace.model import Trace, TraceEvent, paused_gc
from ..wire.catalog import MSG

# Messages indexed at once from which the cyclic GC waits until they are (see paused_gc).
BULK_INDEX = 10_000
# Events the key panel follows; remembered with the index of the message that caused them.
MILESTONES = (AlgorithmsNegotiated, KexComputed, KeysActivated, HostKeyChecked, AuthSucceeded)


def starts_kex(event: TraceEvent, phase: str) -> bool:
    """A key exchange begins with a KEXINIT (a key exchange phase can also resume after bytes
    that could not be decoded, at a NEWKEYS: that is not a new one)."""
    return phase == "kex" and event.spec is MSG.KEXINIT


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the ladder: a phase heading, a message, or an encryption marker."""

    kind: str  # "phase" | "message" | "marker"
    event: int  # the message's index (for a heading: the first message of the phase)
    text: str = ""
    phase: str = ""


@dataclass(frozen=True, slots=True)
class NewKeysSent:
    """A NEWKEYS went by: from the next packet on, its direction is encrypted, even where the
    trace cannot say with which keys (a capture without its key log has no KeysActivated)."""

    direction: str


@dataclass(frozen=True, slots=True)
class Milestone:
    index: int  # the message whose handling produced it
    side: str
    event: object


def keys_on_text(event: TraceEvent) -> str:
    """The marker drawn under a NEWKEYS: from here on this direction uses the new keys."""
    arrow = "c→s" if event.direction == "c2s" else "s→c"
    for _, change in event.changes:
        if isinstance(change, KeysActivated) and change.direction == event.direction:
            return f"{arrow} encrypted: {change.cipher.split('@')[0]}"
    return f"{arrow} uses the new keys"


class Rows(Sequence):
    """The ladder's lines in order. Headings and markers are kept as Rows; a message's line is
    kept as its index and made into a Row when it is read, so a trace of a million messages
    does not build a million Rows before its first frame."""

    def __init__(self, phase_of_event: list[str]):
        self.items: list[Row | int] = []
        self._phase_of_event = phase_of_event

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Row:
        item = self.items[index]
        if type(item) is int:
            return Row("message", item, phase=self._phase_of_event[item])
        return item


class Timeline:
    """The session as the UI walks it: the events so far, the one selected, and the indexes
    built once per event (ladder rows, phases, key-exchange milestones), so that stepping and
    jumping stay cheap on long traces. Reads trace events only."""

    def __init__(self, trace: Trace, source=None, live: bool = False):
        """``source`` is an object with ``step() -> TraceEvent | None`` that appends to
        ``trace.events`` (a Conductor), or None when the trace is complete, or (``live``) when
        someone else appends to it: a live connection's recorder."""
        self.trace = trace
        self.events = trace.events
        self._key_contexts = KeyContexts()  # the keys in force at each unit, for its calculations
        self.source = source
        self.position = 0
        self.phase_of_event: list[str] = []
        self.rows = Rows(self.phase_of_event)
        self.row_of_event: list[int] = []
        self.phase_starts: list[int] = []  # first message index of each phase run
        self.milestones: list[Milestone] = []
        self._milestone_index: list[int] = []  # milestones' message indexes, for bisect
        # Messages sent before an earlier one arrived: index -> the step from which it is known
        # to be on its way (a side negotiates only after sending its own KEXINIT, so when it
        # negotiates first, its KEXINIT is in flight).
        self.in_flight: dict[int, int] = {}
        self._negotiated_at: dict[str, int] = {}  # side -> step, while its KEXINIT is still to come
        self._kexinit_sent: dict[str, int] = {}  # side -> its latest KEXINIT
        self._last_negotiated: dict[str, int] = {}  # side -> the step it last negotiated at
        self._indexed = 0  # events already in rows, phases and milestones
        # Changes of the last indexed event already looked at: a live recorder may add more to
        # it (a slow job's result) until the next message starts.
        self._changes_indexed = 0
        self._exhausted = source is None and not live
        self._index_new()

    # -- building --------------------------------------------------------------------------

    @classmethod
    def from_scenario(cls, scenario) -> "Timeline":
        from ..scenario import make_conductor

        conductor = make_conductor(scenario)
        timeline = cls(conductor.trace, conductor)
        timeline.produce(1)
        return timeline

    @property
    def complete(self) -> bool:
        return self._exhausted

    def produce(self, count: int = 1) -> int:
        """Step the source up to ``count`` more messages; returns how many came (a live
        recorder's trace only catches up: what has arrived is all there is)."""
        if self.source is None:
            return self.catch_up()
        made = 0
        while made < count and not self._exhausted:
            if self.source.step() is None:
                self._exhausted = True
                self.trace.fill_header()
                break
            made += 1
        self._index_new()
        return made

    def produce_all(self) -> None:
        if self.source is None:
            self.catch_up()
        while not self._exhausted and self.source is not None:
            self.produce(1000)

    def catch_up(self) -> int:
        """A live trace: take in the messages its recorder added; returns how many."""
        before = self._indexed
        self._index_new()
        return self._indexed - before

    def end(self) -> None:
        """A live trace is complete: its connection has closed."""
        self.catch_up()
        self._exhausted = True

    def ensure(self, index: int) -> bool:
        """Produce messages until ``index`` exists; False if the session ends before it."""
        if index >= len(self.events):
            self.produce(index + 1 - len(self.events))
        return index < len(self.events)

    def _index_new(self) -> None:
        events = self.events
        # A live run's last message may have gained changes since it was indexed.
        if self._indexed and len(events[self._indexed - 1].changes) > self._changes_indexed:
            last = events[self._indexed - 1]
            for side, change in last.changes[self._changes_indexed:]:
                self._index_change(last.index, side, change)
            self._changes_indexed = len(last.changes)
        if len(events) == self._indexed:
            return
        new = events[self._indexed:]
        if len(new) >= BULK_INDEX:  # a whole long trace: millions of objects, no cycles
            with paused_gc():
                self._index_events(new)
        else:  # a step of a live run: the collector goes on as usual
            self._index_events(new)
        self._indexed = len(events)
        self._changes_indexed = len(events[-1].changes)

    def _index_events(self, new: list[TraceEvent]) -> None:
        # Once per message of traces of a million: what a message is comes from its spec (which
        # a long file's events know without reading their line), its changes are looked at only
        # when it holds a milestone, and its row is a number until it is drawn.
        events, items = self.events, self.rows.items
        phases, row_of_event, milestones = self.phase_of_event, self.row_of_event, self.milestones
        previous = phases[-1] if phases else None
        kex_runs = sum(1 for start in self.phase_starts if starts_kex(events[start], phases[start]))
        for event in new:
            index = event.index
            phase = phase_of(event, previous)
            if phase != previous:
                title = PHASES[phase]
                if starts_kex(event, phase):
                    kex_runs += 1
                    if kex_runs > 1:
                        title = f"key exchange again (rekey {kex_runs - 1})"
                items.append(Row("phase", index, title, phase))
                self.phase_starts.append(index)
            phases.append(phase)
            row_of_event.append(len(items))
            items.append(index)
            spec = event.spec
            if spec is MSG.NEWKEYS:
                items.append(Row("marker", index, keys_on_text(event), phase))
                milestones.append(Milestone(index, event.sender, NewKeysSent(event.direction)))
                self._milestone_index.append(index)
            elif spec is MSG.KEXINIT:
                sender = event.sender
                self._kexinit_sent[sender] = index
                negotiated = self._negotiated_at.pop(sender, None)
                if negotiated is not None:
                    self.in_flight[index] = negotiated
            if event.holds(MILESTONES):
                for side, change in event.changes:
                    self._index_change(index, side, change)
            previous = phase

    def _index_change(self, index: int, side: str, change) -> None:
        if isinstance(change, MILESTONES):
            self.milestones.append(Milestone(index, side, change))
            self._milestone_index.append(index)
        if isinstance(change, AlgorithmsNegotiated):
            # No KEXINIT of its own on the ladder since it last negotiated: it is in flight.
            if self._kexinit_sent.get(side, -1) <= self._last_negotiated.get(side, -1):
                self._negotiated_at[side] = index
            self._last_negotiated[side] = index

    # -- moving ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.events)

    @property
    def current(self) -> TraceEvent | None:
        return self.events[self.position] if self.events else None

    def go(self, index: int) -> bool:
        """Select message ``index`` (producing it if needed); False if it does not exist. A
        live run is played on until the messages in flight at ``index`` are on the ladder."""
        if index < 0 or not self.ensure(index):
            return False
        self.position = index
        for _ in range(8):
            if not self._negotiated_at or self._exhausted:
                break
            self.produce(1)
        return True

    def flying(self, index: int, position: int | None = None) -> bool:
        """Message ``index`` was sent but has not arrived yet at step ``position``."""
        position = self.position if position is None else position
        sent = self.in_flight.get(index)
        return sent is not None and sent <= position < index

    def step(self, delta: int) -> bool:
        return self.go(self.position + delta)

    def to_end(self) -> None:
        self.produce_all()
        if self.events:
            self.position = len(self.events) - 1

    def next_phase(self) -> bool:
        """Go to the first message of the next phase, stepping a live source as needed."""
        here = self.phase_of_event[self.position] if self.events else None
        index = self.position + 1
        while self.ensure(index):
            if self.phase_of_event[index] != here:
                self.position = index
                return True
            index += 1
        return False

    def previous_phase(self) -> bool:
        """Go to the start of this phase, or of the one before when already there."""
        starts = self.phase_starts
        at = bisect_right(starts, self.position) - 1
        if at < 0:
            return False
        target = starts[at] if starts[at] < self.position else (starts[at - 1] if at > 0 else None)
        if target is None:
            return False
        self.position = target
        return True

    # -- reading ---------------------------------------------------------------------------

    def phase_at(self, index: int) -> str:
        return self.phase_of_event[index]

    def key_context(self, index: int):
        """The keys in force at unit ``index`` (what its calculations show)."""
        return self._key_contexts.at(self.events, index)

    def milestones_until(self, index: int) -> list[Milestone]:
        """Milestones caused by messages 0..index: what the key panel knows at that step."""
        return self.milestones[: bisect_right(self._milestone_index, index)]

    def search(self, matches, limit: int = 500) -> Iterator[int]:
        """Indexes of messages for which ``matches(event)`` holds, the whole session first
        produced so that a search covers messages not stepped to yet."""
        self.produce_all()
        found = 0
        for event in self.events:
            if matches(event):
                yield event.index
                found += 1
                if found >= limit:
                    return
