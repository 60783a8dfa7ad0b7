"""The trace commands as users run them: inspect (text, JSON, filters), report, replay, the
sample traces by name, and one-line messages for every bad input."""

from __future__ import annotations

import json
import os
import sys
import types

import pytest

from sshviz.cli import main
from sshviz.samples import SAMPLES, available, generate
from sshviz.trace.compare import trace_differences
from sshviz.trace.export import write_keylog, write_pcap
from sshviz.trace.fileformat import dumps_trace, load_trace
from sshviz.trace.samples import find_sample, sample_names

from .openssh import sshviz_cli


def run_cli(capsys, *args) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


# -- samples ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.in_process and available(s)], ids=lambda s: s.name)
def test_in_process_samples_still_come_out_of_their_seeds(sample):
    path = find_sample(sample.name)
    assert path is not None, f"traces/{sample.name}.yaml is missing: run python -m sshviz.samples"
    again = generate(sample)
    assert trace_differences(load_trace(path), again) == []
    assert dumps_trace(again) == path.read_text(encoding="utf-8"), "regenerate with python -m sshviz.samples"


def test_every_sample_is_shipped_and_opens(capsys):
    expected = {s.name for s in SAMPLES if available(s)}
    assert expected <= set(sample_names())
    for name in expected:
        status, out, err = run_cli(capsys, "inspect", name, "--brief")
        assert status == 0, err
        assert "#0" in out and "VERSION" in out


def test_the_samples_show_what_they_promise(capsys):
    def names(sample):
        return [e.name for e in load_trace(find_sample(sample)).events]

    assert names("rekey").count("KEXINIT") == 4
    assert "KEX_DH_GEX_GROUP" in names("diffie-hellman-group-exchange")
    assert "USERAUTH_SUCCESS" not in names("failed-login")
    assert load_trace(find_sample("openssh-sshd")).header.server_version.startswith("SSH-2.0-OpenSSH")
    assert load_trace(find_sample("openssh-ssh")).header.client_version.startswith("SSH-2.0-OpenSSH")


# -- inspect ----------------------------------------------------------------------------------


def test_inspect_prints_every_field(capsys):
    status, out, _ = run_cli(capsys, "inspect", "curve25519-ed25519-password-exec")
    assert status == 0
    assert "source: an in-process run" in out
    assert "password                     string     'correct horse battery staple'" in out
    assert "⇒ client: output: 'Hello, SSH!\\n'" in out


def test_inspect_reads_well(capsys):
    status, out, _ = run_cli(capsys, "inspect", "publickey-sftp")
    assert status == 0
    assert " None" not in out  # a group of fields has no value of its own
    assert "bytes)  [" not in out  # a long value says its size once
    status, out, _ = run_cli(capsys, "inspect", "publickey-sftp", "--brief")
    assert "CHANNEL_DATA  (seq 6, 44 bytes on the wire, encrypted; RFC 4254 5.2)  · SSH_FXP_INIT" in out


def test_inspect_filters(capsys):
    status, out, _ = run_cli(capsys, "inspect", "curve25519-ed25519-password-exec", "--brief",
                             "--filter", "CHANNEL_DATA and data contains Hello")
    assert status == 0
    assert [line for line in out.splitlines() if line.startswith("#")] == [
        line for line in out.splitlines() if "CHANNEL_DATA" in line]
    assert sum("CHANNEL_DATA" in line for line in out.splitlines()) == 1
    _, out, _ = run_cli(capsys, "inspect", "rekey", "--brief", "--filter", "KexComputed and client")
    assert sum(line.startswith("#") for line in out.splitlines()) == 2
    _, out, _ = run_cli(capsys, "inspect", "rekey", "--brief", "--filter", "USERAUTH_* and (s2c or seq < 0)")
    assert {line.split()[4] for line in out.splitlines() if line.startswith("#")} <= {
        "USERAUTH_FAILURE", "USERAUTH_PK_OK", "USERAUTH_SUCCESS"}


@pytest.mark.parametrize("expression, message", [
    ("CHANNEL_DATA and", "--filter: the filter ends where a name or '(' was expected"),
    ("(KEXINIT", "--filter: '(' at position 1 is never closed"),
    ("seq ==", "--filter: expected a value after '==' at position 5"),
    ('data matches "(x"', "--filter: 'matches (x': not a regular expression"),
    ("not opened", "--filter: 'opened' is not a message name (KEXINIT, USERAUTH_*, ...), an event type"),
    ("USERAUTH_REQEST", "--filter: 'USERAUTH_REQEST' is not a message name"),
])
def test_bad_filters_get_one_line(capsys, expression, message):
    status, out, err = run_cli(capsys, "inspect", "rekey", "--filter", expression)
    assert status == 2 and out == ""
    assert err.startswith(f"sshviz: error: {message}") and err.count("\n") == 1


