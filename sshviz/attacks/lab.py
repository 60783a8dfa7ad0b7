"""The attacks, their settings, and what an attacked run comes to.

Each ``Attack`` builds a scenario from its settings (the defence on or off, a cipher), an
attacker for it, and reads the finished trace: ``outcome_of`` says which side ended the
connection, with which reason, at which message; ``Attack.verdict`` says which check stopped
the attack, or that nothing did."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..conductor import Conductor
from ..events import AlgorithmsNegotiated, AuthSucceeded, Disconnected, ExitStatus, ExtInfoReceived
from ..scenario import Scenario, make_conductor
from ..sides import Side
from ..trace.model import Interception
from ..transport.negotiation import PSEUDO_KEX
from ..wire.catalog import MSG, SSH, DisconnectReason
from ..wire.codes import enum_names
from .attacker import Released, WireAttacker

CIPHER_CHOICES = ("chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes128-ctr")


@dataclass(frozen=True)
class Setting:
    """One knob of an attack: its name on the command line, the values it takes (none listed:
    a whole number), the default."""

    name: str
    choices: tuple[str, ...]
    default: str
    help: str

    def check(self, value: str) -> None:
        if self.choices and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}, not {value!r}")
        if not self.choices and not value.isdigit():
            raise ValueError(f"{self.name} must be a whole number, not {value!r}")


STRICT_KEX = Setting("strict_kex", ("on", "off"), "on", "strict KEX, the Terrapin countermeasure")
CIPHER = Setting("cipher", CIPHER_CHOICES, CIPHER_CHOICES[0], "the cipher both sides prefer")


@dataclass(frozen=True)
class Outcome:
    """How an attacked run ended, read from its trace events only."""

    ended_by: str | None  # the side that sent or decided the DISCONNECT; None if nobody did
    reason: int | None
    description: str
    at_step: int | None  # the trace event whose unit made it end
    at_message: str  # what that unit was, as its receiver saw it
    authenticated: bool
    exit_status: int | None
    client_ext_info: bool  # the client received EXT_INFO
    mac_failures: int
    negotiated: dict[str, dict[str, str | None]] = field(default_factory=dict)  # side -> choices

    @property
    def clean(self) -> bool:
        """The session ran to its normal end: the client closed it when done."""
        return self.reason in (None, DisconnectReason.BY_APPLICATION) and self.exit_status is not None

    def line(self) -> str:
        if self.clean:
            return f"the session ran to its end (exit status {self.exit_status})"
        if self.reason is None:
            return "the connection stopped without a DISCONNECT"
        reason = _REASON(self.reason)
        return (f"the {self.ended_by} ended the connection with {reason} at step {self.at_step} "
                f"({self.at_message}): {self.description}")


def _unit_name(step) -> str:
    """What the unit of ``step`` was: the message its sender sent, or what the attacker made."""
    message = getattr(step.record, "message", None)
    if message is not None:
        return message.spec.name
    if step.kind == "version":
        return "identification line"
    if step.interception is not None:
        return f"a packet {step.interception.action} by the attacker"
    return "a packet nobody could open"


def outcome_of(steps) -> Outcome:
    ended_by = reason = at_step = None
    description, at_message = "", ""
    authenticated, exit_status, ext_info, mac_failures = False, None, False, 0
    negotiated: dict[str, dict[str, str | None]] = {}
    for step in steps:
        for side, event in step.changes:
            if isinstance(event, Disconnected) and not event.by_peer and ended_by is None:
                ended_by, reason, description = str(side), event.reason, event.description
                at_step, at_message = step.index, _unit_name(step)
                mac_failures += event.reason == DisconnectReason.MAC_ERROR
            elif isinstance(event, AuthSucceeded) and side == Side.CLIENT:
                authenticated = True
            elif isinstance(event, ExitStatus) and side == Side.CLIENT:
                exit_status = event.status
            elif isinstance(event, ExtInfoReceived) and side == Side.CLIENT:
                ext_info = True
            elif isinstance(event, AlgorithmsNegotiated) and str(side) not in negotiated:
                negotiated[str(side)] = {category: choice.chosen
                                         for category, choice in event.algorithms.items()}
    return Outcome(ended_by, reason, description, at_step, at_message, authenticated, exit_status,
                   ext_info, mac_failures, negotiated)


_REASON = enum_names(DisconnectReason)


class Attack:
    """One attack: its name, what it attacks, its settings, and how to set it up and judge it."""

    name = ""
    title = ""  # one line for `sshviz attacks`
    attacks = ""  # the security property under attack
    settings: tuple[Setting, ...] = ()

    def scenario(self, values: dict[str, str], seed: int) -> Scenario:
        sc = Scenario(seed=seed)
        if "strict_kex" in values:
            sc.strict_kex = values["strict_kex"] == "on"
        if "cipher" in values:
            sc.cipher = values["cipher"]
        return sc

    def attacker(self, values: dict[str, str], seed: int) -> WireAttacker:  # pragma: no cover
        raise NotImplementedError

    def attach(self, conductor: Conductor, sc: Scenario, values: dict[str, str], seed: int) -> None:
        """Put this attack's attacker on the conductor's wire."""
        conductor.attacker = self.attacker(values, seed)

    def verdict(self, outcome: Outcome, values: dict[str, str]) -> list[str]:  # pragma: no cover
        """Which check stopped the attack, or that nothing did, in a few lines."""
        raise NotImplementedError

    def resolve(self, given: dict[str, str]) -> dict[str, str]:
        """The settings with defaults filled in; ValueError names a wrong one."""
        known = {s.name: s for s in self.settings}
        for name, value in given.items():
            if name not in known:
                raise ValueError(f"the {self.name} attack has no setting {name!r}"
                                 + (f"; it has {', '.join(known)}" if known else ""))
            known[name].check(value)
        return {s.name: given.get(s.name, s.default) for s in self.settings}


# -- the attacks --------------------------------------------------------------------------------


class TerrapinAttacker(WireAttacker):
    """Inserts an IGNORE to the client before the server's NEWKEYS, then deletes the server's
    first encrypted packet (EXT_INFO), keeping count of both sides' sequence numbers."""

    def __init__(self, seed: int):
        super().__init__(seed)
        self.server_sent = 0  # the server's next sending sequence number
        self.client_expects = 0  # the client's next receiving sequence number
        self.inserted = self.deleted = False

    def _numbers(self) -> str:
        return (f"server's next sequence number {self.server_sent}, "
                f"client's expected {self.client_expects}")

    def intercept(self, sender: Side, unit) -> list[Released]:
        if sender is Side.CLIENT or not hasattr(unit, "seq"):
            return [(sender, unit, None)]
        released: list[Released] = []
        if not self.inserted and self.spec_of(unit) is MSG.NEWKEYS:
            self.inserted = True
            self.client_expects += 1
            ignore = self.cleartext_packet(Side.SERVER, SSH.build("IGNORE", data=b""), "inserted by the attacker")
            released.append((Side.SERVER, ignore, Interception(
                "inserted", f"an IGNORE to the client, in the clear before NEWKEYS: the counts drift "
                            f"apart ({self._numbers()})")))
        elif self.inserted and not self.deleted and self.encrypted(unit):
            self.deleted = True
            self.server_sent += 1
            name = self.spec_of(unit).name
            return [(Side.SERVER, unit, Interception(
                "dropped", f"the server's first encrypted packet ({name}) deleted: the counts line "
                           f"up again ({self._numbers()})"))]
        self.server_sent += 1
        self.client_expects += 1
        return released + [(sender, unit, None)]


