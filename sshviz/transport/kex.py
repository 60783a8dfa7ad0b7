"""Key exchange: one object per family of methods, one object per exchange, one per round.

A *method* (curve25519-sha256, diffie-hellman-group14-sha256, ...) is a name, a hash, the way
K is encoded and the agent doing the arithmetic (``sshviz.crypto.kex``). Methods come in four
*families*, which differ in the messages they exchange and in what those add to H:

    dh      KEXDH_INIT e; KEXDH_REPLY K_S, f, signature                         RFC 4253 8
    gex     KEX_DH_GEX_REQUEST min, n, max; KEX_DH_GEX_GROUP p, g;
            KEX_DH_GEX_INIT e; KEX_DH_GEX_REPLY K_S, f, signature                 RFC 4419
    ecdh    KEX_ECDH_INIT Q_C; KEX_ECDH_REPLY K_S, Q_S, signature               RFC 5656 4, RFC 8731
    hybrid  KEX_HYBRID_INIT C_INIT; KEX_HYBRID_REPLY K_S, S_REPLY, signature    the ML-KEM and NTRU Prime
                                                                                hybrid drafts

Whatever the family, H = HASH(V_C || V_S || I_C || I_S || K_S || [the group exchange's request
and group] || the client's value || the server's value || K).

``KexFamily`` says all that once per family. ``KexExchange`` is one run of a family's messages
(which have gone by, the values they carried, the agent); ``KexRound`` is one whole key
exchange, from the KEXINITs to both NEWKEYS. The live transport drives them in either role; the
passive decoder of captures feeds them what it reads.

Adding a method is one ``KexMethod`` in ``KEX_METHODS``; a new family, one ``KexFamily``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cryptography.hazmat.primitives.asymmetric import ec

from ..crypto import dh_groups
from ..crypto.hashes import digest, digest_size
from ..crypto.kex import (DHAgent, ECDHAgent, KexAgent, KexError, MLKEMHybridAgent, SNTRUPHybridAgent,
                          X25519Agent)
from ..crypto.keys import PublicKey
from ..crypto.random import RandomSource
from ..crypto.registry import Registry
from ..events import AlgorithmsNegotiated, KexComputed
from ..sides import Direction, Side
from ..wire import types as t
from ..wire.catalog import MSG, DisconnectReason
from ..wire.spec import Message, MessageSpec
from .derivation import direction_keys, session_keys
from .errors import ProtocolError
from .negotiation import guess_was_right, negotiate
from .packet import DirectionKeys
from .work import SlowWork

HashInput = tuple[str, str, bytes]  # (name, RFC type, the bytes it adds to H)

# diffie-hellman-group-exchange: what the client asks for.
GEX_MIN, GEX_PREFERRED, GEX_MAX = 2048, 3072, 8192


@dataclass(frozen=True)
class Step:
    """One message of a family's exchange: who sends it, and which messages it may be."""

    sender: Side
    messages: tuple[MessageSpec, ...]


