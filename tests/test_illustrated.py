"""The Illustrated SSH Connection (`sshviz report --format html`): one self-contained page per
session. Its reproduction commands are run here and must print exactly the values the page
shows; in real headless Chromium the page loads with no network, opens records with every
byte annotated, follows deep links and logs no errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from sshviz.cli import main
from sshviz.presentation.illustrated import illustrated_page
from sshviz.scenario import Scenario, run_scenario

from .browser import browser, open_page  # noqa: F401  (browser is a fixture)


def page_data(page: str) -> list[dict]:
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    return json.loads(found.group(1).replace("<\\/", "</"))


def run_command(command: str) -> str:
    """A page's command, its ``python3`` the one running the tests (sshviz's dependencies,
    `cryptography` and `pqcrypto`, are what the commands import)."""
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PATH=path))
    assert done.returncode == 0, done.stderr
    return done.stdout.rstrip("\n")


def assert_page_commands(trace, expected_keys: set[str]) -> None:
    """Every command on ``trace``'s page prints what the page says (used by the live tests too:
    sshviz against OpenSSH, the values from a real session)."""
    calcs = {c["key"]: c for record in page_data(illustrated_page(trace, "test")) for c in record["calcs"]}
    assert set(calcs) == expected_keys
    for calc in calcs.values():
        assert run_command(calc["cmd"]) == calc["expect"], calc["title"]


@pytest.mark.parametrize("options", [
    dict(kex="curve25519-sha256"),
    dict(kex="ecdh-sha2-nistp256", hostkey="ecdsa-sha2-nistp256", cipher="aes128-gcm@openssh.com"),
    dict(kex="diffie-hellman-group14-sha256", hostkey="rsa-sha2-256", cipher="aes128-ctr",
         mac="hmac-sha2-256"),
    dict(kex="mlkem768x25519-sha256", cipher="aes256-ctr", mac="hmac-sha2-512-etm@openssh.com"),
    dict(kex="sntrup761x25519-sha512", cipher="aes128-gcm@openssh.com"),
], ids=["curve25519", "nistp256", "group14", "mlkem768x25519", "sntrup761x25519"])
def test_every_command_on_the_page_prints_the_value_the_page_shows(options):
    trace = run_scenario(Scenario(**options)).trace
    records = page_data(illustrated_page(trace, "test"))
    calcs = {c["key"]: c for record in records for c in record["calcs"]}
    assert set(calcs) == {"K", "H", "keys", "fingerprint", "host-signature", "packet-c2s", "packet-s2c",
                          "user-signature"}
    for calc in calcs.values():
        assert run_command(calc["cmd"]) == calc["expect"], calc["title"]
    # The values are the run's own.
    kex = next(change for event in trace.events for side, change in event.changes
               if type(change).__name__ == "KexComputed" and side == "client")
    assert calcs["H"]["expect"] == kex.H.hex()
    assert calcs["keys"]["expect"].splitlines()[0].split()[1] in {k.value.hex() for k in kex.keys}


def test_a_changed_value_makes_its_command_disagree():
    records = page_data(illustrated_page(run_scenario(Scenario()).trace, "test"))
    h = next(c for r in records for c in r["calcs"] if c["key"] == "H")
    tampered = h["cmd"].replace('"0000', '"0001', 1)  # one length prefix of one input
    assert run_command(tampered) != h["expect"]
    signature = next(c for r in records for c in r["calcs"] if c["key"] == "host-signature")
    data = re.search(r'signed = bytes.fromhex\("([0-9a-f]+)"\)', signature["cmd"]).group(1)
    flipped = signature["cmd"].replace(data, ("1" if data[0] == "0" else "0") + data[1:])
    assert subprocess.run(["sh", "-c", flipped], capture_output=True).returncode != 0


def test_a_seeded_run_gives_the_same_page_byte_for_byte(tmp_path):
    pages = []
    for name in ("a.html", "b.html"):
        assert main(["report", "--scenario", "--seed", "7", "--format", "html", "-o", str(tmp_path / name)]) == 0
        pages.append((tmp_path / name).read_bytes())
    assert pages[0] == pages[1] and pages[0].startswith(b"<!DOCTYPE html>")
    assert main(["report", "--scenario", "--seed", "8", "--format", "html", "-o", str(tmp_path / "c.html")]) == 0
    assert (tmp_path / "c.html").read_bytes() != pages[0]


def test_anchors_are_stable_names():
    records = page_data(illustrated_page(run_scenario(Scenario(rekey=True)).trace, "test"))
    ids = [r["id"] for r in records]
    assert ids[:4] == ["version-client", "version-server", "kexinit", "kexinit-2"]
    assert "kex-ecdh-reply" in ids and "kex-ecdh-reply-2" in ids  # the rekey's
    assert len(set(ids)) == len(ids)


def test_what_a_peer_sent_cannot_become_markup():
    banner = '</script><script>document.title="pwned"</script><b>bold</b>'
    page = illustrated_page(run_scenario(Scenario(banner=banner, auth="password")).trace, "<i>title</i>")
    assert "<i>title</i>" not in page and "&lt;i&gt;title&lt;/i&gt;" in page
    assert '</script><script>document.title="pwned"' not in page
    assert any(banner in json.dumps(r) or "pwned" in json.dumps(r) for r in page_data(page))


def test_report_needs_a_file_or_a_scenario(capsys):
    assert main(["report", "--format", "html"]) == 2
    assert "name a trace or capture FILE, or give --scenario" in capsys.readouterr().err
    assert main(["report", "rekey", "--scenario"]) == 2
    assert "not both" in capsys.readouterr().err


# -- in Chromium ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("page") / "page.html"
    trace = run_scenario(Scenario(banner='<img src=x onerror="document.title=\'pwned\'">')).trace
    path.write_text(illustrated_page(trace, "browser test"), encoding="utf-8")
    return path, len(trace.events)


def test_the_page_works_offline_in_chromium(browser, page_file):
    path, count = page_file
    with open_page(browser, path) as (page, console_errors, requests_outside):
        assert page.locator("details.rec").count() == count
        assert page.title() == "The Illustrated SSH Connection: browser test"
        record = page.locator("#kex-ecdh-reply")
        assert not record.evaluate("d => d.open")
        record.locator("summary").click()
        assert record.evaluate("d => d.open")
        # Every byte of the packet is there, each one labelled with its field.
        bytes_shown = record.locator(".hex .b")
        assert bytes_shown.count() == 192  # the reply's plaintext packet: 192 bytes, no MAC yet
        host_key = record.locator('.b[title^="key_type (string)"]').first
        host_key.hover()
        assert "key_type (string) = 'ssh-ed25519'" in record.locator(".info").text_content()
        assert record.locator(".b.hl").count() == 4 + 11  # the length, then "ssh-ed25519"
        # Annotate all: every labelled byte gets its field's colour.
        page.check("#annotate-all")
        colour = record.locator(".b[data-f]").first.evaluate("b => getComputedStyle(b).backgroundColor")
        assert colour not in ("rgba(0, 0, 0, 0)", "transparent")
        assert record.locator(".body .calc").count() == 5  # K, H, keys, fingerprint, signature
        assert page.title() == "The Illustrated SSH Connection: browser test"  # the banner did not run
        assert console_errors == [] and requests_outside == []


def test_a_deep_link_opens_its_record(browser, page_file):
    path, _ = page_file
    with open_page(browser, path, fragment="service-request") as (page, console_errors, requests_outside):
        assert page.evaluate("document.getElementById('service-request').open")
        assert page.locator("#service-request .hex").count() == 2  # plaintext and wire form
        assert page.locator("#service-request h3", has_text="on the wire: encrypted").count() == 1
        assert console_errors == [] and requests_outside == []
    with open_page(browser, path, fragment="kex-ecdh-reply-H") as (page, console_errors, _):
        assert page.evaluate("document.getElementById('kex-ecdh-reply').open")
        assert page.locator("#kex-ecdh-reply-H pre.cmd").count() == 1
        assert console_errors == []


def test_bulk_data_is_shortened_as_saved_traces_shorten_it():
    trace = run_scenario(Scenario(sftp_actions=["get readme.txt"])).trace
    whole = {r["id"]: r for r in page_data(illustrated_page(trace, "t", elide_after=None))}
    short = {r["id"]: r for r in page_data(illustrated_page(trace, "t", elide_after=0))}
    data = [i for i in whole if i.startswith("channel-data")]
    assert data and all(len(short[i]["sections"][0]["hex"]) <= len(whole[i]["sections"][0]["hex"]) for i in data)
    assert any(len(short[i]["sections"][0]["hex"]) < len(whole[i]["sections"][0]["hex"]) for i in data)