class Terrapin(Attack):
    name = "terrapin"
    title = "prefix truncation (CVE-2023-48795): delete the server's EXT_INFO unnoticed"
    attacks = "integrity of the message sequence (nothing may be deleted)"
    settings = (Setting("strict_kex", ("on", "off"), "off", STRICT_KEX.help), CIPHER)

    def attacker(self, values, seed):
        return TerrapinAttacker(seed)

    def verdict(self, outcome, values):
        if values["strict_kex"] == "on":
            return ["Stopped by strict KEX: nothing but KEXINIT, the method's messages and NEWKEYS "
                    "may come before the first NEWKEYS, so the inserted IGNORE ends the connection; "
                    "sequence numbers also restart at 0 after each NEWKEYS, so the count an insertion "
                    "shifts could not carry over anyway."]
        if outcome.authenticated and not outcome.client_ext_info:
            return ["Nothing stopped it: the client authenticated without ever receiving EXT_INFO "
                    "(server-sig-algs and ping@openssh.com are lost) and every MAC verified.",
                    f"{values['cipher']} checks each packet against the receiver's own sequence "
                    "number only; the IGNORE moved the client's count one ahead, the deletion moved "
                    "the server's one ahead too, and from then on they agree."]
        return [f"The deletion broke decryption: {values['cipher']} carries state from packet to "
                "packet that does not follow the sequence number (AES-GCM's invocation counter, "
                "AES-CTR's key stream), so the packet after the deleted one does not open. "
                "Strict KEX is still the fix: it stops the attack for every cipher."]


