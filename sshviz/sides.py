"""The two ends of a connection and the two directions between them. Both are string enums,
equal to the words the trace format and the events have always used ("client", "c2s"), so
they read and store as plain text."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    CLIENT = "client"
    SERVER = "server"

    @property
    def opposite(self) -> "Side":
        return Side.SERVER if self is Side.CLIENT else Side.CLIENT

    @property
    def sending(self) -> "Direction":
        """The direction this side's packets travel."""
        return Direction.C2S if self is Side.CLIENT else Direction.S2C

    @property
    def receiving(self) -> "Direction":
        return self.sending.opposite


class Direction(StrEnum):
    C2S = "c2s"
    S2C = "s2c"

    @property
    def sender(self) -> Side:
        return Side.CLIENT if self is Direction.C2S else Side.SERVER

    @property
    def receiver(self) -> Side:
        return self.sender.opposite

    @property
    def opposite(self) -> "Direction":
        return Direction.S2C if self is Direction.C2S else Direction.C2S

    @property
    def arrow(self) -> str:
        """How a line of text shows it: "client → server"."""
        return f"{self.sender} → {self.receiver}"
