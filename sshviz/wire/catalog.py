"""The SSH message catalog: every message of every layer, declared once, and the ranges of
message numbers (RFC 4250 4.1.2) that say which layer a number belongs to.

Code names a message by its spec, ``MSG.KEXINIT``, and asks what kind a number is with the
ranges, ``number in KEX_METHOD``; message numbers are written nowhere else.
"""

from __future__ import annotations

from enum import IntEnum

from .connection import ConnectionMessages
from .spec import Catalog
from .transport import KEX_GROUPS, TransportMessages
from .userauth import (KeyboardInteractiveMessages, PasswordMessages, PublickeyMessages,
                       UserauthMessages)


class MSG(TransportMessages, *KEX_GROUPS, UserauthMessages, PublickeyMessages, PasswordMessages,
          KeyboardInteractiveMessages, ConnectionMessages):
    """Every SSH message by name: ``MSG.NEWKEYS.build()``, ``message.spec is MSG.NEWKEYS``."""


SSH = Catalog(MSG.specs())

# What each range of message numbers is for (RFC 4250 4.1.2).
TRANSPORT_GENERIC = range(1, 20)  # disconnect, ignore, debug, service requests, EXT_INFO
ALGORITHM_NEGOTIATION = range(20, 30)  # KEXINIT, NEWKEYS
KEX_METHOD = range(30, 50)  # meaning set by the negotiated key exchange method
USERAUTH = range(50, 80)
USERAUTH_GENERIC = range(50, 60)
USERAUTH_METHOD = range(60, 80)  # meaning set by the authentication method being tried
CONNECTION = range(80, 128)
LOCAL_EXTENSIONS = range(192, 256)  # OpenSSH's PING and PONG



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
