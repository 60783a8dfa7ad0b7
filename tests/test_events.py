"""Events and messages are made once and never changed: what a side reported, and the message
a packet carried, read the same whatever reads them later (the transcript, the file writer,
the bulk-data elision)."""

from __future__ import annotations

import dataclasses

import pytest

from sshviz import events as ev
from sshviz.events import Event
from sshviz.presentation.transcript import format_unit
from sshviz.scenario import Scenario, run_scenario
from sshviz.trace.elide import BulkCounter
from sshviz.trace.model import shortened_event
from sshviz.wire.catalog import MSG

EVENT_TYPES = [value for value in vars(ev).values()
               if isinstance(value, type) and issubclass(value, Event) and value is not Event]


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_every_event_type_is_frozen(event_type):
    assert dataclasses.is_dataclass(event_type) and event_type.__dataclass_params__.frozen


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_events_compare_hash_and_show_as_dataclass_makes_them(event_type):
    """Event writes __eq__, __hash__ and __repr__ once, over __match_args__: what dataclass
    would make for each class, as long as every field is an ordinary one."""
    fields = dataclasses.fields(event_type)
    assert event_type.__match_args__ == tuple(f.name for f in fields)
    assert all(f.init and f.compare and f.repr and f.hash is None for f in fields)
    reference = dataclasses.make_dataclass("Reference", [(f.name, object) for f in fields], frozen=True)
    values = [(1, "a", b"b"), (2, "a", b"b")]
    made = [event_type(*[v[i % 3] for i in range(len(fields))]) for v in values]
    same = [reference(*[v[i % 3] for i in range(len(fields))]) for v in values]
    assert repr(made[0]) == repr(same[0]).replace("Reference", event_type.__qualname__, 1)
    assert (made[0] == made[1]) == (same[0] == same[1]) and made[0] == event_type(*dataclasses.astuple(made[0]))
    assert hash(made[0]) == hash(same[0]) and made[0] != same[0]


def test_a_reported_event_cannot_be_changed():
    event = ev.ChannelData(0, b"hello")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = b"changed"  # type: ignore[misc]


def test_a_message_cannot_be_changed():
    message = MSG.IGNORE.build(data=b"x")
    with pytest.raises(AttributeError):
        message.fields = []  # type: ignore[misc]


def test_reading_a_session_changes_none_of_its_messages():
    conductor = run_scenario(Scenario())
    sent = [e.record for e in conductor.client_events if isinstance(e, ev.PacketSent)]
    assert sent and all(record.message.fields is None for record in sent)  # built from values
    text = "\n".join(line for record in sent for line in format_unit(None, "c2s", record, detail=True))
    assert "service_name" in text  # the fields were decoded to be shown ...
    assert all(record.message.fields is None for record in sent)  # ... beside the messages, not into them


def test_eliding_bulk_data_makes_new_events_and_leaves_the_old_whole():
    trace = run_scenario(Scenario(command="echo " + "x" * 300)).trace
    event = next(e for e in trace.events if e.name == "CHANNEL_DATA")
    before = (bytes(event.record.wire), event.message["data"], list(event.changes))
    shortened = BulkCounter(elide_after=0).shorten(event)
    shorter = shortened_event(event, shortened)
    assert (bytes(event.record.wire), event.message["data"], event.changes) == before
    assert shorter.message["data"] == event.message["data"][:64] and shorter.elided == len(before[1]) - 64
    assert shorter.record is not event.record and shorter.changes[0][1].data == shorter.message["data"]


@pytest.mark.parametrize("message", [MSG.CHANNEL_DATA.build(recipient_channel=3, data=bytes(range(200))),
                                     MSG.CHANNEL_EXTENDED_DATA.build(recipient_channel=7, data_type_code=1,
                                                                     data=b"e" * 300)])
def test_a_shortened_payload_is_the_shorter_message_encoded(message):
    from sshviz.trace.elide import ELIDED_KEEP, _shorter_payload
    from sshviz.wire.spec import Message

    data = message["data"]
    shorter = Message(message.spec, dict(message.values, data=data[:ELIDED_KEEP]))
    assert _shorter_payload(shorter, message.encode(), data) == shorter.encode()
