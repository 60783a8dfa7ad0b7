"""The observations an experiment may expect of its rerun, read from the rerun's trace events
alone: each says whether it holds and, in a few words, what the run actually did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..attacks.lab import outcome_of
from ..events import AlgorithmsNegotiated, AuthFailed, ChannelData, HostKeyChecked, KexComputed
from ..sides import Direction, Side
from ..trace.model import sftp_messages, sftp_name
from ..wire.catalog import DisconnectReason
from ..wire.codes import enum_names
from ..wire.sftp import StatusCode
from .computations import category_name, derived_key, key_letter

REASON_NAME = enum_names(DisconnectReason)
SIDES = ("client", "server")
HOST_KEY_STATUSES = ("known", "learned", "accepted", "unknown", "changed", "revoked")


@dataclass(frozen=True)
class Observation:
    """One named check: ``observe(trace, params) -> (holds, what the run did)``."""

    name: str
    doc: str
    observe: Callable[[object, dict], tuple[bool, str]]
    params: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    def validate(self, params: dict) -> None:
        if "category" in params:
            category_name(params["category"])
        if "reason" in params and params["reason"] not in DisconnectReason.__members__:
            raise ValueError(f"unknown disconnect reason {params['reason']!r} (known: "
                             f"{', '.join(DisconnectReason.__members__)})")
        if "by" in params and params["by"] not in SIDES:
            raise ValueError(f"by must be client or server, not {params['by']!r}")
        if "letter" in params:
            key_letter(params["letter"])
        if "status" in params and params["status"] not in HOST_KEY_STATUSES:
            raise ValueError(f"status must be one of {', '.join(HOST_KEY_STATUSES)}, not {params['status']!r}")
        for flag in ("value",):
            if flag in params and not isinstance(params[flag], bool):
                raise ValueError(f"{flag} must be true or false, not {params[flag]!r}")
        if "code" in params and params["code"] not in StatusCode.__members__:
            raise ValueError(f"unknown SFTP status {params['code']!r} (known: "
                             f"{', '.join(StatusCode.__members__)})")
        if "message" in params:
            from .selectors import _MESSAGE

            if not isinstance(params["message"], str) or not _MESSAGE.match(params["message"]):
                raise ValueError(f"message {params['message']!r} is not '#N' nor "
                                 "'NAME [from client|server] [N|last]'")


def _negotiated(trace, params):
    category = category_name(params["category"])
    found = [c for e in trace.events for _, c in e.changes if isinstance(c, AlgorithmsNegotiated)]
    if not found:
        return False, "no algorithms were negotiated"
    chosen = found[0].chosen(category)
    return chosen == params["is"], f"the negotiated {category} is {chosen or '(none)'}"


def _disconnected(trace, params):
    outcome = outcome_of(trace.events)
    if outcome.reason is None:
        return False, outcome.line()
    reason_ok = "reason" not in params or REASON_NAME(outcome.reason) == params["reason"]
    by_ok = "by" not in params or outcome.ended_by == params["by"]
    return reason_ok and by_ok, outcome.line()


def _authenticated(trace, params):
    outcome = outcome_of(trace.events)
    wanted = params.get("value", True)
    return outcome.authenticated == wanted, ("the client authenticated" if outcome.authenticated
                                             else "the client did not authenticate")


def _auth_failure(trace, params):
    method = params.get("method")
    failed = [c.method for e in trace.events for side, c in e.changes
              if isinstance(c, AuthFailed) and side == Side.CLIENT and c.method != "none"]
    holds = bool(failed) if method is None else method in failed
    return holds, (f"refused: {', '.join(failed)}" if failed else "no method but none was refused")


def _session_completes(trace, params):
    outcome = outcome_of(trace.events)
    holds = outcome.clean and ("exit_status" not in params or outcome.exit_status == params["exit_status"])
    return holds, outcome.line()


def _message_seen(trace, params):
    from .selectors import SelectorError, select_message

    try:
        event = select_message(trace, params["message"])
    except SelectorError as exc:
        return False, str(exc)
    return True, f"{params['message']} is message #{event.index}"


def _message_absent(trace, params):
    seen, what = _message_seen(trace, params)
    return not seen, what


def _sequence_number(trace, params):
    from .selectors import SelectorError, select_message

    try:
        event = select_message(trace, params["message"])
    except SelectorError as exc:
        return False, str(exc)
    if event.kind != "packet":
        return False, f"{params['message']} is not a packet"
    return event.record.seq == params["is"], f"{params['message']} has sequence number {event.record.seq}"


def _strict_kex(trace, params):
    found = [c for e in trace.events for _, c in e.changes if isinstance(c, AlgorithmsNegotiated)]
    on = bool(found) and found[0].strict_kex
    return on == params.get("value", True), f"strict KEX is {'on' if on else 'off'}"


def _output(trace, params):
    data = b"".join(c.data for e in trace.events for side, c in e.changes
                    if isinstance(c, ChannelData) and side == Side.CLIENT)
    text = data.decode("utf-8", "replace")
    return str(params["contains"]) in text, f"the client received {text[:60]!r}"


def _sftp_status(trace, params):
    """A STATUS with ``code`` answers a request (of the type ``answers`` names, if given): the
    reply is matched to its request by the request id, as an SFTP client does."""
    wanted = params.get("answers", "").upper().removeprefix("SSH_")
    requests, answered = {}, []
    for event in trace.events:
        for sftp in sftp_messages(event):
            message = sftp.message
            if message is None or "id" not in message.values:
                continue
            name = sftp_name(sftp).removeprefix("SSH_")
            key = (sftp.channel, message["id"])
            if sftp.direction == Direction.C2S:
                requests[key] = name
            elif name == "FXP_STATUS":
                answered.append((requests.get(key, "?"), message["id"], StatusCode(message["code"]).name))
    holds = any(code == params["code"] and (not wanted or request == wanted)
                for request, _, code in answered)
    errors = [f"{request} id {id_}: {code}" for request, id_, code in answered if code != "OK"]
    return holds, ("the statuses that were not OK: " + ", ".join(errors) if errors
                   else f"{len(answered)} statuses, all OK" if answered else "no SFTP status")


_LIST = [
    Observation("negotiated", "the first negotiation agrees on `is` for `category`", _negotiated,
                ("category", "is"), ("category", "is")),
    Observation("disconnected", "a side ends the connection with a DISCONNECT, with `reason` (a "
                "name such as MAC_ERROR) and `by` (client or server) if given", _disconnected,
                ("reason", "by"), ()),
    Observation("authenticated", "the client authenticates (`value: false`: it never does)",
                _authenticated, ("value",)),
    Observation("auth_failure", "the server refuses an authentication attempt (of `method`, if "
                "given; the opening 'none' request does not count)", _auth_failure, ("method",)),
    Observation("session_completes", "the session runs to its normal end (with `exit_status`, if "
                "given)", _session_completes, ("exit_status",)),
    Observation("message_seen", "the run has the `message` a selector names", _message_seen,
                ("message",), ("message",)),
    Observation("message_absent", "the run has no `message` the selector names", _message_absent,
                ("message",), ("message",)),
    Observation("sequence_number", "the packet the `message` selector names has sequence number `is`",
                _sequence_number, ("message", "is"), ("message", "is")),
    Observation("strict_kex", "strict KEX is on (`value: false`: off)", _strict_kex, ("value",)),
    Observation("output", "the command's output the client received `contains` a text", _output,
                ("contains",), ("contains",)),
    Observation("sftp_status", "the SFTP server answers a request (of type `answers`, e.g. FXP_REMOVE, "
                "if given) with a STATUS of `code` (OK, EOF, NO_SUCH_FILE, PERMISSION_DENIED, FAILURE ...)",
                _sftp_status, ("code", "answers"), ("code",)),
]

def _host_key(trace, params):
    checks = [c for e in trace.events for side, c in e.changes
              if isinstance(c, HostKeyChecked) and side == Side.CLIENT]
    if not checks:
        return False, "the client never checked a host key"
    first = checks[0]
    return first.status == params["status"], f"the client found the host key {first.status} ({first.detail})"


def _key_length(trace, params):
    found = [c for e in trace.events for _, c in e.changes if isinstance(c, KexComputed)]
    if not found:
        return False, "no key exchange completed"
    length = len(derived_key(found[0], params["letter"]))
    return length == params["is"], f"key {params['letter']} is {length} bytes long"


def _selected_packet(trace, selector):
    """The packet event ``selector`` names, or None and why not."""
    from .selectors import SelectorError, select_message

    try:
        event = select_message(trace, selector)
    except SelectorError as exc:
        return None, str(exc)
    return (event, "") if event.kind == "packet" else (None, f"{selector} is not a packet")


def _mac_length(trace, params):
    event, why_not = _selected_packet(trace, params["message"])
    if event is None:
        return False, why_not
    length = len(event.record.mac)
    return length == params["is"], f"{params['message']} carries a MAC of {length} bytes"


def _session_id_kept(trace, params):
    exchanges = [c for e in trace.events for side, c in e.changes
                 if isinstance(c, KexComputed) and side == Side.CLIENT]
    if len(exchanges) < 2:
        return False, f"{len(exchanges)} key exchange(s): nothing to compare"
    first = exchanges[0]
    kept = all(k.session_id == first.session_id and k.H != first.H for k in exchanges[1:])
    return kept, (f"{len(exchanges)} key exchanges, H "
                  + ", ".join(k.H.hex()[:8] for k in exchanges) + "; session id "
                  + ", ".join(k.session_id.hex()[:8] for k in exchanges))


_LIST += [
    Observation("host_key", "the client's first host key check ends with `status` (known, learned, "
                "accepted, unknown, changed, revoked)", _host_key, ("status",), ("status",)),
    Observation("key_length", "the first key exchange derives key `letter` (A to F) of `is` bytes",
                _key_length, ("letter", "is"), ("letter", "is")),
    Observation("mac_length", "the packet the `message` selector names carries a MAC or tag of `is` "
                "bytes", _mac_length, ("message", "is"), ("message", "is")),
    Observation("session_id_kept", "a later key exchange makes a new H but keeps the first one's "
                "session id", _session_id_kept),
]



def _ext_info(trace, params):
    received = outcome_of(trace.events).client_ext_info
    return received == params.get("value", True), ("the client received EXT_INFO" if received
                                                   else "the client never received EXT_INFO")


_LIST += [
    Observation("ext_info", "the client receives the server's EXT_INFO (`value: false`: it never "
                "does, as when Terrapin deletes it)", _ext_info, ("value",)),
]

OBSERVATIONS: dict[str, Observation] = {o.name: o for o in _LIST}


def observe(named, trace) -> tuple[bool, str]:
    return OBSERVATIONS[named.name].observe(trace, named.params)
