"""Lessons: the computations and observations about keys and MACs (derived_key, mac_length,
host_key, key_length), each against a real run and each wrong claim caught by the check."""

from __future__ import annotations

import base64
import hashlib

import pytest

from sshviz.events import KexComputed
from sshviz.lessons import LessonError, LessonRun, loads_lesson
from sshviz.lessons.check import check_lesson

LESSON = """\
name: keys
title: Keys and MACs
level: beginner
minutes: 3
run:
  scenario:
    cipher: aes128-ctr
    mac: hmac-sha2-256
    seed: 4
steps:
  - kind: compute
    message: KEX_ECDH_REPLY
    compute: {name: derived_key, letter: E, digits: 10}
    text: The first digits of the client's MAC key?
  - kind: compute
    message: SERVICE_REQUEST from client
    compute: mac_length
    text: How long is this MAC?
  - kind: compute
    message: KEX_ECDH_REPLY
    field: host_key
    compute: {name: host_key_fingerprint, digits: 43}
    text: The host key's fingerprint?
  - kind: experiment
    change: {mac: hmac-sha1}
    expect: {check: mac_length, message: SERVICE_REQUEST from client, is: 20}
    text: Use hmac-sha1.
  - kind: experiment
    change: {cipher: aes256-ctr}
    expect: {check: key_length, letter: C, is: 32}
    text: Use aes256-ctr.
  - kind: experiment
    change: {attack: {name: mitm, known_host: "no"}}
    expect: {check: host_key, status: learned}
    text: A man in the middle, and a client that trusts the first key it sees.
"""


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def lesson_of(text: str, tmp_path):
    return loads_lesson(text, tmp_path / "05-keys.yaml")


def test_the_key_computations_and_observations_hold_in_their_runs(tmp_path):
    lesson = lesson_of(LESSON, tmp_path)
    assert check_lesson(lesson) == []
    run = LessonRun(lesson)
    kex = next(c for e in run.trace.events for _, c in e.changes if isinstance(c, KexComputed))
    mac_key = next(k.value for k in kex.keys if k.letter == "E")
    assert run.answer(lesson.steps[0]) == (mac_key.hex()[:10], "hex")
    assert run.answer(lesson.steps[1]) == ("32", "number")
    blob = next(e for e in run.trace.events if e.name == "KEX_ECDH_REPLY").record.message["host_key"]
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert run.answer(lesson.steps[2]) == (fingerprint, "fingerprint")
    assert run.judge(lesson.steps[2], f" {fingerprint} ") and not run.judge(lesson.steps[2], fingerprint[:-1])
    assert run.experiment(lesson.steps[3]).observed == "SERVICE_REQUEST from client carries a MAC of 20 bytes"
    assert run.experiment(lesson.steps[4]).observed == "key C is 32 bytes long"
    assert run.experiment(lesson.steps[5]).observed.startswith("the client found the host key learned")
    assert run.observed_before(lesson.steps[5])[0] is False  # the demo client knows the real key


@pytest.mark.parametrize("old, new, expected", [
    ("is: 20}", "is: 16}",
     "05-keys.yaml:26: step 4: expect: mac_length does not happen in the rerun (SERVICE_REQUEST from "
     "client carries a MAC of 20 bytes)"),
    ("letter: C, is: 32", "letter: E, is: 32",
     "05-keys.yaml:30: step 5: expect: key_length already holds without the change (key E is 32 bytes "
     "long), so the experiment shows nothing"),
    ("status: learned", "status: changed",
     "05-keys.yaml:34: step 6: expect: host_key does not happen in the rerun (the client found the host "
     "key learned"),
    ("message: SERVICE_REQUEST from client\n    compute: mac_length",
     "message: NEWKEYS from client\n    compute: mac_length",
     "05-keys.yaml:17: step 2: compute: the step's packet has no MAC (it went before NEWKEYS)"),
])
def test_the_check_catches_a_wrong_claim_about_keys_and_macs(tmp_path, old, new, expected):
    assert old in LESSON
    problems = check_lesson(lesson_of(LESSON.replace(old, new), tmp_path))
    assert len(problems) == 1 and problems[0].replace(str(tmp_path) + "/", "").startswith(expected)


def test_an_empty_key_has_no_digits_to_type(tmp_path):
    lesson = lesson_of(LESSON.replace("mac: hmac-sha2-256", "mac: hmac-sha2-256\n    cipher: aes256-gcm@openssh.com")
                       .replace("    cipher: aes128-ctr\n", ""), tmp_path)
    problems = check_lesson(lesson)
    assert problems[0].replace(str(tmp_path) + "/", "") == (
        "05-keys.yaml:13: step 1: compute: key E is empty: the negotiated algorithms need none")


@pytest.mark.parametrize("old, new, expected", [
    ("letter: E, digits: 10", "letter: G, digits: 10",
     "05-keys.yaml:13: step 1: compute: derived_key: letter must be one of A, B, C, D, E, F "
     "(RFC 4253 7.2), not 'G'"),
    ("{name: derived_key, letter: E, digits: 10}", "derived_key",
     "05-keys.yaml:13: step 1: compute: derived_key needs 'letter'"),
    ("status: learned", "status: trusted",
     "05-keys.yaml:34: step 6: expect: host_key: status must be one of known, learned, accepted, "
     "unknown, changed, revoked, not 'trusted'"),
    ("letter: C, is: 32", "letter: c, is: 32",
     "05-keys.yaml:30: step 5: expect: key_length: letter must be one of A, B, C, D, E, F "
     "(RFC 4253 7.2), not 'c'"),
])
def test_a_bad_parameter_is_one_line_naming_file_and_line(tmp_path, old, new, expected):
    assert old in LESSON
    with pytest.raises(LessonError) as caught:
        lesson_of(LESSON.replace(old, new), tmp_path)
    assert str(caught.value).replace(str(tmp_path) + "/", "") == expected


def test_a_second_key_exchange_keeps_the_session_id(tmp_path):
    lesson = lesson_of(LESSON.replace("  - kind: experiment\n    change: {mac: hmac-sha1}",
                                      "  - kind: experiment\n    change: {rekey: true}\n"
                                      "    expect: {check: session_id_kept}\n    text: Rekey.\n"
                                      "  - kind: experiment\n    change: {mac: hmac-sha1}"), tmp_path)
    run = LessonRun(lesson)
    step = next(s for s in lesson.steps if s.kind == "experiment")
    result = run.experiment(step)
    assert result.holds and result.observed.startswith("2 key exchanges, H ")
    first, second = result.observed.split("; session id ")[1].split(", ")
    assert first == second
    assert run.observed_before(step) == (False, "1 key exchange(s): nothing to compare")
