"""Lessons: the file format and its one-line errors, `lessons --check` on the course and on
lessons that are wrong about their run, the learner's progress, and the example in
docs/lessons.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sshviz.cli import main
from sshviz.lessons import (LessonError, LessonRun, ProgressStore, lesson_files, load_course,
                            loads_lesson)
from sshviz.lessons.check import check_lesson
from sshviz.lessons.computations import same_hex, same_number, same_text

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
name: tiny
title: A tiny lesson
level: beginner
minutes: 3
run:
  scenario:
    seed: 5
steps:
  - kind: read
    message: KEXINIT from server
    field: cookie
    text: The server's cookie.
  - kind: question
    text: Which side sends KEXINIT first here?
    choices:
      - answer: the server
        right: true
        feedback: Yes.
      - answer: the client
        feedback: No.
  - kind: compute
    message: KEXINIT from client
    compute: packet_length
    text: Its packet_length?
  - kind: experiment
    change:
      cipher: aes128-ctr
    expect:
      check: negotiated
      category: cipher
      is: aes128-ctr
    text: Prefer aes128-ctr.
"""


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    """Progress goes to a directory of the test's own."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


def write(tmp_path, text: str, name: str = "05-tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(text: str, tmp_path) -> str:
    with pytest.raises(LessonError) as caught:
        loads_lesson(text, tmp_path / "05-tiny.yaml")
    return str(caught.value).replace(str(tmp_path) + "/", "")


# -- the loader: one error naming the file, the line and what is wrong ---------------------------

def test_a_good_lesson_loads():
    lesson = loads_lesson(GOOD, "tiny.yaml")
    assert (lesson.name, lesson.level, lesson.minutes, len(lesson.steps)) == ("tiny", "beginner", 3, 4)
    assert [s.kind for s in lesson.steps] == ["read", "question", "compute", "experiment"]
    assert lesson.steps[1].right_choice.answer == "the server"


@pytest.mark.parametrize("old, new, expected", [
    ("  - kind: question\n", "  - kind: quiz\n",
     "05-tiny.yaml:13: step 2: unknown step kind 'quiz' (kinds: read, question, compute, experiment)"),
    ("      - answer: the client\n", "      - answer: the client\n        right: true\n",
     "05-tiny.yaml:15: step 2: a question needs exactly one right answer, this one has 2"),
    ("        right: true\n", "",
     "05-tiny.yaml:15: step 2: a question needs exactly one right answer, this one has 0"),
    ("compute: packet_length", "compute: packet_size",
     "05-tiny.yaml:23: step 3: compute: unknown computation 'packet_size' (known: packet_length, "
     "padding_length, payload_length, wire_length, message_number, sequence_number, "
     "next_sequence_number, mac, negotiated, exchange_hash, session_id, shared_secret, field_value, "
     "message_count, channel_window, host_key_fingerprint, field_length, derived_key, mac_length)"),
    ("      check: negotiated\n", "      check: negotiated\n      reason: MAC_ERROR\n",
     "05-tiny.yaml:30: step 4: expect: negotiated takes no 'reason' (it takes category, is)"),
    ("level: beginner", "level: expert",
     "05-tiny.yaml:3: level must be one of beginner, intermediate, advanced, not 'expert'"),
    ("minutes: 3", "minutes: soon", "05-tiny.yaml:4: minutes must be a whole number from 1 to 240, not 'soon'"),
    ("title: A tiny lesson\n", "", "05-tiny.yaml:1: missing 'title'"),
    ("    seed: 5", "    seed: 5\n    cypher: aes128-ctr",
     "05-tiny.yaml:8: run: unknown scenario option 'cypher' (known: auth, banner, cipher, command, "
     "compression, guess_kex, hostkey, kex, mac, options, password, rekey, seed, sftp_actions, "
     "strict_kex, subsystem, user, without, wrong_password_first)"),
    ("      cipher: aes128-ctr", "      cipher: rot13",
     "05-tiny.yaml:27: step 4: change: unknown cipher rot13; supported: chacha20-poly1305@openssh.com, "
     "aes128-ctr, aes192-ctr, aes256-ctr, aes128-gcm@openssh.com, aes256-gcm@openssh.com"),
    ("    seed: 5", "    seed: five", "05-tiny.yaml:7: run: seed must be a whole number, not 'five'"),
    ("compute: packet_length", "compute: [packet_length]",
     "05-tiny.yaml:23: step 3: compute: give a computation's name, or a mapping with 'name' and its parameters"),
    ("    text: Its packet_length?\n", "",
     "05-tiny.yaml:21: step 3: missing 'text'"),
    ("    message: KEXINIT from server\n", "",
     "05-tiny.yaml:10: step 1: a field needs the message it is in ('message')"),
    ("steps:", "steps: [\n", "05-tiny.yaml:10: not valid YAML: expected the node content, but found '-'"),
])
def test_a_broken_lesson_gives_one_line_naming_file_line_and_problem(tmp_path, old, new, expected):
    assert old in GOOD
    assert error_of(GOOD.replace(old, new, 1), tmp_path) == expected


def test_a_recorded_run_takes_no_experiment(tmp_path):
    text = GOOD.replace("run:\n  scenario:\n    seed: 5", "run:\n  sample: openssh-sshd")
    assert error_of(text, tmp_path) == ("05-tiny.yaml:24: step 4: an experiment needs a run made from a "
                                        "scenario or an in-process sample, not a recorded trace")
    lesson = loads_lesson(text.split("  - kind: experiment")[0], tmp_path / "05-tiny.yaml")
    assert lesson.source.trace.name == "openssh-sshd.yaml" and check_lesson(lesson) == []


def test_the_other_lessons_still_load_when_one_is_broken(tmp_path):
    good = write(tmp_path, GOOD, "01-good.yaml")
    bad = write(tmp_path, GOOD.replace("kind: question", "kind: quiz"), "02-bad.yaml")
    lessons, errors = load_course([good, bad])
    assert [lesson.name for lesson in lessons] == ["tiny"]
    assert [e.path for e in errors] == [bad] and "unknown step kind 'quiz'" in str(errors[0])


def test_the_cli_reports_a_broken_file_in_one_line_and_lists_the_rest(tmp_path, capsys):
    good = write(tmp_path, GOOD, "01-good.yaml")
    bad = write(tmp_path, GOOD.replace("kind: question", "kind: quiz"), "02-bad.yaml")
    assert main(["lessons", str(good), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"sshviz: error: {bad}:13: step 2: unknown step kind 'quiz' (kinds: read, "
                                "question, compute, experiment)"]
    assert out.splitlines()[0].split() == ["01", "tiny", "beginner", "3", "min", "not", "started", "A", "tiny", "lesson"]


# -- the check: every claim against the real run ----------------------------------------------

def test_the_whole_course_passes_the_check(capsys):
    """What CI runs: `sshviz lessons --check` over every lesson in lessons/."""
    assert len(lesson_files()) >= 2
    assert main(["lessons", "--check"]) == 0, capsys.readouterr().out
    assert capsys.readouterr().err.strip().endswith("all good")


def test_each_lesson_of_the_course_has_a_question_a_compute_step_and_an_experiment():
    """A lesson on a recorded capture cannot rerun it, so it has no experiment (and says why in
    a comment at its top)."""
    lessons, errors = load_course()
    assert not errors
    for lesson in lessons:
        kinds = {s.kind for s in lesson.steps}
        recorded = lesson.source.trace is not None
        assert {"question", "compute"} | (set() if recorded else {"experiment"}) <= kinds, lesson.name
        if recorded:
            assert "no experiment" in lesson.path.read_text().split("\nname:")[0], lesson.name


def test_a_good_lesson_passes_the_check(tmp_path):
    assert check_lesson(loads_lesson(GOOD, tmp_path / "05-tiny.yaml")) == []


@pytest.mark.parametrize("old, new, expected", [
    ("message: KEXINIT from server", "message: KEXINIT from server 3",
     "05-tiny.yaml:9: step 1: message 'KEXINIT from server 3': the run has 1 of them"),
    ("field: cookie", "field: biscuit",
     "05-tiny.yaml:9: step 1: field 'biscuit': KEXINIT has no 'biscuit' (it has: msg_number, cookie, "
     "kex_algorithms, server_host_key_algorithms, encryption_algorithms_client_to_server, "
     "encryption_algorithms_server_to_client, mac_algorithms_client_to_server, "
     "mac_algorithms_server_to_client, compression_algorithms_client_to_server, "
     "compression_algorithms_server_to_client, languages_client_to_server, languages_server_to_client, "
     "first_kex_packet_follows, reserved, packet)"),
    ("message: KEXINIT from client", "message: CHANNEL_WINDOW_ADJUST",
     "05-tiny.yaml:21: step 3: message 'CHANNEL_WINDOW_ADJUST': no CHANNEL_WINDOW_ADJUST in the run"),
    ("message: KEXINIT from client\n    compute: packet_length", "compute: packet_length",
     "05-tiny.yaml:22: step 3: compute: packet_length needs the step's 'message'"),
    ("      is: aes128-ctr", "      is: aes256-ctr",
     "05-tiny.yaml:29: step 4: expect: negotiated does not happen in the rerun (the negotiated "
     "cipher_c2s is aes128-ctr)"),
    ("      cipher: aes128-ctr\n", "      command: echo changed\n",
     "05-tiny.yaml:29: step 4: expect: negotiated does not happen in the rerun (the negotiated cipher_c2s "
     "is chacha20-poly1305@openssh.com)"),
    ("      is: aes128-ctr", "      is: chacha20-poly1305@openssh.com",
     "05-tiny.yaml:29: step 4: expect: negotiated does not happen in the rerun (the negotiated "
     "cipher_c2s is aes128-ctr)\n"
     "05-tiny.yaml:29: step 4: expect: negotiated already holds without the change (the negotiated "
     "cipher_c2s is chacha20-poly1305@openssh.com), so the experiment shows nothing"),
])
def test_the_check_finds_what_is_not_true_of_the_run(tmp_path, old, new, expected):
    assert old in GOOD
    lesson = loads_lesson(GOOD.replace(old, new, 1), tmp_path / "05-tiny.yaml")
    problems = [p.replace(str(tmp_path) + "/", "") for p in check_lesson(lesson)]
    assert problems == expected.splitlines()


def test_a_what_comes_next_question_is_checked_against_the_run(tmp_path):
    text = GOOD.replace("""    text: Which side sends KEXINIT first here?
    choices:
      - answer: the server
        right: true
        feedback: Yes.
      - answer: the client
        feedback: No.""", """    message: KEXINIT from client
    asks: next-message
    text: What comes next?
    choices:
      - answer: NEWKEYS
        right: true
        feedback: Yes.
      - answer: KEX_ECDH_INIT
        feedback: No.""")
    lesson = loads_lesson(text, tmp_path / "05-tiny.yaml")
    assert [p.replace(str(tmp_path) + "/", "") for p in check_lesson(lesson)] == [
        "05-tiny.yaml:13: step 2: the right answer 'NEWKEYS' is not what comes next: the run has "
        "KEX_ECDH_INIT (#4)",
        "05-tiny.yaml:13: step 2: the wrong answer 'KEX_ECDH_INIT' is what comes next"]


def test_check_on_the_command_line_prints_one_line_per_problem_and_fails(tmp_path, capsys):
    bad = write(tmp_path, GOOD.replace("field: cookie", "field: biscuit").replace(
        "      is: aes128-ctr", "      is: aes256-ctr"))
    two_right = write(tmp_path, GOOD.replace("      - answer: the client\n",
                                             "      - answer: the client\n        right: true\n"), "06-two.yaml")
    assert main(["lessons", "--check", str(bad), str(two_right)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines[0] == f"{two_right}:15: step 2: a question needs exactly one right answer, this one has 2"
    assert lines[1].startswith(f"{bad}:9: step 1: field 'biscuit': KEXINIT has no 'biscuit'")
    assert lines[2].startswith(f"{bad}:29: step 4: expect: negotiated does not happen in the rerun")
    assert err.strip() == "2 lessons checked: 3 problems"


# -- answers ---------------------------------------------------------------------------------

def test_compute_answers_come_from_the_run_and_compare_leniently(tmp_path):
    lesson = loads_lesson(GOOD, tmp_path / "05-tiny.yaml")
    run = LessonRun(lesson)
    step = lesson.steps[2]
    answer, kind = run.answer(step)
    kexinit = next(e for e in run.trace.events if e.name == "KEXINIT" and e.sender == "client")
    assert (answer, kind) == (str(kexinit.record.packet_length), "number")
    assert run.judge(step, f" {answer} ") and run.judge(step, hex(int(answer)))
    assert not run.judge(step, str(int(answer) + 1)) and not run.judge(step, "lots")
    assert run.judge(lesson.steps[1], "The server") and not run.judge(lesson.steps[1], "the client")


def test_answer_comparisons():
    assert same_hex("0xAB cd:EF", "abcdef") and not same_hex("abcde", "abcdef")
    assert same_number("0x10", "16") and same_number(" 16 ", "16") and not same_number("1O", "10")
    assert same_text("  AES256-CTR ", "aes256-ctr") and same_text("'chacha'", "chacha")


# -- progress --------------------------------------------------------------------------------

def test_progress_is_saved_and_restored(data_home):
    store = ProgressStore()
    store.mark_done("tiny", "1")
    store.record_answer("tiny", "2", "the client")
    store.record_answer("tiny", "2", "the server")
    store.set_position("tiny", 3)
    again = ProgressStore()
    assert again.path == data_home / "sshviz" / "progress.json"
    assert again.done("tiny") == {"1"} and again.position("tiny") == 3
    assert again.answers("tiny", "2") == ["the client", "the server"]
    assert again.summary("tiny", 4) == "1/4 steps" and again.summary("other", 4) == "not started"
    assert [p.name for p in again.path.parent.iterdir()] == ["progress.json"]  # no temporary left
    again.reset("tiny")
    assert ProgressStore().done("tiny") == set()


@pytest.mark.parametrize("content", ["{not json", json.dumps({"format": 1, "lessons": {"x": 3}}), "[]"])
def test_a_corrupt_progress_file_is_set_aside_with_a_warning(data_home, content):
    path = data_home / "sshviz" / "progress.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    store = ProgressStore()
    assert store.lessons == {}
    assert re.fullmatch(rf"progress file {re.escape(str(path))} was unreadable \(.+\); set aside as "
                        rf"{re.escape(str(path))}\.corrupt-\d{{8}}-\d{{6}}; starting afresh", store.warning)
    aside = [p for p in path.parent.iterdir() if p.name.startswith("progress.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_text() == content and not path.exists()
    store.mark_done("tiny", "1")
    assert ProgressStore().done("tiny") == {"1"}


def test_the_cli_warns_in_one_line_about_a_corrupt_progress_file(data_home, tmp_path, capsys):
    path = data_home / "sshviz" / "progress.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    good = write(tmp_path, GOOD)
    assert main(["lessons", str(good)]) == 0
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith(f"sshviz: warning: progress file {path} was unreadable (Expecting property name "
                          "enclosed in double quotes: line 1 column 2 (char 1)); set aside as ")


# -- the documentation -----------------------------------------------------------------------

def test_the_example_in_the_documentation_passes_the_check(tmp_path):
    doc = (ROOT / "docs" / "lessons.md").read_text()
    example = re.search(r"<!-- example-lesson -->\n```yaml\n(.*?)```", doc, re.S).group(1)
    lesson = loads_lesson(example, tmp_path / "example.yaml")
    assert {s.kind for s in lesson.steps} == {"read", "question", "compute", "experiment"}
    assert check_lesson(lesson) == []


def test_the_documentation_names_every_computation_and_observation():
    from sshviz.lessons.computations import COMPUTATIONS
    from sshviz.lessons.observations import OBSERVATIONS

    doc = (ROOT / "docs" / "lessons.md").read_text()
    for name in [*COMPUTATIONS, *OBSERVATIONS]:
        assert f"| `{name}` |" in doc, name


def test_the_course_is_shipped_with_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"lessons" = "sshviz/_data/lessons"' in pyproject
