"""The transport layer as a sans-I/O state machine: identification lines, packets, KEXINIT
negotiation, the key exchange (both roles), NEWKEYS, strict KEX, ext-info, ping and rekeying.

It never touches a socket: bytes come in through ``receive``, which yields the packets meant
for the layers above; bytes go out through ``outgoing``, a queue of version lines and packets
that an adapter (or the conductor, one at a time) takes from.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ..crypto.ciphers import CIPHERS
from ..crypto.compression import COMPRESSION
from ..crypto.kex import (EXT_INFO_CLIENT, EXT_INFO_SERVER, GEX_MAX, GEX_MIN, GEX_PREFERRED,
                          KEX_METHODS, STRICT_KEX_CLIENT, STRICT_KEX_SERVER, DHAgent, KexError,
                          choose_gex_group)
from ..crypto.keys import SIGNATURE_ALGORITHMS, PrivateKey, PublicKey
from ..crypto.macs import MACS
from ..crypto.random import RandomSource
from ..events import (AlgorithmsNegotiated, DebugReceived, Disconnected, ExtInfoReceived,
                      HostKeyChecked, KexComputed, KeysActivated, PacketReceived, PacketSent,
                      PongReceived, VersionReceived, VersionRecord, VersionSent)
from ..wire import types as t
from ..wire.catalog import SSH, DisconnectReason
from ..wire.spec import Message, unknown_spec
from ..wire.types import DecodeError
from .errors import ProtocolError
from .kex import (OPTIONAL_CATEGORIES, direction_keys, exchange_hash, exchange_hash_inputs,
                  guess_was_right, k_value, negotiate, real_kex_names, session_keys,
                  strict_kex_offered)
from .packet import PacketReader, PacketRecord, PacketWriter, switch_keys

E = DisconnectReason

SOFTWARE_VERSION = "sshviz_0.1"
MAX_LINE = 255  # RFC 4253 4.2, CR LF included
MAX_PRE_LINES = 1024
KEX_MESSAGES = frozenset(range(30, 50))
# Transport messages that may arrive whatever the state (RFC 4253 11).
GENERIC = frozenset({1, 2, 3, 4})


@dataclass
class TransportConfig:
    kex: list[str] = field(default_factory=KEX_METHODS.defaults)
    host_key_algorithms: list[str] = field(default_factory=SIGNATURE_ALGORITHMS.defaults)
    ciphers: list[str] = field(default_factory=CIPHERS.defaults)
    macs: list[str] = field(default_factory=MACS.defaults)
    compression: list[str] = field(default_factory=COMPRESSION.defaults)
    software_version: str = SOFTWARE_VERSION
    comment: str = ""
    pre_version_lines: list[str] = field(default_factory=list)  # server only (RFC 4253 4.2)
    strict_kex: bool = True
    ext_info: bool = True
    guess_kex: bool = False  # client: send the first kex packet before seeing the server's KEXINIT
    rekey_bytes: int = 1 << 30  # RFC 4253 9: after a gigabyte...
    rekey_packets: int = 1 << 31
    host_keys: list[PrivateKey] = field(default_factory=list)  # server
    # client: decides whether to trust the server's host key -> (status, detail)
    verify_host_key: Callable[[PublicKey], tuple[str, str]] | None = None
    host_label: str = ""  # client: the host name, for messages


class VersionLineReader:
    """The peer's identification line (RFC 4253 4.2), from bytes in any pieces. A server may
    send other lines before it (``accept_pre_lines``); a client may not. Used by the transport
    and by the passive decoder of captures."""

    def __init__(self, accept_pre_lines: bool):
        self.accept_pre_lines = accept_pre_lines
        self._buffer = bytearray()
        self._pre_lines: list[bytes] = []

    def feed(self, data: bytes) -> tuple[bytes, list[bytes], str, bytes] | None:
        """(line with its end, lines before it, version text, bytes after it), or None until
        the line is complete. Raises ProtocolError."""
        buf = self._buffer
        buf += data
        while True:
            end = buf.find(b"\n")
            if end < 0:
                if len(buf) > MAX_LINE:
                    raise ProtocolError(E.PROTOCOL_ERROR,
                                        f"identification line longer than {MAX_LINE} bytes")
                return None
            line = bytes(buf[: end + 1])
            del buf[: end + 1]
            if len(line) > MAX_LINE:
                raise ProtocolError(E.PROTOCOL_ERROR, f"identification line longer than {MAX_LINE} bytes")
            if line.startswith(b"SSH-"):
                break
            if not self.accept_pre_lines:
                raise ProtocolError(E.PROTOCOL_ERROR,
                                    f"client sent {line[:40]!r} instead of an SSH identification line")
            if len(self._pre_lines) >= MAX_PRE_LINES:
                raise ProtocolError(E.PROTOCOL_ERROR, "too many lines before the server's version")
            self._pre_lines.append(line)
        text = line.rstrip(b"\r\n")
        if b"\x00" in text:
            raise ProtocolError(E.PROTOCOL_ERROR, "identification line contains a NUL byte")
        try:
            version = text.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(E.PROTOCOL_ERROR, "identification line is not US-ASCII") from None
        parts = version.split(" ", 1)[0].split("-", 2)
        if len(parts) < 3 or not parts[2]:
            raise ProtocolError(E.PROTOCOL_ERROR, f"malformed identification line {version!r}")
        if parts[1] not in ("2.0", "1.99"):
            raise ProtocolError(E.PROTOCOL_VERSION_NOT_SUPPORTED,
                                f"peer speaks SSH protocol {parts[1]}, not 2.0")
        rest = bytes(buf)
        buf.clear()
        return line, self._pre_lines, version, rest


class KexRound:
    """The state of one key exchange, from KEXINIT to both NEWKEYS."""

    def __init__(self, local_kexinit: Message, local_payload: bytes, first: bool):
        self.local = local_kexinit
        self.local_payload = local_payload
        self.peer: Message | None = None
        self.peer_payload = b""
        self.first = first
        self.negotiated: AlgorithmsNegotiated | None = None
        self.method = None
        self.agent = None
        self.host_key_algorithm = ""
        self.ignore_next = False  # the peer guessed wrong: drop its first kex packet
        self.guess_sent = False
        self.gex_request: tuple[int, int, int] | None = None
        self.gex_group: tuple[int, int] | None = None
        self.client_value = None
        self.result: KexComputed | None = None
        self.new_out = None
        self.new_in = None
        self.sent_newkeys = False
        self.received_newkeys = False


class Transport:
    def __init__(self, role: str, config: TransportConfig, rng: RandomSource,
                 clock: Callable[[], float], events: list, context: dict):
        self.is_client = role == "client"
        self.config = config
        self.rng = rng
        self.kex_rng = rng.fork("kex")
        self.clock = clock
        self.events = events
        self.context = context  # shared with the upper layers: picks context-dependent messages
        self.out_dir, self.in_dir = ("c2s", "s2c") if self.is_client else ("s2c", "c2s")
        self.writer = PacketWriter(self.out_dir, rng.fork("padding"))
        self.reader = PacketReader(self.in_dir)
        self.outgoing: deque = deque()
        # Bytes sent but not yet taken by the network: encoded in ``outgoing`` and held during
        # a key exchange. Programs hold back output while it is high.
        self.unsent_bytes = 0
        self.local_version = f"SSH-2.0-{config.software_version}" + (
            f" {config.comment}" if config.comment else "")
        self.peer_version: str | None = None
        self._version_reader = VersionLineReader(accept_pre_lines=self.is_client)
        self.session_id: bytes | None = None
        self.strict = False
        self.peer_ext_info = False
        self.peer_extensions: dict = {}
        self.first_kex_done = False
        self.kex: KexRound | None = None
        self.kex_count = 0
        self._held: deque[tuple[Message, bytes]] = deque()  # held during a key exchange, encoded
        self._ext_info_window = False  # the next received packet may be EXT_INFO
        self.auth_done = False
        self.closed = False
        self.disconnect_reason: ProtocolError | None = None
        self.last_negotiation: AlgorithmsNegotiated | None = None
        # The server's, from the key exchange that made the session id: what host-bound
        # publickey authentication binds to (a rekey may negotiate another host key).
        self.host_key: PublicKey | None = None

    # -- starting and sending -----------------------------------------------------------------

    def start(self) -> None:
        pre = [(line + "\r\n").encode() for line in self.config.pre_version_lines] if not self.is_client else []
        record = VersionRecord(self.out_dir, (self.local_version + "\r\n").encode(), pre, self.clock())
        self.outgoing.append(record)
        self.unsent_bytes += len(record.wire)
        self.events.append(VersionSent(record))

    def send(self, message: Message) -> None:
        """Send an upper-layer message, holding it while a key exchange is under way."""
        if self.closed:
            return
        if self.kex is not None and not self.kex.sent_newkeys:
            payload = message.encode()
            self._held.append((message, payload))
            self.unsent_bytes += len(payload)
        else:
            self._send_packet(message)

    def send_raw(self, message: Message) -> PacketRecord:
        """Send ``message`` now with the current keys, bypassing every state rule (for
        what-if lessons and tests of how a peer handles wrong messages)."""
        return self._send_packet(message)

    def _send_packet(self, message: Message, payload: bytes | None = None) -> PacketRecord:
        record = self.writer.encode(message.encode() if payload is None else payload)
        record.message = message
        record.time = self.clock()
        self.outgoing.append(record)
        self.unsent_bytes += len(record.wire)
        self.events.append(PacketSent(record))
        self._maybe_rekey()
        return record

    def _send(self, name: str, /, **values) -> PacketRecord:
        return self._send_packet(SSH.build(name, **values))

    def disconnect(self, reason: int, description: str, error: ProtocolError | None = None) -> None:
        """Send DISCONNECT and stop; everything later is ignored."""
        if self.closed:
            return
        self._send("DISCONNECT", reason_code=int(reason), description=description, language_tag="")
        self.closed = True
        self.disconnect_reason = error or ProtocolError(reason, description)
        self.events.append(Disconnected(int(reason), description, by_peer=False))

    def ping(self, data: bytes) -> None:
        if "ping@openssh.com" not in self.peer_extensions:
            raise ValueError("the peer did not announce ping@openssh.com")
        self.send(SSH.build("PING", data=data))

    def request_rekey(self) -> bool:
        """Start a key exchange now; False if one is already running or none was ever done."""
        if self.kex is not None or not self.first_kex_done or self.closed:
            return False
        self._send_kexinit()
        return True

    def _maybe_rekey(self) -> None:
        if self.kex is not None or not self.first_kex_done or self.closed:
            return
        cfg = self.config
        w, r = self.writer, self.reader
        if (w.bytes_since_kex + r.bytes_since_kex >= cfg.rekey_bytes
                or w.packets_since_kex >= cfg.rekey_packets or r.packets_since_kex >= cfg.rekey_packets):
            self._send_kexinit()

    # -- receiving ----------------------------------------------------------------------------

    def receive(self, data: bytes) -> Iterator[PacketRecord]:
        """Take bytes from the peer; yield each packet for the layers above (messages 5, 6
        and 50 up). Transport messages are handled here. Raises ProtocolError."""
        if self.closed:
            return
        if self.peer_version is None:
            data = self._receive_version(data)
            if data is None:
                return
        self.reader.feed(data)
        while not self.closed:
            seq_before = self.reader.seq
            record = self.reader.next_packet()
            if record is None:
                return
            if self.strict and not self.first_kex_done and seq_before == 0xFFFFFFFF:
                raise ProtocolError(E.PROTOCOL_ERROR, "sequence number wrapped during strict KEX")
            record.time = self.clock()
            message = self._decode(record)
            self.events.append(PacketReceived(record))
            if message is not None and self._handle(message, record):
                yield record
            if not self.closed:
                self._maybe_rekey()

    def _decode(self, record: PacketRecord) -> Message | None:
        payload = record.payload
        if not payload:
            raise ProtocolError(E.PROTOCOL_ERROR, f"packet {record.seq} has an empty payload")
        kex = self.kex
        if kex is not None and kex.ignore_next and payload[0] in KEX_MESSAGES:
            # The peer's wrong guess (RFC 4253 7), to be dropped unread: it follows the layout
            # of the method it guessed, which may not even decode as the negotiated one's.
            guessed = real_kex_names(kex.peer.kex_algorithms)[:1]
            family = KEX_METHODS[guessed[0]].family if guessed and guessed[0] in KEX_METHODS else "?"
            try:
                record.message = SSH.decode(payload, dict(self.context, kex=family))
            except (KeyError, DecodeError):
                record.message = Message(unknown_spec(payload[0]), {"data": payload[1:]})
            return record.message
        try:
            message = SSH.decode(payload, self.context)
        except KeyError:
            message = Message(unknown_spec(payload[0]), {"data": payload[1:]})
            record.message = message
            if self.strict and not self.first_kex_done:
                raise ProtocolError(E.PROTOCOL_ERROR,
                                    f"unknown message {payload[0]} during strict key exchange")
            record.notes.append("unknown message number: answered with UNIMPLEMENTED")
            self._send("UNIMPLEMENTED", sequence_number=record.seq)
            return None
        except DecodeError as exc:
            raise ProtocolError(E.PROTOCOL_ERROR, f"malformed packet {record.seq}: {exc}") from None
        record.message = message
        return message

    def _receive_version(self, data: bytes) -> bytes | None:
        found = self._version_reader.feed(data)
        if found is None:
            return None
        line, pre_lines, version, rest = found
        self.peer_version = version
        record = VersionRecord(self.in_dir, line, pre_lines, self.clock())
        self.events.append(VersionReceived(record))
        self._send_kexinit()
        return rest

    # -- dispatch -----------------------------------------------------------------------------

    def _handle(self, msg: Message, record: PacketRecord) -> bool:
        """Handle a transport message; True when it belongs to the layers above."""
        number = msg.number
        ext_info_window, self._ext_info_window = self._ext_info_window, False
        in_initial_kex = not self.first_kex_done
        if in_initial_kex and self.strict and number not in KEX_MESSAGES and number not in (1, 20, 21):
            raise ProtocolError(E.PROTOCOL_ERROR,
                                f"{msg.spec.rfc_name} is not allowed during a strict initial key exchange")
        if number == 1:
            self.closed = True
            self.events.append(Disconnected(msg.reason_code, msg.description, by_peer=True))
            return False
        if number == 2:
            return False
        if number == 3:
            record.notes.append(f"peer did not understand our packet {msg.sequence_number}")
            return False
        if number == 4:
            self.events.append(DebugReceived(msg.message, msg.always_display))
            return False
        if number == 20:
            self._on_kexinit(msg, record)
            return False
        if number == 21:
            self._on_newkeys()
            return False
        if number in KEX_MESSAGES:
            self._on_kex_message(msg)
            return False
        if number == 7:
            self._on_ext_info(msg, ext_info_window)
            return False
        if in_initial_kex:
            raise ProtocolError(E.PROTOCOL_ERROR, f"{msg.spec.rfc_name} before the first key exchange ended")
        kex = self.kex
        if kex is not None and kex.peer is not None and not kex.received_newkeys:
            # RFC 4253 7.1; what the peer sent before its KEXINIT arrived first, so that is fine.
            raise ProtocolError(E.PROTOCOL_ERROR, f"{msg.spec.rfc_name} from the peer between its "
                                                  "KEXINIT and its NEWKEYS")
        if number == 192:
            # Not before authentication, nor while a reply would have to wait for a key
            # exchange: a peer could make us queue replies without bound (as OpenSSH decides
            # since CVE-2025-26466).
            if self.auth_done and self.kex is None:
                self.send(SSH.build("PONG", data=msg.data))
            else:
                record.notes.append("not answered before authentication or during a key exchange")
            return False
        if number == 193:
            self.events.append(PongReceived(msg.data))
            return False
        return True

    def _on_ext_info(self, msg: Message, window: bool) -> None:
        # Only a side that announced ext-info-c / ext-info-s in its first KEXINIT may receive it.
        allowed = (self.config.ext_info and self.first_kex_done
                   and (window or (self.is_client and not self.auth_done)))
        if not allowed:
            raise ProtocolError(E.PROTOCOL_ERROR, "EXT_INFO outside the places RFC 8308 allows")
        extensions = {item["extension_name"]: item["extension_value"] for item in msg.extensions}
        self.peer_extensions.update(extensions)
        self.events.append(ExtInfoReceived(extensions))

    # -- key exchange -------------------------------------------------------------------------

    def _kexinit_lists(self, first: bool) -> dict:
        cfg = self.config
        kex = list(cfg.kex)
        if first:
            if cfg.ext_info:
                kex.append(EXT_INFO_CLIENT if self.is_client else EXT_INFO_SERVER)
            if cfg.strict_kex:
                kex.append(STRICT_KEX_CLIENT if self.is_client else STRICT_KEX_SERVER)
        if self.is_client:
            host_key_algorithms = list(cfg.host_key_algorithms)
        else:
            have = {key.key_type for key in cfg.host_keys}
            host_key_algorithms = [a for a in cfg.host_key_algorithms
                                   if SIGNATURE_ALGORITHMS[a].key_type in have]
        return {
            "kex_algorithms": kex,
            "server_host_key_algorithms": host_key_algorithms,
            "encryption_algorithms_client_to_server": list(cfg.ciphers),
            "encryption_algorithms_server_to_client": list(cfg.ciphers),
            "mac_algorithms_client_to_server": list(cfg.macs),
            "mac_algorithms_server_to_client": list(cfg.macs),
            "compression_algorithms_client_to_server": list(cfg.compression),
            "compression_algorithms_server_to_client": list(cfg.compression),
            "languages_client_to_server": [],
            "languages_server_to_client": [],
        }

    def _send_kexinit(self) -> None:
        first = not self.first_kex_done and self.kex_count == 0
        guess = self.is_client and first and self.config.guess_kex
        message = SSH.build("KEXINIT", cookie=self.kex_rng.bytes(16), **self._kexinit_lists(first),
                            first_kex_packet_follows=guess, reserved=0)
        payload = message.encode()
        # The round exists before the packet goes out, so the send cannot trigger another rekey.
        self.kex = KexRound(message, payload, first)
        self.kex_count += 1
        self._send_packet(message, payload)
        if guess:
            # Guess that the server prefers what we prefer, and start that exchange now.
            self._start_client_kex(KEX_METHODS[self.config.kex[0]])
            self.kex.guess_sent = True

    def _on_kexinit(self, msg: Message, record: PacketRecord) -> None:
        if self.kex is None:
            self._send_kexinit()
        kex = self.kex
        if kex.peer is not None:
            raise ProtocolError(E.PROTOCOL_ERROR, "a second KEXINIT during one key exchange")
        kex.peer, kex.peer_payload = msg, record.payload
        client, server = (kex.local, kex.peer) if self.is_client else (kex.peer, kex.local)
        if kex.first:
            self.strict = self.config.strict_kex and strict_kex_offered(client.values, server.values)
            if self.strict and record.seq != 0:
                raise ProtocolError(E.PROTOCOL_ERROR,
                                    "strict KEX: KEXINIT must be the first packet (sequence number 0)")
            marker = EXT_INFO_SERVER if self.is_client else EXT_INFO_CLIENT
            self.peer_ext_info = marker in msg.kex_algorithms
        algorithms = negotiate(client.values, server.values)
        for category, choice in algorithms.items():
            if choice.chosen is None and category not in OPTIONAL_CATEGORIES:
                if category.startswith("mac"):
                    cipher = algorithms["cipher_" + category[-3:]].chosen
                    if cipher and CIPHERS[cipher].aead:
                        continue  # an AEAD cipher brings its own integrity
                raise ProtocolError(
                    E.KEY_EXCHANGE_FAILED,
                    f"no common {category.replace('_', ' ')} algorithm: client offers "
                    f"{','.join(choice.client) or '(none)'}, server offers "
                    f"{','.join(choice.server) or '(none)'}")
        peer_guessed = bool(msg.first_kex_packet_follows)
        guess_right = guess_was_right(client.values, server.values)
        kex.ignore_next = peer_guessed and not guess_right
        kex.negotiated = AlgorithmsNegotiated(algorithms, self.strict, self.peer_ext_info,
                                              guess_ignored=kex.ignore_next)
        self.last_negotiation = kex.negotiated
        self.events.append(kex.negotiated)
        kex.method = KEX_METHODS[algorithms["kex"].chosen]
        kex.host_key_algorithm = algorithms["host_key"].chosen
        self.context["kex"] = kex.method.family
        if self.is_client:
            if kex.guess_sent and guess_right:
                return
            if kex.guess_sent:
                # Our guess was wrong: the server drops it; start the negotiated exchange.
                kex.agent = kex.client_value = kex.gex_request = None
            self._start_client_kex(kex.method)

    def _start_client_kex(self, method) -> None:
        kex = self.kex
        family = method.family
        if family == "gex":
            kex.gex_request = (GEX_MIN, GEX_PREFERRED, GEX_MAX)
            self._send_kex(family, "KEX_DH_GEX_REQUEST", min=GEX_MIN, n=GEX_PREFERRED, max=GEX_MAX)
            return
        kex.agent = method.make_agent(self.kex_rng)
        kex.client_value = kex.agent.client_init()
        if family == "dh":
            self._send_kex(family, "KEXDH_INIT", e=kex.client_value)
        elif family == "ecdh":
            self._send_kex(family, "KEX_ECDH_INIT", Q_C=kex.client_value)
        else:
            self._send_kex(family, "KEX_HYBRID_INIT", C_INIT=kex.client_value)

    def _send_kex(self, family: str, name: str, /, **values) -> None:
        # A guessed packet goes out before the family is negotiated; label it by its own family.
        saved = self.context.get("kex")
        self.context["kex"] = family
        self._send(name, **values)
        if saved is not None:
            self.context["kex"] = saved

    def _on_kex_message(self, msg: Message) -> None:
        kex = self.kex
        if kex is None or kex.negotiated is None:
            raise ProtocolError(E.PROTOCOL_ERROR, f"{msg.spec.rfc_name} outside a key exchange")
        if kex.ignore_next:
            kex.ignore_next = False  # RFC 4253 7: the peer's wrong guess is silently dropped
            return
        if kex.result is not None:
            raise ProtocolError(E.PROTOCOL_ERROR, f"{msg.spec.rfc_name} after the key exchange finished")
        name = msg.name
        try:
            if self.is_client:
                self._client_kex_step(kex, msg, name)
            else:
                self._server_kex_step(kex, msg, name)
        except KexError as exc:
            raise ProtocolError(E.KEY_EXCHANGE_FAILED, str(exc)) from None

    def _client_kex_step(self, kex: KexRound, msg: Message, name: str) -> None:
        family = kex.method.family
        if name == "KEX_DH_GEX_GROUP" and kex.gex_request and kex.agent is None:
            p, g = msg.p, msg.g
            lo, _, hi = kex.gex_request
            if not lo <= p.bit_length() <= hi or p % 2 == 0 or not 1 < g < p - 1:
                raise KexError(f"server's group ({p.bit_length()} bits, g={g}) is outside the "
                               f"requested {lo}..{hi} bits or invalid")
            kex.gex_group = (p, g)
            kex.agent = DHAgent(p, g, kex.method.exponent_bits, self.kex_rng)
            kex.client_value = kex.agent.client_init()
            self._send("KEX_DH_GEX_INIT", e=kex.client_value)
            return
        expected = {"dh": "KEXDH_REPLY", "ecdh": "KEX_ECDH_REPLY", "gex": "KEX_DH_GEX_REPLY",
                    "hybrid": "KEX_HYBRID_REPLY"}[family]
        if name != expected or kex.agent is None:
            raise ProtocolError(E.PROTOCOL_ERROR, f"unexpected {msg.spec.rfc_name} during {kex.method.name}")
        server_value = {"dh": "f", "gex": "f", "ecdh": "Q_S", "hybrid": "S_REPLY"}[family]
        server_value = msg.values[server_value]
        try:
            host_key = PublicKey.from_blob(msg.host_key)
        except DecodeError as exc:
            raise ProtocolError(E.KEY_EXCHANGE_FAILED, f"server host key: {exc}") from None
        if host_key.key_type != SIGNATURE_ALGORITHMS[kex.host_key_algorithm].key_type:
            raise ProtocolError(E.KEY_EXCHANGE_FAILED,
                                f"server sent a {host_key.key_type} host key, but "
                                f"{kex.host_key_algorithm} was negotiated")
        K = kex.agent.client_finish(server_value)
        H, inputs = self._exchange_hash(kex, msg.host_key, kex.client_value, server_value, K)
        if not host_key.verify(kex.host_key_algorithm, msg.signature, H):
            raise ProtocolError(E.KEY_EXCHANGE_FAILED,
                                f"the server's {kex.host_key_algorithm} signature over H does not verify")
        status, detail = ("accepted", "no host key check configured")
        if self.config.verify_host_key is not None:
            status, detail = self.config.verify_host_key(host_key)
        self.events.append(HostKeyChecked(self.config.host_label, host_key.key_type,
                                          host_key.fingerprint(), status, detail,
                                          host_key.openssh()))
        if status not in ("known", "learned", "accepted"):
            raise ProtocolError(E.HOST_KEY_NOT_VERIFIABLE,
                                f"host key for {self.config.host_label or 'the server'} "
                                f"({host_key.key_type} {host_key.fingerprint()}) {detail}")
        self._finish_kex(kex, K, H, inputs, host_key)

    def _server_kex_step(self, kex: KexRound, msg: Message, name: str) -> None:
        family = kex.method.family
        if family == "gex" and name in ("KEX_DH_GEX_REQUEST", "KEX_DH_GEX_REQUEST_OLD") and not kex.gex_group:
            # The old request names only n (and only n enters H); our bounds apply to it.
            old = name == "KEX_DH_GEX_REQUEST_OLD"
            lo, n, hi = (GEX_MIN, msg.n, GEX_MAX) if old else (msg.min, msg.n, msg.max)
            if not lo <= n <= hi:
                raise KexError(f"invalid group request: min {lo}, preferred {n}, max {hi}")
            group = choose_gex_group(lo, n, hi)
            if group is None:
                raise KexError(f"no group between {lo} and {hi} bits")
            kex.gex_request, kex.gex_group = ((None, n, None) if old else (lo, n, hi)), group
            self._send("KEX_DH_GEX_GROUP", p=group[0], g=group[1])
            return
        expected = {"dh": "KEXDH_INIT", "ecdh": "KEX_ECDH_INIT", "gex": "KEX_DH_GEX_INIT",
                    "hybrid": "KEX_HYBRID_INIT"}[family]
        if name != expected or (family == "gex" and not kex.gex_group):
            raise ProtocolError(E.PROTOCOL_ERROR, f"unexpected {msg.spec.rfc_name} during {kex.method.name}")
        client_value = msg.values[{"dh": "e", "gex": "e", "ecdh": "Q_C", "hybrid": "C_INIT"}[family]]
        if family == "gex":
            kex.agent = DHAgent(*kex.gex_group, kex.method.exponent_bits, self.kex_rng)
        else:
            kex.agent = kex.method.make_agent(self.kex_rng)
        kex.client_value = client_value
        server_value, K = kex.agent.server_respond(client_value)
        host_key = self._host_key_for(kex.host_key_algorithm)
        H, inputs = self._exchange_hash(kex, host_key.public.blob, client_value, server_value, K)
        signature = host_key.sign(kex.host_key_algorithm, H)
        reply = {"dh": ("KEXDH_REPLY", "f"), "ecdh": ("KEX_ECDH_REPLY", "Q_S"),
                 "gex": ("KEX_DH_GEX_REPLY", "f"), "hybrid": ("KEX_HYBRID_REPLY", "S_REPLY")}[family]
        self._send(reply[0], host_key=host_key.public.blob, **{reply[1]: server_value},
                   signature=signature)
        self._finish_kex(kex, K, H, inputs, host_key.public)

    def _host_key_for(self, algorithm: str) -> PrivateKey:
        key_type = SIGNATURE_ALGORITHMS[algorithm].key_type
        for key in self.config.host_keys:
            if key.key_type == key_type:
                return key
        raise ProtocolError(E.KEY_EXCHANGE_FAILED, f"no host key for {algorithm}")

    def _exchange_hash(self, kex: KexRound, K_S: bytes, client_value, server_value, K: bytes):
        if self.is_client:
            V_C, V_S, I_C, I_S = self.local_version, self.peer_version, kex.local_payload, kex.peer_payload
        else:
            V_C, V_S, I_C, I_S = self.peer_version, self.local_version, kex.peer_payload, kex.local_payload
        inputs = exchange_hash_inputs(kex.method, V_C.encode(), V_S.encode(), I_C, I_S, K_S,
                                      client_value, server_value, K, kex.gex_request, kex.gex_group)
        return exchange_hash(kex.method.hash, inputs), inputs

    def _finish_kex(self, kex: KexRound, K: bytes, H: bytes, inputs, host_key: PublicKey) -> None:
        if self.session_id is None:
            self.session_id = H
            self.host_key = host_key
        algorithms = kex.negotiated.algorithms
        keys = session_keys(kex.method, algorithms, K, H, self.session_id)
        kex.result = KexComputed(kex.method.name, kex.method.hash, K, k_value(kex.method.k_encoding, K),
                                 H, inputs, self.session_id, kex.first, host_key.key_type,
                                 host_key.fingerprint(), list(keys.values()),
                                 dict(getattr(kex.agent, "details", {})))
        self.events.append(kex.result)
        c2s = direction_keys(algorithms, keys, "c2s", self.is_client, self.auth_done)
        s2c = direction_keys(algorithms, keys, "s2c", not self.is_client, self.auth_done)
        kex.new_out, kex.new_in = (c2s, s2c) if self.is_client else (s2c, c2s)
        self._send_newkeys(kex)

    def _switch_keys(self, end, keys, direction: str) -> None:
        self.events.append(switch_keys(end, keys, direction, self.strict))

    def _send_newkeys(self, kex: KexRound) -> None:
        self._send("NEWKEYS")
        kex.sent_newkeys = True
        self._switch_keys(self.writer, kex.new_out, self.out_dir)
        if kex.first and not self.is_client and self.peer_ext_info and self.config.ext_info:
            self._send_ext_info()
        while self._held and not self.closed:
            message, payload = self._held.popleft()
            if message is None:  # USERAUTH_SUCCESS, just sent, waited here
                self.auth_completed()
                continue
            self.unsent_bytes -= len(payload)
            self._send_packet(message, payload)
        self._maybe_finish_round()

    def _send_ext_info(self) -> None:
        sig_algs = [a for a in SIGNATURE_ALGORITHMS.names() if SIGNATURE_ALGORITHMS[a].hash != "sha1"]
        self._send("EXT_INFO", extensions=[
            {"extension_name": "server-sig-algs", "extension_value": sig_algs},
            {"extension_name": "publickey-hostbound@openssh.com", "extension_value": b"0"},
            {"extension_name": "ping@openssh.com", "extension_value": b"0"},
        ])

    def _on_newkeys(self) -> None:
        kex = self.kex
        if kex is None or kex.result is None or kex.received_newkeys:
            raise ProtocolError(E.PROTOCOL_ERROR, "NEWKEYS before the key exchange finished")
        kex.received_newkeys = True
        self._switch_keys(self.reader, kex.new_in, self.in_dir)
        if kex.first:
            self._ext_info_window = True
        self._maybe_finish_round()

    def _maybe_finish_round(self) -> None:
        kex = self.kex
        if kex and kex.sent_newkeys and kex.received_newkeys:
            self.kex = None
            self.first_kex_done = True

    # -- after authentication -----------------------------------------------------------------

    def auth_completed(self) -> None:
        """USERAUTH_SUCCESS was sent (server) or received (client): delayed compression
        (zlib@openssh.com) starts with the packets after it, in both directions. A server's
        SUCCESS held during a key exchange has not gone out yet: then it starts when it does."""
        if not self.is_client and self.kex is not None and not self.kex.sent_newkeys:
            self._held.append((None, b""))  # marks the place, after USERAUTH_SUCCESS
            return
        self.auth_done = True
        if self.last_negotiation is None:
            return
        self.writer.keys.start_delayed_compression(outgoing=True)
        # A SUCCESS sent between our NEWKEYS and the client's: the client's packets up to
        # its NEWKEYS left before it could read SUCCESS, so its compression starts with its
        # next keys.
        kex = self.kex
        half_done = kex is not None and kex.new_in is not None and not kex.received_newkeys
        (kex.new_in if half_done else self.reader.keys).start_delayed_compression(outgoing=False)
