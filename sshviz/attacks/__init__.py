"""The attack lab: classic attacks on SSH, run in memory on the real client and server by an
attacker that sits on the wire (``WireAttacker``), each with the defence on and off where
there is one. An attacked run is an ordinary trace; ``Outcome`` reads from it how the run
ended, and each attack says which check stopped it, or that nothing did."""

from __future__ import annotations

from .attacker import WireAttacker
from .lab import ATTACKS, Attack, AttackRun, Outcome, outcome_of, prepare_attack, run_attack

__all__ = ["ATTACKS", "Attack", "AttackRun", "Outcome", "WireAttacker", "outcome_of", "prepare_attack",
           "run_attack"]
