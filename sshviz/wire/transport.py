"""Transport-layer messages (RFC 4253, RFC 8308, and OpenSSH's extensions)."""

from __future__ import annotations

from .spec import (BOOLEAN, MPINT, NAME_LIST, STRING, TEXT, UINT32, Field, MessageSpec, Repeat,
                   Switch, fixed_bytes)
from .structures import PUBLIC_KEY, SIGNATURE


def _msg(number, name, rfc, doc, *fields, context=None, trailing_ok=False):
    return MessageSpec(number, name, tuple(fields), rfc, doc, "transport", context, trailing_ok)


def _host_key(doc="server public host key K_S"):
    return Field("host_key", STRING, doc, nested=PUBLIC_KEY)


def _signature(doc="signature of the exchange hash H with the host key"):
    return Field("signature", STRING, doc, nested=SIGNATURE)


KEXINIT_LISTS = (
    ("kex_algorithms", "key exchange methods, in order of preference"),
    ("server_host_key_algorithms", "host key and signature algorithms"),
    ("encryption_algorithms_client_to_server", "ciphers, client to server"),
    ("encryption_algorithms_server_to_client", "ciphers, server to client"),
    ("mac_algorithms_client_to_server", "MACs, client to server"),
    ("mac_algorithms_server_to_client", "MACs, server to client"),
    ("compression_algorithms_client_to_server", "compression, client to server"),
    ("compression_algorithms_server_to_client", "compression, server to client"),
    ("languages_client_to_server", "language tags, client to server (usually empty)"),
    ("languages_server_to_client", "language tags, server to client (usually empty)"),
)

MESSAGES = [
    _msg(1, "DISCONNECT", "RFC 4253 11.1", "ends the connection and says why",
         Field("reason_code", UINT32, "why (RFC 4250 4.2.2)"),
         Field("description", TEXT, "human-readable reason"),
         Field("language_tag", TEXT, "RFC 3066 language tag", default="")),
    _msg(2, "IGNORE", "RFC 4253 11.2", "padding traffic that a receiver must ignore",
         Field("data", STRING, "arbitrary bytes")),
    _msg(3, "UNIMPLEMENTED", "RFC 4253 11.4", "reply to a message number the receiver does not know",
         Field("sequence_number", UINT32, "sequence number of the rejected packet")),
    _msg(4, "DEBUG", "RFC 4253 11.3", "debugging text for the peer",
         Field("always_display", BOOLEAN, "show even if not asked to"),
         Field("message", TEXT, "debug text"),
         Field("language_tag", TEXT, "RFC 3066 language tag", default="")),
    _msg(5, "SERVICE_REQUEST", "RFC 4253 10", "asks for a service after key exchange",
         Field("service_name", TEXT, "e.g. ssh-userauth")),
    _msg(6, "SERVICE_ACCEPT", "RFC 4253 10", "the service may start",
         Field("service_name", TEXT, "the accepted service")),
    _msg(7, "EXT_INFO", "RFC 8308 2.3", "extensions the sender supports (server-sig-algs, ping, ...)",
         Field("nr_extensions", UINT32, "number of extensions", count_for="extensions"),
         Repeat("extensions", (
             Field("extension_name", TEXT, "extension name"),
             Switch("extension_name",
                    {"server-sig-algs": (Field("extension_value", NAME_LIST,
                                               "public key algorithms accepted in auth"),)},
                    default=(Field("extension_value", STRING, "extension value"),)),
         ), count="nr_extensions", doc="name/value pairs")),
    _msg(20, "KEXINIT", "RFC 4253 7.1", "each side's algorithm lists; starts a key exchange",
         Field("cookie", fixed_bytes(16), "16 random bytes, so H differs every time"),
         *(Field(name, NAME_LIST, doc) for name, doc in KEXINIT_LISTS),
         Field("first_kex_packet_follows", BOOLEAN, "a guessed key exchange packet follows"),
         Field("reserved", UINT32, "reserved for future extension, 0", default=0)),
    _msg(21, "NEWKEYS", "RFC 4253 7.3", "from the next packet on, the new keys are in use"),
    # diffie-hellman-group*: RFC 4253 8
    _msg(30, "KEXDH_INIT", "RFC 4253 8", "client's Diffie-Hellman value e = g^x mod p",
         Field("e", MPINT, "client's public value e"), context="kex=dh"),
    _msg(31, "KEXDH_REPLY", "RFC 4253 8", "server's host key, value f and signature of H",
         _host_key(), Field("f", MPINT, "server's public value f = g^y mod p"), _signature(),
         context="kex=dh"),
    # ecdh-sha2-*, curve25519-sha256: RFC 5656 4, RFC 8731 3
    _msg(30, "KEX_ECDH_INIT", "RFC 5656 4", "client's ephemeral public key Q_C",
         Field("Q_C", STRING, "client ephemeral public key"), context="kex=ecdh"),
    _msg(31, "KEX_ECDH_REPLY", "RFC 5656 4", "server's host key, ephemeral key Q_S and signature of H",
         _host_key(), Field("Q_S", STRING, "server ephemeral public key"), _signature(),
         context="kex=ecdh"),
    # diffie-hellman-group-exchange-*: RFC 4419
    _msg(30, "KEX_DH_GEX_REQUEST_OLD", "RFC 4419 3", "old-style group request: preferred size only",
         Field("n", UINT32, "preferred group size in bits"), context="kex=gex"),
    _msg(34, "KEX_DH_GEX_REQUEST", "RFC 4419 3", "client asks for a group of a size it accepts",
         Field("min", UINT32, "minimal acceptable group size in bits"),
         Field("n", UINT32, "preferred group size in bits"),
         Field("max", UINT32, "maximal acceptable group size in bits"), context="kex=gex"),
    _msg(31, "KEX_DH_GEX_GROUP", "RFC 4419 3", "server's chosen group: safe prime p and generator g",
         Field("p", MPINT, "safe prime"), Field("g", MPINT, "generator"), context="kex=gex"),
    _msg(32, "KEX_DH_GEX_INIT", "RFC 4419 3", "client's value e = g^x mod p",
         Field("e", MPINT, "client's public value e"), context="kex=gex"),
    _msg(33, "KEX_DH_GEX_REPLY", "RFC 4419 3", "server's host key, value f and signature of H",
         _host_key(), Field("f", MPINT, "server's public value f"), _signature(), context="kex=gex"),
    # mlkem768x25519-sha256: draft-ietf-sshm-mlkem-hybrid-kex
    _msg(30, "KEX_HYBRID_INIT", "draft-ietf-sshm-mlkem-hybrid-kex 2.1",
         "client's ML-KEM-768 encapsulation key followed by its X25519 public key",
         Field("C_INIT", STRING, "ML-KEM encapsulation key (1184 bytes) || X25519 key (32 bytes)"),
         context="kex=hybrid"),
    _msg(31, "KEX_HYBRID_REPLY", "draft-ietf-sshm-mlkem-hybrid-kex 2.1",
         "server's host key, ML-KEM ciphertext with its X25519 key, and signature of H",
         _host_key(),
         Field("S_REPLY", STRING, "ML-KEM ciphertext (1088 bytes) || X25519 key (32 bytes)"),
         _signature(), context="kex=hybrid"),
    _msg(192, "PING", "OpenSSH PROTOCOL 1.9", "asks the peer to echo data in a PONG",
         Field("data", STRING, "bytes to echo")),
    _msg(193, "PONG", "OpenSSH PROTOCOL 1.9", "the echo of a PING",
         Field("data", STRING, "the PING's bytes")),
]