class KexFamily:
    """A family of key exchange methods: its messages in the order they go, the fields that
    carry the two public values, and what the exchange adds to the exchange hash."""

    def __init__(self, init: MessageSpec, reply: MessageSpec, client_value: str, server_value: str):
        self.name = init.context.partition("=")[2]  # what the catalog knows it by: "kex=ecdh"
        self.init, self.reply = init, reply
        self.client_value, self.server_value = client_value, server_value
        # Both values enter H as their messages carry them: mpint or string.
        self.value_type = next(f.type.name for f in init.fields if f.name == client_value)
        self.steps: tuple[Step, ...] = (Step(Side.CLIENT, (init,)), Step(Side.SERVER, (reply,)))

    def record(self, exchange: "KexExchange", message: Message) -> None:
        """Keep the values ``message`` carries."""
        if message.spec is self.init:
            exchange.client_value = message[self.client_value]
        elif message.spec is self.reply:
            exchange.host_key = message["host_key"]
            exchange.server_value = message[self.server_value]
            exchange.signature = message["signature"]

    def make_agent(self, exchange: "KexExchange", rng: RandomSource) -> KexAgent:
        return exchange.method.make_agent(rng)

    def next_message(self, exchange: "KexExchange", rng: RandomSource) -> Message:
        """What comes next from the side whose turn it is, when no signature is needed (the
        reply is made by ``reply_message``): here, the client's public value."""
        exchange.agent = self.make_agent(exchange, rng)
        return self.init.build(**{self.client_value: exchange.agent.client_init()})

    def reply_message(self, exchange: "KexExchange", signature: bytes) -> Message:
        return self.reply.build(host_key=exchange.host_key,
                                **{self.server_value: exchange.server_value}, signature=signature)

    def hash_inputs(self, exchange: "KexExchange") -> list[HashInput]:
        """What this family adds to H after K_S: the two public values."""
        encode = t.mpint if self.value_type == "mpint" else t.string
        return [(self.client_value, self.value_type, encode(exchange.client_value)),
                (self.server_value, self.value_type, encode(exchange.server_value))]


class GroupExchange(KexFamily):
    """diffie-hellman-group-exchange: before the values, the client names the group sizes it
    accepts and the server picks a group (RFC 4419); both the request and the group enter H."""

    def __init__(self):
        super().__init__(MSG.KEX_DH_GEX_INIT, MSG.KEX_DH_GEX_REPLY, "e", "f")
        self.steps = (Step(Side.CLIENT, (MSG.KEX_DH_GEX_REQUEST, MSG.KEX_DH_GEX_REQUEST_OLD)),
                      Step(Side.SERVER, (MSG.KEX_DH_GEX_GROUP,))) + self.steps

    def record(self, exchange: "KexExchange", message: Message) -> None:
        spec = message.spec
        if spec is MSG.KEX_DH_GEX_REQUEST:
            exchange.group_request = (message["min"], message["n"], message["max"])
        elif spec is MSG.KEX_DH_GEX_REQUEST_OLD:
            exchange.group_request = (None, message["n"], None)  # only n enters H (RFC 4419 5)
        elif spec is MSG.KEX_DH_GEX_GROUP:
            exchange.group = (message["p"], message["g"])
        else:
            super().record(exchange, message)

    def make_agent(self, exchange: "KexExchange", rng: RandomSource) -> KexAgent:
        p, g = exchange.group
        return DHAgent(p, g, exchange.method.exponent_bits, rng)

    def next_message(self, exchange: "KexExchange", rng: RandomSource) -> Message:
        if exchange.group_request is None:
            return MSG.KEX_DH_GEX_REQUEST.build(min=GEX_MIN, n=GEX_PREFERRED, max=GEX_MAX)
        if exchange.group is None:
            return self._group_message(exchange)
        (p, g), (lo, _, hi) = exchange.group, exchange.group_request
        if not lo <= p.bit_length() <= hi or p % 2 == 0 or not 1 < g < p - 1:
            raise KexError(f"server's group ({p.bit_length()} bits, g={g}) is outside the "
                           f"requested {lo}..{hi} bits or invalid")
        return super().next_message(exchange, rng)

    @staticmethod
    def _group_message(exchange: "KexExchange") -> Message:
        lo, n, hi = exchange.group_request
        if lo is None:  # the old request names only n: any group we have, the nearest to n
            lo, n, hi = GEX_MIN, min(max(n, GEX_MIN), GEX_MAX), GEX_MAX
        if not lo <= n <= hi:
            raise KexError(f"invalid group request: min {lo}, preferred {n}, max {hi}")
        group = choose_gex_group(lo, n, hi)
        if group is None:
            raise KexError(f"no group between {lo} and {hi} bits")
        return MSG.KEX_DH_GEX_GROUP.build(p=group[0], g=group[1])

    def hash_inputs(self, exchange: "KexExchange") -> list[HashInput]:
        (lo, n, hi), (p, g) = exchange.group_request, exchange.group
        inputs = [("n", "uint32", t.uint32(n))] if lo is None else [
            ("min", "uint32", t.uint32(lo)), ("n", "uint32", t.uint32(n)), ("max", "uint32", t.uint32(hi))]
        inputs += [("p", "mpint", t.mpint(p)), ("g", "mpint", t.mpint(g))]
        return inputs + super().hash_inputs(exchange)


