"""What the protocol objects report. Every layer appends these to its endpoint's event list;
the conductor, the network adapters, the trace and the UI read nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Event:
    """Base of all endpoint events: frozen dataclasses made with ``_event``, compared, hashed and
    shown field by field as dataclass itself does. Those three methods are written here once:
    dataclass compiles each one anew for every class, and for the events that was a tenth of
    the start-up of a command such as ``inspect``."""

    __slots__ = ()

    def _values(self) -> tuple:
        return tuple([getattr(self, name) for name in self.__match_args__])

    def __eq__(self, other: object):
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{self.__class__.__qualname__}({fields})"


# An event class: a frozen dataclass with slots whose comparison, hash and repr are Event's.
_event = dataclass(slots=True, frozen=True, eq=False, repr=False)


# -- transport --------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class VersionRecord:
    """An identification line (RFC 4253 4.2), with any lines a server sent before it."""

    direction: str
    line: bytes  # including CR LF
    pre_lines: list[bytes] = field(default_factory=list)
    time: float = 0.0

    @property
    def wire(self) -> bytes:
        return b"".join(self.pre_lines) + self.line

    @property
    def text(self) -> str:
        return self.line.rstrip(b"\r\n").decode("utf-8", "replace")


@dataclass(slots=True, frozen=True)
class RawUnit:
    """Bytes put on the wire by hand (a what-if, or a test of bad input), not by an endpoint."""

    direction: str
    wire: bytes
    time: float = 0.0
    note: str = ""


@_event
class VersionSent(Event):
    """This side wrote its identification line."""

    record: VersionRecord


@_event
class VersionReceived(Event):
    """The peer's identification line arrived."""

    record: VersionRecord


@_event
class PacketSent(Event):
    """This side wrote a packet (its PacketRecord)."""

    record: Any  # transport.packet.PacketRecord


@_event
class PacketReceived(Event):
    """A packet from the peer was read whole (its PacketRecord)."""

    record: Any


@dataclass(slots=True, frozen=True)
class NegotiatedAlgorithm:
    """One of the ten KEXINIT choices and why it was made."""

    category: str
    chosen: str | None
    client: list[str]
    server: list[str]
    unused: bool = False  # a MAC next to an AEAD cipher, which brings its own integrity

    @property
    def reason(self) -> str:
        if self.unused:
            return f"{self.chosen or '(none)'}: not used, the cipher is AEAD and authenticates itself"
        if self.chosen is None:
            return "no algorithm in the client's list is offered by the server"
        skipped = self.client[: self.client.index(self.chosen)]
        why = f"{self.chosen}: the first in the client's list that the server also offers"
        if skipped:
            why += f" (skipped, not offered by the server: {', '.join(skipped)})"
        return why


@_event
class AlgorithmsNegotiated(Event):
    """Both KEXINITs are known: the choice in each category, and whether strict KEX and ext-info are on."""

    algorithms: dict[str, NegotiatedAlgorithm]
    strict_kex: bool
    peer_ext_info: bool
    guess_ignored: bool = False

    def chosen(self, category: str) -> str | None:
        return self.algorithms[category].chosen


@dataclass(slots=True, frozen=True)
class DerivedKey:
    """One of the six keys A-F (RFC 4253 7.2): its value, the formula, and the hash blocks it came from."""

    letter: str  # "A".."F"
    purpose: str  # "initial IV, client to server", ...
    value: bytes
    formula: str
    blocks: list[bytes]  # K1, K2, ... before truncation


@_event
class KexComputed(Event):
    """The results of one key exchange: the shared secret, exchange hash and derived keys.

    ``H_inputs`` follow the one layout every method shares: V_C, V_S, I_C, I_S, K_S, then what
    the method adds of its own (a group exchange's request and group), the client's public
    value, the server's, and K last."""

    method: str
    hash: str
    K: bytes  # as encoded for hashing (mpint or string)
    K_value: Any  # the integer or bytes inside
    H: bytes
    H_inputs: list[tuple[str, str, bytes]]  # (name, RFC type, encoded bytes) in hash order
    session_id: bytes
    first_kex: bool
    host_key_type: str
    host_key_fingerprint: str
    keys: list[DerivedKey]
    secrets: dict[str, Any]  # this side's ephemeral values, for teaching

    @property
    def public_values(self) -> list[tuple[str, str, bytes]]:
        """The client's and the server's ephemeral public values, as they entered H."""
        return self.H_inputs[-3:-1]

    @property
    def method_inputs(self) -> list[tuple[str, str, bytes]]:
        """What the method adds to H besides the public values (a group exchange's request
        and group); empty for the others."""
        return self.H_inputs[5:-3]


