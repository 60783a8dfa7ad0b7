"""The attacker on the wire: what the conductor hands each unit to, and the few things every
attack needs to know about a unit (what message it carries, whether it is encrypted) and to
make one (a cleartext packet, as anyone on the path can)."""

from __future__ import annotations

from ..crypto.random import SeededRandom
from ..events import RawUnit
from ..sides import Side
from ..trace.model import Interception
from ..transport.packet import PacketRecord, PacketWriter
from ..wire.spec import Message, MessageSpec

Released = tuple[Side, object, Interception | None]


class WireAttacker:
    """Sits between client and server in the conductor and sees every unit in transit.
    This one lets everything pass; each attack overrides ``intercept`` to read, change, insert,
    drop, replay or hold back units. It may look at the plaintext of what a side sent (the
    lesson's attacker knows what each packet is, as a real one infers from sizes and order),
    but it can only put bytes on the wire: it has no keys."""

    def __init__(self, seed: int = 0):
        self.rng = SeededRandom(seed).fork("attacker")
        self._held: list[Released] = []

    def intercept(self, sender: Side, unit) -> list[Released]:
        """What to deliver instead of ``unit``, in order; empty to hold it back."""
        return [(sender, unit, None)]

    def flush(self) -> list[Released]:
        """Units held back, released once nothing else is waiting."""
        held, self._held = self._held, []
        return held

    def holding(self) -> bool:
        return bool(self._held)

    def hold(self, sender: Side, unit, interception: Interception) -> None:
        self._held.append((sender, unit, interception))

    # -- what the attacker can tell about a unit ----------------------------------------------

    @staticmethod
    def spec_of(unit) -> MessageSpec | None:
        message = getattr(unit, "message", None)
        return message.spec if isinstance(message, Message) else None

    @staticmethod
    def encrypted(unit) -> bool:
        return isinstance(unit, PacketRecord) and unit.cipher != "none"

    # -- what it can put on the wire ----------------------------------------------------------

    def cleartext_packet(self, sender: Side, message: Message, note: str) -> RawUnit:
        """``message`` as a packet with no protection, as sent before the first NEWKEYS."""
        record = PacketWriter(sender.sending, self.rng).encode(message.encode())
        return RawUnit(sender.sending, record.wire, 0.0, note)

    @staticmethod
    def changed(unit, wire: bytes, note: str) -> RawUnit:
        return RawUnit(unit.direction, wire, getattr(unit, "time", 0.0), note)
