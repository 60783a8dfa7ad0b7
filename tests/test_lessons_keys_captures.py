"""Lessons: a capture opened with its key log (`run: trace:` with `keylog:`), the host key
fingerprint and field length computations, and the ext_info observation."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess

import pytest

from sshviz.lessons import LessonError, LessonRun, loads_lesson
from sshviz.lessons.check import check_lesson
from sshviz.lessons.computations import same_fingerprint
from sshviz.scenario import Scenario, run_scenario
from sshviz.trace.export import write_keylog, write_pcap


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def lesson_text(run: str, steps: str) -> str:
    return f"name: t\ntitle: T\nlevel: advanced\nminutes: 5\nrun:\n{run}steps:\n{steps}"


def errors(text: str, tmp_path) -> list[str]:
    lesson = loads_lesson(text, tmp_path / "14-t.yaml")
    return [p.replace(str(tmp_path) + "/", "") for p in check_lesson(lesson)]


# -- a capture with its key log ----------------------------------------------------------------

@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A small capture and its key log, made from a seeded password login."""
    directory = tmp_path_factory.mktemp("capture")
    trace = run_scenario(Scenario(seed=4, auth="password", cipher="aes128-ctr", mac="hmac-sha2-256")).trace
    write_pcap(trace, directory / "s.pcap")
    write_keylog(trace, directory / "s.keylog")
    return directory


PASSWORD_STEP = """\
  - kind: compute
    message: USERAUTH_REQUEST from client 2
    field: password
    compute: field_value
    text: The password?
"""


def copy_capture(capture, tmp_path, keylog=True) -> str:
    (tmp_path / "s.pcap").write_bytes((capture / "s.pcap").read_bytes())
    if keylog:
        (tmp_path / "s.keylog").write_bytes((capture / "s.keylog").read_bytes())
    return "  trace: s.pcap\n" + ("  keylog: s.keylog\n" if keylog else "")


def test_a_capture_with_its_key_log_is_read_decrypted(capture, tmp_path):
    text = lesson_text(copy_capture(capture, tmp_path), PASSWORD_STEP)
    assert errors(text, tmp_path) == []
    run = LessonRun(loads_lesson(text, tmp_path / "14-t.yaml"))
    assert run.lesson.source.keylog == tmp_path / "s.keylog"
    assert run.answer(run.lesson.steps[0]) == ("correct horse battery staple", "text")
    assert run.scenario is None


def test_without_its_key_log_the_encrypted_messages_cannot_be_selected(capture, tmp_path):
    text = lesson_text(copy_capture(capture, tmp_path, keylog=False), PASSWORD_STEP)
    assert errors(text, tmp_path) == [
        "14-t.yaml:8: step 1: message 'USERAUTH_REQUEST from client 2': no USERAUTH_REQUEST from the client "
        "in the run"]


@pytest.mark.parametrize("run, expected", [
    ("  sample: rekey\n  keylog: s.keylog\n",
     "14-t.yaml:7: run: a keylog goes with a trace (the capture it opens)"),
    ("  trace: s.pcap\n  keylog: nowhere.keylog\n", "14-t.yaml:7: run: no key log file nowhere.keylog"),
    ("  trace: s.pcap\n  keylog: s.keylog\n  sample: rekey\n",
     "14-t.yaml:6: run: give exactly one of scenario, sample or trace"),
])
def test_a_key_log_in_the_wrong_place_is_one_line(capture, tmp_path, monkeypatch, run, expected):
    copy_capture(capture, tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LessonError) as caught:
        loads_lesson(lesson_text(run, PASSWORD_STEP), tmp_path / "14-t.yaml")
    assert str(caught.value).replace(str(tmp_path) + "/", "") == expected


# -- the host key fingerprint ------------------------------------------------------------------

FINGERPRINT_STEPS = """\
  - kind: compute
    message: KEX_ECDH_REPLY
    compute: host_key_fingerprint
    text: SHA256?
  - kind: compute
    message: KEX_ECDH_REPLY
    compute: {name: host_key_fingerprint, hash: md5, digits: 32}
    text: MD5?
"""


def host_key_blob(seed: int) -> bytes:
    trace = run_scenario(Scenario(seed=seed)).trace
    reply = next(e for e in trace.events if e.name == "KEX_ECDH_REPLY")
    return reply.record.message["host_key"]


