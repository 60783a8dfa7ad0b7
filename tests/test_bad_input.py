"""Every bad input named in the engine issue ends that connection with the right DISCONNECT
reason code, never the process; and the next connection works.

Each case has a test of its own, on a server of its own. The cases fall into families (bad
identification lines, bad packets, bad key exchange values, messages out of place, bad channel
messages, authentication limits, garbage over TCP); for each family one more test throws all
its cases at one server configuration (or one server over TCP), each still ending as its own
test says, and then shows that a good session still works there."""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
import struct

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sshviz.auth.client import AuthState, ClientAuthConfig
from sshviz.auth.server import ServerAuthConfig, UserRecord
from sshviz.conductor import Conductor
from sshviz.crypto.keys import PrivateKey
from sshviz.crypto.random import SeededRandom
from sshviz.endpoint import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from sshviz.events import AuthAttempt, AuthSucceeded, ChannelOpened, Disconnected
from sshviz.scenario import Scenario, build_pair
from sshviz.transport.kex import KEX_METHODS
from sshviz.transport.negotiation import (EXT_INFO_CLIENT, EXT_INFO_SERVER, STRICT_KEX_CLIENT,
                                          STRICT_KEX_SERVER)
from sshviz.transport.packet import PacketWriter
from sshviz.transport.transport import TransportConfig
from sshviz.wire import types as t
from sshviz.wire.catalog import KEX_METHOD, MSG, SSH
from sshviz.wire.catalog import DisconnectReason as R
from sshviz.wire.spec import Message
from sshviz.wire.types import DecodeError

from .conftest import assert_no_internal_error, changes, check_session, step_until, talk_until
from .openssh import sshviz_server
from .strategies import layout_values


def disconnects(conductor: Conductor) -> dict[str, Disconnected]:
    """The Disconnected event each side reported (by side)."""
    return {side: found[0] for side in ("client", "server")
            if (found := changes(conductor, Disconnected, side))}


def assert_ended_by(conductor: Conductor, side: str, reason: R, words: str = "") -> None:
    """``side`` detected the problem: it disconnected with ``reason``, and its peer was told."""
    conductor.run()
    found = disconnects(conductor)
    assert side in found, f"{side} never disconnected: {found}"
    assert found[side].reason == reason, found[side]
    assert not found[side].by_peer
    assert words.lower() in found[side].description.lower(), found[side].description
    peer = "server" if side == "client" else "client"
    if peer in found and found[peer].by_peer:  # the peer heard it (unless it had already left)
        assert found[peer].reason == reason
    assert_no_internal_error(conductor.client, conductor.server)


def server_config(**options) -> ServerConfig:
    """The configuration ``build_pair`` gives the server of Scenario(**options): the host key
    its client trusts, and alice with her key and password."""
    return build_pair(Scenario(**options))[1].config


def changed(config: ServerConfig, part: str, **values) -> ServerConfig:
    """A copy of ``config`` whose ``part`` (transport, auth, connection) has ``values``; the
    configuration it came from is left as it was."""
    return dataclasses.replace(config, **{part: dataclasses.replace(getattr(config, part), **values)})


def fresh(server: ServerConfig | None = None, **options) -> Conductor:
    """A conductor ready to play Scenario(**options). Its server is made from ``server`` when
    given (one configuration for many connections, as ``sshviz serve`` has), else from the
    scenario's own."""
    sc = Scenario(**options)
    client, endpoint, driver, clock = build_pair(sc)
    if server is not None:
        endpoint = ServerConnection(server, SeededRandom(sc.seed).fork("server"), clock)
    conductor = Conductor(client, endpoint, clock, driver=driver.for_conductor)
    conductor.driver_state = driver
    return conductor


def plain_packet(payload: bytes, padding: int | None = None, length: int | None = None) -> bytes:
    """A cleartext packet (before NEWKEYS), optionally with a wrong padding or length field."""
    record = PacketWriter("c2s", SeededRandom(0)).encode(payload)
    data = bytearray(record.wire)
    if padding is not None:
        data[4] = padding
    if length is not None:
        data[0:4] = struct.pack(">I", length)
    return bytes(data)


def after_version(conductor: Conductor) -> Conductor:
    """Both version lines delivered; the client's KEXINIT is next to be replaced."""
    step_until(conductor, "VERSION", "server")
    return conductor


# -- identification lines ---------------------------------------------------------------------


BAD_LINES = [
    (b"HELLO there\r\n", R.PROTOCOL_ERROR, "instead of an SSH identification line"),
    (b"SSH-1.5-OldClient\r\n", R.PROTOCOL_VERSION_NOT_SUPPORTED, "protocol 1.5"),
    (b"SSH-2.0-" + b"x" * 300 + b"\r\n", R.PROTOCOL_ERROR, "longer than 255"),
    (b"SSH-2.0-bad\x00name\r\n", R.PROTOCOL_ERROR, "NUL"),
    (b"SSH-2.0-\r\n", R.PROTOCOL_ERROR, "malformed identification"),
]