class TamperAttacker(WireAttacker):
    """Flips one bit of one byte: in the client's first encrypted packet, or in its KEXINIT
    (byte 6 by default: inside the ciphertext in every mode; the KEXINIT cookie's first byte)."""

    def __init__(self, seed: int, target: str, offset: int = 6):
        super().__init__(seed)
        self.target, self.offset, self.done = target, offset, False

    def intercept(self, sender, unit):
        hit = (self.spec_of(unit) is MSG.KEXINIT) if self.target == "kexinit" else self.encrypted(unit)
        if self.done or sender is not Side.CLIENT or not hit:
            return [(sender, unit, None)]
        self.done = True
        wire = bytearray(unit.wire)
        offset = min(self.offset, len(wire) - 1)
        wire[offset] ^= 0x01
        return [(sender, self.changed(unit, bytes(wire), "changed by the attacker"), Interception(
            "changed", f"bit 0 of byte {offset} (of {len(wire)}) flipped in the client's "
                       f"{self.spec_of(unit).name}", unit.wire))]


class Tamper(Attack):
    name = "tamper"
    title = "flip one bit of an encrypted packet, or of a cleartext KEXINIT"
    attacks = "integrity of packets; agreement on the exchange hash H"
    settings = (Setting("target", ("encrypted", "kexinit"), "encrypted",
                        "which packet: the client's first encrypted one, or its KEXINIT"),
                Setting("byte", (), "6", "which byte of the packet to change, from 0 (the last if "
                                         "the packet is shorter)"), CIPHER)

    def attacker(self, values, seed):
        return TamperAttacker(seed, values["target"], int(values["byte"]))

    def verdict(self, outcome, values):
        if values["target"] == "kexinit" and outcome.reason == DisconnectReason.KEY_EXCHANGE_FAILED:
            return ["Stopped by the exchange hash: H covers both KEXINITs as each side saw them, so "
                    "the server signed an H the client did not compute, and the host key signature "
                    "did not verify. A KEXINIT travels in the clear, yet cannot be changed unseen."]
        if values["target"] == "kexinit" and outcome.clean:
            return ["The session went on: the byte changed was in the packet's random padding, "
                    "which is not part of the KEXINIT payload that H covers, so nothing either side "
                    "relies on changed."]
        if values["target"] == "encrypted" and outcome.reason == DisconnectReason.MAC_ERROR:
            return [f"Stopped by the MAC: {values['cipher']} authenticates every encrypted byte, "
                    "so the changed packet fails its check and the receiver ends the connection."]
        if outcome.reason is None:
            return ["The receiver is still waiting: the changed byte made the packet's length (which "
                    "it reads first) announce more bytes than will ever come. Nothing was accepted; a "
                    "real server gives up after its timeout."]
        return ["The receiver could not read the changed packet and ended the connection (see the "
                "outcome): the byte was part of what frames the packet, such as its length."]


class DowngradeAttacker(WireAttacker):
    """Holds the first KEXINIT until it has both, then strips from each list every algorithm
    both sides would prefer to the last one they share, so that both agree on that one."""

    STRIPPED = ("kex_algorithms", "encryption_algorithms_client_to_server",
                "encryption_algorithms_server_to_client", "mac_algorithms_client_to_server",
                "mac_algorithms_server_to_client")

    def __init__(self, seed):
        super().__init__(seed)
        self.first: tuple[Side, object] | None = None
        self.done = False

    def intercept(self, sender, unit):
        if self.done or self.spec_of(unit) is not MSG.KEXINIT:
            return [(sender, unit, None)]
        if self.first is None:
            self.first = (sender, unit)
            return []
        self.done = True
        units = {self.first[0]: self.first[1], sender: unit}
        client, server = units[Side.CLIENT].message, units[Side.SERVER].message
        strip: dict[str, set[str]] = {}
        for name in self.STRIPPED:
            common = [n for n in client[name] if n in server[name] and n not in PSEUDO_KEX]
            strip[name] = set(common[:-1])
        released = []
        for side in (self.first[0], sender):
            original = units[side]
            values = dict(original.message.values)
            for name, names in strip.items():
                values[name] = [n for n in values[name] if n not in names]
            forged = self.cleartext_packet(side, SSH.build("KEXINIT", **values), "changed by the attacker")
            kept = ", ".join(values[name][0] for name in ("kex_algorithms",) if values[name])
            released.append((side, forged, Interception(
                "changed", f"the {side}'s KEXINIT without the algorithms both prefer (first kex "
                           f"left: {kept})", original.wire)))
        return released


