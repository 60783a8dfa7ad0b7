"""What both sides of user authentication share."""

from __future__ import annotations

from ..wire import types as t

HOSTBOUND = "publickey-hostbound-v00@openssh.com"
HOSTBOUND_EXTENSION = "publickey-hostbound@openssh.com"


def publickey_signed_data(session_id: bytes, user: str, service: str, method: str,
                          algorithm: str, key_blob: bytes, host_key_blob: bytes | None) -> bytes:
    """RFC 4252 7 (and OpenSSH's host-bound variant): what the user's key signs."""
    data = (t.string(session_id) + bytes((50,)) + t.string(user) + t.string(service)
            + t.string(method) + t.boolean(True) + t.string(algorithm) + t.string(key_blob))
    if host_key_blob is not None:
        data += t.string(host_key_blob)
    return data
