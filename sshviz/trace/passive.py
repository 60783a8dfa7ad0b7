"""Reading an SSH connection as a bystander: the two byte streams of a captured session in,
trace events out. Sans-I/O, like the endpoints: ``feed(direction, bytes, time)`` in capture
order, then ``finish()``.

It reuses the engine's own parts: the identification line reader, ``PacketReader`` (framing,
decryption, MAC checks), the message catalog, ``negotiate``, the exchange hash inputs and the
key derivation. What it adds is an observer's bookkeeping: the KEXINITs of each round, the key
exchange values, which authentication method and channel numbers are in play (the catalog needs
them to read numbers 30-49 and 60-79), and which channel carries SFTP.

Without the secret of a key exchange (a key log line), everything after NEWKEYS stays
encrypted: packets are shown with their sizes and directions, one per packet when the length
travels in clear (encrypt-then-MAC, AES-GCM), else one per piece of the stream, each with the
reason it cannot be opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..crypto.ciphers import CIPHERS
from ..crypto.kex import KEX_METHODS, KexError
from ..crypto.keys import PublicKey
from ..crypto.macs import MACS
from ..events import (AlgorithmsNegotiated, AuthBanner, AuthFailed, AuthSucceeded, ChannelClosed,
                      ChannelData, ChannelEOF, ChannelOpened, ChannelOpenFailed, DebugReceived,
                      Disconnected, Event, ExitSignal, ExitStatus, ExtInfoReceived, KexComputed,
                      PongReceived, RawUnit, ServiceAccepted, SubsystemStarted,
                      VersionRecord)
from ..transport.errors import ProtocolError
from ..transport.kex import (direction_keys, exchange_hash, exchange_hash_inputs, guess_was_right,
                             k_value, negotiate, session_keys, strict_kex_offered)
from ..transport.packet import DamagedPacket, PacketReader, PacketRecord, switch_keys
from ..transport.transport import VersionLineReader
from ..wire.catalog import SSH
from ..wire.spec import Message, unknown_spec
from ..wire.types import DecodeError
from .elide import BulkCounter, elide_in_place
from .keylog import KeyLog, SecretMismatch, shared_secret
from .model import Trace, TraceEvent, TraceHeader

SENDER = {"c2s": "client", "s2c": "server"}
RECEIVER = {"c2s": "server", "s2c": "client"}
HOSTBOUND = "publickey-hostbound-v00@openssh.com"
_CLIENT_VALUE = {"dh": "e", "gex": "e", "ecdh": "Q_C", "hybrid": "C_INIT"}
_SERVER_VALUE = {"dh": "f", "gex": "f", "ecdh": "Q_S", "hybrid": "S_REPLY"}
# The one cipher that encrypts the packet length too: without keys, packet boundaries are hidden.
LENGTH_ENCRYPTED = frozenset({"chacha20-poly1305@openssh.com"})


@dataclass
class _Round:
    """One key exchange as seen from outside."""

    first: bool
    kexinit: dict = field(default_factory=dict)  # direction -> (Message, payload)
    algorithms: dict | None = None
    method: object = None
    skip_guess: str | None = None  # the direction whose guessed packet is to be ignored
    client_value: object = None
    gex_request: tuple[int, int, int] | None = None
    gex_group: tuple[int, int] | None = None
    new_keys: dict = field(default_factory=dict)  # direction -> DirectionKeys, once computed
    unopenable: str = ""  # why the keys of this round cannot be known


class _Direction:
    def __init__(self, direction: str):
        self.direction = direction
        self.versions = VersionLineReader(accept_pre_lines=direction == "s2c")
        self.version_done = False
        self.reader = PacketReader(direction)
        self.sealed_reason = ""  # set when this direction's keys are unknown
        self.sealed_buffer = bytearray()
        self.sealed_seq = 0
        self.sealed_tag_size: int | None = None  # MAC or tag size, when lengths travel in clear
        self.sealed_with = ("?", "?", "?")  # the negotiated cipher, MAC and compression
        self.stopped = ""  # set when nothing more can be read in this direction


class PassiveDecoder:
    """Decodes one SSH connection from its two byte streams."""

    def __init__(self, keylog: KeyLog | None = None, header: TraceHeader | None = None,
                 elide_after: int | None = None):
        self.keylog = keylog
        self.bulk = BulkCounter(elide_after)  # shortens channel data once it is decoded
        self.trace = Trace(header or TraceHeader("capture"))
        self.directions = {d: _Direction(d) for d in ("c2s", "s2c")}
        self.context: dict[str, str] = {}
        self.versions: dict[str, str] = {}
        self.round: _Round | None = None
        self.rounds = 0
        self.session_id: bytes | None = None
        self.strict = False
        self.auth_done = False
        self.auth_request: tuple[str, str] | None = None  # (user, method) of the last request
        self.channel_types: dict[tuple[str, int], str] = {}  # (side, local id) -> type
        self.server_channel: dict[int, int] = {}  # client's channel id -> server's
        self.sftp_channels: dict[int, object] = {}  # server's channel id -> SftpStreamDecoder
        self.problems: list[str] = []  # why parts of the session could not be opened

    # -- input --------------------------------------------------------------------------------

    def feed(self, direction: str, data: bytes, time: float = 0.0, frame: int | None = None) -> None:
        """Bytes of one direction, in capture order."""
        state = self.directions[direction]
        if state.stopped or not data:
            return
        if not state.version_done:
            try:
                found = state.versions.feed(data)
            except ProtocolError as exc:
                self._stop(state, f"not an SSH identification line: {exc.message}", data, time, frame)
                return
            if found is None:
                return
            line, pre_lines, version, data = found
            state.version_done = True
            self.versions[direction] = version
            self._emit(direction, VersionRecord(direction, line, pre_lines, time), time, frame)
            if not data:
                return
        if state.sealed_reason:
            self._feed_sealed(state, data, time, frame)
            return
        reader = state.reader
        reader.feed(data)
        while not state.stopped and not state.sealed_reason:
            try:
                record = reader.next_packet()
            except DamagedPacket as exc:
                keys = reader.keys
                record = _unopened_record(direction, exc.seq, exc.wire, keys.mac_size, keys.cipher.name,
                                          keys.mac_name, keys.compression)
                self._emit(direction, record, time, frame,
                           notes=[f"damaged: {exc.message}; the packet is skipped"])
                continue
            except ProtocolError as exc:
                rest = bytes(reader.buffer)
                reader.buffer.clear()
                self._stop(state, f"cannot read on: {exc.message}", rest, time, frame)
                return
            if record is None:
                return
            record.time = time
            self._packet(direction, record, time, frame)
        if state.sealed_reason and reader.buffer:
            rest = bytes(reader.buffer)
            reader.buffer.clear()
            self._feed_sealed(state, rest, time, frame)

    def gap(self, direction: str, size: int, time: float = 0.0, frame: int | None = None) -> None:
        """``size`` bytes of this direction were never captured: what follows cannot be read."""
        state = self.directions[direction]
        if not state.stopped:
            self._stop(state, f"{size} bytes missing from the capture here; the rest of this "
                              f"direction cannot be decoded", b"", time, frame)

    def finish(self) -> Trace:
        """The trace so far; bytes left over that never formed a whole packet are reported."""
        for state in self.directions.values():
            leftover = bytes(state.reader.buffer) + bytes(state.sealed_buffer)
            if leftover and not state.stopped:
                time = self._last_time()
                self._emit(state.direction, RawUnit(state.direction, leftover, time,
                                                    "incomplete: the capture ends inside a packet"),
                           time, None, notes=["the capture ends inside this packet"])
        self.trace.fill_header()
        return self.trace

    # -- output -------------------------------------------------------------------------------

    def _emit(self, direction: str, record, time: float, frame: int | None,
              changes: list[tuple[str, Event]] | None = None, notes: list[str] | None = None) -> TraceEvent:
        events = self.trace.events
        event = TraceEvent(len(events), time, direction, record, changes or [], True, notes or [], frame)
        events.append(event)
        return event

    def _last_time(self) -> float:
        return self.trace.events[-1].time if self.trace.events else 0.0

    def _stop(self, state: _Direction, reason: str, rest: bytes, time: float, frame: int | None) -> None:
        state.stopped = reason
        self.problems.append(f"{state.direction}: {reason}")
        if rest:
            self._emit(state.direction, RawUnit(state.direction, rest, time, reason), time, frame,
                       notes=[reason])

    # -- sealed directions (no keys) ----------------------------------------------------------

    def _seal(self, state: _Direction, reason: str, algorithms: dict | None) -> None:
        state.sealed_reason = reason
        self.problems.append(f"{state.direction}: {reason}")
        direction = state.direction
        cipher_name = algorithms[f"cipher_{direction}"].chosen if algorithms else None
        mac_name = algorithms[f"mac_{direction}"].chosen if algorithms else None
        cipher = CIPHERS[cipher_name] if cipher_name in CIPHERS else None
        mac = MACS[mac_name] if mac_name in MACS else None
        compression = algorithms[f"compression_{direction}"].chosen if algorithms else None
        state.sealed_with = (cipher_name or "?", "(implicit: AEAD tag)" if cipher is not None and cipher.aead
                             else mac_name or "?", compression or "?")
        if cipher is not None and cipher.aead and cipher_name not in LENGTH_ENCRYPTED:
            state.sealed_tag_size = cipher.tag_size  # AES-GCM: the length is additional data, in clear
        elif cipher is not None and not cipher.aead and mac is not None and mac.etm:
            state.sealed_tag_size = mac.size  # encrypt-then-MAC: the length is in clear
        # NEWKEYS has been read; under strict KEX it restarts the sequence numbers.
        state.sealed_seq = 0 if self.strict else state.reader.seq

    def _feed_sealed(self, state: _Direction, data: bytes, time: float, frame: int | None) -> None:
        direction, reason = state.direction, state.sealed_reason
        if state.sealed_tag_size is None:
            # The length is encrypted too: packet boundaries are hidden, show the stream as it came.
            self._emit(direction, RawUnit(direction, data, time, "encrypted; " + reason), time, frame,
                       notes=[f"encrypted, packet boundaries hidden (the length is encrypted too): {reason}"])
            return
        buffer = state.sealed_buffer
        buffer += data
        mac_size = state.sealed_tag_size
        while len(buffer) >= 4:
            length = int.from_bytes(buffer[:4], "big")
            total = 4 + length + mac_size
            if length > 256 * 1024 + 64:
                self._stop(state, f"encrypted packet length {length} is not plausible", bytes(buffer),
                           time, frame)
                buffer.clear()
                return
            if len(buffer) < total:
                return
            wire = bytes(buffer[:total])
            del buffer[:total]
            record = _unopened_record(direction, state.sealed_seq, wire, mac_size, *state.sealed_with)
            state.sealed_seq = (state.sealed_seq + 1) & 0xFFFFFFFF
            self._emit(direction, record, time, frame, notes=[f"encrypted, {length} bytes: {reason}"])

    # -- packets ------------------------------------------------------------------------------

    def _packet(self, direction: str, record: PacketRecord, time: float, frame: int | None) -> None:
        payload = record.payload
        notes: list[str] = []
        if not payload:
            record.message = None
            self._emit(direction, record, time, frame, notes=["empty payload: no message number"])
            return
        try:
            message = SSH.decode(payload, self.context, spans=False)  # spans when shown
        except KeyError:
            message = Message(unknown_spec(payload[0]), {"data": payload[1:]})
        except DecodeError as exc:
            message = None
            notes.append(f"does not decode: {exc}")
        record.message = message
        changes: list[tuple[str, Event]] = []
        if message is not None:
            try:
                self._observe(direction, record, message, changes, notes)
            except (KexError, SecretMismatch, ValueError, KeyError) as exc:
                notes.append(f"could not follow: {exc}")
        event = self._emit(direction, record, time, frame, changes, notes)
        shortened = self.bulk.shorten(event)  # after SFTP inside it has been read whole
        if shortened is not None:
            elide_in_place(event, shortened)

    def _observe(self, direction: str, record: PacketRecord, msg: Message,
                 changes: list, notes: list) -> None:
        sender, receiver = SENDER[direction], RECEIVER[direction]
        number, name = msg.number, msg.name
        if number == 20:
            self._kexinit(direction, msg, record, changes)
        elif 30 <= number <= 49:
            self._kex_message(direction, msg, changes, notes)
        elif number == 21:
            self._newkeys(direction, changes)
        elif number == 1:
            changes.append((receiver, Disconnected(msg.reason_code, msg.description, by_peer=True)))
        elif number == 4:
            changes.append((receiver, DebugReceived(msg.message, msg.always_display)))
        elif number == 7:
            extensions = {item["extension_name"]: item["extension_value"] for item in msg.extensions}
            changes.append((receiver, ExtInfoReceived(extensions)))
        elif number == 193:
            changes.append((receiver, PongReceived(msg.data)))
        elif name == "SERVICE_ACCEPT":
            changes.append(("client", ServiceAccepted(msg.service_name)))
        elif 50 <= number <= 79:
            self._auth(direction, msg, changes)
        elif 80 <= number <= 127:
            self._connection(direction, msg, changes)

    # -- key exchange -------------------------------------------------------------------------

    def _kexinit(self, direction: str, msg: Message, record: PacketRecord, changes: list) -> None:
        if self.round is None or self.round.algorithms is not None and direction in self.round.kexinit:
            self.round = _Round(first=self.rounds == 0)
            self.rounds += 1
        kex = self.round
        kex.kexinit[direction] = (msg, record.payload)
        if len(kex.kexinit) < 2:
            return
        client, server = kex.kexinit["c2s"][0], kex.kexinit["s2c"][0]
        if kex.first:
            self.strict = strict_kex_offered(client.values, server.values)
        kex.algorithms = negotiate(client.values, server.values)
        guess_right = guess_was_right(client.values, server.values)
        for d, m in (("c2s", client), ("s2c", server)):
            if m.first_kex_packet_follows and not guess_right:
                kex.skip_guess = d
        changes.append((RECEIVER[direction], AlgorithmsNegotiated(
            kex.algorithms, self.strict, False, guess_ignored=kex.skip_guess is not None)))
        chosen = kex.algorithms["kex"].chosen
        if chosen in KEX_METHODS:
            kex.method = KEX_METHODS[chosen]
            self.context["kex"] = kex.method.family
        else:
            kex.unopenable = f"key exchange method {chosen or '(none agreed)'} is not supported by sshviz"

    def _kex_message(self, direction: str, msg: Message, changes: list, notes: list) -> None:
        kex = self.round
        if kex is None or kex.method is None:
            return
        if kex.skip_guess == direction:
            kex.skip_guess = None
            notes.append("a wrongly guessed key exchange packet: both sides ignore it (RFC 4253 7)")
            return
        family, name = kex.method.family, msg.name
        if name == "KEX_DH_GEX_REQUEST":
            kex.gex_request = (msg.min, msg.n, msg.max)
        elif name == "KEX_DH_GEX_REQUEST_OLD":
            kex.gex_request = (None, msg.n, None)  # only n enters H
        elif name == "KEX_DH_GEX_GROUP":
            kex.gex_group = (msg.p, msg.g)
        elif direction == "c2s" and _CLIENT_VALUE[family] in msg.values:
            kex.client_value = msg.values[_CLIENT_VALUE[family]]
        elif direction == "s2c" and _SERVER_VALUE[family] in msg.values and "host_key" in msg.values:
            self._kex_reply(kex, msg, changes, notes)

    def _kex_reply(self, kex: _Round, msg: Message, changes: list, notes: list) -> None:
        method = kex.method
        client_cookie = kex.kexinit["c2s"][0].cookie
        server_cookie = kex.kexinit["s2c"][0].cookie
        if self.keylog is None:
            kex.unopenable = "no key log was given, so the keys of this session cannot be computed"
            return
        found = self.keylog.find(client_cookie, server_cookie)
        if found is None:
            kex.unopenable = (f"the key log {self.keylog.source} has no line for this key exchange "
                              f"(KEXINIT cookies: client {client_cookie.hex()}, server "
                              f"{server_cookie.hex()})")
            return
        side, entry = found
        server_value = msg.values[_SERVER_VALUE[method.family]]
        try:
            K, details = shared_secret(method, entry, side, kex.client_value, server_value, kex.gex_group)
        except (SecretMismatch, KexError) as exc:
            kex.unopenable = f"{entry.describe()} does not fit this key exchange: {exc}"
            return
        inputs = exchange_hash_inputs(method, self.versions["c2s"].encode(), self.versions["s2c"].encode(),
                                      kex.kexinit["c2s"][1], kex.kexinit["s2c"][1], msg.host_key,
                                      kex.client_value, server_value, K, kex.gex_request, kex.gex_group)
        H = exchange_hash(method.hash, inputs)
        host_key_algorithm = kex.algorithms["host_key"].chosen
        try:
            host_key = PublicKey.from_blob(msg.host_key)
            verified = host_key.verify(host_key_algorithm, msg.signature, H)
        except (DecodeError, KeyError, ValueError):
            host_key, verified = None, None
        if verified is False:
            kex.unopenable = (f"{entry.describe()} gives an exchange hash that the server's host key "
                              f"signature does not verify: the secret is not this session's")
            return
        if verified is None:
            notes.append(f"the server's {host_key_algorithm} signature over H could not be checked")
        else:
            notes.append(f"H recomputed from {entry.describe()}; the server's {host_key_algorithm} "
                         f"signature over it verifies")
        self.keylog.used.add(entry)
        if self.session_id is None:
            self.session_id = H
        keys = session_keys(method, kex.algorithms, K, H, self.session_id)
        changes.append((side, KexComputed(
            method.name, method.hash, K, k_value(method.k_encoding, K), H, inputs, self.session_id,
            kex.first, host_key.key_type if host_key else "?",
            host_key.fingerprint() if host_key else "?", list(keys.values()), details)))
        try:
            for direction in ("c2s", "s2c"):
                kex.new_keys[direction] = direction_keys(kex.algorithms, keys, direction, False,
                                                         self.auth_done)
        except KeyError as exc:
            kex.new_keys.clear()
            kex.unopenable = f"{exc.args[0]}: sshviz cannot decrypt it"

    def _newkeys(self, direction: str, changes: list) -> None:
        kex = self.round
        state = self.directions[direction]
        keys = kex.new_keys.get(direction) if kex else None

        if keys is None:
            reason = kex.unopenable if kex and kex.unopenable else "the key exchange could not be followed"
            self._seal(state, reason, kex.algorithms if kex else None)
            return
        # From the next packet on, this direction uses the new keys.
        activated = switch_keys(state.reader, keys, direction, self.strict)
        changes += [(SENDER[direction], activated), (RECEIVER[direction], activated)]

    # -- authentication and channels ----------------------------------------------------------

    def _auth(self, direction: str, msg: Message, changes: list) -> None:
        name = msg.name
        if name == "USERAUTH_REQUEST":
            method = msg.method_name
            self.context["auth"] = "publickey" if method == HOSTBOUND else method
            self.auth_request = (msg.user_name, method)
        elif name == "USERAUTH_FAILURE":
            method = self.auth_request[1] if self.auth_request else "?"
            changes.append(("client", AuthFailed(method, list(msg.authentications), bool(msg.partial_success))))
        elif name == "USERAUTH_SUCCESS":
            user, method = self.auth_request or ("?", "?")
            self.context.pop("auth", None)
            self.auth_done = True
            for state in self.directions.values():
                state.reader.keys.start_delayed_compression(outgoing=False)
            changes.append(("client", AuthSucceeded(user, method)))
        elif name == "USERAUTH_BANNER":
            changes.append(("client", AuthBanner(msg.message)))

    def _connection(self, direction: str, msg: Message, changes: list) -> None:
        sender, receiver = SENDER[direction], RECEIVER[direction]
        name = msg.name
        if name == "CHANNEL_OPEN":
            self.channel_types[(sender, msg.sender_channel)] = msg.channel_type
        elif name == "CHANNEL_OPEN_CONFIRMATION":
            kind = self.channel_types.get((receiver, msg.recipient_channel), "session")
            self.channel_types[(sender, msg.sender_channel)] = kind
            client_id, server_id = ((msg.recipient_channel, msg.sender_channel) if sender == "server"
                                    else (msg.sender_channel, msg.recipient_channel))
            self.server_channel[client_id] = server_id
            changes.append((receiver, ChannelOpened(msg.recipient_channel, kind)))
            changes.append((sender, ChannelOpened(msg.sender_channel, kind)))
        elif name == "CHANNEL_OPEN_FAILURE":
            changes.append((receiver, ChannelOpenFailed(msg.recipient_channel, msg.reason_code,
                                                        msg.description)))
        elif name in ("CHANNEL_DATA", "CHANNEL_EXTENDED_DATA"):
            stream = msg.data_type_code if name == "CHANNEL_EXTENDED_DATA" else 0
            changes.append((receiver, ChannelData(msg.recipient_channel, msg.data, stream)))
            if stream == 0:
                self._sftp(direction, msg.recipient_channel, msg.data, changes)
        elif name == "CHANNEL_EOF":
            changes.append((receiver, ChannelEOF(msg.recipient_channel)))
        elif name == "CHANNEL_CLOSE":
            changes.append((receiver, ChannelClosed(msg.recipient_channel)))
        elif name == "CHANNEL_REQUEST":
            request = msg.request_type
            if request == "exit-status":
                changes.append((receiver, ExitStatus(msg.recipient_channel, msg.exit_status)))
            elif request == "exit-signal":
                changes.append((receiver, ExitSignal(msg.recipient_channel, msg.signal_name,
                                                     msg.core_dumped, msg.error_message)))
            elif request == "subsystem" and direction == "c2s":
                changes.append(("server", SubsystemStarted(msg.recipient_channel, msg.subsystem_name)))
                if msg.subsystem_name == "sftp":
                    self._start_sftp(msg.recipient_channel)

    # -- SFTP inside a channel ----------------------------------------------------------------

    def _start_sftp(self, server_channel: int) -> None:
        try:
            from ..sftp.stream import SftpStreamDecoder
        except ImportError:
            return
        self.sftp_channels[server_channel] = SftpStreamDecoder()

    def _sftp(self, direction: str, recipient: int, data: bytes, changes: list) -> None:
        """Feed channel data to the SFTP decoder of its channel. SFTP channels are known by
        the server's channel number, which the client's data is addressed to."""
        if not self.sftp_channels:
            return
        server_channel = recipient if direction == "c2s" else self.server_channel.get(recipient)
        decoder = self.sftp_channels.get(server_channel)
        if decoder is None:
            return
        try:
            units = decoder.feed(direction, data)
        except Exception as exc:  # a framing error ends SFTP decoding for this channel only
            del self.sftp_channels[server_channel]
            self.problems.append(f"SFTP on channel {server_channel}: {exc}")
            return
        for unit in units:
            changes.append((RECEIVER[direction], unit.event(recipient)))


def _unopened_record(direction: str, seq: int, wire: bytes, mac_size: int, cipher: str = "?",
                     mac_name: str = "?", compression: str = "?") -> PacketRecord:
    """A packet known only by its bytes on the wire: uint32 length, the rest, the MAC or tag."""
    return PacketRecord(direction, seq, wire, b"", wire[len(wire) - mac_size:] if mac_size else b"", b"",
                        len(wire) - 4 - mac_size, 0, cipher, mac_name, compression, 4)
