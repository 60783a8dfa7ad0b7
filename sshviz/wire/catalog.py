"""The SSH message catalog: every message of every layer, declared once."""

from __future__ import annotations

from enum import IntEnum

from . import connection, transport, userauth
from .spec import Catalog

SSH = Catalog(transport.MESSAGES + userauth.MESSAGES + connection.MESSAGES)



class DisconnectReason(IntEnum):
    """RFC 4250 4.2.2 disconnect reason codes."""

    HOST_NOT_ALLOWED_TO_CONNECT = 1
    PROTOCOL_ERROR = 2
    KEY_EXCHANGE_FAILED = 3
    RESERVED = 4
    MAC_ERROR = 5
    COMPRESSION_ERROR = 6
    SERVICE_NOT_AVAILABLE = 7
    PROTOCOL_VERSION_NOT_SUPPORTED = 8
    HOST_KEY_NOT_VERIFIABLE = 9
    CONNECTION_LOST = 10
    BY_APPLICATION = 11
    TOO_MANY_CONNECTIONS = 12
    AUTH_CANCELLED_BY_USER = 13
    NO_MORE_AUTH_METHODS_AVAILABLE = 14
    ILLEGAL_USER_NAME = 15


class OpenFailureReason(IntEnum):
    """RFC 4254 5.1 channel open failure reason codes."""

    ADMINISTRATIVELY_PROHIBITED = 1
    CONNECT_FAILED = 2
    UNKNOWN_CHANNEL_TYPE = 3
    RESOURCE_SHORTAGE = 4
