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

from dataclasses import dataclass

from ..crypto.ciphers import CIPHERS
from ..crypto.kex import KexError
from ..crypto.keys import PublicKey
from ..crypto.macs import MACS
from ..events import (AuthBanner, AuthFailed, AuthSucceeded, ChannelClosed, ChannelData, ChannelEOF,
                      ChannelOpened, ChannelOpenFailed, DebugReceived, Disconnected, Event,
                      ExitSignal, ExitStatus, ExtInfoReceived, PongReceived, RawUnit,
                      ServiceAccepted, SubsystemStarted, VersionRecord)
from ..sftp.stream import BULK_PREVIEW, SftpStreamDecoder
from ..sides import Direction, Side
from ..transport.errors import ProtocolError
from ..transport.kex import KexExchange, KexRound
from ..transport.negotiation import strict_kex_offered
from ..transport.packet import DamagedPacket, PacketReader, PacketRecord, switch_keys
from ..transport.transport import VersionLineReader
from ..wire.catalog import KEX_METHOD, MSG, SSH
from ..wire.spec import Message, unknown_spec
from ..wire.types import DecodeError
from .elide import BulkCounter
from .keylog import KeyLog, SecretMismatch, shared_secret
from .model import Trace, TraceEvent, TraceHeader

HOSTBOUND = "publickey-hostbound-v00@openssh.com"
# The one cipher that encrypts the packet length too: without keys, packet boundaries are hidden.
LENGTH_ENCRYPTED = frozenset({"chacha20-poly1305@openssh.com"})


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


@dataclass(slots=True)
class _Seen:
    """One decoded packet as the handlers read it, and what they make of it."""

    direction: Direction
    sender: Side
    receiver: Side
    message: Message
    record: PacketRecord
    changes: list[tuple[str, Event]]
    notes: list[str]

    def tell_receiver(self, event: Event) -> None:
        self.changes.append((self.receiver, event))


# Each direction's enum and its two ends, looked up once per packet rather than worked out.
_ENDS = {direction.value: (direction, direction.sender, direction.receiver) for direction in Direction}