@pytest.mark.parametrize("line, reason, words", BAD_LINES)
def test_bad_identification_lines(line, reason, words, server=None):
    conductor = fresh(server)
    conductor.tamper(lambda wire: line, "client")  # the client's version line
    assert_ended_by(conductor, "server", reason, words)


# -- the binary packet protocol ---------------------------------------------------------------


BAD_FRAMING = [
    (lambda: plain_packet(b"\x14" + bytes(40), length=1), "out of range"),
    (lambda: plain_packet(b"\x14" + bytes(40), length=1 << 30), "out of range"),
    (lambda: plain_packet(b"\x14" + bytes(40), length=27), "multiple of the cipher block size"),
    (lambda: plain_packet(b"\x02" + t.string(b"x"), padding=2), "below the minimum of 4"),
]


@pytest.mark.parametrize("make, words", BAD_FRAMING)
def test_bad_packet_framing(make, words, server=None):
    conductor = after_version(fresh(server, strict_kex=False))
    conductor.tamper(lambda wire: make(), "client")
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, words)


PROTECTIONS = [
    ("chacha20-poly1305@openssh.com", "hmac-sha2-256"),
    ("aes128-gcm@openssh.com", "hmac-sha2-256"),
    ("aes256-ctr", "hmac-sha2-256"),
    ("aes128-ctr", "hmac-sha2-512-etm@openssh.com"),
]


@pytest.mark.parametrize("cipher, mac", PROTECTIONS)
def test_a_flipped_bit_fails_the_mac_or_tag(cipher, mac, server=None):
    conductor = fresh(server, cipher=cipher, mac=mac)
    step_until(conductor, "NEWKEYS", "client")

    def flip(wire: bytes) -> bytes:
        data = bytearray(wire)
        data[-20] ^= 0x01  # inside the ciphertext or MAC, after any clear length
        return bytes(data)

    conductor.tamper(flip, "client")  # the client's first encrypted packet (SERVICE_REQUEST)
    assert_ended_by(conductor, "server", R.MAC_ERROR, "does not match")


def test_corrupt_compressed_data_is_a_compression_error(server=None):
    conductor = fresh(server, compression="zlib", mac="hmac-sha2-256", cipher="aes128-ctr")
    step_until(conductor, "NEWKEYS", "client")
    client = conductor.client
    # A packet whose (validly encrypted and MACed) payload is not a zlib stream.
    keys = client.transport.writer.keys
    saved, keys.compressor = keys.compressor, None
    conductor.inject("client", SSH.build("IGNORE", data=b"\xff" * 40))
    keys.compressor = saved
    assert_ended_by(conductor, "server", R.COMPRESSION_ERROR, "zlib")


# -- malformed messages -----------------------------------------------------------------------


def test_truncated_kexinit(server=None):
    conductor = after_version(fresh(server, strict_kex=False))
    conductor.tamper(lambda wire: plain_packet(b"\x14" + bytes(16) + b"\x00\x00\x00\x09abc"), "client")
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "truncated")


def test_invalid_mpint_in_a_dh_value(server=None):
    conductor = fresh(server, kex="diffie-hellman-group14-sha256")
    step_until(conductor, "KEXINIT", "client")
    bad_mpint = t.uint32(3) + b"\x00\x01\x02"  # needless leading zero byte
    conductor.tamper(lambda wire: plain_packet(b"\x1e" + bad_mpint), "client")
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "invalid mpint")


BAD_PUBLIC_VALUES = [
    ("diffie-hellman-group14-sha256", 1, "out of range"),
    ("diffie-hellman-group14-sha256", 0, "out of range"),
    ("diffie-hellman-group14-sha256", -5, "out of range"),
    ("diffie-hellman-group14-sha256", "p-1", "out of range"),
    ("diffie-hellman-group14-sha256", "p", "out of range"),
    ("curve25519-sha256", bytes(32), "all zeros"),
    ("curve25519-sha256", bytes(31), "must be 32 bytes"),
    ("ecdh-sha2-nistp256", b"\x04" + bytes(64), "not a valid"),
    ("ecdh-sha2-nistp256", b"\x02" + bytes(32), "uncompressed"),
    ("mlkem768x25519-sha256", bytes(100), "must be 1216 bytes"),
    ("sntrup761x25519-sha512", bytes(100), "must be 1190 bytes"),
    ("sntrup761x25519-sha512", bytes(1158) + bytes(32), "all zeros"),
]