def test_inspect_json_is_for_scripts(capsys):
    status, out, _ = run_cli(capsys, "inspect", "rekey", "--format", "json", "--filter", "KEXINIT", "--bytes")
    assert status == 0
    document = json.loads(out)
    assert document["header"]["source"] == "in-process"
    kexinits = document["events"]
    assert len(kexinits) == 4 and all(e["name"] == "KEXINIT" for e in kexinits)
    cookie = next(f for f in kexinits[0]["fields"] if f["name"] == "cookie")
    assert cookie["type"] == "byte[16]" and len(cookie["value"]) == 32 and cookie["end"] - cookie["start"] == 16
    assert kexinits[0]["plain"].startswith(f"{kexinits[0]['packet_length']:08x}")
    negotiated = next(c for e in kexinits for c in e["changes"] if c["event"] == "AlgorithmsNegotiated")
    assert negotiated["algorithms"]["kex"]["chosen"] == "curve25519-sha256"


def test_inspect_a_capture_with_and_without_its_key_log(tmp_path, capsys):
    trace = load_trace(find_sample("curve25519-ed25519-password-exec"))
    write_pcap(trace, tmp_path / "s.pcap")
    write_keylog(trace, tmp_path / "s.keylog")
    status, out, err = run_cli(capsys, "inspect", str(tmp_path / "s.pcap"), "--keylog", str(tmp_path / "s.keylog"),
                               "--filter", "CHANNEL_DATA")
    assert status == 0 and "'Hello, SSH!\\n'" in out and err == ""
    status, out, err = run_cli(capsys, "inspect", str(tmp_path / "s.pcap"), "--brief")
    assert status == 0
    assert "ENCRYPTED" in out or "RAW" in out
    assert "could not be opened" in out and "no key log was given" in out
    problems = [line for line in out.splitlines() if line.startswith("problem: ")]
    assert problems == ["problem: both directions: no key log was given, so the keys of this session "
                        "cannot be computed"]  # said once, not once per direction
    other = load_trace(find_sample("rekey"))
    write_keylog(other, tmp_path / "other.keylog")
    status, out, err = run_cli(capsys, "inspect", str(tmp_path / "s.pcap"), "--keylog", str(tmp_path / "other.keylog"))
    assert status == 0
    assert err.startswith("sshviz: warning: the key log ") and "has no line for this key exchange" in err


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.yaml", "no such file, and no sample trace of that name (samples: "),
    (lambda d: (d / "x.yaml").write_text("title: not a trace\n") and d / "x.yaml",
     "x.yaml: not an sshviz trace (it has no 'format: sshviz-trace' line)"),
    (lambda d: (d / "x.pcap").write_bytes(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(16) + b"\x01\x00\x00\x00")
     and d / "x.pcap", "x.pcap: no SSH connection in this capture (0 TCP connections"),
    (lambda d: d, "is a directory, not a trace or capture"),
    (lambda d: (d / "x.bin").write_bytes(b"ELF\x00\x01\x02") and d / "x.bin",
     "x.bin: neither a trace nor a packet capture (binary data)"),
    (lambda d: (d / "x.yaml").write_text("format: \x07\n") and d / "x.yaml",
     "x.yaml: not valid YAML: unacceptable character #x0007: control characters are not allowed"),
])
def test_bad_input_files_get_one_line(tmp_path, capsys, make, message):
    status, out, err = run_cli(capsys, "inspect", str(make(tmp_path)))
    assert status == 2 and out == ""
    assert err.startswith("sshviz: error: ") and message in err and err.count("\n") == 1


def test_files_that_cannot_be_opened_are_named_first(tmp_path, capsys):
    status, _, err = run_cli(capsys, "inspect", "rekey", "--keylog", str(tmp_path / "missing.keylog"))
    assert (status, err) == (1, f"sshviz: error: {tmp_path / 'missing.keylog'}: No such file or directory\n")


def test_a_key_log_that_cannot_be_read(tmp_path, capsys):
    (tmp_path / "bad.keylog").write_text("# my keys\nnot a key log line at all\n")
    status, _, err = run_cli(capsys, "inspect", "rekey", "--keylog", str(tmp_path / "bad.keylog"))
    assert status == 2
    assert err == (f"sshviz: error: {tmp_path / 'bad.keylog'} line 2: expected '<cookie-hex> <private-key-hex>' "
                   f"or '<cookie-hex> PRIVATE_KEY|SHARED_SECRET <hex>', found 'not a key log line at all'\n")


