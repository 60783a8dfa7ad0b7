"""Transport-layer messages (RFC 4253, RFC 8308, and OpenSSH's extensions).

Numbers 30-49 belong to the key exchange method: each family of methods has a group of its own,
whose context (``kex=ecdh``) tells the catalog which meaning a number has in a session."""

from __future__ import annotations

from .codes import DisconnectReason, enum_names
from .spec import (BOOLEAN, MPINT, NAME_LIST, STRING, TEXT, UINT32, Field, MessageGroup, Repeat,
                   Switch, fixed_bytes, message)
from .structures import PUBLIC_KEY, SIGNATURE


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


class TransportMessages(MessageGroup, protocol="transport"):
    """The transport messages whose numbers mean the same in every session."""

    DISCONNECT = message(
        1, "RFC 4253 11.1", "ends the connection and says why",
        Field("reason_code", UINT32, "why (RFC 4250 4.2.2)", names=enum_names(DisconnectReason)),
        Field("description", TEXT, "human-readable reason"),
        Field("language_tag", TEXT, "RFC 3066 language tag", default=""))
    IGNORE = message(2, "RFC 4253 11.2", "padding traffic that a receiver must ignore",
                     Field("data", STRING, "arbitrary bytes"))
    UNIMPLEMENTED = message(
        3, "RFC 4253 11.4", "reply to a message number the receiver does not know",
        Field("sequence_number", UINT32, "sequence number of the rejected packet"))
    DEBUG = message(4, "RFC 4253 11.3", "debugging text for the peer",
                    Field("always_display", BOOLEAN, "show even if not asked to"),
                    Field("message", TEXT, "debug text"),
                    Field("language_tag", TEXT, "RFC 3066 language tag", default=""))
    SERVICE_REQUEST = message(5, "RFC 4253 10", "asks for a service after key exchange",
                              Field("service_name", TEXT, "e.g. ssh-userauth"))
    SERVICE_ACCEPT = message(6, "RFC 4253 10", "the service may start",
                             Field("service_name", TEXT, "the accepted service"))
    EXT_INFO = message(
        7, "RFC 8308 2.3", "extensions the sender supports (server-sig-algs, ping, ...)",
        Field("nr_extensions", UINT32, "number of extensions", count_for="extensions"),
        Repeat("extensions", (
            Field("extension_name", TEXT, "extension name"),
            Switch("extension_name",
                   {"server-sig-algs": (Field("extension_value", NAME_LIST,
                                              "public key algorithms accepted in auth"),)},
                   default=(Field("extension_value", STRING, "extension value"),)),
        ), count="nr_extensions", doc="name/value pairs"))
    KEXINIT = message(
        20, "RFC 4253 7.1", "each side's algorithm lists; starts a key exchange",
        Field("cookie", fixed_bytes(16), "16 random bytes, so H differs every time"),
        *(Field(name, NAME_LIST, doc) for name, doc in KEXINIT_LISTS),
        Field("first_kex_packet_follows", BOOLEAN, "a guessed key exchange packet follows"),
        Field("reserved", UINT32, "reserved for future extension, 0", default=0))
    NEWKEYS = message(21, "RFC 4253 7.3", "from the next packet on, the new keys are in use")
    PING = message(192, "OpenSSH PROTOCOL 1.8", "asks the peer to echo data in a PONG",
                   Field("data", STRING, "bytes to echo"))
    PONG = message(193, "OpenSSH PROTOCOL 1.8", "the echo of a PING",
                   Field("data", STRING, "the PING's bytes"))


class KexDHMessages(MessageGroup, protocol="transport", context="kex=dh"):
    """diffie-hellman-group*: a fixed group (RFC 4253 8)."""

    KEXDH_INIT = message(30, "RFC 4253 8", "client's Diffie-Hellman value e = g^x mod p",
                         Field("e", MPINT, "client's public value e"))
    KEXDH_REPLY = message(31, "RFC 4253 8", "server's host key, value f and signature of H",
                          _host_key(), Field("f", MPINT, "server's public value f = g^y mod p"),
                          _signature())


class KexECDHMessages(MessageGroup, protocol="transport", context="kex=ecdh"):
    """ecdh-sha2-* (RFC 5656 4) and curve25519-sha256 (RFC 8731 3), which uses the same two."""

    KEX_ECDH_INIT = message(30, "RFC 5656 4; RFC 8731 3", "client's ephemeral public key Q_C",
                            Field("Q_C", STRING, "client ephemeral public key"))
    KEX_ECDH_REPLY = message(
        31, "RFC 5656 4; RFC 8731 3", "server's host key, ephemeral key Q_S and signature of H",
        _host_key(), Field("Q_S", STRING, "server ephemeral public key"), _signature())


class KexGroupExchangeMessages(MessageGroup, protocol="transport", context="kex=gex"):
    """diffie-hellman-group-exchange-*: the client asks for a group size first (RFC 4419)."""

    KEX_DH_GEX_REQUEST_OLD = message(30, "RFC 4419 5", "old-style group request: preferred size only",
                                     Field("n", UINT32, "preferred group size in bits"))
    KEX_DH_GEX_REQUEST = message(34, "RFC 4419 3", "client asks for a group of a size it accepts",
                                 Field("min", UINT32, "minimal acceptable group size in bits"),
                                 Field("n", UINT32, "preferred group size in bits"),
                                 Field("max", UINT32, "maximal acceptable group size in bits"))
    KEX_DH_GEX_GROUP = message(31, "RFC 4419 3", "server's chosen group: safe prime p and generator g",
                               Field("p", MPINT, "the safe prime the server chose: the group's modulus"),
                               Field("g", MPINT, "the generator the server chose"))
    KEX_DH_GEX_INIT = message(32, "RFC 4419 3", "client's value e = g^x mod p",
                              Field("e", MPINT, "client's public value e"))
    KEX_DH_GEX_REPLY = message(33, "RFC 4419 3", "server's host key, value f and signature of H",
                               _host_key(), Field("f", MPINT, "server's public value f"), _signature())


class KexHybridMessages(MessageGroup, protocol="transport", context="kex=hybrid"):
    """The post-quantum hybrids: a KEM and X25519 together. mlkem768x25519-sha256
    (draft-ietf-sshm-mlkem-hybrid-kex) and sntrup761x25519-sha512 (draft-ietf-sshm-ntruprime-ssh,
    OpenSSH's PROTOCOL) send the same two messages; only the KEM and its sizes differ."""

    KEX_HYBRID_INIT = message(
        30, "draft-ietf-sshm-mlkem-hybrid-kex 2.1",
        "client's KEM public key followed by its X25519 public key",
        Field("C_INIT", STRING, "KEM public key (ML-KEM-768: 1184 bytes, sntrup761: 1158) "
                                "|| X25519 key (32 bytes)"))
    KEX_HYBRID_REPLY = message(
        31, "draft-ietf-sshm-mlkem-hybrid-kex 2.1",
        "server's host key, KEM ciphertext with its X25519 key, and signature of H",
        _host_key(),
        Field("S_REPLY", STRING, "KEM ciphertext (ML-KEM-768: 1088 bytes, sntrup761: 1039) "
                                 "|| X25519 key (32 bytes)"),
        _signature())


KEX_GROUPS = (KexDHMessages, KexECDHMessages, KexGroupExchangeMessages, KexHybridMessages)