@_event
class HostKeyChecked(Event):
    """The client's verdict on the server's host key: known, learned, accepted, or why not."""

    host: str
    key_type: str
    fingerprint: str
    status: str  # "known" | "learned" | "accepted" | "unknown" | "changed" | "revoked"
    detail: str = ""
    key_line: str = ""  # the OpenSSH public key line, for writing known_hosts


@_event
class KeysActivated(Event):
    """From the next packet on, one direction is protected by new keys (after NEWKEYS)."""

    direction: str  # "c2s" | "s2c"
    cipher: str
    mac: str
    compression: str
    sequence_reset: bool


@_event
class ExtInfoReceived(Event):
    """The peer's EXT_INFO extensions (RFC 8308), by name."""

    extensions: dict[str, Any]


@_event
class DebugReceived(Event):
    """The peer sent a DEBUG message."""

    message: str
    always_display: bool


@_event
class PongReceived(Event):
    """The answer to a PING (OpenSSH's transport-level ping)."""

    data: bytes


@_event
class Disconnected(Event):
    """The connection ended with a DISCONNECT, sent by the peer or by this side."""

    reason: int
    description: str
    by_peer: bool


# -- user authentication ----------------------------------------------------------------------


@_event
class ServiceAccepted(Event):
    """The server accepted a SERVICE_REQUEST (ssh-userauth)."""

    service: str


@_event
class AuthBanner(Event):
    """The server sent a USERAUTH_BANNER to show before logging in."""

    message: str


@_event
class AuthAttempt(Event):
    """The server's verdict on one USERAUTH_REQUEST (emitted on the server side)."""

    user: str
    method: str
    result: str  # "success" | "partial" | "failure" | "pk_ok" | "prompt"
    detail: str = ""


@_event
class AuthFailed(Event):
    """The client learned that an attempt failed, and what may continue."""

    method: str
    methods_left: list[str]
    partial_success: bool


@_event
class AuthSucceeded(Event):
    """The user is authenticated (USERAUTH_SUCCESS), with the method that did it."""

    user: str
    method: str


@_event
class PasswordNeeded(Event):
    """The client wants a password: call ``provide_password``."""

    user: str
    prompt: str


@_event
class PromptsNeeded(Event):
    """keyboard-interactive questions: call ``provide_responses``."""

    name: str
    instruction: str
    prompts: list[tuple[str, bool]]


@_event
class AuthExhausted(Event):
    """The client has no method left to try."""

    methods_left: list[str]


# -- connection -------------------------------------------------------------------------------


@_event
class ChannelOpened(Event):
    """A channel is open on this side, under this side's channel number."""

    channel: int
    channel_type: str


@_event
class ChannelOpenFailed(Event):
    """The peer refused a channel this side asked for (CHANNEL_OPEN_FAILURE)."""

    channel: int
    reason: int
    description: str


@_event
class ChannelRefused(Event):
    """This side answered a peer's CHANNEL_OPEN with CHANNEL_OPEN_FAILURE."""

    channel_type: str
    reason: int
    description: str


@_event
class ChannelRequestDone(Event):
    """A reply to a channel request this side sent with want_reply."""

    channel: int
    request: str
    success: bool


@_event
class ChannelData(Event):
    """Bytes arrived on a channel (normal data, or extended data such as stderr)."""

    channel: int
    data: bytes
    stream: int = 0  # 0: normal data, 1: stderr (extended data type 1)


@_event
class ChannelEOF(Event):
    """The peer will send no more data on this channel."""

    channel: int


@_event
class ChannelClosed(Event):
    """The channel is closed both ways (or the connection ended): its number is free again."""

    channel: int


@_event
class ExitStatus(Event):
    """The remote command ended with this exit status."""

    channel: int
    status: int


@_event
class ExitSignal(Event):
    """The remote command was ended by a signal."""

    channel: int
    signal: str
    core_dumped: bool
    message: str


@_event
class GlobalRequestDone(Event):
    """The reply to a global request this side sent."""

    request: str
    success: bool
    data: bytes = b""


@_event
class ForwardOpenRequested(Event):
    """The server was asked to connect somewhere (direct-tcpip); the adapter decides and calls
    ``accept_forward`` or ``reject_forward``."""

    channel: int
    host: str
    port: int
    originator: str
    originator_port: int


@_event
class SubsystemStarted(Event):
    """A subsystem (such as sftp) was started on a channel."""

    channel: int
    name: str


@_event
class SftpMessage(Event):
    """One whole SFTP packet seen on a channel (sent or received by this side), decoded with
    the SFTP catalog. ``packet`` is uint32 length || type || body; the message's field spans
    are offsets into ``packet``."""

    channel: int
    direction: str  # "c2s" | "s2c"
    packet: bytes
    message: Any