def choose_gex_group(minimum: int, preferred: int, maximum: int) -> tuple[int, int] | None:
    """The server's pick for a GEX request, as OpenSSH's sshd chooses among its moduli: the
    smallest group of at least ``preferred`` bits within [min, max], else the largest one below
    it; None when no group fits. (sshd also has 7680-bit groups; RFC 3526 defines none.)"""
    fitting = [bits for bits in sorted(dh_groups.GROUPS_BY_BITS) if minimum <= bits <= maximum]
    if not fitting:
        return None
    bits = next((b for b in fitting if b >= preferred), fitting[-1])
    return dh_groups.GROUPS_BY_BITS[bits], dh_groups.GENERATOR


DH = KexFamily(MSG.KEXDH_INIT, MSG.KEXDH_REPLY, "e", "f")
GEX = GroupExchange()
ECDH = KexFamily(MSG.KEX_ECDH_INIT, MSG.KEX_ECDH_REPLY, "Q_C", "Q_S")
HYBRID = KexFamily(MSG.KEX_HYBRID_INIT, MSG.KEX_HYBRID_REPLY, "C_INIT", "S_REPLY")


@dataclass(frozen=True)
class KexMethod:
    """A key exchange method: its family, its hash, how K enters the hash, and the agent for
    its arithmetic."""

    name: str
    family: KexFamily
    hash: str
    make_agent: Callable[[RandomSource], KexAgent] | None  # None: the group comes later (gex)
    k_encoding: str = "mpint"  # how K enters the hash: "mpint" or "string"
    private_key_size: int | None = None  # bytes of a logged private key, where fixed (ECDH)
    # Why one logged private value cannot give this side's K again, when it cannot.
    private_key_insufficient: str = ""

    @property
    def exponent_bits(self) -> int:
        # Twice the hash's security level, as OpenSSH sizes DH exponents.
        return 2 * 8 * digest_size(self.hash) if self.hash != "sha1" else 320


KEX_METHODS: Registry[KexMethod] = Registry("key exchange method")


def _register(method: KexMethod, default: bool = True) -> None:
    KEX_METHODS.register(method.name, method, default)


def _dh(p: int, bits: int):
    return lambda rng: DHAgent(p, dh_groups.GENERATOR, bits, rng)


