"""The declarative layer: field specs, message specs, and the one engine that encodes, decodes
(with byte spans) and describes every message from them.

A layout is a tuple of specs read in order:

- ``Field``: one RFC 4251 value, optionally a string whose bytes hold a nested layout
  (a key blob, a signature) that is opened up on decode.
- ``Switch``: an earlier field's value picks which fields follow (method-specific parts); a
  case defined in a section of its own (an RFC or OpenSSH's PROTOCOL) is a ``Section``.
- ``Repeat``: a group of fields repeated ``count`` times, or until the data ends.
- ``When``: fields present only when a test on earlier values holds (SFTP attribute flags).
- ``Optional``: fields present only if bytes remain (trailing optional data).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, Mapping

from . import types as t
from .types import DecodeError, Reader

# -- wire types -------------------------------------------------------------------------------


class WireType:
    """One RFC 4251 data type: how to read it, write it, and what to call it on screen."""

    def __init__(self, name: str, read: Callable[[Reader], Any], write: Callable[[Any], bytes]):
        self.name = name
        self.read = read
        self.write = write

    def __repr__(self) -> str:
        return f"<{self.name}>"


def _read_text(r: Reader) -> str:
    return r.string().decode("utf-8", "surrogateescape")


BYTE = WireType("byte", Reader.byte, t.byte)
BOOLEAN = WireType("boolean", Reader.boolean, t.boolean)
UINT32 = WireType("uint32", Reader.uint32, t.uint32)
UINT64 = WireType("uint64", Reader.uint64, t.uint64)
STRING = WireType("string", Reader.string, t.string)
# A string the RFC says holds ISO-10646 UTF-8 text; invalid bytes survive a round trip.
TEXT = WireType("string", _read_text, t.string)
MPINT = WireType("mpint", Reader.mpint, t.mpint)
NAME_LIST = WireType("name-list", Reader.name_list, t.name_list)
REST = WireType("byte[n]", Reader.rest, bytes)


def fixed_bytes(n: int) -> WireType:
    return WireType(f"byte[{n}]", lambda r: r.raw(n, f"byte[{n}]"), bytes)


# -- specs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: WireType
    doc: str = ""
    nested: tuple | None = None  # layout held inside a string field
    count_for: str | None = None  # on encode, defaults to len(values[count_for])
    default: Any = None
    names: Callable[[Any], str] | None = None  # what a value means, for people (wire/codes.py)


@dataclass(frozen=True, slots=True)
class Switch:
    on: str
    cases: Mapping[Any, "tuple | Section"]
    default: tuple | None = None  # None: unknown cases keep their bytes as a 'data' field


@dataclass(frozen=True, slots=True)
class Section:
    """A Switch case with the document section that defines it (exec: RFC 4254 6.5), which its
    decoded fields cite instead of their message's."""

    rfc: str
    fields: tuple


@dataclass(frozen=True, slots=True)
class Repeat:
    name: str
    fields: tuple
    count: str | None = None  # an earlier field holding the count; None repeats to the end
    doc: str = ""


@dataclass(frozen=True, slots=True)
class When:
    test: Callable[[Mapping[str, Any]], bool]
    fields: tuple
    label: str = ""


@dataclass(frozen=True, slots=True)
class Optional:
    fields: tuple


UNKNOWN_TAIL = (Field("data", REST, "bytes this decoder does not interpret"),)


@dataclass(slots=True)
class DecodedField:
    """One decoded value and the bytes ``[start, end)`` it came from."""

    name: str
    type: str
    value: Any
    start: int
    end: int
    doc: str = ""
    children: list["DecodedField"] = field(default_factory=list)
    rfc: str = ""  # where this field is defined, when not in its message's section
    meaning: str = ""  # what the value stands for (a reason code's name, flags, a file mode)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True, eq=False)
class MessageSpec:
    """One message as declared: number, name, fields, and the section that defines it. Each
    is one object, compared by identity: ``message.spec is MSG.KEXINIT``."""

    number: int
    name: str  # short name, e.g. "KEXINIT"; the RFC's is "SSH_MSG_" + name
    fields: tuple
    rfc: str
    doc: str
    protocol: str  # transport | userauth | connection | sftp
    context: str | None = None  # "kex=ecdh", "auth=publickey": numbers reused by methods
    trailing_ok: bool = False
    # How the engine reads the fields when they are flat: worked out when first needed (None
    # until then), () when they are not (see flat_plan).
    _flat: tuple | None = field(default=None, init=False, repr=False)

    def flat_plan(self) -> tuple | None:
        """The steps that read a flat layout (fixed-size fields and strings only), or None."""
        if self._flat is None:
            object.__setattr__(self, "_flat", _flat_plan(self.fields) or ())
        return self._flat or None

    @property
    def rfc_name(self) -> str:
        prefix = "SSH_FXP_" if self.protocol == "sftp" else "SSH_MSG_"
        return prefix + self.name

    def build(self, **values: Any) -> "Message":
        """A message of this kind to send, from its field values."""
        return Message(self, values)

    def __repr__(self) -> str:
        return f"<MessageSpec {self.name} ({self.number}{', ' + self.context if self.context else ''})>"


