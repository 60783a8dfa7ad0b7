"""What the panels show, worked out from trace events without Textual: the field items of a
message (with the coordinates of their bytes), the byte sections of the hex view, and the
key-exchange state the key panel draws. The widgets only lay these out."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..events import (AlgorithmsNegotiated, AuthSucceeded, HostKeyChecked, KexComputed,
                      KeysActivated, VersionRecord)
# The annotated fields and bytes are the presentation layer's (the illustrated page shows them
# too); the widgets take them from here.
from ..presentation.annotate import (PAYLOAD_OFFSET, VERSION_RFC, FieldItem,  # noqa: F401
                                     HexSection, attacker_line, hex_sections, message_items, walk)
from ..trace.model import TraceEvent, sftp_messages, sftp_name
from ..wire.catalog import KEX_METHOD, SSH
from .timeline import Milestone, NewKeysSent

# -- key panel -------------------------------------------------------------------------------


@dataclass
class KeyState:
    """What is known about keys at one step: the latest negotiation and key exchange, as each
    side saw it, and which direction is protected."""

    negotiated: AlgorithmsNegotiated | None = None
    kex: dict[str, KexComputed] = field(default_factory=dict)  # side -> result
    kex_index: dict[str, int] = field(default_factory=dict)  # side -> message that caused it
    kex_count: int = 0
    host_key: HostKeyChecked | None = None
    active: dict[str, KeysActivated] = field(default_factory=dict)  # direction -> keys in force
    switched: dict[str, int] = field(default_factory=dict)  # direction -> its latest NEWKEYS
    auth: AuthSucceeded | None = None

    @property
    def result(self) -> KexComputed | None:
        """The latest K, H and keys (both sides compute the same; the client's view first)."""
        return self.kex.get("client") or self.kex.get("server")


def key_state(milestones: list[Milestone]) -> KeyState:
    state = KeyState()
    activations: dict[str, list[tuple[int, KeysActivated]]] = {"c2s": [], "s2c": []}
    for milestone in milestones:
        event, side = milestone.event, milestone.side
        if isinstance(event, AlgorithmsNegotiated):
            state.negotiated = event  # both sides agree; the latest is the one in force
        elif isinstance(event, KexComputed):
            current = state.result
            if current is None or current.H != event.H:  # a new key exchange (H is unique)
                state.kex, state.kex_index = {}, {}
                state.kex_count += 1
            state.kex[side] = event
            state.kex_index[side] = milestone.index
        elif isinstance(event, HostKeyChecked):
            state.host_key = event
        elif isinstance(event, KeysActivated):
            activations[event.direction].append((milestone.index, event))
        elif isinstance(event, NewKeysSent):
            state.switched[event.direction] = milestone.index
        elif isinstance(event, AuthSucceeded):
            state.auth = event
    # A sender reports its new keys as it queues its NEWKEYS, often while handling an earlier
    # message (the server, at KEX_ECDH_INIT); they protect the direction only after the NEWKEYS.
    for direction, newkeys in state.switched.items():
        in_force = [keys for index, keys in activations[direction] if index <= newkeys]
        if in_force:
            state.active[direction] = in_force[-1]
    return state


def hash_inputs_formula(result: KexComputed) -> str:
    return f"H = {result.hash.upper()}(" + " || ".join(name for name, _, _ in result.H_inputs) + ")"


@dataclass(frozen=True)
class HybridKEM:
    """What the key panel says about one of the post-quantum hybrids: its KEM and sizes."""

    kem: str
    family: str  # what the KEM's hardness rests on
    public: int  # bytes of the client's KEM public key
    ciphertext: int
    hash: str
    spec: str


HYBRIDS = {
    "mlkem768x25519-sha256": HybridKEM("ML-KEM-768", "module lattices (FIPS 203)", 1184, 1088,
                                       "SHA-256", "draft-ietf-sshm-mlkem-hybrid-kex"),
    "sntrup761x25519-sha512": HybridKEM("sntrup761 (Streamlined NTRU Prime)",
                                        "NTRU-style polynomial lattices", 1158, 1039, "SHA-512",
                                        "draft-ietf-sshm-ntruprime-ssh; OpenSSH's default 9.0 to 9.9"),
}
HYBRIDS["sntrup761x25519-sha512@openssh.com"] = HYBRIDS["sntrup761x25519-sha512"]


def hybrid_notes(method: str) -> list[str]:
    """For a post-quantum hybrid key exchange: what a KEM is, what travels, how K is made and
    why two mechanisms at once; nothing for other methods."""
    hybrid = HYBRIDS.get(method)
    if hybrid is None:
        return []
    return [
        f"A KEM (key encapsulation mechanism), here {hybrid.kem}, is not Diffie-Hellman: only the "
        f"client has a key pair. The server makes up a random secret, locks it to the client's "
        f"public key (encapsulates) and sends back only the ciphertext; the client's private key "
        f"unlocks it (decapsulates). Nothing the two send reveals the secret.",
        f"What travels: C_INIT = the client's {hybrid.kem} public key ({hybrid.public} bytes) || "
        f"its X25519 public key (32); S_REPLY = the ciphertext ({hybrid.ciphertext} bytes) || "
        f"the server's X25519 public key (32).",
        f"K = {hybrid.hash}(KEM secret || X25519 secret), hashed into H as a string ({hybrid.spec}).",
        f"Why both: a large quantum computer could break X25519 and so open sessions recorded today; "
        f"{hybrid.kem} rests on {hybrid.family}, believed to resist one. X25519 is old and well "
        f"studied, in case the newer KEM has a flaw. K stays secret unless both are broken.",
    ]


def certificate_notes(host_key_type: str) -> list[str]:
    """For a host key that is an OpenSSH certificate: what a certificate is and where its
    fields are; nothing for a plain key."""
    if not host_key_type.endswith("-cert-v01@openssh.com"):
        return []
    return [
        "The host key is an OpenSSH certificate: SSH's answer to certificate authorities. A CA "
        "key signed this host's key together with names (principals), a validity window and "
        "options, so a client that trusts the CA (@cert-authority in known_hosts) needs no line "
        "for each host, and users are not asked to check fingerprints.",
        "The client believes it only if the CA is trusted for this host name, the CA's signature "
        "over the certificate verifies, it is a host (not user) certificate, now is inside its "
        "validity window, and the host's name is among its principals; @revoked refuses the key "
        "or its CA whatever else known_hosts says.",
        "Its fields (nonce, key, serial, type, key id, principals, valid after/before, critical "
        "options, extensions, the CA's key and signature) are opened up under host_key in the "
        "key exchange reply. The signature over H is still made by the host's own key.",
    ]


def kex_value_doc(name: str) -> str:
    """What a value a key exchange method adds to H is, as the catalog declares the message
    field that carried it (p: "safe prime")."""
    for spec in SSH.specs:
        if spec.number in KEX_METHOD:
            for field in spec.fields:
                if getattr(field, "name", None) == name:
                    return field.doc
    return ""


def message_label(event: TraceEvent) -> str:
    """The message's name and the SFTP packets it carried: CHANNEL_DATA · FXP_WRITE."""
    carried = sftp_messages(event)
    if not carried:
        return event.name
    return event.name + " · " + ", ".join(sftp_name(m).removeprefix("SSH_") for m in carried)


def find_in(event: TraceEvent, query: str) -> str | None:
    """Where ``query`` (ignoring case) is in a message: its name (SFTP names too) or a field's
    value, said in a few words; None if it is not there."""
    needle = query.strip().lower()
    if not needle:
        return None
    names = [event.name] + [sftp_name(m) for m in sftp_messages(event)]
    for name in names:
        if needle in name.lower():
            return f"name {name}"
    if isinstance(event.record, VersionRecord):
        return f"line {event.record.text!r}" if needle in event.record.text.lower() else None
    for item in walk(message_items(event)):
        value = item.value_text
        if item.field.name != "msg_number" and needle in value.lower():
            return f"{item.title or item.field.name} = {value}"
    return None


def search_matcher(query: str):
    """A test for Timeline.search: is ``query`` in the message (see find_in)?"""
    return lambda event: find_in(event, query) is not None