@pytest.mark.parametrize("kex, value, words", BAD_PUBLIC_VALUES)
def test_public_values_out_of_range(kex, value, words, server=None):
    from sshviz.crypto.dh_groups import MODP_2048

    conductor = fresh(server, kex=kex)
    step_until(conductor, "KEXINIT", "client")
    family = {"diffie-hellman-group14-sha256": ("KEXDH_INIT", "e", "dh"),
              "curve25519-sha256": ("KEX_ECDH_INIT", "Q_C", "ecdh"),
              "ecdh-sha2-nistp256": ("KEX_ECDH_INIT", "Q_C", "ecdh"),
              "mlkem768x25519-sha256": ("KEX_HYBRID_INIT", "C_INIT", "hybrid"),
              "sntrup761x25519-sha512": ("KEX_HYBRID_INIT", "C_INIT", "hybrid")}[kex]
    if value == "p-1":
        value = MODP_2048 - 1
    elif value == "p":
        value = MODP_2048
    payload = SSH.build(family[0], **{family[1]: value}).encode()
    conductor.tamper(lambda wire: plain_packet(payload), "client")
    assert_ended_by(conductor, "server", R.KEY_EXCHANGE_FAILED, words)


def test_server_value_out_of_range_is_caught_by_the_client(server=None):
    conductor = fresh(server, kex="curve25519-sha256")
    step_until(conductor, "KEX_ECDH_INIT", "client")
    server = conductor.server
    reply = next(u for s, u in conductor._queue if s == "server" and u.message.spec.name == "KEX_ECDH_REPLY")
    values = dict(reply.message.values, Q_S=bytes(32))
    conductor.tamper(lambda wire: plain_packet(SSH.build("KEX_ECDH_REPLY", **values).encode()), "server")
    del server
    assert_ended_by(conductor, "client", R.KEY_EXCHANGE_FAILED, "all zeros")


MALFORMED_CERTIFICATES = [
    ("truncated", "truncated"),
    ("certificate type 7", "neither user (1) nor host (2)"),
    ("a certificate as its CA", "chains are not supported"),
]


def malformed_certificate(damage: str) -> bytes:
    """A host certificate from the demo CA, damaged so it cannot be read."""
    from sshviz.crypto.certificates import sign_certificate
    from sshviz.wire.codes import CertificateType

    key = PrivateKey.generate("ssh-ed25519", SeededRandom("certified"))
    ca = PrivateKey.generate("ssh-ed25519", SeededRandom("CA"))
    if damage == "a certificate as its CA":
        ca = ca.with_certificate(sign_certificate(ca, ca.public, CertificateType.HOST, "ca", []))
        body = sign_certificate(PrivateKey.generate("ssh-ed25519", SeededRandom("CA")), key.public,
                                CertificateType.HOST, "host", ["demo-server"]).blob
        body = body[:body.index(t.string(ca.public.plain.blob))] + t.string(ca.public.blob)
        return body + t.string(ca.sign("ssh-ed25519-cert-v01@openssh.com", body))
    blob = sign_certificate(ca, key.public, CertificateType.HOST, "host", ["demo-server"]).blob
    if damage == "truncated":
        return blob[:-20]
    return blob.replace(t.uint32(2) + t.string("host"), t.uint32(7) + t.string("host"))


@pytest.mark.parametrize("damage, words", MALFORMED_CERTIFICATES)
def test_malformed_host_certificate_from_the_server(damage, words, server=None):
    conductor = fresh(server, kex="curve25519-sha256")
    step_until(conductor, "KEX_ECDH_INIT", "client")
    reply = next(u for s, u in conductor._queue if s == "server" and u.message.spec.name == "KEX_ECDH_REPLY")
    values = dict(reply.message.values, host_key=malformed_certificate(damage))
    conductor.tamper(lambda wire: plain_packet(SSH.build("KEX_ECDH_REPLY", **values).encode()), "server")
    assert_ended_by(conductor, "client", R.KEY_EXCHANGE_FAILED, words)


@pytest.mark.parametrize("damage, words", MALFORMED_CERTIFICATES)
def test_malformed_user_certificate_from_the_client(damage, words, server=None):
    # As OpenSSH's sshd does, an unreadable key is a failed attempt, said with its reason; the
    # connection goes on (a client may have other keys), and six such end it.
    conductor = fresh(server)
    step_until(conductor, "SERVICE_ACCEPT")
    blob = malformed_certificate(damage)
    conductor.inject("client", SSH.build("USERAUTH_REQUEST", user_name="alice", service_name="ssh-connection",
                                         method_name="publickey", has_signature=False,
                                         algorithm="ssh-ed25519-cert-v01@openssh.com", public_key=blob))
    conductor.run()
    attempts = [c for c in changes(conductor, AuthAttempt, "server") if c.method == "publickey"]
    assert attempts[0].result == "failure" and "unreadable key" in attempts[0].detail
    assert words in attempts[0].detail
    assert_no_internal_error(conductor.client, conductor.server)


def test_no_common_algorithm(server=None):
    conductor = fresh(changed(server or server_config(), "transport", ciphers=["aes128-ctr"]))
    conductor.client.config.transport.ciphers = ["chacha20-poly1305@openssh.com"]
    conductor.run()
    assert_no_internal_error(conductor.client, conductor.server)
    found = disconnects(conductor)
    side = next(iter(found))
    assert found[side].reason == R.KEY_EXCHANGE_FAILED
    assert "no common cipher c2s algorithm" in found[side].description
    assert "chacha20-poly1305@openssh.com" in found[side].description


