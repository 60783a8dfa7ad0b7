"""The SSH message catalog: every message of every layer, declared once, and the ranges of
message numbers (RFC 4250 4.1.2) that say which layer a number belongs to.

Code names a message by its spec, ``MSG.KEXINIT``, and asks what kind a number is with the
ranges, ``number in KEX_METHOD``; message numbers are written nowhere else.
"""

from __future__ import annotations

from .codes import DisconnectReason, OpenFailureReason  # noqa: F401 (named here for the layers)
from .connection import ConnectionMessages
from .spec import Catalog
from .transport import KEX_GROUPS, TransportMessages
from .userauth import (KeyboardInteractiveMessages, PasswordMessages, PublickeyMessages,
                       UserauthMessages)


class MSG(TransportMessages, *KEX_GROUPS, UserauthMessages, PublickeyMessages, PasswordMessages,
          KeyboardInteractiveMessages, ConnectionMessages):
    """Every SSH message by name: ``MSG.NEWKEYS.build()``, ``message.spec is MSG.NEWKEYS``."""


SSH = Catalog(MSG.specs())

# The messages of a transfer: where many are read (a live transfer, a long trace) they are read
# without their fields' spans, which are worked out when a view asks (PacketRecord.fields()).
SPANS_ON_DEMAND = frozenset({MSG.CHANNEL_DATA, MSG.CHANNEL_EXTENDED_DATA, MSG.CHANNEL_WINDOW_ADJUST})

# What each range of message numbers is for (RFC 4250 4.1.2).
TRANSPORT_GENERIC = range(1, 20)  # disconnect, ignore, debug, service requests, EXT_INFO
ALGORITHM_NEGOTIATION = range(20, 30)  # KEXINIT, NEWKEYS
KEX_METHOD = range(30, 50)  # meaning set by the negotiated key exchange method
USERAUTH = range(50, 80)
USERAUTH_GENERIC = range(50, 60)
USERAUTH_METHOD = range(60, 80)  # meaning set by the authentication method being tried
CONNECTION = range(80, 128)
LOCAL_EXTENSIONS = range(192, 256)  # OpenSSH's PING and PONG