class PassiveDecoder:
    """Reads one captured SSH connection as a bystander: the two byte streams in (``feed``, in
    capture order), a ``Trace`` out. It follows each key exchange with the engine's own
    ``KexRound`` and, given the secret from a key log, opens the encrypted part; what it cannot
    open it shows by size, with the reason."""

    def __init__(self, keylog: KeyLog | None = None, header: TraceHeader | None = None,
                 elide_after: int | None = None):
        self.keylog = keylog
        self.bulk = BulkCounter(elide_after)  # shortens channel data once it is decoded
        self.trace = Trace(header or TraceHeader("capture"))
        self.directions = {d: _Direction(d) for d in ("c2s", "s2c")}
        self.context: dict[str, str] = {}
        self.versions: dict[str, str] = {}
        self.round: KexRound | None = None
        self.rounds = 0
        self.unopenable = ""  # why the keys of the current round cannot be known
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
        while reader.buffered and not state.stopped and not state.sealed_reason:
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
                rest = reader.take_buffered()
                self._stop(state, f"cannot read on: {exc.message}", rest, time, frame)
                return
            if record is None:
                return
            record.time = time
            self._packet(direction, record, time, frame)
        if state.sealed_reason and reader.buffered:
            rest = reader.take_buffered()
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
            leftover = state.reader.take_buffered() + bytes(state.sealed_buffer)
            if leftover and not state.stopped:
                time = self._last_time()
                self._emit(state.direction, RawUnit(state.direction, leftover, time,
                                                    "incomplete: the capture ends inside a packet"),
                           time, None, notes=["the capture ends inside this packet"])
        self.trace.fill_header()
        return self.trace

    # -- output -------------------------------------------------------------------------------

    def _emit(self, direction: str, record, time: float, frame: int | None,
              changes: list[tuple[str, Event]] | None = None, notes: list[str] | None = None,
              elided: int = 0) -> None:
        events = self.trace.events
        events.append(TraceEvent(len(events), time, direction, record, changes or [], True, notes or [], frame,
                                 elided))

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
            spec = message.spec
            handler = PassiveDecoder._kex_message if spec.number in KEX_METHOD else self._HANDLERS.get(spec)
            try:
                if handler is not None:
                    handler(self, _Seen(*_ENDS[direction], message, record, changes, notes))
            except (KexError, SecretMismatch, ProtocolError, ValueError, KeyError) as exc:
                notes.append(f"could not follow: {exc}")
        shortened = self.bulk.shorten_packet(direction, record, changes)  # after SFTP inside it was read whole
        if shortened is None:
            self._emit(direction, record, time, frame, changes, notes)
        else:  # the reader's record, seen by no one else yet, is shortened where it is
            shortened.apply(record)
            self._emit(direction, record, time, frame, shortened.changes, notes, shortened.elided)

    # -- key exchange -------------------------------------------------------------------------

    def _kexinit(self, seen: "_Seen") -> None:
        sender, msg = seen.sender, seen.message
        if self.round is None or self.round.negotiated is not None and sender in self.round.kexinits:
            self.round = KexRound(first=self.rounds == 0)
            self.rounds += 1
            self.unopenable = ""
        kex = self.round
        kex.add_kexinit(sender, msg, seen.record.payload)
        if len(kex.kexinits) < 2:
            return
        if kex.first:
            self.strict = strict_kex_offered(*(kex.kexinits[side][0].values for side in Side))
        seen.changes.append((seen.receiver, kex.negotiate(self.strict, False, None)))
        if kex.method is not None:
            kex.exchange = KexExchange(kex.method)
            self.context["kex"] = kex.method.family.name
        else:
            chosen = kex.negotiated.chosen("kex")
            self.unopenable = f"key exchange method {chosen or '(none agreed)'} is not supported by sshviz"

    def _kex_message(self, seen: "_Seen") -> None:
        kex = self.round
        if kex is None or kex.exchange is None:
            return
        if seen.sender in kex.wrong_guesses:
            kex.wrong_guesses.discard(seen.sender)
            seen.notes.append("a wrongly guessed key exchange packet: both sides ignore it (RFC 4253 7)")
            return
        kex.exchange.take(seen.message, seen.sender)
        if kex.exchange.done:
            self._kex_reply(kex, seen.changes, seen.notes)

    def _kex_reply(self, kex: KexRound, changes: list, notes: list) -> None:
        client_cookie = kex.kexinits[Side.CLIENT][0]["cookie"]
        server_cookie = kex.kexinits[Side.SERVER][0]["cookie"]
        if self.keylog is None:
            self.unopenable = "no key log was given, so the keys of this session cannot be computed"
            return
        candidates = self.keylog.candidates(client_cookie, server_cookie)
        if not candidates:
            self.unopenable = (f"the key log {self.keylog.source} has no line for this key exchange "
                               f"(KEXINIT cookies: client {client_cookie.hex()}, server "
                               f"{server_cookie.hex()})")
            return
        problems = []
        for side, entry in candidates:  # the first that fits
            opened = self._open_with(kex, entry, side)
            if isinstance(opened, str):
                problems.append(opened)
                continue
            K, details, H, inputs, host_key, note = opened
            break
        else:
            self.unopenable = problems[0]
            return
        notes.append(note)
        self.keylog.used.add(entry)
        if self.session_id is None:
            self.session_id = H
        changes.append((side, kex.compute(K, H, inputs, self.session_id, host_key, details)))
        try:
            kex.prepare_keys(None, self.auth_done)
        except KeyError as exc:
            kex.keys.clear()
            self.unopenable = f"{exc.args[0]}: sshviz cannot decrypt it"

    def _open_with(self, kex: KexRound, entry, side: str):
        """K, the agent's details, H, its inputs, the host key and a note from one key log
        entry; or why the entry does not fit this key exchange."""
        exchange = kex.exchange
        try:
            K, details = shared_secret(exchange, entry, side)
        except (SecretMismatch, KexError) as exc:
            return f"{entry.describe()} does not fit this key exchange: {exc}"
        H, inputs = kex.exchange_hash(self.versions["c2s"], self.versions["s2c"], K)
        host_key_algorithm = kex.negotiated.chosen("host_key")
        try:
            host_key = PublicKey.from_blob(exchange.host_key)
            verified = host_key.verify(host_key_algorithm, exchange.signature, H)
        except (DecodeError, KeyError, ValueError):
            host_key, verified = None, None
        if verified is False:
            return (f"{entry.describe()} gives an exchange hash that the server's host key "
                    f"signature does not verify: the secret is not this session's")
        if verified is None:
            note = f"the server's {host_key_algorithm} signature over H could not be checked"
        else:
            note = (f"H recomputed from {entry.describe()}; the server's {host_key_algorithm} "
                    f"signature over it verifies")
        return K, details, H, inputs, host_key, note

    def _newkeys(self, seen: "_Seen") -> None:
        kex = self.round
        direction = seen.direction
        state = self.directions[direction]
        keys = kex.keys.get(direction) if kex else None
        if keys is None:
            reason = self.unopenable if kex and self.unopenable else "the key exchange could not be followed"
            self._seal(state, reason, kex.negotiated.algorithms if kex and kex.negotiated else None)
            return
        # From the next packet on, this direction uses the new keys.
        activated = switch_keys(state.reader, keys, direction, self.strict)
        seen.changes += [(seen.sender, activated), (seen.receiver, activated)]

    def _disconnect(self, seen: "_Seen") -> None:
        msg = seen.message
        seen.tell_receiver(Disconnected(msg["reason_code"], msg["description"], by_peer=True))

    def _debug(self, seen: "_Seen") -> None:
        seen.tell_receiver(DebugReceived(seen.message["message"], seen.message["always_display"]))

    def _ext_info(self, seen: "_Seen") -> None:
        extensions = {item["extension_name"]: item["extension_value"] for item in seen.message["extensions"]}
        seen.tell_receiver(ExtInfoReceived(extensions))

    def _pong(self, seen: "_Seen") -> None:
        seen.tell_receiver(PongReceived(seen.message["data"]))

    # -- authentication -----------------------------------------------------------------------

    def _service_accept(self, seen: "_Seen") -> None:
        seen.changes.append((Side.CLIENT, ServiceAccepted(seen.message["service_name"])))

    def _auth_request(self, seen: "_Seen") -> None:
        method = seen.message["method_name"]
        self.context["auth"] = "publickey" if method == HOSTBOUND else method
        self.auth_request = (seen.message["user_name"], method)

    def _auth_failure(self, seen: "_Seen") -> None:
        method = self.auth_request[1] if self.auth_request else "?"
        msg = seen.message
        seen.changes.append((Side.CLIENT, AuthFailed(method, list(msg["authentications"]),
                                                     bool(msg["partial_success"]))))

    def _auth_success(self, seen: "_Seen") -> None:
        user, method = self.auth_request or ("?", "?")
        self.context.pop("auth", None)
        self.auth_done = True
        for state in self.directions.values():
            state.reader.keys.start_delayed_compression(outgoing=False)
        seen.changes.append((Side.CLIENT, AuthSucceeded(user, method)))

    def _banner(self, seen: "_Seen") -> None:
        seen.changes.append((Side.CLIENT, AuthBanner(seen.message["message"])))

    # -- channels -----------------------------------------------------------------------------

    def _channel_open(self, seen: "_Seen") -> None:
        msg = seen.message
        self.channel_types[(seen.sender, msg["sender_channel"])] = msg["channel_type"]

    def _channel_open_confirmation(self, seen: "_Seen") -> None:
        msg, sender, receiver = seen.message, seen.sender, seen.receiver
        recipient, own = msg["recipient_channel"], msg["sender_channel"]
        kind = self.channel_types.get((receiver, recipient), "session")
        self.channel_types[(sender, own)] = kind
        client_id, server_id = (recipient, own) if sender is Side.SERVER else (own, recipient)
        self.server_channel[client_id] = server_id
        seen.changes.append((receiver, ChannelOpened(recipient, kind)))
        seen.changes.append((sender, ChannelOpened(own, kind)))

    def _channel_open_failure(self, seen: "_Seen") -> None:
        msg = seen.message
        seen.tell_receiver(ChannelOpenFailed(msg["recipient_channel"], msg["reason_code"], msg["description"]))

    def _channel_data(self, seen: "_Seen") -> None:
        msg = seen.message
        stream = msg["data_type_code"] if msg.spec is MSG.CHANNEL_EXTENDED_DATA else 0
        recipient, data = msg["recipient_channel"], msg["data"]
        seen.changes.append((seen.receiver, ChannelData(recipient, data, stream)))
        if stream == 0 and self.sftp_channels:
            self._sftp(seen.direction, recipient, data, seen.changes)

    def _channel_eof(self, seen: "_Seen") -> None:
        seen.tell_receiver(ChannelEOF(seen.message["recipient_channel"]))

    def _channel_close(self, seen: "_Seen") -> None:
        seen.tell_receiver(ChannelClosed(seen.message["recipient_channel"]))

    def _channel_request(self, seen: "_Seen") -> None:
        msg = seen.message
        request, channel = msg["request_type"], msg["recipient_channel"]
        if request == "exit-status":
            seen.tell_receiver(ExitStatus(channel, msg["exit_status"]))
        elif request == "exit-signal":
            seen.tell_receiver(ExitSignal(channel, msg["signal_name"], msg["core_dumped"], msg["error_message"]))
        elif request == "subsystem" and seen.sender is Side.CLIENT:
            seen.changes.append((Side.SERVER, SubsystemStarted(channel, msg["subsystem_name"])))
            if msg["subsystem_name"] == "sftp":
                self.sftp_channels[channel] = SftpStreamDecoder(preview=BULK_PREVIEW)  # its events show no more

    # -- SFTP inside a channel ----------------------------------------------------------------

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
        receiver = _ENDS[direction][2]
        for unit in units:
            changes.append((receiver, unit.event(recipient)))

    # What each message tells a bystander (those of the key exchange method: _kex_message).
    _HANDLERS = {
        MSG.KEXINIT: _kexinit, MSG.NEWKEYS: _newkeys,
        MSG.DISCONNECT: _disconnect, MSG.DEBUG: _debug, MSG.EXT_INFO: _ext_info,
        MSG.PONG: _pong, MSG.SERVICE_ACCEPT: _service_accept,
        MSG.USERAUTH_REQUEST: _auth_request, MSG.USERAUTH_FAILURE: _auth_failure,
        MSG.USERAUTH_SUCCESS: _auth_success, MSG.USERAUTH_BANNER: _banner,
        MSG.CHANNEL_OPEN: _channel_open,
        MSG.CHANNEL_OPEN_CONFIRMATION: _channel_open_confirmation,
        MSG.CHANNEL_OPEN_FAILURE: _channel_open_failure,
        MSG.CHANNEL_DATA: _channel_data, MSG.CHANNEL_EXTENDED_DATA: _channel_data,
        MSG.CHANNEL_EOF: _channel_eof, MSG.CHANNEL_CLOSE: _channel_close,
        MSG.CHANNEL_REQUEST: _channel_request,
    }


def _unopened_record(direction: str, seq: int, wire: bytes, mac_size: int, cipher: str = "?",
                     mac_name: str = "?", compression: str = "?") -> PacketRecord:
    """A packet known only by its bytes on the wire: uint32 length, the rest, the MAC or tag."""
    return PacketRecord(direction, seq, wire, b"", wire[len(wire) - mac_size:] if mac_size else b"", b"",
                        len(wire) - 4 - mac_size, 0, cipher, mac_name, compression, 4)