class Downgrade(Attack):
    name = "downgrade"
    title = "strip the strong algorithms from both KEXINITs"
    attacks = "agreement on the algorithms (and on H)"

    def attacker(self, values, seed):
        return DowngradeAttacker(seed)

    def verdict(self, outcome, values):
        client = outcome.negotiated.get("client", {}).get("kex")
        server = outcome.negotiated.get("server", {}).get("kex")
        return [f"Both sides settled on {client or server} (the weakest they share), but the "
                "exchange hash covers both KEXINITs as each side saw them: the server's signature "
                "is over an H the client did not compute, so the client refuses the host key "
                "signature and disconnects before anything is encrypted."]


def _how_it_failed(outcome: Outcome) -> str:
    if outcome.reason == DisconnectReason.MAC_ERROR:
        return ("Its MAC (or AEAD tag) covers the sequence number it was sent with, not the one "
                "the receiver expects, so the check fails.")
    return ("With chacha20-poly1305 even the length is encrypted under a key made from the "
            "sequence number: under the receiver's number it decrypts to nonsense, and the packet "
            "is refused before its tag is read.")


class ReplayAttacker(WireAttacker):
    """Sends the client's CHANNEL_OPEN a second time, right after the first."""

    def __init__(self, seed):
        super().__init__(seed)
        self.done = False

    def intercept(self, sender, unit):
        if self.done or sender is not Side.CLIENT or self.spec_of(unit) is not MSG.CHANNEL_OPEN:
            return [(sender, unit, None)]
        self.done = True
        copy = self.changed(unit, unit.wire, "replayed by the attacker")
        return [(sender, unit, Interception("read", "the attacker records the client's CHANNEL_OPEN")),
                (sender, copy, Interception("replayed", "the recorded CHANNEL_OPEN sent again, byte "
                                                        "for byte"))]


class Replay(Attack):
    name = "replay"
    title = "send a recorded encrypted packet again"
    attacks = "ordering and freshness of packets"
    settings = (CIPHER,)

    def attacker(self, values, seed):
        return ReplayAttacker(seed)

    def verdict(self, outcome, values):
        return ["Stopped by the sequence number: each packet is checked against the receiver's "
                "count of packets, which has moved on, so the copy fails.", _how_it_failed(outcome)]


class ReorderAttacker(WireAttacker):
    """Holds back the server's first CHANNEL_DATA and lets the packet after it overtake it."""

    def __init__(self, seed):
        super().__init__(seed)
        self.state = "waiting"

    def intercept(self, sender, unit):
        if self.state == "waiting" and sender is Side.SERVER and self.spec_of(unit) is MSG.CHANNEL_DATA:
            self.state = "holding"
            self.hold(sender, unit, Interception("reordered", "held back, now delivered after the "
                                                              "packet that followed it"))
            return []
        if self.state == "holding" and sender is Side.SERVER:
            self.state = "done"
            ahead = (sender, unit, Interception(
                "reordered", f"the server's {self.spec_of(unit).name} delivered ahead of the "
                             "CHANNEL_DATA sent before it"))
            return [ahead, *self.flush()]
        return [(sender, unit, None)]


class Reorder(Attack):
    name = "reorder"
    title = "swap two encrypted packets"
    attacks = "ordering of packets"
    settings = (CIPHER,)

    def attacker(self, values, seed):
        return ReorderAttacker(seed)

    def verdict(self, outcome, values):
        return ["Stopped by the sequence number: the packet that overtook arrived where the "
                "receiver expected the one before it.", _how_it_failed(outcome)]


WEAKNESSES = {
    "diffie-hellman-group1-sha1": "a 1024-bit group shared by every server that uses it: the "
    "Logjam study (2015) estimated that a state-level attacker could precompute for one such "
    "prime and then break each exchange; OpenSSH disabled it by default in 7.0 (2015)",
    "ssh-rsa": "RSA signatures over SHA-1, whose chosen-prefix collisions became practical in "
    "2020 (\"SHA-1 is a Shambles\"); OpenSSH disabled it by default in 8.8 (2021)",
    "hmac-sha1": "encrypt-and-MAC: the MAC is over the plaintext and the packet length is "
    "decrypted before anything is authenticated (the -etm and AEAD modes avoid both); SHA-1 "
    "itself still holds as an HMAC",
}