def test_the_host_key_fingerprint_is_what_ssh_keygen_prints(tmp_path):
    run = LessonRun(loads_lesson(lesson_text("  scenario:\n    seed: 12\n", FINGERPRINT_STEPS), tmp_path / "t.yaml"))
    blob = host_key_blob(12)
    sha256 = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    md5 = "MD5:" + ":".join(f"{b:02x}" for b in hashlib.md5(blob).digest())
    assert run.answer(run.lesson.steps[0]) == (sha256[:15], "fingerprint")
    assert run.answer(run.lesson.steps[1]) == (md5, "fingerprint")
    sha_step, md5_step = run.lesson.steps
    assert run.judge(sha_step, sha256[7:15]) and run.judge(sha_step, " " + sha256[:15])
    assert not run.judge(sha_step, sha256[7:15].swapcase())  # base64: case matters
    assert run.judge(md5_step, md5.upper()) and run.judge(md5_step, md5[4:].replace(":", ""))
    assert not run.judge(md5_step, md5[:-1])


def test_the_fingerprint_agrees_with_ssh_keygen(tmp_path):
    keygen = shutil.which("ssh-keygen")
    if not keygen:
        pytest.skip("ssh-keygen is not installed")
    blob = host_key_blob(12)
    (tmp_path / "host.pub").write_text(f"ssh-ed25519 {base64.b64encode(blob).decode()} demo\n")
    printed = subprocess.run([keygen, "-lf", str(tmp_path / "host.pub")], capture_output=True,
                             text=True, check=True).stdout.split()[1]
    run = LessonRun(loads_lesson(lesson_text("  scenario:\n    seed: 12\n", FINGERPRINT_STEPS), tmp_path / "t.yaml"))
    assert run.judge(run.lesson.steps[0], printed[:15])


def test_fingerprint_comparison():
    assert same_fingerprint("SHA256:AbC+/12", "SHA256:AbC+/12") and same_fingerprint("abc", "SHA256:abc")
    assert not same_fingerprint("ABC", "SHA256:abc")
    assert same_fingerprint("md5:AB:cd", "MD5:ab:cd") and same_fingerprint("abcd", "MD5:ab:cd")


def test_an_unknown_fingerprint_hash_is_one_line(tmp_path):
    text = lesson_text("  scenario:\n    seed: 12\n", FINGERPRINT_STEPS.replace("hash: md5", "hash: sha1"))
    with pytest.raises(LessonError) as caught:
        loads_lesson(text, tmp_path / "14-t.yaml")
    assert str(caught.value).endswith(
        "14-t.yaml:15: step 2: compute: host_key_fingerprint: hash must be one of sha256, md5, not 'sha1'")


# -- field_length ------------------------------------------------------------------------------

def test_field_length_counts_a_strings_bytes(tmp_path):
    steps = """\
  - kind: compute
    message: KEX_HYBRID_INIT
    field: C_INIT
    compute: field_length
    text: How long?
  - kind: compute
    message: KEX_HYBRID_INIT
    field: packet/packet_length
    compute: field_length
    text: How long?
"""
    text = lesson_text("  scenario:\n    kex: mlkem768x25519-sha256\n    seed: 13\n", steps)
    run = LessonRun(loads_lesson(text, tmp_path / "14-t.yaml"))
    assert run.answer(run.lesson.steps[0]) == ("1216", "number")  # ML-KEM-768 key 1184 + X25519 32
    assert errors(text, tmp_path) == [
        "14-t.yaml:18: step 2: compute: the field 'packet_length' holds no bytes to count"]


# -- ext_info ----------------------------------------------------------------------------------

def test_ext_info_is_lost_to_terrapin_without_strict_kex(tmp_path):
    steps = """\
  - kind: experiment
    change:
      attack: {name: terrapin, strict_kex: "off"}
    expect:
      check: ext_info
      value: false
    text: Terrapin.
"""
    text = lesson_text("  scenario:\n    seed: 11\n", steps)
    assert errors(text, tmp_path) == []
    assert errors(text.replace("value: false", "value: true"), tmp_path) == [
        "14-t.yaml:13: step 1: expect: ext_info does not happen in the rerun (the client never "
        "received EXT_INFO)",
        "14-t.yaml:13: step 1: expect: ext_info already holds without the change (the client "
        "received EXT_INFO), so the experiment shows nothing"]
