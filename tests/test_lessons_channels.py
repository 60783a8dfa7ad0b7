"""Lessons: the computations and observations about the connection layer and SFTP
(message_count, channel_window, sftp_status) and the session id asked after the key exchange,
each checked against a seeded run and shown to fail when the lesson is wrong."""

from __future__ import annotations

import pytest

from sshviz.lessons import LessonError, loads_lesson
from sshviz.lessons.check import check_lesson
from sshviz.lessons.computations import COMPUTATIONS, Subject
from sshviz.lessons.observations import OBSERVATIONS
from sshviz.lessons.run import play
from sshviz.lessons.selectors import select_message

SFTP = {"seed": 9, "command": None, "sftp_actions": ["put hello.txt", "get hello.txt", "ls"]}

LESSON = """\
name: channels
title: Channels
level: beginner
minutes: 3
run:
  scenario:
    seed: 7
steps:
  - kind: compute
    message: CHANNEL_DATA from server
    compute: channel_window
    text: What window is left?
  - kind: compute
    compute:
      name: message_count
      of: USERAUTH_REQUEST from client
    text: How many requests?
  - kind: compute
    message: USERAUTH_SUCCESS
    compute: session_id
    text: The session id?
  - kind: experiment
    change:
      command: null
      sftp_actions: ["rm missing.txt"]
    expect:
      check: sftp_status
      code: NO_SUCH_FILE
      answers: FXP_REMOVE
    text: Remove a file that is not there.
"""


@pytest.fixture(scope="module")
def exec_run():
    return play({"seed": 7})


@pytest.fixture(scope="module")
def sftp_run():
    return play(SFTP)


def computed(name, trace, selector=None, **params):
    event = select_message(trace, selector) if selector else None
    return COMPUTATIONS[name].compute(Subject(trace, event, []), params)


def test_channel_window_is_the_granted_window_less_the_data_sent(exec_run):
    opened = select_message(exec_run, "CHANNEL_OPEN from client").message
    data = select_message(exec_run, "CHANNEL_DATA from server").message
    assert computed("channel_window", exec_run, "CHANNEL_DATA from server") == str(
        opened["initial_window_size"] - len(data["data"]))
    # the client has sent no data: its window is still what the server granted
    confirmation = select_message(exec_run, "CHANNEL_OPEN_CONFIRMATION").message
    assert computed("channel_window", exec_run, "CHANNEL_CLOSE from client") == str(
        confirmation["initial_window_size"])


def test_channel_window_adds_what_a_window_adjust_gives(sftp_run):
    # the client raised the server's window to SFTP's 8 MiB after the 283 bytes of VERSION
    before = int(computed("channel_window", sftp_run, "FXP_VERSION"))
    adjust = select_message(sftp_run, "CHANNEL_WINDOW_ADJUST from client").message["bytes_to_add"]
    handle = select_message(sftp_run, "FXP_HANDLE")
    sent_between = sum(len(e.message["data"]) for e in sftp_run.events[:handle.index + 1]
                       if e.sender == "server" and e.name == "CHANNEL_DATA"
                       and e.index > select_message(sftp_run, "FXP_VERSION").index)
    assert before + adjust == 8 * 1024 * 1024
    assert computed("channel_window", sftp_run, "FXP_HANDLE") == str(before + adjust - sent_between)


def test_channel_window_needs_a_message_on_a_channel(exec_run):
    from sshviz.lessons.computations import NoAnswer

    with pytest.raises(NoAnswer, match="a step's message on a channel"):
        computed("channel_window", exec_run, "CHANNEL_OPEN")


def test_message_count_counts_what_the_selector_names(exec_run, sftp_run):
    assert computed("message_count", exec_run, of="USERAUTH_REQUEST from client") == "3"
    assert computed("message_count", exec_run, of="USERAUTH_FAILURE from server") == "1"
    assert computed("message_count", exec_run, of="CHANNEL_WINDOW_ADJUST") == "0"
    assert computed("message_count", sftp_run, of="FXP_STATUS") == "7"


def test_the_session_id_may_be_asked_after_the_key_exchange(exec_run):
    kex_reply = select_message(exec_run, "KEX_ECDH_REPLY")
    assert (computed("session_id", exec_run, "USERAUTH_SUCCESS")
            == computed("session_id", exec_run, "KEX_ECDH_REPLY") != "")
    assert kex_reply.index < select_message(exec_run, "USERAUTH_SUCCESS").index


def test_sftp_status_matches_a_status_to_its_request_by_id(sftp_run):
    observe = OBSERVATIONS["sftp_status"].observe
    assert observe(sftp_run, {"code": "NO_SUCH_FILE"}) == (
        True, "the statuses that were not OK: FXP_STAT id 3: NO_SUCH_FILE, FXP_READ id 11: EOF, "
        "FXP_READDIR id 16: EOF")
    assert observe(sftp_run, {"code": "NO_SUCH_FILE", "answers": "FXP_REMOVE"})[0] is False
    assert observe(sftp_run, {"code": "EOF", "answers": "SSH_FXP_READDIR"})[0] is True
    assert observe(play({"seed": 7}), {"code": "OK"}) == (False, "no SFTP status")


def test_a_lesson_using_them_passes_and_fails_when_wrong(tmp_path):
    assert check_lesson(loads_lesson(LESSON, tmp_path / "08-c.yaml")) == []
    wrong = LESSON.replace("answers: FXP_REMOVE", "answers: FXP_OPEN")
    problems = [p.replace(str(tmp_path) + "/", "") for p in check_lesson(loads_lesson(wrong, tmp_path / "08-c.yaml"))]
    assert problems == ["08-c.yaml:27: step 4: expect: sftp_status does not happen in the rerun (the statuses "
                        "that were not OK: FXP_REMOVE id 3: NO_SUCH_FILE)"]


@pytest.mark.parametrize("old, new, expected", [
    ("      of: USERAUTH_REQUEST from client", "      of: USERAUTH_REQUEST 2",
     "08-c.yaml:15: step 2: compute: message_count: of 'USERAUTH_REQUEST 2' is not "
     "'NAME [from client|server]'"),
    ("      code: NO_SUCH_FILE", "      code: GONE",
     "08-c.yaml:27: step 4: expect: sftp_status: unknown SFTP status 'GONE' (known: OK, EOF, NO_SUCH_FILE, "
     "PERMISSION_DENIED, FAILURE, BAD_MESSAGE, NO_CONNECTION, CONNECTION_LOST, OP_UNSUPPORTED)"),
    ("      check: sftp_status\n      code: NO_SUCH_FILE\n", "      check: sftp_status\n",
     "08-c.yaml:27: step 4: expect: sftp_status needs 'code'"),
])
def test_bad_parameters_are_one_line_errors(tmp_path, old, new, expected):
    assert old in LESSON
    with pytest.raises(LessonError) as caught:
        loads_lesson(LESSON.replace(old, new), tmp_path / "08-c.yaml")
    assert str(caught.value).replace(str(tmp_path) + "/", "") == expected