# -- report and replay ------------------------------------------------------------------------


def test_report_as_markdown_and_html(tmp_path, capsys):
    status, out, _ = run_cli(capsys, "report", "rekey")
    assert status == 0
    for heading in ("# SSH session: rekey", "## What was negotiated, and why",
                    "## Key exchange: curve25519-sha256", "## Key exchange: curve25519-sha256 (rekey)",
                    "## Authentication", "## Channels", "## Every message"):
        assert heading + "\n" in out
    assert "| kex | curve25519-sha256 | curve25519-sha256: the first in the client's list" in out
    assert "- K = 0000002100f8cb5f" in out and "(encoded as mpint, length first, as H takes it)" in out
    status, _, _ = run_cli(capsys, "report", "failed-login", "--format", "html", "-o", str(tmp_path / "r.html"))
    page = (tmp_path / "r.html").read_text()
    assert status == 0 and page.startswith("<!DOCTYPE html>") and 'id="userauth-failure"' in page
    assert "The Illustrated SSH Connection: failed-login" in page


def test_replay_hands_the_trace_to_the_ui(monkeypatch, capsys):
    seen = {}
    fake = types.ModuleType("sshviz.tui")
    fake.run_app = lambda trace: seen.setdefault("trace", trace) and 0
    monkeypatch.setitem(sys.modules, "sshviz.tui", fake)
    status, _, err = run_cli(capsys, "replay", "rekey")
    assert status == 0, err
    assert seen["trace"].header.extra["sample"]["name"] == "rekey"


def test_replay_without_the_ui_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sshviz.tui", None)  # as if not installed
    status, _, err = run_cli(capsys, "replay", "rekey")
    assert status == 2
    assert err == ("sshviz: error: the terminal UI is not part of this build yet (sshviz.tui is "
                   "missing); use 'sshviz inspect' to read the trace\n")


# -- recording ----------------------------------------------------------------------------------


def test_run_writes_a_trace_that_inspect_reads(tmp_path):
    path = tmp_path / "run.yaml"
    done = sshviz_cli("run", "--cipher", "aes128-gcm@openssh.com", "--trace", str(path))
    assert done.returncode == 0, done.stderr
    assert load_trace(path).header.algorithms["cipher_c2s"] == "aes128-gcm@openssh.com"
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # traces can hold passwords and keys
    shown = sshviz_cli("inspect", str(path), "--brief")
    assert shown.returncode == 0 and b"CHANNEL_DATA" in shown.stdout


def test_inspect_as_a_program_prints_all_it_prints_in_process(capsys):
    # Run as the program, inspect ends without freeing what it built (os._exit): everything
    # it printed must be out first, through a pipe (block-buffered) as in a file.
    path = str(find_sample("rekey"))
    buffered = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    for args in (["--brief"], [], ["--format", "json"]):
        status, out, _ = run_cli(capsys, "inspect", path, *args)
        shown = sshviz_cli("inspect", path, *args, env=buffered)
        assert (shown.returncode, shown.stdout.decode()) == (status, out) == (0, out)
        assert len(out) > (1000 if args else 8192)  # the whole text: more than a buffer's worth


def test_trace_options_fail_before_the_session(tmp_path):
    done = sshviz_cli("run", "--trace", str(tmp_path / "no" / "such" / "dir" / "t.yaml"))
    assert done.returncode == 2
    assert done.stderr.decode().startswith("sshviz: error: --trace ") and b"does not exist" in done.stderr
    assert done.stdout == b""


def test_a_markdown_report_writes_what_a_peer_sent_escaped(monkeypatch):
    from sshviz.presentation import report

    hostile = [("h1", "SSH session: x\x1b[2J"), ("list", ["user 'a\x1b]0;owned\x07'"]),
               ("pre", "output\x1b[31m red\n```\nnot code\n\ttab\n"),
               ("table", ["message"], [["VERSION SSH-2.0-x|y\r\n"]])]
    monkeypatch.setattr(report, "blocks", lambda trace, title: hostile)
    text = report.markdown_report(None, "t")
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "# SSH session: x\\x1b[2J" in text and "- user 'a\\x1b]0;owned\\x07'" in text
    # the output's own ``` cannot close the block: the fence is longer
    assert "````\noutput\\x1b[31m red\n```\nnot code\n\ttab\n````" in text
    assert "| VERSION SSH-2.0-x\\|y\\r\\n |" in text
