"""The transport layer as a sans-I/O state machine: identification lines, packets, KEXINIT
negotiation, the key exchange (both roles), NEWKEYS, strict KEX, ext-info, ping and rekeying.

It never touches a socket: bytes come in through ``receive``, which yields the packets meant
for the layers above; bytes go out through ``outgoing``, a queue of version lines and packets
that an adapter (or the conductor, one at a time) takes from. What each key exchange method
sends and hashes lives in ``kex.py``; this class protects packets, dispatches messages, and
runs one ``KexRound`` at a time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ..crypto.ciphers import CIPHERS
from ..crypto.compression import COMPRESSION
from ..crypto.kex import KexError
from ..crypto.keys import SIGNATURE_ALGORITHMS, PrivateKey, PublicKey
from ..crypto.macs import MACS
from ..crypto.random import RandomSource
from ..events import (DebugReceived, Disconnected, ExtInfoReceived, HostKeyChecked, PacketReceived,
                      PacketSent, PongReceived, VersionReceived, VersionRecord, VersionSent)
from ..sides import Side
from ..wire.catalog import KEX_METHOD, MSG, SPANS_ON_DEMAND, SSH, DisconnectReason
from ..wire.spec import Message, unknown_spec
from ..wire.types import DecodeError
from .errors import ProtocolError
from .kex import KEX_METHODS, KexExchange, KexRound
from .negotiation import (EXT_INFO_CLIENT, EXT_INFO_SERVER, STRICT_KEX_CLIENT, STRICT_KEX_SERVER,
                          negotiation_failure, real_kex_names, strict_kex_offered)
from .packet import PacketReader, PacketRecord, PacketWriter, switch_keys
from .work import SlowWork

# A transfer's messages are read without spans (a view works them out when it shows one).
_BULK_NUMBERS = frozenset(spec.number for spec in SPANS_ON_DEMAND)

E = DisconnectReason

SOFTWARE_VERSION = "sshviz_0.1"
MAX_LINE = 255  # RFC 4253 4.2, CR LF included
MAX_PRE_LINES = 1024
# What a strict initial key exchange lets through besides the method's own messages.
STRICT_KEX_ALLOWED = frozenset({MSG.DISCONNECT, MSG.KEXINIT, MSG.NEWKEYS})


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
    # server: packets it may send before the client authenticates (a normal login needs a few
    # dozen); a client that makes it answer more (unknown messages, say) is cut off.
    max_packets_before_auth: int = 256
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


class Transport:
    """One side's transport layer (RFC 4253): the packet reader and writer, the dispatch of
    transport messages, and the key exchange under way, if any (a ``KexRound``). Upper-layer
    messages go out through ``send`` and come back from ``receive``."""

    def __init__(self, role: str, config: TransportConfig, rng: RandomSource,
                 clock: Callable[[], float], events: list, context: dict, work: SlowWork):
        self.side = Side(role)
        self.is_client = self.side is Side.CLIENT
        self.config = config
        self.rng = rng
        self.kex_rng = rng.fork("kex")
        self.clock = clock
        self.events = events
        self.context = context  # shared with the upper layers: picks context-dependent messages
        self.work = work  # where slow arithmetic runs; no packet is read while a job is pending
        self.out_dir, self.in_dir = self.side.sending, self.side.receiving
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
        self._ext_info_may_follow = False  # set at the first NEWKEYS received (RFC 8308 2.4)
        self._ext_info_window = False  # the packet being handled came right after it
        self.auth_done = False
        self.packets_before_auth = 0
        self.closed = False
        self.disconnect_reason: ProtocolError | None = None
        self.last_negotiation = None  # the AlgorithmsNegotiated of the latest key exchange
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
        if self.kex is not None and self.out_dir not in self.kex.newkeys:
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
        if not self.is_client and not self.auth_done and message.spec is not MSG.DISCONNECT:
            self.packets_before_auth += 1
            if self.packets_before_auth > self.config.max_packets_before_auth:
                raise ProtocolError(E.PROTOCOL_ERROR, f"more than {self.config.max_packets_before_auth} "
                                                      "messages to answer before authentication")
        record = self.writer.encode(message.encode() if payload is None else payload)
        record.message = message
        record.time = self.clock()
        self.outgoing.append(record)
        self.unsent_bytes += len(record.wire)
        self.events.append(PacketSent(record))
        self._maybe_rekey()
        return record

    def disconnect(self, reason: int, description: str, error: ProtocolError | None = None) -> None:
        """Send DISCONNECT and stop; everything later is ignored."""
        if self.closed:
            return
        self._send_packet(MSG.DISCONNECT.build(reason_code=int(reason), description=description,
                                               language_tag=""))
        self.closed = True
        self.disconnect_reason = error or ProtocolError(reason, description)
        self.events.append(Disconnected(int(reason), description, by_peer=False))

    def ping(self, data: bytes) -> None:
        if "ping@openssh.com" not in self.peer_extensions:
            raise ValueError("the peer did not announce ping@openssh.com")
        self.send(MSG.PING.build(data=data))

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
        try:
            while not self.closed and self.work.pending is None:
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
        finally:
            self.reader.keep_unread()  # ``data`` may be a view of a buffer read into again

    def _decode(self, record: PacketRecord) -> Message | None:
        payload = record.payload
        if not payload:
            raise ProtocolError(E.PROTOCOL_ERROR, f"packet {record.seq} has an empty payload")
        kex = self.kex
        if kex is not None and self.side.opposite in kex.wrong_guesses and payload[0] in KEX_METHOD:
            # The peer's wrong guess (RFC 4253 7), to be dropped unread: it follows the layout
            # of the method it guessed, which may not even decode as the negotiated one's.
            guessed = real_kex_names(kex.kexinits[self.side.opposite][0]["kex_algorithms"])[:1]
            method = KEX_METHODS.get(guessed[0]) if guessed else None
            try:
                record.message = SSH.decode(payload, dict(self.context, kex=method.family.name
                                                          if method else "?"))
            except (KeyError, DecodeError):
                record.message = Message(unknown_spec(payload[0]), {"data": payload[1:]})
            return record.message
        try:
            message = SSH.decode(payload, self.context, spans=payload[0] not in _BULK_NUMBERS)
        except KeyError:
            message = Message(unknown_spec(payload[0]), {"data": payload[1:]})
            record.message = message
            if self.strict and not self.first_kex_done:
                raise ProtocolError(E.PROTOCOL_ERROR,
                                    f"unknown message {payload[0]} during strict key exchange")
            record.notes.append("unknown message number: answered with UNIMPLEMENTED")
            self._send_packet(MSG.UNIMPLEMENTED.build(sequence_number=record.seq))
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
        self._ext_info_window, self._ext_info_may_follow = self._ext_info_may_follow, False
        spec = msg.spec
        in_initial_kex = not self.first_kex_done
        method_message = msg.spec.number in KEX_METHOD
        if in_initial_kex and self.strict and spec not in STRICT_KEX_ALLOWED and not method_message:
            raise ProtocolError(E.PROTOCOL_ERROR,
                                f"{spec.rfc_name} is not allowed during a strict initial key exchange")
        handler = Transport._on_kex_message if method_message else self._ANYTIME.get(spec)
        if handler is not None:
            handler(self, msg, record)
            return False
        if in_initial_kex:
            raise ProtocolError(E.PROTOCOL_ERROR, f"{spec.rfc_name} before the first key exchange ended")
        kex = self.kex
        if kex is not None and self.side.opposite in kex.kexinits and self.in_dir not in kex.newkeys:
            # RFC 4253 7.1; what the peer sent before its KEXINIT arrived first, so that is fine.
            raise ProtocolError(E.PROTOCOL_ERROR, f"{spec.rfc_name} from the peer between its "
                                                  "KEXINIT and its NEWKEYS")
        handler = self._BETWEEN_KEX.get(spec)
        if handler is not None:
            handler(self, msg, record)
            return False
        return True

    def _on_disconnect(self, msg: Message, record: PacketRecord) -> None:
        self.closed = True
        self.events.append(Disconnected(msg["reason_code"], msg["description"], by_peer=True))

    def _on_ignore(self, msg: Message, record: PacketRecord) -> None:
        pass

    def _on_unimplemented(self, msg: Message, record: PacketRecord) -> None:
        record.notes.append(f"peer did not understand our packet {msg['sequence_number']}")

    def _on_debug(self, msg: Message, record: PacketRecord) -> None:
        self.events.append(DebugReceived(msg["message"], msg["always_display"]))

    def _on_ping(self, msg: Message, record: PacketRecord) -> None:
        # Not before authentication, nor while a reply would have to wait for a key exchange:
        # a peer could make us queue replies without bound (as OpenSSH decides since
        # CVE-2025-26466).
        if self.auth_done and self.kex is None:
            self.send(MSG.PONG.build(data=msg["data"]))
        else:
            record.notes.append("not answered before authentication or during a key exchange")

    def _on_pong(self, msg: Message, record: PacketRecord) -> None:
        self.events.append(PongReceived(msg["data"]))

    def _on_ext_info(self, msg: Message, record: PacketRecord) -> None:
        # Only a side that announced ext-info-c / ext-info-s in its first KEXINIT may receive it.
        allowed = (self.config.ext_info and self.first_kex_done
                   and (self._ext_info_window or (self.is_client and not self.auth_done)))
        if not allowed:
            raise ProtocolError(E.PROTOCOL_ERROR, "EXT_INFO outside the places RFC 8308 allows")
        extensions = {item["extension_name"]: item["extension_value"] for item in msg["extensions"]}
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
        message = MSG.KEXINIT.build(cookie=self.kex_rng.bytes(16), **self._kexinit_lists(first),
                                    first_kex_packet_follows=guess, reserved=0)
        payload = message.encode()
        # The round exists before the packet goes out, so the send cannot trigger another rekey.
        kex = self.kex = KexRound(first)
        kex.add_kexinit(self.side, message, payload)
        self.kex_count += 1
        self._send_packet(message, payload)
        if guess:
            # Guess that the server prefers what we prefer, and start that exchange now.
            kex.exchange = KexExchange(KEX_METHODS[self.config.kex[0]])
            self._advance_kex(kex)

    def _on_kexinit(self, msg: Message, record: PacketRecord) -> None:
        if self.kex is None:
            self._send_kexinit()
        kex = self.kex
        peer = self.side.opposite
        if peer in kex.kexinits:
            raise ProtocolError(E.PROTOCOL_ERROR, "a second KEXINIT during one key exchange")
        kex.add_kexinit(peer, msg, record.payload)
        if kex.first:
            client, server = (kex.kexinits[side][0].values for side in Side)
            self.strict = self.config.strict_kex and strict_kex_offered(client, server)
            if self.strict and record.seq != 0:
                raise ProtocolError(E.PROTOCOL_ERROR,
                                    "strict KEX: KEXINIT must be the first packet (sequence number 0)")
            marker = EXT_INFO_SERVER if self.is_client else EXT_INFO_CLIENT
            self.peer_ext_info = marker in msg["kex_algorithms"]
        negotiated = kex.negotiate(self.strict, self.peer_ext_info, self.side)
        failure = negotiation_failure(negotiated.algorithms)
        if failure is not None:
            raise ProtocolError(E.KEY_EXCHANGE_FAILED, failure)
        self.last_negotiation = negotiated
        self.events.append(negotiated)
        self.context["kex"] = kex.method.family.name
        if kex.exchange is None or self.side in kex.wrong_guesses:
            # A wrong guess of ours is dropped by the peer: the negotiated exchange starts now.
            kex.exchange = KexExchange(kex.method)
            if self.is_client:
                self._advance_kex(kex)

    def _on_kex_message(self, msg: Message, record: PacketRecord) -> None:
        kex = self.kex
        if kex is None or kex.negotiated is None:
            raise ProtocolError(E.PROTOCOL_ERROR, f"{msg.spec.rfc_name} outside a key exchange")
        peer = self.side.opposite
        if peer in kex.wrong_guesses:
            kex.wrong_guesses.discard(peer)  # RFC 4253 7: the peer's wrong guess is silently dropped
            return
        if kex.result is not None:
            raise ProtocolError(E.PROTOCOL_ERROR, f"{msg.spec.rfc_name} after the key exchange finished")
        try:
            kex.exchange.take(msg, peer)
            self._advance_kex(kex)
        except KexError as exc:
            raise ProtocolError(E.KEY_EXCHANGE_FAILED, str(exc)) from None

    def _advance_kex(self, kex: KexRound) -> None:
        """Send what this side sends next in the exchange; finish once the reply is made or in."""
        exchange = kex.exchange
        step = exchange.next_step
        if step is None:
            self._check_reply(kex)  # the client: the server's reply is in
        elif step.sender is self.side and exchange.family.reply in step.messages:
            self._reply(kex)
        elif step.sender is self.side:
            self._send_kex(exchange, exchange.next_message(self.kex_rng))

    def _send_kex(self, exchange: KexExchange, message: Message) -> None:
        exchange.take(message, self.side)
        self._send_packet(message)

    def _check_reply(self, kex: KexRound) -> None:
        """The client's end: K, H, the server's signature over H, and its host key trusted."""
        exchange = kex.exchange
        algorithm = kex.negotiated.chosen("host_key")
        try:
            host_key = PublicKey.from_blob(exchange.host_key)
        except DecodeError as exc:
            raise ProtocolError(E.KEY_EXCHANGE_FAILED, f"server host key: {exc}") from None
        if host_key.key_type != SIGNATURE_ALGORITHMS[algorithm].key_type:
            raise ProtocolError(E.KEY_EXCHANGE_FAILED,
                                f"server sent a {host_key.key_type} host key, but "
                                f"{algorithm} was negotiated")
        K = exchange.shared_secret()
        H, inputs = kex.exchange_hash(self.local_version, self.peer_version, K)
        if not host_key.verify(algorithm, exchange.signature, H):
            raise ProtocolError(E.KEY_EXCHANGE_FAILED,
                                f"the server's {algorithm} signature over H does not verify")
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

    def _reply(self, kex: KexRound) -> None:
        """The server's end: K, H, and the reply carrying its host key and signature over H."""
        kex.exchange.respond(self.kex_rng, self.work, lambda K: self._sign_reply(kex, K))

    def _sign_reply(self, kex: KexRound, K: bytes) -> None:
        exchange = kex.exchange
        algorithm = kex.negotiated.chosen("host_key")
        host_key = self._host_key_for(algorithm)
        exchange.host_key = host_key.public.blob
        H, inputs = kex.exchange_hash(self.peer_version, self.local_version, K)
        self._send_kex(exchange, exchange.reply_message(host_key.sign(algorithm, H)))
        self._finish_kex(kex, K, H, inputs, host_key.public)

    def _host_key_for(self, algorithm: str) -> PrivateKey:
        key_type = SIGNATURE_ALGORITHMS[algorithm].key_type
        for key in self.config.host_keys:
            if key.key_type == key_type:
                return key
        raise ProtocolError(E.KEY_EXCHANGE_FAILED, f"no host key for {algorithm}")

    def _finish_kex(self, kex: KexRound, K: bytes, H: bytes, inputs, host_key: PublicKey) -> None:
        if self.session_id is None:
            self.session_id = H
            self.host_key = host_key
        self.events.append(kex.compute(K, H, inputs, self.session_id, host_key,
                                       dict(kex.exchange.agent.details)))
        kex.prepare_keys(self.side, self.auth_done)
        self._send_newkeys(kex)

    def _send_newkeys(self, kex: KexRound) -> None:
        self._send_packet(MSG.NEWKEYS.build())
        kex.newkeys.add(self.out_dir)
        self.events.append(switch_keys(self.writer, kex.keys[self.out_dir], self.out_dir, self.strict))
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
        # Plain algorithms only, as OpenSSH lists them: a certificate signs as its key does.
        sig_algs = [a for a in SIGNATURE_ALGORITHMS.names()
                    if SIGNATURE_ALGORITHMS[a].hash != "sha1" and not SIGNATURE_ALGORITHMS[a].certificate]
        self._send_packet(MSG.EXT_INFO.build(extensions=[
            {"extension_name": "server-sig-algs", "extension_value": sig_algs},
            {"extension_name": "publickey-hostbound@openssh.com", "extension_value": b"0"},
            {"extension_name": "ping@openssh.com", "extension_value": b"0"},
        ]))

    def _on_newkeys(self, msg: Message, record: PacketRecord) -> None:
        kex = self.kex
        if kex is None or kex.result is None or self.in_dir in kex.newkeys:
            raise ProtocolError(E.PROTOCOL_ERROR, "NEWKEYS before the key exchange finished")
        kex.newkeys.add(self.in_dir)
        self.events.append(switch_keys(self.reader, kex.keys[self.in_dir], self.in_dir, self.strict))
        if kex.first:
            self._ext_info_may_follow = True
        self._maybe_finish_round()

    def _maybe_finish_round(self) -> None:
        if self.kex is not None and self.kex.finished:
            self.kex = None
            self.first_kex_done = True

    # -- after authentication -----------------------------------------------------------------

    def auth_completed(self) -> None:
        """USERAUTH_SUCCESS was sent (server) or received (client): delayed compression
        (zlib@openssh.com) starts with the packets after it, in both directions. A server's
        SUCCESS held during a key exchange has not gone out yet: then it starts when it does."""
        kex = self.kex
        if not self.is_client and kex is not None and self.out_dir not in kex.newkeys:
            self._held.append((None, b""))  # marks the place, after USERAUTH_SUCCESS
            return
        self.auth_done = True
        if self.last_negotiation is None:
            return
        self.writer.keys.start_delayed_compression(outgoing=True)
        # A SUCCESS sent between our NEWKEYS and the client's: the client's packets up to
        # its NEWKEYS left before it could read SUCCESS, so its compression starts with its
        # next keys.
        half_done = kex is not None and self.in_dir in kex.keys and self.in_dir not in kex.newkeys
        (kex.keys[self.in_dir] if half_done else self.reader.keys).start_delayed_compression(outgoing=False)

    # Transport messages handled whatever the state; then those handled only once the
    # first key exchange is over and none is half done. Anything else goes up.
    _ANYTIME = {
        MSG.DISCONNECT: _on_disconnect,
        MSG.IGNORE: _on_ignore,
        MSG.UNIMPLEMENTED: _on_unimplemented,
        MSG.DEBUG: _on_debug,
        MSG.KEXINIT: _on_kexinit,
        MSG.NEWKEYS: _on_newkeys,
        MSG.EXT_INFO: _on_ext_info,
    }

    _BETWEEN_KEX = {
        MSG.PING: _on_ping,
        MSG.PONG: _on_pong,
    }


