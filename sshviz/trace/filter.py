"""Filter expressions for ``sshviz inspect --filter``: which events to show.

    KEXINIT                          a message name (glob patterns allowed: USERAUTH_*, *KEX*)
    c2s, s2c, client, server         the direction (client/server: who sent it)
    version, encrypted, damaged      version lines; packets seen only encrypted; damaged ones
    KexComputed                      an event type among the changes (CamelCase names)
    seq >= 3, size > 1000, index < 10, time < 0.5
    data contains "pong"             a message field (top level, or any nested field by name)
    command == "ls"                  ==, !=, <, <=, >, >=, contains, matches (a regular expression)
    not ..., ... and ..., ... or ..., ( ... )

Names of messages are case-insensitive; strings may be quoted with ' or ".
"""

from __future__ import annotations

import fnmatch
import re
from typing import Callable

from .codec import EVENT_TYPES
from .model import TraceEvent

Predicate = Callable[[TraceEvent], bool]
_TOKEN = re.compile(r"""\s*(?:(?P<op>==|!=|<=|>=|<|>)|(?P<paren>[()])|(?P<str>"[^"]*"|'[^']*')|(?P<word>[^\s()=!<>"']+))""")
SPECIAL = {"seq", "size", "index", "time", "name", "dir", "frame"}


class FilterError(ValueError):
    pass


def compile_filter(text: str) -> Predicate:
    tokens = _tokenize(text)
    parser = _Parser(tokens, text)
    predicate = parser.expression()
    if parser.position < len(tokens):
        raise FilterError(f"unexpected {tokens[parser.position][1]!r} at position "
                          f"{tokens[parser.position][2] + 1}")
    return predicate


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip():
                raise FilterError(f"cannot read {text[position:position + 10].strip()!r} at position {position + 1}")
            break
        kind = match.lastgroup
        value = match.group(kind)
        start = match.start(kind)
        if kind == "str":
            value = value[1:-1]
        tokens.append((kind, value, start))
        position = match.end()
    if not tokens:
        raise FilterError("the filter is empty")
    return tokens


class _Parser:
    def __init__(self, tokens, text):
        self.tokens = tokens
        self.text = text
        self.position = 0

    def _peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self):
        token = self._peek()
        self.position += 1
        return token

    def _is_word(self, word: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "word" and token[1].lower() == word

    def expression(self) -> Predicate:
        return self._joined("or", self._and, lambda a, b: lambda e: a(e) or b(e))

    def _and(self) -> Predicate:
        return self._joined("and", self._not, lambda a, b: lambda e: a(e) and b(e))

    def _joined(self, word: str, operand, combine) -> Predicate:
        """operand (word operand)*, combined left to right."""
        left = operand()
        while self._is_word(word):
            self._take()
            left = combine(left, operand())
        return left

    def _not(self) -> Predicate:
        if self._is_word("not"):
            self._take()
            inner = self._not()
            return lambda e: not inner(e)
        return self._atom()

    def _atom(self) -> Predicate:
        token = self._take()
        if token is None:
            raise FilterError("the filter ends where a name or '(' was expected")
        kind, value, start = token
        if kind == "paren" and value == "(":
            inner = self.expression()
            closing = self._take()
            if closing is None or closing[1] != ")":
                raise FilterError(f"'(' at position {start + 1} is never closed")
            return inner
        if kind != "word":
            raise FilterError(f"expected a name at position {start + 1}, found {value!r}")
        following = self._peek()
        if following is not None and (following[0] == "op" or (following[0] == "word"
                                                                and following[1] in ("contains", "matches"))):
            operator = self._take()[1]
            operand = self._take()
            if operand is None or operand[0] not in ("word", "str"):
                raise FilterError(f"expected a value after {operator!r} at position {following[2] + 1}")
            return _comparison(value, operator, operand[1])
        return _word(value)


def _word(word: str) -> Predicate:
    lower = word.lower()
    if lower in ("c2s", "s2c"):
        return lambda e: e.direction == lower
    if lower in ("client", "server"):
        return lambda e: e.sender == lower
    if lower == "version":
        return lambda e: e.kind == "version"
    if lower == "encrypted":
        return lambda e: not e.opened
    if lower == "damaged":
        return lambda e: any(note.startswith("damaged") for note in e.notes)
    if word in EVENT_TYPES:
        cls = EVENT_TYPES[word]
        return lambda e: any(isinstance(change, cls) for _, change in e.changes)
    pattern = word.upper()
    if not any(c in pattern for c in "*?[") and not _is_message_name(pattern):
        # A misspelt name would quietly match nothing, which reads as "no such message".
        raise FilterError(f"{word!r} is not a message name (KEXINIT, USERAUTH_*, ...), an event type "
                          f"(KexComputed, ...) or one of c2s, s2c, client, server, version, encrypted, damaged")
    return lambda e: fnmatch.fnmatchcase(e.name.upper(), pattern)


def _is_message_name(name: str) -> bool:
    from ..wire.catalog import SSH

    return (name in {spec.name for spec in SSH.specs} or name in ("VERSION", "RAW", "ENCRYPTED")
            or re.fullmatch(r"UNKNOWN_\d+", name) is not None)


def _comparison(name: str, operator: str, operand: str) -> Predicate:
    if operator == "matches":
        try:
            regex = re.compile(operand)
        except re.error as exc:
            raise FilterError(f"'matches {operand}': not a regular expression: {exc}") from None
    number = _number(operand)

    def test(event: TraceEvent) -> bool:
        for value in _values(event, name):
            if _holds(value, operator, operand, number, regex if operator == "matches" else None):
                return True
        return False

    return test


def _number(text: str):
    try:
        return int(text, 0)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def _values(event: TraceEvent, name: str):
    """Every value called ``name`` in the event: its own attributes, then message fields."""
    if name in SPECIAL:
        record = event.record
        yield {"seq": getattr(record, "seq", None), "size": len(record.wire), "index": event.index,
               "time": event.time, "name": event.name, "dir": event.direction,
               "frame": event.frame}[name]
        return
    message = event.message
    if message is None:
        return
    if name in message.values:
        yield message.values[name]
    for top in event.record.fields():
        for field in top.walk():
            if field.name == name and field is not top:
                yield field.value


def _holds(value, operator: str, operand: str, number, regex) -> bool:
    if value is None:
        return False
    if operator in ("contains", "matches"):
        text = value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
        if isinstance(value, list):
            text = ",".join(map(str, value))
        return operand in text if operator == "contains" else bool(regex.search(text))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and number is not None:
        left, right = value, number
    elif isinstance(value, (bytes, bytearray)):
        left, right = bytes(value), operand.encode()
    else:
        left, right = str(value).lower() if isinstance(value, bool) else str(value), operand
    try:
        return {"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                ">": left > right, ">=": left >= right}[operator]
    except TypeError:
        return False
