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

try:  # one plain-language line per step, from the presentation layer once it has it
    from ..presentation.annotate import plain_line
except ImportError:  # until then the UI says what the message is for
    plain_line = None
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


def kex_value_doc(name: str) -> str:
    """What a value a key exchange method adds to H is, as the catalog declares the message
    field that carried it (p: "safe prime")."""
    for spec in SSH.specs:
        if spec.number in KEX_METHOD:
            for field in spec.fields:
                if getattr(field, "name", None) == name:
                    return field.doc
    return ""


def step_line(event: TraceEvent) -> str:
    """What just happened at this step, in a sentence: the presentation layer's plain line
    when it has one, else who sent what, and what that kind of message is for."""
    if plain_line is not None:
        line = plain_line(event)
        if line:
            return line
    sender = {"c2s": "the client", "s2c": "the server"}.get(event.direction, "")
    message = event.message
    what = message.spec.doc if message is not None else ""
    if event.name == "VERSION":
        what = "its identification line: protocol 2.0 and its software"
    head = f"{sender} sent {message_label(event)}" if sender else message_label(event)
    return f"{head}: {what}" if what else head


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