def test_unverifiable_host_key(server=None):
    conductor = fresh(server)
    conductor.client.config.transport.verify_host_key = lambda key: ("unknown", "is not in known_hosts")
    assert_ended_by(conductor, "client", R.HOST_KEY_NOT_VERIFIABLE, "not in known_hosts")


# -- messages out of state --------------------------------------------------------------------


def test_client_sending_userauth_success(server=None):
    conductor = fresh(server)
    step_until(conductor, "SERVICE_ACCEPT")
    conductor.inject("client", SSH.build("USERAUTH_SUCCESS"))
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "unexpected SSH_MSG_USERAUTH_SUCCESS")


def test_channel_open_before_authentication(server=None):
    conductor = fresh(server)
    step_until(conductor, "SERVICE_ACCEPT")
    conductor.inject("client", SSH.build("CHANNEL_OPEN", channel_type="session", sender_channel=0,
                                         initial_window_size=1000, maximum_packet_size=1000))
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "before authentication")


def instead_of_reacting(event_type, action, server: ServerConfig | None = None, **options) -> Conductor:
    """A conductor whose client, at the first ``event_type``, runs ``action(client)`` instead
    of carrying on with the session (so a wrong message goes out at exactly that point)."""
    conductor = fresh(server, **options)
    carry_on = conductor.driver
    fired = False

    def driver(side, events):
        nonlocal fired
        for event in events:
            if not fired and side == "client" and isinstance(event, event_type):
                fired = True
                action(conductor.client)
            else:
                carry_on(side, [event])

    conductor.driver = driver
    return conductor


def test_auth_request_before_the_service_request(server=None):
    conductor = fresh(server)
    conductor.client.auth.state = AuthState.SERVICE  # as if asked already: it will not send SERVICE_REQUEST
    step_until(conductor, "NEWKEYS", "server")
    conductor.inject("client", SSH.build("USERAUTH_REQUEST", user_name="alice", service_name="ssh-connection",
                                         method_name="none"))
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "before the ssh-userauth service")


def test_ext_info_in_the_wrong_place(server=None):
    conductor = fresh(server)
    step_until(conductor, "USERAUTH_SUCCESS")
    conductor.inject("server", SSH.build("EXT_INFO", extensions=[
        {"extension_name": "server-sig-algs", "extension_value": ["ssh-ed25519"]}]))
    assert_ended_by(conductor, "client", R.PROTOCOL_ERROR, "EXT_INFO")


def test_ext_info_from_the_client_after_authentication(server=None):
    conductor = fresh(server)
    step_until(conductor, "USERAUTH_SUCCESS")
    conductor.inject("client", SSH.build("EXT_INFO", extensions=[]))
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "EXT_INFO")


def test_ignore_during_a_strict_initial_kex(server=None):
    conductor = fresh(server)
    step_until(conductor, "KEXINIT", "client")
    conductor.inject("client", SSH.build("IGNORE", data=b"Terrapin"))
    # Delivered after the client's KEX_ECDH_INIT; still inside the initial key exchange.
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "strict initial key exchange")


def test_ignore_during_a_non_strict_initial_kex_is_fine():
    conductor = fresh(strict_kex=False)
    step_until(conductor, "KEXINIT", "client")
    conductor.inject("client", SSH.build("IGNORE", data=b"fine"))
    conductor.run()
    assert conductor.driver_state.exit_status == 0


def test_kexinit_not_first_under_strict_kex(server=None):
    conductor = after_version(fresh(server))
    ignore = plain_packet(MSG.IGNORE.build(data=b"before KEXINIT").encode())
    conductor.tamper(lambda kexinit: ignore + kexinit, "client")
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "KEXINIT must be the first packet")


def test_connection_message_inside_the_peers_rekey(server=None):
    # RFC 4253 7.1: between its KEXINIT and its NEWKEYS a side sends only transport messages.
    conductor = fresh(server)
    step_until(conductor, "USERAUTH_SUCCESS")
    conductor.act("client", lambda client: client.request_rekey())
    conductor.inject("client", SSH.build("GLOBAL_REQUEST", request_name="keepalive@openssh.com",
                                         want_reply=True))
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "between its KEXINIT and its NEWKEYS")


def test_traffic_in_flight_before_the_peers_kexinit_is_fine():
    conductor = fresh()
    step_until(conductor, "USERAUTH_SUCCESS")
    conductor.act("server", lambda server: server.request_rekey())
    # Sent before the client has seen the server's KEXINIT: normal traffic, answered later.
    conductor.act("client", lambda client: client.connection.global_request("keepalive@openssh.com"))
    conductor.run()
    assert "REQUEST_FAILURE" in [s.name for s in conductor.steps]
    assert conductor.driver_state.exit_status == 0


