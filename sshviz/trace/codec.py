"""Events as plain data and back: the one encoding of every event type, used by the trace file
(YAML) and by ``inspect --format json``.

An event becomes a mapping of its dataclass fields; the field types (from the annotations in
``sshviz.events``) say how to rebuild each value: nested records (NegotiatedAlgorithm,
DerivedKey), tuples, dicts. Bytes stay bytes here; the file writes them as ``!hex`` scalars and
JSON as hex strings. A small set of bulk events (channel data and the like, whose fields are
all numbers, words or bytes) also has a one-line form, ``side Type value value ...``, which
keeps a long transfer quick to load.
"""

from __future__ import annotations

import dataclasses
import re
import struct
import types
import typing
from functools import cache
from typing import Any, NamedTuple

from .. import events as ev
from ..events import Event


class CodecError(ValueError):
    """Plain data that does not describe an event (unknown type, missing or wrong field)."""


def _event_types() -> dict[str, type]:
    found = {}
    for name in dir(ev):
        value = getattr(ev, name)
        if isinstance(value, type) and issubclass(value, Event) and value is not Event:
            found[value.__name__] = value
    return found


EVENT_TYPES: dict[str, type] = _event_types()


@cache
def field_types(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, resolved type) for each dataclass field of ``cls``, in declaration order."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


# -- values -----------------------------------------------------------------------------------


