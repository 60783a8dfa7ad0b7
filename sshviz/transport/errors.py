"""The one exception the protocol layers raise: it ends the connection with a reason code."""

from __future__ import annotations

from ..wire.catalog import DisconnectReason


class ProtocolError(Exception):
    """Ends the connection: a DISCONNECT with ``reason`` and ``message`` goes to the peer, and
    the same words reach the user."""

    def __init__(self, reason: DisconnectReason | int, message: str):
        super().__init__(message)
        self.reason = DisconnectReason(reason)
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} ({self.reason.name})"
