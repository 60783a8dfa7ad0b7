"""The message catalog names every message and number once: code refers to messages as
``MSG.X`` and to number ranges by name, never by literal; fields are read as
``message["field"]``, so no field can hide behind an attribute of Message."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sshviz
from sshviz.wire import spec as s
from sshviz.wire.catalog import (CONNECTION, KEX_METHOD, MSG, SSH, TRANSPORT_GENERIC, USERAUTH,
                                 USERAUTH_METHOD)
from sshviz.wire.sftp import SFTP

PACKAGE = Path(sshviz.__file__).parent
WIRE = PACKAGE / "wire"


def field_names(layout: tuple):
    for item in layout:
        if type(item) is s.Field:
            yield item.name
        elif type(item) is s.Switch:
            for case in [*item.cases.values(), item.default]:
                if case is not None:
                    yield from field_names(case.fields if type(case) is s.Section else case)
        elif type(item) in (s.Repeat, s.When, s.Optional):
            yield from field_names(item.fields)


@pytest.mark.parametrize("catalog", [SSH, SFTP], ids=["ssh", "sftp"])
def test_no_field_name_collides_with_a_message_attribute(catalog):
    attributes = {name for name in dir(s.Message) if not name.startswith("__")}
    collisions = {(spec.name, name) for spec in catalog.specs for name in field_names(spec.fields)
                  if name in attributes}
    assert not collisions


def test_a_field_named_like_an_attribute_is_still_read_as_the_field():
    # USERAUTH_INFO_REQUEST has a field "name": the server's title, not the message's name.
    message = SSH.decode(MSG.USERAUTH_INFO_REQUEST.build(
        name="Two-factor login", instruction="Type the code", prompts=[]).encode(),
        {"auth": "keyboard-interactive"})
    assert message.spec is MSG.USERAUTH_INFO_REQUEST
    assert message["name"] == "Two-factor login"
    with pytest.raises(AttributeError):
        message.instruction  # noqa: B018 - no field reads as an attribute


def test_every_message_is_named_once_and_reachable_by_its_name():
    assert [spec.name for spec in MSG.specs()] == [spec.name for spec in SSH.specs]
    for spec in SSH.specs:
        assert getattr(MSG, spec.name) is spec and spec.protocol in ("transport", "userauth", "connection")


def test_the_ranges_say_which_layer_a_number_belongs_to():
    assert MSG.DISCONNECT.number in TRANSPORT_GENERIC and MSG.KEX_ECDH_REPLY.number in KEX_METHOD
    assert MSG.USERAUTH_PK_OK.number in USERAUTH and MSG.USERAUTH_PK_OK.number in USERAUTH_METHOD
    assert MSG.CHANNEL_DATA.number in CONNECTION and MSG.PING.number not in CONNECTION
    for spec in SSH.specs:
        method_specific = spec.number in KEX_METHOD or spec.number in USERAUTH_METHOD
        assert (spec.context is not None) == method_specific, spec


# -- no message-number literal outside sshviz/wire -----------------------------------------------

def _is_message_number(node: ast.AST) -> bool:
    """An expression that stands for a message number: x.number, number, msg_number, and a
    payload's first byte (payload[0])."""
    if isinstance(node, ast.Attribute):
        return node.attr in ("number", "msg_number")
    if isinstance(node, ast.Name):
        return node.id in ("number", "msg_number", "message_number")
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        base = node.value
        name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
        return node.slice.value == 0 and "payload" in name
    return False


def _int_literals(node: ast.AST) -> list[int]:
    """Integer literals a comparison could test a number against: 20, (1, 20, 21),
    {5, 6}, frozenset({...}), range(30, 50)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [n for element in node.elts for n in _int_literals(element)]
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("range", "frozenset", "set", "tuple"):
        return [n for arg in node.args for n in _int_literals(arg)]
    return []


def message_number_literals(source: str) -> list[int]:
    """Line numbers where a message number is compared with a literal, directly or through a
    module-level name bound to literals (NEWKEYS = 21, KEX_MESSAGES = range(30, 50))."""
    tree = ast.parse(source)
    literal_names = {target.id: node.lineno for node in tree.body if isinstance(node, ast.Assign)
                     for target in node.targets if isinstance(target, ast.Name) and _int_literals(node.value)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if not any(_is_message_number(o) for o in operands):
                continue
            if any(_int_literals(o) for o in operands):
                lines.append(node.lineno)
            lines += [literal_names[o.id] for o in operands if isinstance(o, ast.Name) and o.id in literal_names]
    return sorted(set(lines))


def test_the_literal_finder_finds_what_it_looks_for():
    found = message_number_literals(
        "if msg.number == 20: pass\n"
        "if number in (1, 20, 21): pass\n"
        "ok = 30 <= message.number <= 49\n"
        "if payload[0] in range(30, 50): pass\n"
        "if msg.spec is MSG.KEXINIT or msg.number in KEX_METHOD: pass\n"
        "if len(payload) == 0: pass\n"
        "NEWKEYS = 21\n"
        "if message.number == NEWKEYS: pass\n")
    assert found == [1, 2, 3, 4, 7]


def test_no_message_number_literal_outside_the_catalog():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if WIRE in path.parents:
            continue
        for line in message_number_literals(path.read_text()):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    assert not offenders