def _ecdh(name: str, curve: ec.EllipticCurve, hash_name: str) -> KexMethod:
    return KexMethod(name, ECDH, hash_name, lambda rng: ECDHAgent(curve, rng),
                     private_key_size=(curve.key_size + 7) // 8)


_register(KexMethod("mlkem768x25519-sha256", HYBRID, "sha256", MLKEMHybridAgent, "string",
                    private_key_insufficient="also needs the ML-KEM secret"))
# Streamlined NTRU Prime 761 with X25519, OpenSSH's default from 9.0 to 9.9 (under both names).
# Offered only when asked for: sshviz's own peers choose ML-KEM first anyway, and the binding
# takes no seed, so a run that chooses it does not repeat byte for byte.
for _name in ("sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com"):
    _register(KexMethod(_name, HYBRID, "sha512", SNTRUPHybridAgent, "string",
                        private_key_insufficient="also needs the sntrup761 secret"), default=False)
_register(KexMethod("curve25519-sha256", ECDH, "sha256", X25519Agent))
_register(KexMethod("curve25519-sha256@libssh.org", ECDH, "sha256", X25519Agent))
_register(_ecdh("ecdh-sha2-nistp256", ec.SECP256R1(), "sha256"))
_register(_ecdh("ecdh-sha2-nistp384", ec.SECP384R1(), "sha384"))
_register(_ecdh("ecdh-sha2-nistp521", ec.SECP521R1(), "sha512"))
_register(KexMethod("diffie-hellman-group-exchange-sha256", GEX, "sha256", None))
_register(KexMethod("diffie-hellman-group16-sha512", DH, "sha512", _dh(dh_groups.MODP_4096, 1024)))
_register(KexMethod("diffie-hellman-group18-sha512", DH, "sha512", _dh(dh_groups.MODP_8192, 1024)))
_register(KexMethod("diffie-hellman-group14-sha256", DH, "sha256", _dh(dh_groups.MODP_2048, 512)))
# SHA-1 based: legacy, offered only when asked for.
_register(KexMethod("diffie-hellman-group14-sha1", DH, "sha1", _dh(dh_groups.MODP_2048, 320)), default=False)
_register(KexMethod("diffie-hellman-group1-sha1", DH, "sha1", _dh(dh_groups.OAKLEY_GROUP_2, 320)),
          default=False)


class KexExchange:
    """One run of a family's messages: which have gone by, the values they carried, and the
    agent doing this side's arithmetic (a bystander has none)."""

    def __init__(self, method: KexMethod):
        self.method = method
        self.family = method.family
        self._position = 0  # the index in family.steps of the message expected next
        self.group_request: tuple[int | None, int, int | None] | None = None  # gex
        self.group: tuple[int, int] | None = None  # gex: (p, g)
        self.client_value = None
        self.server_value = None
        self.host_key = b""  # K_S, the server's public host key blob
        self.signature = b""
        self.agent: KexAgent | None = None

    @property
    def next_step(self) -> Step | None:
        steps = self.family.steps
        return steps[self._position] if self._position < len(steps) else None

    @property
    def done(self) -> bool:
        """Every message has gone by: the reply is in."""
        return self.next_step is None

    def take(self, message: Message, sender: Side) -> None:
        """One message of this exchange, sent or received, in its family's order."""
        step = self.next_step
        if step is None or sender != step.sender or message.spec not in step.messages:
            raise ProtocolError(DisconnectReason.PROTOCOL_ERROR,
                                f"unexpected {message.spec.rfc_name} during {self.method.name}")
        self.family.record(self, message)
        self._position += 1

    def next_message(self, rng: RandomSource) -> Message:
        return self.family.next_message(self, rng)

    def respond(self, rng: RandomSource, work: SlowWork, then: Callable[[bytes], None]) -> None:
        """The server's half: its public value and K (encoded) from the client's value, worked
        out by ``work`` (in another process, when the arithmetic is slow and an adapter has
        one); ``then(K)`` goes on from there."""
        agent = self.family.make_agent(self, rng)

        def done(result) -> None:
            if isinstance(result, KexError):
                raise ProtocolError(DisconnectReason.KEY_EXCHANGE_FAILED, str(result))
            self.agent, self.server_value, K = result
            then(K)

        work.run(server_arithmetic, (agent, self.client_value), done, slow=agent.slow)

    def reply_message(self, signature: bytes) -> Message:
        return self.family.reply_message(self, signature)

    def shared_secret(self) -> bytes:
        """The client's K (encoded), once the server's value is in."""
        return self.agent.client_finish(self.server_value)


def server_arithmetic(agent: KexAgent, client_value) -> tuple[KexAgent, object, bytes] | KexError:
    """The server's arithmetic, wherever slow work runs: the agent (its details filled in), its
    public value and K; a KexError for an invalid client value is returned, not raised, so it
    reaches the protocol as it would in line."""
    try:
        server_value, K = agent.server_respond(client_value)
    except KexError as exc:
        return exc
    return agent, server_value, K


class KexRound:
    """One key exchange, from the two KEXINITs to the two NEWKEYS, as a live side runs it and
    as a bystander reads it: the KEXINITs, what they negotiated, the method's exchange, its
    result, and the keys it gave each direction."""

    def __init__(self, first: bool):
        self.first = first
        self.kexinits: dict[Side, tuple[Message, bytes]] = {}  # side -> (message, payload)
        self.negotiated: AlgorithmsNegotiated | None = None
        self.method: KexMethod | None = None
        self.exchange: KexExchange | None = None
        self.wrong_guesses: set[Side] = set()  # sides whose guessed first kex packet is dropped
        self.result: KexComputed | None = None
        self.keys: dict[Direction, DirectionKeys] = {}  # once computed
        self.newkeys: set[Direction] = set()  # directions whose NEWKEYS has gone by

    def add_kexinit(self, side: Side, message: Message, payload: bytes) -> None:
        self.kexinits[side] = (message, payload)

    def negotiate(self, strict: bool, peer_ext_info: bool, local: Side | None) -> AlgorithmsNegotiated:
        """What the two KEXINITs agree on, and whose guessed kex packet (if any) is wrong and
        to be dropped (RFC 4253 7). The event is ``local``'s (None: a bystander's): it says
        whether the peer's guess, or for a bystander anyone's, is dropped."""
        client, server = (self.kexinits[side][0].values for side in (Side.CLIENT, Side.SERVER))
        algorithms = negotiate(client, server)
        if not guess_was_right(client, server):
            self.wrong_guesses = {side for side, values in ((Side.CLIENT, client), (Side.SERVER, server))
                                  if values["first_kex_packet_follows"]}
        ignored = self.wrong_guesses - {local}
        self.negotiated = AlgorithmsNegotiated(algorithms, strict, peer_ext_info, guess_ignored=bool(ignored))
        self.method = KEX_METHODS.get(algorithms["kex"].chosen)
        return self.negotiated

    def exchange_hash(self, V_C: str, V_S: str, K: bytes) -> tuple[bytes, list[HashInput]]:
        """H and its inputs, in hash order (RFC 4253 8 and the family's own)."""
        exchange = self.exchange
        inputs = [("V_C", "string", t.string(V_C.encode())), ("V_S", "string", t.string(V_S.encode())),
                  ("I_C", "string", t.string(self.kexinits[Side.CLIENT][1])),
                  ("I_S", "string", t.string(self.kexinits[Side.SERVER][1])),
                  ("K_S", "string", t.string(exchange.host_key))]
        inputs += exchange.family.hash_inputs(exchange)
        inputs.append(("K", exchange.method.k_encoding, K))
        return digest(exchange.method.hash, *(encoded for _, _, encoded in inputs)), inputs

    def compute(self, K: bytes, H: bytes, inputs: list[HashInput], session_id: bytes,
                host_key: PublicKey | None, secrets: dict) -> KexComputed:
        """The result: K, H, and the six keys derived from them for the negotiated algorithms."""
        method = self.exchange.method
        keys = session_keys(method.hash, self.negotiated.algorithms, K, H, session_id)
        self.result = KexComputed(method.name, method.hash, K, k_value(method.k_encoding, K), H,
                                  inputs, session_id, self.first,
                                  host_key.key_type if host_key else "?",
                                  host_key.fingerprint() if host_key else "?", list(keys.values()),
                                  secrets)
        return self.result

    def prepare_keys(self, local: Side | None, auth_done: bool) -> None:
        """What protects each direction from its NEWKEYS on; ``local`` is the side whose
        outgoing direction this is (None for a bystander, who reads both)."""
        keys = {key.letter: key for key in self.result.keys}
        for direction in Direction:
            self.keys[direction] = direction_keys(self.negotiated.algorithms, keys, direction,
                                                  direction.sender == local, auth_done)

    @property
    def finished(self) -> bool:
        return len(self.newkeys) == 2


def encode_k(k_encoding: str, value) -> bytes:
    """K as it enters the hash: an mpint (classic Diffie-Hellman, ECDH) or a string (hybrids)."""
    return t.mpint(value) if k_encoding == "mpint" else t.string(value)


def k_value(k_encoding: str, K: bytes):
    """The integer (mpint) or bytes (string) inside an encoded K."""
    reader = t.Reader(K)
    return reader.mpint() if k_encoding == "mpint" else reader.string()
