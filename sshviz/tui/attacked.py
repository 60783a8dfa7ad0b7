"""An attacked run as the UI shows it, without Textual: which attack with which settings
(``AttackChoice``, what ``run_app(attack=...)`` and the what-if dialog pass around), the
timeline on its conductor, the mark each interception gets in the ladder's middle column, the
sequence number each side gave a packet, and the attack's summary. Reads trace events only."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING

from ..presentation.transcript import attacker_mark
from ..trace.model import Trace, TraceEvent
from .timeline import Timeline

if TYPE_CHECKING:  # the attack lab brings the whole engine: imported when an attack is run
    from ..attacks import AttackRun

# Units the attacker made itself: their sender never sent them, nor counted them.
MADE_BY_ATTACKER = frozenset({"inserted", "replayed"})


def mark(action: str) -> str:
    """What the attacker did, as the ladder's middle column says it: a glyph and the action."""
    return attacker_mark(action)


@dataclass(frozen=True)
class AttackChoice:
    """An attack to run: its name (a key of ``ATTACKS``), its settings (missing ones take their
    defaults) and the seed."""

    name: str
    values: dict[str, str] = field(default_factory=dict)
    seed: int = 1

    @classmethod
    def of(cls, attack) -> "AttackChoice | None":
        """From an AttackChoice, a name, or a tuple (name, values, seed) / (name, values)."""
        if attack is None or isinstance(attack, AttackChoice):
            return attack
        if isinstance(attack, str):
            return cls(attack)
        name, values, *rest = attack
        return cls(name, dict(values or {}), *rest)

    def describe(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return f"attack: {self.name}" + (f" ({settings})" if settings else "")


def start_attack(choice: AttackChoice) -> tuple[Timeline, AttackRun, AttackChoice]:
    """The attack set up, its first unit produced; the choice comes back with every setting
    filled in, so that a restart builds the same attack. ValueError for a wrong name or value."""
    from ..attacks import prepare_attack

    run = prepare_attack(choice.name, choice.values, choice.seed)
    timeline = Timeline(run.conductor.trace, run.conductor)
    timeline.produce(1)
    return timeline, run, AttackChoice(choice.name, dict(run.values), choice.seed)


def attack_scenario(choice: AttackChoice):
    """The scenario the attack runs on (what the title bar describes and what-if starts from)."""
    from ..attacks import ATTACKS

    attack = ATTACKS[choice.name]
    return attack.scenario(attack.resolve(choice.values), choice.seed)


def attack_of_trace(trace: Trace) -> AttackRun | None:
    """For a saved attacked trace: the attack and its settings, judged on the trace's events
    (a summary needs only the steps, not the conductor that made them)."""
    saved = dict(trace.header.extra.get("attack") or {})
    name = saved.pop("name", None)
    if name is None:
        return None
    from ..attacks import ATTACKS, AttackRun

    if name not in ATTACKS:
        return None
    return AttackRun(ATTACKS[name], saved, SimpleNamespace(steps=trace.events))


def is_attacked(trace: Trace) -> bool:
    return bool(trace.header.extra.get("attack")) or any(e.interception is not None for e in trace.events)


class SequenceNumbers:
    """The sequence number each side gave each packet: the sender's (the packet's place in what
    it sent) and the receiver's (its place in what arrived), which an attacker that inserts or
    drops packets pulls apart (Terrapin). The receiver's number is the one its record carries;
    the sender's is that minus the drift so far, the units the attacker added minus those it
    dropped in that direction. None where a side never counted the unit (one the attacker made,
    one that never arrived) or for bytes with no packet record. Both restart together when a
    packet arrives numbered 0 (strict KEX after NEWKEYS)."""

    def __init__(self, events: list[TraceEvent]):
        self.events = events
        self.numbers: list[tuple[int | None, int | None]] = []
        self._drift = {"c2s": 0, "s2c": 0}

    def __getitem__(self, index: int) -> tuple[int | None, int | None]:
        """(sender's number, receiver's number) of event ``index``."""
        for event in self.events[len(self.numbers): index + 1]:
            self.numbers.append(self._count(event))
        return self.numbers[index]

    def _count(self, event: TraceEvent) -> tuple[int | None, int | None]:
        seq = getattr(event.record, "seq", None)
        if event.kind != "packet" or seq is None:
            return None, None
        action = event.interception.action if event.interception else None
        direction = event.direction
        if action in MADE_BY_ATTACKER:
            if seq == 0:
                self._drift[direction] = 0
            self._drift[direction] += event.delivered
            return None, seq if event.delivered else None
        if not event.delivered:  # the record is the sender's: nobody decoded it
            self._drift[direction] -= action == "dropped"
            return seq, None
        if seq == 0:
            self._drift[direction] = 0
        return seq - self._drift[direction], seq