@pytest.mark.parametrize("guessed, negotiated", [
    ("curve25519-sha256", "diffie-hellman-group-exchange-sha256"),  # 30 is GEX_REQUEST_OLD there
    ("curve25519-sha256", "diffie-hellman-group14-sha256"),
    ("diffie-hellman-group14-sha256", "mlkem768x25519-sha256"),
])
def test_a_wrong_guess_of_another_family_is_ignored(guessed, negotiated):
    # RFC 4253 7: the packet after a wrong guess is ignored, whatever it holds; read with
    # the negotiated method's layout it may not even decode.
    client, server, driver, clock = build_pair(Scenario(guess_kex=True))
    client.config.transport.kex = [guessed, negotiated]
    server.config.transport.kex = [negotiated]
    conductor = Conductor(client, server, clock, driver=driver.for_conductor)
    conductor.run()
    assert driver.exit_status == 0, disconnects(conductor)
    dropped = conductor.steps[4]  # after both versions and both KEXINITs
    assert dropped.sender == "client" and dropped.message.spec.number == 30
    if guessed == "curve25519-sha256":
        assert dropped.name == "KEX_ECDH_INIT"  # labelled by what the client guessed


def test_unknown_message_gets_unimplemented_and_the_session_goes_on():
    from sshviz.wire.spec import UNKNOWN_TAIL, Message, MessageSpec

    conductor = fresh()
    step_until(conductor, "USERAUTH_SUCCESS")
    strange = Message(MessageSpec(150, "STRANGE", UNKNOWN_TAIL, "", "", "test"), {"data": b"hello"})
    conductor.inject("client", strange)
    conductor.run()
    names = [(s.sender, s.name) for s in conductor.steps]
    assert ("server", "UNIMPLEMENTED") in names
    assert conductor.driver_state.exit_status == 0
    assert {e.reason for e in disconnects(conductor).values()} == {R.BY_APPLICATION}


def test_unknown_message_during_strict_kex_is_fatal(server=None):
    from sshviz.wire.spec import UNKNOWN_TAIL, Message, MessageSpec

    conductor = fresh(server)
    step_until(conductor, "KEXINIT", "client")
    conductor.inject("client", Message(MessageSpec(150, "STRANGE", UNKNOWN_TAIL, "", "", "test"), {"data": b""}))
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "unknown message 150")


def test_ping_before_authentication_gets_no_pong():
    # Answering would let an unauthenticated peer make the server queue replies at will.
    conductor = fresh()
    step_until(conductor, "SERVICE_ACCEPT")
    conductor.inject("client", SSH.build("PING", data=b"anyone there?"))
    conductor.run()
    assert "PONG" not in [s.name for s in conductor.steps]
    assert conductor.driver_state.exit_status == 0


def test_pings_during_a_key_exchange_are_not_queued():
    # Replies wait while a key exchange runs; a peer that pings and never finishes the key
    # exchange must not make them pile up (OpenSSH's CVE-2025-26466).
    conductor = fresh()
    step_until(conductor, "USERAUTH_SUCCESS")
    conductor.act("server", lambda server: server.request_rekey())
    for _ in range(50):  # sent before the client sees the server's KEXINIT
        conductor.inject("client", SSH.build("PING", data=b"x" * 1000))
    pongs_held = 0
    while conductor.step() is not None:
        held = [message for message, _ in conductor.server.transport._held if message is not None]
        pongs_held = max(pongs_held, sum(message.spec.name == "PONG" for message in held))
    assert pongs_held == 0
    assert "PONG" not in [s.name for s in conductor.steps]
    assert sum(s.name == "NEWKEYS" for s in conductor.steps) == 4  # the rekey finished
    assert conductor.driver_state.exit_status == 0


# -- the connection layer ---------------------------------------------------------------------


def _send(message):
    return lambda client: client.transport.send_raw(message)


def test_unknown_channel_id(server=None):
    conductor = instead_of_reacting(ChannelOpened, _send(SSH.build("CHANNEL_DATA", recipient_channel=77,
                                                                   data=b"hi")), server)
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "unknown channel 77")


def test_window_adjust_overflow(server=None):
    conductor = instead_of_reacting(ChannelOpened, _send(SSH.build("CHANNEL_WINDOW_ADJUST", recipient_channel=0,
                                                                   bytes_to_add=0xFFFFFFFF)), server)
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "overflows 2^32-1")


def test_data_beyond_the_window(server=None):
    server = changed(server or server_config(), "connection", window_size=64)
    conductor = instead_of_reacting(ChannelOpened, _send(SSH.build("CHANNEL_DATA", recipient_channel=0,
                                                                   data=b"x" * 65)), server)
    assert_ended_by(conductor, "server", R.PROTOCOL_ERROR, "exceed the window")


# -- authentication limits --------------------------------------------------------------------


def test_six_failed_attempts_disconnect(server=None):
    conductor = fresh(server, auth="password")
    conductor.client.config.auth.passwords = [f"wrong {i}" for i in range(10)]
    assert_ended_by(conductor, "server", R.NO_MORE_AUTH_METHODS_AVAILABLE, "too many authentication failures")
    requests = [s for s in conductor.steps if s.name == "USERAUTH_REQUEST"]
    assert len(requests) == 7  # "none", then six wrong passwords