def encode_value(value: Any, hint: Any = Any) -> Any:
    """A value as plain data (dicts, lists, str, int, float, bool, None, bytes)."""
    if isinstance(value, str):
        return str(value)  # a plain str for the YAML writer, also for Side and Direction
    if value is None or isinstance(value, (int, float, bool, bytes)):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: encode_value(getattr(value, name), t) for name, t in field_types(type(value))}
    args = typing.get_args(hint)
    if isinstance(value, dict):
        value_hint = args[1] if len(args) == 2 else Any
        return {str(k): encode_value(v, value_hint) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        origin = typing.get_origin(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return [encode_value(v, t) for v, t in zip(value, args)]
        item_hint = args[0] if args else Any
        return [encode_value(v, item_hint) for v in value]
    if type(value).__name__ == "Message":  # a decoded message inside an event: keep its name
        return {"message": value.spec.name}
    raise CodecError(f"cannot store a {type(value).__name__} value")


def decode_value(data: Any, hint: Any, where: str) -> Any:
    """Rebuild a value of type ``hint`` from plain data."""
    if hint is Any or hint is object:
        return data
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if data is None and type(None) in args:
            return None
        for option in args:
            if option is not type(None):
                return decode_value(data, option, where)
    if origin is list:
        _expect(data, list, where)
        return [decode_value(item, args[0] if args else Any, where) for item in data]
    if origin is tuple:
        _expect(data, list, where)
        if args and args[-1] is not Ellipsis:
            if len(data) != len(args):
                raise CodecError(f"{where}: expected {len(args)} items, found {len(data)}")
            return tuple(decode_value(item, t, where) for item, t in zip(data, args))
        return tuple(data)
    if origin is dict:
        _expect(data, dict, where)
        value_hint = args[1] if len(args) == 2 else Any
        return {k: decode_value(v, value_hint, f"{where}.{k}") for k, v in data.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        _expect(data, dict, where)
        return _build(hint, data, where)
    if hint is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if hint is bytes and isinstance(data, str):  # JSON has no bytes: hex text
        return _hex(data, where)
    if isinstance(hint, type) and not isinstance(data, hint):
        raise CodecError(f"{where}: expected {hint.__name__}, found {type(data).__name__}")
    return data


def _expect(data: Any, kind: type, where: str) -> None:
    if not isinstance(data, kind):
        raise CodecError(f"{where}: expected a {'list' if kind is list else 'mapping'}, "
                         f"found {type(data).__name__}")


def _hex(text: str, where: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise CodecError(f"{where}: {text[:40]!r} is not hex") from None


def _build(cls: type, data: dict, where: str):
    values = {}
    for name, hint in field_types(cls):
        if name in data:
            values[name] = decode_value(data[name], hint, f"{where}.{name}")
    try:
        return cls(**values)
    except TypeError as exc:
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        raise CodecError(f"{where}: {cls.__name__} needs {', '.join(missing) or exc}") from None


# -- events -----------------------------------------------------------------------------------


def encode_event(event: Event) -> dict:
    """``{"event": TypeName, field: value, ...}``."""
    data = {"event": type(event).__name__}
    for name, hint in field_types(type(event)):
        if isinstance(event, ev.SftpMessage) and name == "message":
            data.update(_sftp_message_data(event.message))
            continue
        data[name] = encode_value(getattr(event, name), hint)
    return data


def decode_event(data: dict, where: str) -> Event:
    if not isinstance(data, dict):
        raise CodecError(f"{where}: an event must be a mapping, not {type(data).__name__}")
    name = data.get("event")
    cls = EVENT_TYPES.get(name)
    if cls is None:
        raise CodecError(f"{where}: unknown event type {name!r}")
    where = f"{where} ({name})"
    if cls is ev.SftpMessage:
        return _decode_sftp_event(data, where)
    return _build(cls, data, where)


def encode_change(side: str, event: Event, payload: bytes = b"") -> dict | str:
    """A (side, event) pair: the one-line form for bulk events, a mapping otherwise. In the
    one-line form, bytes that end the packet's ``payload`` are written as a reference (``=N``:
    its last N bytes), so channel data is not stored twice."""
    line = compact_change(side, event, payload)
    if line is not None:
        return line
    return {"side": str(side), **encode_event(event)}


def decode_change(data: dict | str, where: str, payload: bytes = b"") -> tuple[str, Event]:
    if isinstance(data, str):
        return parse_compact_change(data, where, payload)
    if not isinstance(data, dict) or data.get("side") not in ("client", "server"):
        raise CodecError(f"{where}: a change needs side: client or server")
    return data["side"], decode_event(data, where)


# -- the one-line form of bulk events ---------------------------------------------------------

# Events frequent enough in big sessions to deserve one line each; all their fields are ints,
# booleans, bytes or single words.
SFTP_MAX_PACKET = 256 * 1024

COMPACT_TYPES = ("ChannelData", "ChannelEOF", "ChannelClosed", "ExitStatus", "PongReceived",
                 "ChannelRequestDone", "SftpMessage")
_WORD = re.compile(r"[A-Za-z0-9_.@:/+-]+\Z")


def compact_change(side: str, event: Event, payload: bytes = b"") -> str | None:
    name = type(event).__name__
    if name not in COMPACT_TYPES:
        return None
    parts = [side, name]
    for field_name, hint in field_types(type(event)):
        value = getattr(event, field_name)
        if name == "SftpMessage" and field_name == "message":
            extension = _sftp_message_data(value).get("extension")
            if extension is not None:
                if not _WORD.match(extension):
                    return None
                parts.append(extension)
            continue
        if isinstance(value, bool):
            parts.append("true" if value else "false")
        elif isinstance(value, int):
            parts.append(str(value))
        elif isinstance(value, bytes):
            if len(value) > 8 and payload.endswith(value):
                parts.append(f"={len(value)}")
            else:
                parts.append(value.hex() or "-")
        elif isinstance(value, str) and _WORD.match(value):
            parts.append(value)
        else:
            return None
    return " ".join(parts)


def parse_compact_change(line: str, where: str, payload: bytes = b"") -> tuple[str, Event]:
    side, _, rest = line.partition(" ")
    name, _, rest = rest.partition(" ")
    if side not in ("client", "server") or name not in COMPACT_TYPES:
        raise CodecError(f"{where}: {line[:60]!r} is not 'side Type values...' for a bulk event type")
    cls, converters = _compact_layout(name)
    values = rest.split(" ") if rest else []
    extension = None
    if name == "SftpMessage" and len(values) == len(converters) + 1:
        extension = values.pop()
    if len(values) != len(converters):
        raise CodecError(f"{where}: {name} takes {len(converters)} values, found {len(values)}")
    try:
        converted = [convert(text, payload) for convert, text in zip(converters, values)]
    except (ValueError, IndexError):
        raise CodecError(f"{where}: {name}: bad value in {rest[:60]!r}") from None
    if name == "SftpMessage":
        return side, cls(*converted, decode_sftp_packet(converted[2], extension))
    return side, cls(*converted)


def fast_compact_change(line: str, payload: bytes = b"") -> tuple[str, Event]:
    """``parse_compact_change`` for the bulk events of long traces, with nothing to spare;
    anything else, or anything wrong (to say what), goes to it.

    A long trace says the same few changes again and again ("client ChannelData 0 =1024 0"),
    so what a line says is worked out once and kept: a change without a reference to the
    payload is the same (immutable) event each time, one with references is its values with
    the payload's last bytes put in."""
    recipe = _RECIPES.get(line)
    if recipe is None:
        recipe = _recipe(line)
        if recipe is None:
            return parse_compact_change(line, "change", payload)
        if len(_RECIPES) < RECIPES_KEPT:
            _RECIPES[line] = recipe
    made, side, cls, values, tails = recipe
    if made is not None:
        return made
    values = values.copy()
    size = len(payload)
    for position, length in tails:
        if length > size:
            return parse_compact_change(line, "change", payload)
        values[position] = payload[size - length:]
    return side, cls(*values)


def _recipe(line: str):
    """(the change itself or None, side, class, values, (position, length) of each value that
    is the payload's last bytes); None for a line the fast reader does not take."""
    side, name, *values = line.split(" ")
    layout = _FAST_LAYOUTS.get(name)
    if layout is None or side not in _SIDES or len(values) != layout.count:
        return None
    tails = []
    try:
        for i in layout.numbers:
            values[i] = int(values[i])
        for i in layout.flags:
            values[i] = values[i] == "true"
        for i in layout.blobs:
            text = values[i]
            if text[0] == "=":  # the last N bytes of the packet's payload: put in on each use
                tails.append((i, int(text[1:])))
            else:
                values[i] = _bytes_token(text, b"")
    except (ValueError, IndexError):
        return None
    if tails:
        return None, side, layout.cls, values, tuple(tails)
    return (side, layout.cls(*values)), side, layout.cls, values, ()


# Distinct one-line changes kept (a long trace has a handful; a hostile one cannot grow this).
RECIPES_KEPT = 4096
_RECIPES: dict[str, tuple] = {}
_SIDES = ("client", "server")


def _bytes_token(text: str, payload: bytes) -> bytes:
    if text[0] == "=":  # the last N bytes of the packet's payload
        size = int(text[1:])
        if size > len(payload):
            raise ValueError(text)
        return payload[len(payload) - size:]
    return b"" if text == "-" else bytes.fromhex(text)


_CONVERTERS = {bool: lambda text, _: text == "true", int: lambda text, _: int(text),
               bytes: _bytes_token, str: lambda text, _: text}


class _FastLayout(NamedTuple):
    """Where a one-line event type's numbers, booleans and bytes stand among its values."""

    cls: type
    count: int
    numbers: tuple[int, ...]
    flags: tuple[int, ...]
    blobs: tuple[int, ...]


def _fast_layout(name: str) -> _FastLayout | None:
    """The layout of a one-line type whose fields are all numbers, booleans or bytes."""
    cls = EVENT_TYPES[name]
    kinds = [hint for _, hint in field_types(cls)]
    if not all(kind in (int, bool, bytes) for kind in kinds):
        return None
    where = lambda wanted: tuple(i for i, kind in enumerate(kinds) if kind is wanted)  # noqa: E731
    return _FastLayout(cls, len(kinds), where(int), where(bool), where(bytes))


@cache
def _compact_layout(name: str):
    """The event class and one converter per field written in the one-line form."""
    cls = EVENT_TYPES[name]
    fields = field_types(cls)
    if name == "SftpMessage":
        fields = fields[:-1]  # the message is decoded again from the packet
    return cls, tuple(_CONVERTERS[hint] for _, hint in fields)


# -- SFTP messages: decoded again from their packet bytes -------------------------------------


def _sftp_message_data(message) -> dict:
    """What to keep of an SFTP message besides its packet: the extension an EXTENDED_REPLY
    answers (its meaning depends on it)."""
    if message is None:
        return {}
    extension = message.values.get("extension") if hasattr(message, "values") else None
    return {"extension": extension} if extension is not None else {}


def _decode_sftp_event(data: dict, where: str) -> Event:
    values = {k: data[k] for k in ("channel", "direction", "packet") if k in data}
    if len(values) != 3:
        raise CodecError(f"{where}: needs channel, direction and packet")
    event = _build(ev.SftpMessage, {**values, "message": None}, where)
    return dataclasses.replace(event, message=decode_sftp_packet(event.packet, data.get("extension")))


def decode_sftp_packet(packet: bytes, extension: str | None):
    """The SFTP message in ``packet`` (with spans), or None if the SFTP layer is not available
    or the packet does not decode."""
    try:
        from ..wire.sftp import BULK_TYPES, decode_packet, elided_bulk_message
    except ImportError:
        return None
    try:
        return decode_packet(packet, extension, spans=True)
    except KeyError:
        return None
    except ValueError:
        pass
    # A bulk DATA/WRITE packet summarized for display stops after its first data bytes: pad it
    # back to its declared length to find the data field, then summarize it the same way.
    if len(packet) < 5 or packet[4] not in BULK_TYPES:
        return None
    declared = struct.unpack_from(">I", packet)[0]
    if declared > SFTP_MAX_PACKET:
        return None
    padded = packet + bytes(4 + declared - len(packet))
    try:
        data_field = decode_packet(padded, None, spans=True).fields[-1]
        return elided_bulk_message(padded, len(packet) - data_field.start - 4)[1]
    except (ValueError, IndexError, KeyError):
        return None


_FAST_LAYOUTS = {name: layout for name in COMPACT_TYPES if (layout := _fast_layout(name)) is not None}