class WeakAttacker(WireAttacker):
    """Only reads: marks each KEXINIT with the weak algorithms it offers."""

    def intercept(self, sender, unit):
        if self.spec_of(unit) is not MSG.KEXINIT:
            return [(sender, unit, None)]
        offered = {n for name in ("kex_algorithms", "server_host_key_algorithms",
                                  "mac_algorithms_client_to_server") for n in unit.message[name]}
        weak = [n for n in WEAKNESSES if n in offered]
        return [(sender, unit, Interception("read", f"the {sender} offers weak algorithms: "
                                                    f"{', '.join(weak) or 'none'}"))]


class Weak(Attack):
    name = "weak"
    title = "deliberately weak choices (diffie-hellman-group1-sha1, ssh-rsa with SHA-1) explained"
    attacks = "secrecy of K and host authentication, in the long run"

    def scenario(self, values, seed):
        return Scenario(seed=seed, kex="diffie-hellman-group1-sha1", hostkey="ssh-rsa",
                        cipher="aes128-ctr", mac="hmac-sha1")

    def attacker(self, values, seed):
        return WeakAttacker(seed)

    def verdict(self, outcome, values):
        chosen = outcome.negotiated.get("client", {})
        lines = ["Nothing stops it on the wire: both sides agreed to these algorithms. What is "
                 "wrong with each:"]
        for category in ("kex", "host_key", "mac_c2s"):
            name = chosen.get(category)
            if name in WEAKNESSES:
                lines.append(f"- {name}: {WEAKNESSES[name]}")
        return lines


class Mitm(Attack):
    name = "mitm"
    title = "a man in the middle with its own host key runs two key exchanges and relays"
    attacks = "host authentication (and with it, secrecy of everything)"
    settings = (Setting("known_host", ("yes", "no"), "yes",
                        "the client already knows the real server's host key (no: trust on first use)"),)

    def scenario(self, values, seed):
        return Scenario(seed=seed, auth="password")

    def attach(self, conductor, sc, values, seed):
        from .mitm import MitmAttacker

        conductor.attacker = MitmAttacker(seed, conductor.clock, sc.user)
        if values["known_host"] == "no":
            conductor.client.transport.config.verify_host_key = lambda key: (
                "learned", "first contact: trusted on first use")

    def verdict(self, outcome, values):
        if values["known_host"] == "yes":
            return ["Stopped by the host key check: the attacker cannot sign with the real "
                    "server's key, so it offered its own, and the client, which knows the real one, "
                    "refused it. OpenSSH says so loudly: \"WARNING: REMOTE HOST IDENTIFICATION HAS "
                    "CHANGED!\" and does not connect."]
        return ["Nothing stopped it: trusting on first use, the client accepted the attacker's key. "
                "The attacker decrypted the password and the command on leg 1, logged in to the real "
                "server with them on leg 2, and read the output on its way back.",
                "With publickey authentication it could not have logged in: the user's signature "
                "covers the session identifier, which differs on each leg."]


ATTACKS: dict[str, Attack] = {a.name: a for a in (Terrapin(), Mitm(), Tamper(), Downgrade(), Replay(),
                                                   Reorder(), Weak())}


@dataclass
class AttackRun:
    """An attack set up on a conductor (stepped by the UI, or run at once)."""

    attack: Attack
    values: dict[str, str]
    conductor: Conductor

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.conductor.steps)

    def summary(self) -> list[str]:
        outcome = self.outcome
        settings = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return [f"attack: {self.attack.name}" + (f" ({settings})" if settings else ""),
                f"attacked: {self.attack.attacks}",
                f"outcome: {outcome.line()}",
                *self.attack.verdict(outcome, self.values)]


def prepare_attack(name: str, values: dict[str, str] | None = None, seed: int = 1) -> AttackRun:
    """The attack ``name`` set up and not yet run; ValueError for an unknown name or setting."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; known: {', '.join(ATTACKS)}")
    attack = ATTACKS[name]
    values = attack.resolve(values or {})
    sc = attack.scenario(values, seed)
    conductor = make_conductor(sc)
    attack.attach(conductor, sc, values, seed)
    conductor.trace.header.extra["attack"] = {"name": name, **values}  # a saved trace says so
    return AttackRun(attack, values, conductor)


def run_attack(name: str, values: dict[str, str] | None = None, seed: int = 1) -> AttackRun:
    run = prepare_attack(name, values, seed)
    run.conductor.run()
    run.conductor.trace.fill_header()
    return run