def test_login_grace_time(server=None):
    conductor = fresh(server)
    step_until(conductor, "SERVICE_ACCEPT")
    assert conductor.server.next_deadline() == pytest.approx(120.0)
    conductor.advance_time(121)
    assert_ended_by(conductor, "server", R.BY_APPLICATION, "login grace time")


# -- the next connection, once per family ------------------------------------------------------


def cases(test, parameters=((),)):
    """``test`` with each set of ``parameters``, to be called with ``server=``."""
    return [functools.partial(test, *values) for values in parameters]


FAMILIES = {
    "identification lines": [*cases(test_bad_identification_lines, BAD_LINES)],
    "packets": [*cases(test_bad_packet_framing, BAD_FRAMING),
                *cases(test_a_flipped_bit_fails_the_mac_or_tag, PROTECTIONS),
                *cases(test_corrupt_compressed_data_is_a_compression_error)],
    "key exchange values": [*cases(test_truncated_kexinit),
                            *cases(test_invalid_mpint_in_a_dh_value),
                            *cases(test_public_values_out_of_range, BAD_PUBLIC_VALUES),
                            *cases(test_server_value_out_of_range_is_caught_by_the_client),
                            *cases(test_no_common_algorithm),
                            *cases(test_malformed_host_certificate_from_the_server, MALFORMED_CERTIFICATES),
                            *cases(test_malformed_user_certificate_from_the_client, MALFORMED_CERTIFICATES),
                            *cases(test_unverifiable_host_key)],
    "messages out of place": [*cases(test_client_sending_userauth_success),
                              *cases(test_channel_open_before_authentication),
                              *cases(test_auth_request_before_the_service_request),
                              *cases(test_ext_info_in_the_wrong_place),
                              *cases(test_ext_info_from_the_client_after_authentication),
                              *cases(test_ignore_during_a_strict_initial_kex),
                              *cases(test_kexinit_not_first_under_strict_kex),
                              *cases(test_connection_message_inside_the_peers_rekey),
                              *cases(test_unknown_message_during_strict_kex_is_fatal)],
    "channel messages": [*cases(test_unknown_channel_id),
                         *cases(test_window_adjust_overflow),
                         *cases(test_data_beyond_the_window)],
    "authentication limits": [*cases(test_six_failed_attempts_disconnect),
                              *cases(test_login_grace_time)],
}


NEXT_SFTP = ["put hello.txt", "get hello.txt copy.txt"]


def contents(fs, path: str) -> bytes:
    return fs.open_file(path, os.O_RDONLY).pread(1 << 20, 0)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_next_connection_works_after_each_bad_input_of_a_family(family):
    # One configuration for every connection, as serve has: alice with her key and password, SFTP.
    server = server_config(auth="password", sftp_actions=NEXT_SFTP)
    for case in FAMILIES[family]:
        case(server=server)  # each ends its connection as its own test says
    check_session(Scenario(), fresh(server))
    check_session(Scenario(auth="password"), fresh(server, auth="password"))
    sftp = fresh(server, sftp_actions=NEXT_SFTP)  # data both ways on a channel
    sftp.run()
    assert_no_internal_error(sftp.client, sftp.server)
    script = sftp.driver_state.sftp_script
    assert (sftp.driver_state.error, script.failed) == (None, [])
    assert script.output == ["sftp> put hello.txt", "Uploading /hello.txt to /hello.txt",
                             "sftp> get hello.txt copy.txt", "Fetching /hello.txt to /copy.txt"]
    uploaded = contents(script.local_fs, "/hello.txt")
    assert contents(server.fs, "/hello.txt") == contents(script.local_fs, "/copy.txt") == uploaded != b""


# -- random bytes from the peer ---------------------------------------------------------------

PEER_VERSIONS = [b"SSH-2.0-peer\r\n", b"SSH-1.99-peer_1.0 a comment\n"]
HOST_KEY = PrivateKey.generate("ssh-ed25519", SeededRandom("bad input host"))


@st.composite
def cleartext_packets(draw) -> bytes:
    """A packet as sent before any NEWKEYS: any message of the catalog, or a message number and
    random bytes, padded to the block size; its length or padding length sometimes wrong."""
    if draw(st.booleans()):
        spec = draw(st.sampled_from(SSH.specs))
        payload = Message(spec, draw(layout_values(spec.fields))).encode()
    else:
        payload = bytes([draw(st.integers(0, 255))]) + draw(st.binary(max_size=70))
    padding = 8 - (5 + len(payload)) % 8
    padding += 8 if padding < 4 else 0
    packet = bytearray(struct.pack(">IB", 1 + len(payload) + padding, padding) + payload + bytes(padding))
    if draw(st.integers(0, 4)) == 0:
        packet[draw(st.integers(0, 4))] = draw(st.integers(0, 255))  # the length or padding length
    return bytes(packet)


