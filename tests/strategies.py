"""Hypothesis strategies that follow the message catalog, so every message is covered."""

from __future__ import annotations

from hypothesis import strategies as st

from sshviz.wire import spec as s

NAME = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=","),
               min_size=1, max_size=12)
TEXT = st.text(max_size=24)

_BY_TYPE = {
    s.BYTE: st.integers(0, 255),
    s.BOOLEAN: st.booleans(),
    s.UINT32: st.integers(0, 2**32 - 1),
    s.UINT64: st.integers(0, 2**64 - 1),
    s.STRING: st.binary(max_size=48),
    s.TEXT: TEXT,
    s.MPINT: st.integers(-(2**300), 2**300),
    s.NAME_LIST: st.lists(NAME, max_size=5),
    s.REST: st.binary(max_size=32),
}


def value_for(field: s.Field):
    if field.type in _BY_TYPE:
        return _BY_TYPE[field.type]
    size = int(field.type.name[5:-1])  # byte[n]
    return st.binary(min_size=size, max_size=size)


@st.composite
def layout_values(draw, layout: tuple, values: dict | None = None):
    """Values for ``layout``, drawn field by field so Switch and When see earlier values."""
    values = {} if values is None else values
    for item in layout:
        if type(item) is s.Field:
            if item.count_for is not None:
                continue  # the encoder fills counts in
            if item.name in values:
                continue
            values[item.name] = draw(value_for(item))
        elif type(item) is s.Switch:
            keys = list(item.cases)
            choice = draw(st.sampled_from(keys + ["(unknown)"]) if item.default is None or keys else
                          st.sampled_from(keys))
            values[item.on] = choice
            case = item.cases.get(choice, item.default)
            if type(case) is s.Section:
                case = case.fields
            draw(layout_values(s.UNKNOWN_TAIL if case is None else case, values))
        elif type(item) is s.Repeat:
            values[item.name] = [draw(layout_values(item.fields)) for _ in range(draw(st.integers(0, 3)))]
        elif type(item) is s.When:
            if item.test(values):
                draw(layout_values(item.fields, values))
        elif type(item) is s.Optional:
            if draw(st.booleans()):
                draw(layout_values(item.fields, values))
    return values


def normalized(values):
    """Comparable form: counts filled in by the encoder are dropped."""
    if isinstance(values, dict):
        return {k: normalized(v) for k, v in values.items()}
    if isinstance(values, list):
        return [normalized(v) for v in values]
    return values