def message(number: int, rfc: str, doc: str, *fields, trailing_ok: bool = False) -> MessageSpec:
    """A message declared in a ``MessageGroup``, which names it after its attribute."""
    return MessageSpec(number, "", tuple(fields), rfc, doc, "", None, trailing_ok)


class MessageGroup:
    """Messages declared as class attributes, each named once, by its attribute::

        class TransportMessages(MessageGroup, protocol="transport"):
            NEWKEYS = message(21, "RFC 4253 7.3", "from the next packet on, the new keys are in use")

    ``context`` marks a group whose numbers mean these messages only under one negotiated
    method ("kex=ecdh"): the catalog picks among numbers reused that way by it."""

    protocol: ClassVar[str] = ""
    context: ClassVar[str | None] = None

    def __init_subclass__(cls, protocol: str | None = None, context: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if protocol is not None:
            cls.protocol, cls.context = protocol, context
        for attribute, value in list(vars(cls).items()):
            if isinstance(value, MessageSpec) and not value.name:
                setattr(cls, attribute, replace(value, name=attribute, protocol=cls.protocol,
                                                context=cls.context))

    @classmethod
    def specs(cls) -> list[MessageSpec]:
        """Every message of this group (and of the groups it joins), in declaration order."""
        found: dict[str, MessageSpec] = {}
        for klass in cls.__mro__:  # a group joining others lists theirs in the order it names them
            for attribute, value in vars(klass).items():
                if isinstance(value, MessageSpec):
                    found.setdefault(attribute, value)
        return list(found.values())


class Message:
    """A message: its spec, its values by field name, and (when decoded with them) its fields
    with spans. Made once, never changed: a shorter or re-decoded message is a new one."""

    __slots__ = ("spec", "values", "fields")

    def __init__(self, spec: MessageSpec, values: dict, fields: list[DecodedField] | None = None):
        _set_spec(self, spec)  # past __setattr__, which refuses every change
        _set_values(self, values)
        _set_fields(self, fields)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a {type(self).__name__} is not changed after it is made")

    def __getitem__(self, name: str) -> Any:
        """A field's value: ``message["reason_code"]``."""
        try:
            return self.values[name]
        except KeyError:
            raise KeyError(f"{self.spec.name} has no field {name!r}") from None

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def encode(self) -> bytes:
        return b"".join(self.encoded_parts())

    def encoded_parts(self) -> list:
        """The encoded message in pieces, number first, to be joined once (with a framing
        length before them, as SFTP packets have): a long string's bytes are a piece of their
        own, so they are copied only by that join."""
        parts = [bytes((self.spec.number,))]
        _encode_into(self.spec.fields, self.values, parts)
        return parts

    def __repr__(self) -> str:
        return f"Message({self.spec.name}, {self.values!r})"


# Message's slots written straight (a message is made for every packet read).
_set_spec, _set_values, _set_fields = Message.spec.__set__, Message.values.__set__, Message.fields.__set__


# -- the engine -------------------------------------------------------------------------------


def decode_layout(
    layout: tuple, reader: Reader, values: dict, out: list[DecodedField] | None, rfc: str = ""
) -> None:
    """Read ``layout`` into ``values``; when ``out`` is a list, append a DecodedField per field
    (citing ``rfc``, the section of a Switch case that has its own)."""
    for spec in layout:
        if type(spec) is Field:
            start = reader.pos
            try:
                value = spec.type.read(reader)
            except DecodeError as exc:
                raise DecodeError(f"field {spec.name!r}: {exc}", exc.offset) from None
            values[spec.name] = value
            if out is not None:
                decoded = DecodedField(spec.name, spec.type.name, value, start, reader.pos, spec.doc, rfc=rfc)
                if spec.names is not None:
                    decoded.meaning = spec.names(value)
                if spec.nested is not None:
                    decoded.children = _decode_nested(spec.nested, reader.data, start + 4, reader.pos)
                elif spec.type is NAME_LIST:
                    decoded.children = _name_list_items(value, start + 4)
                out.append(decoded)
        elif type(spec) is Switch:
            case = spec.cases.get(values.get(spec.on), spec.default)
            if type(case) is Section:
                decode_layout(case.fields, reader, values, out, case.rfc)
            else:
                decode_layout(UNKNOWN_TAIL if case is None else case, reader, values, out, rfc)
        elif type(spec) is Repeat:
            items: list[dict] = []
            children: list[DecodedField] | None = [] if out is not None else None
            start = reader.pos
            count = values[spec.count] if spec.count else None
            if count is not None and count > reader.remaining:
                raise DecodeError(f"{spec.name}: count {count} exceeds the {reader.remaining} bytes left")
            while (reader.pos < reader.end) if count is None else (len(items) < count):
                item: dict = {}
                item_out: list[DecodedField] | None = [] if out is not None else None
                item_start = reader.pos
                decode_layout(spec.fields, reader, item, item_out, rfc)
                items.append(item)
                if children is not None:
                    children.append(
                        DecodedField(f"{spec.name}[{len(items) - 1}]", "", None, item_start, reader.pos,
                                     children=item_out, rfc=rfc)
                    )
            values[spec.name] = items
            if out is not None:
                out.append(DecodedField(spec.name, "repeat", len(items), start, reader.pos, spec.doc,
                                        children, rfc))
        elif type(spec) is When:
            if spec.test(values):
                decode_layout(spec.fields, reader, values, out, rfc)
        elif type(spec) is Optional:
            if reader.remaining:
                decode_layout(spec.fields, reader, values, out, rfc)
        else:  # pragma: no cover - a catalog bug, caught by the catalog tests
            raise TypeError(f"unknown spec {spec!r}")


def _name_list_items(names: list[str], start: int) -> list[DecodedField]:
    items, pos = [], start
    for name in names:
        items.append(DecodedField(name, "name", name, pos, pos + len(name)))
        pos += len(name) + 1
    return items


def _decode_nested(layout: tuple, data: bytes, start: int, end: int) -> list[DecodedField]:
    """Open up a structure carried inside a string; an undecodable one stays opaque."""
    out: list[DecodedField] = []
    reader = Reader(data, start, end)
    try:
        decode_layout(layout, reader, {}, out)
        reader.expect_end("nested structure")
    except (DecodeError, KeyError):
        return []
    return out


def encode_layout(layout: tuple, values: Mapping[str, Any]) -> bytes:
    parts: list[bytes] = []
    _encode_into(layout, values, parts)
    return b"".join(parts)


def _encode_into(layout: tuple, values: Mapping[str, Any], parts: list[bytes]) -> None:
    for spec in layout:
        if type(spec) is Field:
            if spec.name in values:
                value = values[spec.name]
            elif spec.count_for is not None:
                value = len(values[spec.count_for])
            elif spec.default is not None:
                value = spec.default
            else:
                raise KeyError(f"missing field {spec.name!r}")
            if spec.type is STRING and not isinstance(value, str):
                parts += (t.uint32(len(value)), value)  # the bytes themselves joined only once
            else:
                parts.append(spec.type.write(value))
        elif type(spec) is Switch:
            case = spec.cases.get(values.get(spec.on), spec.default)
            if type(case) is Section:
                case = case.fields
            _encode_into(UNKNOWN_TAIL if case is None else case, values, parts)
        elif type(spec) is Repeat:
            for item in values.get(spec.name, ()):
                _encode_into(spec.fields, item, parts)
        elif type(spec) is When:
            if spec.test(values):
                _encode_into(spec.fields, values, parts)
        elif type(spec) is Optional:
            if any(type(f) is Field and f.name in values for f in spec.fields):
                _encode_into(spec.fields, values, parts)
        else:  # pragma: no cover
            raise TypeError(f"unknown spec {spec!r}")


def decode_struct(layout: tuple, data: bytes, what: str, spans: bool = False):
    """Decode a whole byte string as ``layout`` (a key blob, a signature, signed data).

    Returns the values dict, or (values, fields) when ``spans`` is true.
    """
    values: dict = {}
    out: list[DecodedField] | None = [] if spans else None
    reader = Reader(data)
    try:
        decode_layout(layout, reader, values, out)
        reader.expect_end(what)
    except DecodeError as exc:
        raise DecodeError(f"{what}: {exc}", exc.offset) from None
    return (values, out) if spans else values


class Catalog:
    """All message specs of one numbering space, found by number (and context) or by name."""

    def __init__(self, specs: list[MessageSpec]):
        self.specs = specs
        self.by_name: dict[str, MessageSpec] = {}
        self.by_number: dict[int, list[MessageSpec]] = {}
        for spec in specs:
            if spec.name in self.by_name:
                raise ValueError(f"duplicate message name {spec.name}")
            self.by_name[spec.name] = spec
            self.by_number.setdefault(spec.number, []).append(spec)
        # Numbers with one meaning in every session: found with one look-up, no context.
        self._only = {number: found[0] for number, found in self.by_number.items()
                      if len(found) == 1 and found[0].context is None}

    def spec_for(self, number: int, context: Mapping[str, str] | None = None) -> MessageSpec | None:
        candidates = self.by_number.get(number)
        if not candidates:
            return None
        if len(candidates) == 1 and candidates[0].context is None:
            return candidates[0]
        for spec in candidates:
            if spec.context is None:
                return spec
            key, _, wanted = spec.context.partition("=")
            if context and context.get(key) == wanted:
                return spec
        return None

    def is_known(self, number: int) -> bool:
        return number in self.by_number

    def build(self, name: str, /, **values: Any) -> Message:
        return Message(self.by_name[name], values)

    def decode(
        self, payload: bytes, context: Mapping[str, str] | None = None, spans: bool = True
    ) -> Message:
        """Decode a payload (message number first). Raises DecodeError, or KeyError for an
        unknown number, which callers answer with UNIMPLEMENTED."""
        if not payload:
            raise DecodeError("empty payload: no message number", 0)
        number = payload[0]
        spec = self._only.get(number) or self.spec_for(number, context)
        if spec is None:
            if number in self.by_number:
                spec = opaque_spec(number, self.by_number[number])
            else:
                raise KeyError(number)
        return self.decode_as(spec, payload, spans)

    @staticmethod
    def decode_as(spec: MessageSpec, payload: bytes, spans: bool = True) -> Message:
        """Decode ``payload`` with a known spec (e.g. to add spans to a message we sent)."""
        if not spans and type(payload) is bytes:
            plan = spec._flat if spec._flat is not None else spec.flat_plan()
            if plan:
                values = _read_flat(plan, payload)
                if values is not None:
                    return Message(spec, values)
        number = payload[0]
        values: dict = {}
        out: list[DecodedField] | None = [] if spans else None
        if out is not None:
            out.append(DecodedField("msg_number", "byte", number, 0, 1,
                                    f"message number {number}: {spec.rfc_name}"))
        reader = Reader(payload, 1)
        try:
            decode_layout(spec.fields, reader, values, out)
            if reader.pos != reader.end and not spec.trailing_ok:
                reader.expect_end(spec.rfc_name)
        except DecodeError as exc:
            raise DecodeError(f"{spec.rfc_name}: {exc}", exc.offset) from None
        return Message(spec, values, out)


# A flat layout (fields of fixed-size types and strings only) is read without spans by one loop
# over its steps, with no Reader and no call a field: most packets of a transfer are such
# messages. Anything else, and any message that does not read whole this way (too short, or
# bytes left over), goes through decode_layout, which says what is wrong.
_FIXED_SIZE = {BYTE: struct.Struct(">B"), BOOLEAN: struct.Struct(">?"), UINT32: struct.Struct(">I"),
               UINT64: struct.Struct(">Q")}
_LENGTH = struct.Struct(">I")


def _flat_plan(layout: tuple) -> tuple | None:
    """(name, struct for a fixed-size field, or None for a string, and whether it is text) for
    each field of a flat layout; None for any other layout."""
    steps = []
    for spec in layout:
        if type(spec) is not Field or not (spec.type in _FIXED_SIZE or spec.type is STRING or spec.type is TEXT):
            return None
        steps.append((spec.name, _FIXED_SIZE.get(spec.type), spec.type is TEXT))
    return tuple(steps)


def _read_flat(plan: tuple, payload: bytes) -> dict | None:
    """The values of a flat layout after the message number, as decode_layout reads them; None
    when they do not fill the payload exactly."""
    values = {}
    pos, end = 1, len(payload)
    for name, fixed, text in plan:
        if fixed is not None:
            if pos + fixed.size > end:
                return None
            values[name] = fixed.unpack_from(payload, pos)[0]
            pos += fixed.size
            continue
        if pos + 4 > end:
            return None
        size = _LENGTH.unpack_from(payload, pos)[0]
        pos += 4
        if pos + size > end:
            return None
        value = payload[pos: pos + size]
        values[name] = value.decode("utf-8", "surrogateescape") if text else value
        pos += size
    return values if pos == end else None


def unknown_spec(number: int) -> MessageSpec:
    """A spec for a message number nobody declared: its bytes are kept as ``data``."""
    return MessageSpec(number, f"UNKNOWN_{number}", UNKNOWN_TAIL, "RFC 4253 11.4",
                       "a message number this implementation does not know", "unknown",
                       trailing_ok=True)


def opaque_spec(number: int, candidates: list[MessageSpec]) -> MessageSpec:
    """A spec for a number whose meaning depends on a method we do not know here."""
    names = "/".join(s.name for s in candidates)
    first = candidates[0]
    return MessageSpec(number, f"{names}?", UNKNOWN_TAIL, first.rfc,
                       f"message {number}; its meaning depends on the negotiated method",
                       first.protocol)