def peer_bytes():
    """What a peer might send first: anything, the start of a version line and anything, or
    lines before a version line (a server may send them) and packets."""
    lines = st.lists(st.binary(max_size=40).map(lambda line: line.replace(b"\n", b"") + b"\r\n"),
                     max_size=3).map(b"".join)
    return st.one_of(
        st.binary(max_size=300),
        st.binary(min_size=250, max_size=300).map(lambda line: line.replace(b"\n", b"")),
        st.tuples(st.sampled_from([b"SSH-", b"SSH-2.0-", b"SSH-1.99-", b"SSH-1.5-", b"SSH-2.0-\r\n",
                                   b"SSH-1.5-peer\r\n", b"SSH-3.0-peer\r\n"]),
                  st.binary(max_size=300)).map(b"".join),
        st.tuples(lines, st.sampled_from(PEER_VERSIONS), st.lists(cleartext_packets(), max_size=4).map(b"".join),
                  st.binary(max_size=8)).map(b"".join),
    )


WAITING = ("waiting for more bytes",)


def expected_end(data: bytes, endpoint) -> tuple:
    """How ``endpoint`` (a client or server that has sent nothing but its version line and
    KEXINIT) must end up after ``data`` from its peer: WAITING, ("sent", reason, description)
    for the DISCONNECT it sends, or ("received", reason, description) for one from the peer.
    Worked out from RFC 4253 4.2 and 6 and the messages' catalog; None for a KEXINIT that
    could start a real key exchange, which random bytes do not make."""
    role = "client" if isinstance(endpoint, ClientConnection) else "server"

    def sent(description, reason=R.PROTOCOL_ERROR):
        return ("sent", reason, description)

    # The identification line (RFC 4253 4.2), after any other lines a server sends first.
    rest, pre_lines = data, 0
    while True:
        end = rest.find(b"\n")
        line = rest[:end + 1]
        if end < 0 and len(rest) <= 255:
            return WAITING
        if end < 0 or len(line) > 255:
            return sent("identification line longer than 255 bytes")
        rest = rest[end + 1:]
        if line.startswith(b"SSH-"):
            break
        if role == "server":
            return sent(f"client sent {line[:40]!r} instead of an SSH identification line")
        if pre_lines == 1024:
            return sent("too many lines before the server's version")
        pre_lines += 1
    text = line.rstrip(b"\r\n")
    if b"\x00" in text:
        return sent("identification line contains a NUL byte")
    if not text.isascii():
        return sent("identification line is not US-ASCII")
    parts = text.decode().split(" ", 1)[0].split("-", 2)
    if len(parts) < 3 or not parts[2]:
        return sent(f"malformed identification line {text.decode()!r}")
    if parts[1] not in ("2.0", "1.99"):
        return sent(f"peer speaks SSH protocol {parts[1]}, not 2.0", R.PROTOCOL_VERSION_NOT_SUPPORTED)
    # Cleartext packets (RFC 4253 6), during the first key exchange: nothing negotiated yet.
    seq = 0
    while True:
        if len(rest) < 4:
            return WAITING
        length = struct.unpack(">I", rest[:4])[0]
        if not 5 <= length <= 256 * 1024:
            return sent(f"packet_length {length} out of range (5..262144)")
        if (4 + length) % 8:
            return sent(f"packet_length {length} is not a multiple of the cipher block size 8")
        if len(rest) < 4 + length:
            return WAITING
        padding, payload = rest[4], rest[5:4 + length - rest[4]]
        if padding < 4:
            return sent(f"padding_length {padding} is below the minimum of 4")
        if padding > length - 1:
            return sent(f"padding_length {padding} exceeds packet_length {length} - 1")
        if not payload:
            return sent(f"packet {seq} has an empty payload")
        rest, seq = rest[4 + length:], seq + 1
        try:
            message = SSH.decode(payload, {})
        except KeyError:
            continue  # answered with UNIMPLEMENTED
        except DecodeError as error:
            return sent(f"malformed packet {seq - 1}: {error}")
        spec = message.spec
        if spec is MSG.DISCONNECT:
            return ("received", message["reason_code"], message["description"])
        if spec in (MSG.IGNORE, MSG.DEBUG, MSG.UNIMPLEMENTED):
            continue
        if spec is MSG.KEXINIT:
            theirs, ours = message["kex_algorithms"], endpoint.config.transport.kex
            if set(theirs) & {*KEX_METHODS.names(), STRICT_KEX_CLIENT, STRICT_KEX_SERVER}:
                return None
            theirs = [name for name in theirs if name not in (EXT_INFO_CLIENT, EXT_INFO_SERVER)]
            client, server = (",".join(theirs) or "(none)", ",".join(ours))
            if role == "client":
                client, server = server, client
            return sent(f"no common kex algorithm: client offers {client}, server offers {server}",
                        R.KEY_EXCHANGE_FAILED)
        if spec is MSG.NEWKEYS:
            return sent("NEWKEYS before the key exchange finished")
        if spec is MSG.EXT_INFO:
            return sent("EXT_INFO outside the places RFC 8308 allows")
        if spec.number in KEX_METHOD:
            return sent(f"{spec.rfc_name} outside a key exchange")
        return sent(f"{spec.rfc_name} before the first key exchange ended")


def how_it_ended(endpoint, events: list) -> tuple:
    ended = [(("received" if e.by_peer else "sent"), e.reason, e.description)
             for e in events if isinstance(e, Disconnected)]
    assert len(ended) <= 1 and endpoint.closed == bool(ended), ended
    return ended[0] if ended else WAITING


def feed(endpoint, data: bytes, split: int) -> list:
    """``data`` in two pieces, as a network may cut it; every event the endpoint reported."""
    return endpoint.start() + endpoint.receive_data(data[:split]) + endpoint.receive_data(data[split:])


@pytest.mark.parametrize("make", [
    lambda: ServerConnection(ServerConfig(TransportConfig(host_keys=[HOST_KEY]))),
    lambda: ClientConnection(ClientConfig()),
], ids=["server", "client"])
@settings(max_examples=300, deadline=None)
@given(data=peer_bytes(), split=st.integers(0, 400))
def test_random_bytes_never_crash(make, data, split):
    """Whatever a peer sends first ends the connection with the DISCONNECT (reason and words)
    that expected_end works out from the bytes, or leaves it waiting for more, the same however
    the bytes are cut; never with a bug."""
    endpoint = make()
    expected = expected_end(data, endpoint)
    assume(expected is not None)
    ended = how_it_ended(endpoint, feed(endpoint, data, split))
    assert endpoint.internal_error is None, endpoint.internal_error
    assert ended == expected


# -- over TCP: the server process and its other connections live on ---------------------------


def _cleartext_payloads(data: bytes) -> list[bytes]:
    """Payloads of the cleartext packets after the identification line."""
    _, _, rest = data.partition(b"\r\n")
    payloads = []
    while len(rest) >= 5:
        length, padding = struct.unpack(">IB", rest[:5])
        payloads.append(rest[5:4 + length - padding])
        rest = rest[4 + length:]
    return payloads


GARBAGE = [
    (b"GET / HTTP/1.1\r\n\r\n", R.PROTOCOL_ERROR),
    (b"SSH-1.5-old\r\n", R.PROTOCOL_VERSION_NOT_SUPPORTED),
    (b"SSH-2.0-x\r\n" + b"\xff" * 64, R.PROTOCOL_ERROR),
]
TCP_USER_KEY = PrivateKey.generate("ssh-ed25519", SeededRandom("bad input user"))
TCP_SERVER = ServerConfig(TransportConfig(host_keys=[HOST_KEY]),
                          ServerAuthConfig(users={"u": UserRecord(None, [TCP_USER_KEY.public])}))


@pytest.fixture(scope="module")
def tcp_server():
    """One sshviz server on loopback for all the garbage, with one configuration for all its
    connections, as ``sshviz serve`` has."""
    with sshviz_server(lambda: TCP_SERVER) as server:
        yield server


def disconnect_reason(port: int, garbage: bytes) -> int:
    """Send ``garbage`` to the server; the reason code of the DISCONNECT it answers with."""
    with socket.create_connection(("127.0.0.1", port), 5) as bad:
        bad.sendall(garbage)
        bad.settimeout(5)
        data = b""
        while chunk := bad.recv(4096):  # the server closes after its DISCONNECT
            data += chunk
    assert data.startswith(b"SSH-2.0-sshviz")
    last = _cleartext_payloads(data)[-1]
    assert last[0] == 1  # SSH_MSG_DISCONNECT
    return struct.unpack(">I", last[1:5])[0]


@pytest.mark.parametrize("garbage, reason", GARBAGE)
def test_garbage_over_tcp_gets_a_disconnect_and_other_connections_live_on(tcp_server, garbage, reason):
    healthy = socket.create_connection(("127.0.0.1", tcp_server.port), 5)
    healthy.settimeout(5)
    healthy.sendall(b"SSH-2.0-healthy\r\n")
    assert disconnect_reason(tcp_server.port, garbage) == reason
    # The other connection goes on: its KEXINIT arrives after the bad one ended.
    data = b""
    while not (payloads := _cleartext_payloads(data)) or payloads[0][0] != 20:
        data += healthy.recv(4096)
    healthy.close()
    assert tcp_server.internal_errors() == []


def test_after_all_the_garbage_over_tcp_the_next_connection_logs_in(tcp_server):
    for garbage, reason in GARBAGE:
        assert disconnect_reason(tcp_server.port, garbage) == reason
    client = ClientConnection(ClientConfig(TransportConfig(), ClientAuthConfig(user="u", keys=[TCP_USER_KEY])))
    with socket.create_connection(("127.0.0.1", tcp_server.port), 5) as sock:
        sock.settimeout(5)
        talk_until(sock, client, AuthSucceeded)
    assert tcp_server.internal_errors() == []
