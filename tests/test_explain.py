"""What a unit means beyond its fields: coded values named, name-list markers explained, the
calculations made with each unit (their values checked by redoing them with `cryptography`),
and one plain line per step."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sshviz.cli import main
from sshviz.presentation.annotate import message_items, walk
from sshviz.presentation.explain import KeyContexts, plain_line
from sshviz.presentation.transcript import format_value
from sshviz.scenario import Scenario, run_scenario
from sshviz.wire.catalog import SSH
from sshviz.wire.sftp import SFTP


def items_of(trace, index):
    contexts = KeyContexts()
    return message_items(trace.events[index], contexts.at(trace.events, index))


def group(items, title):
    return next(item for item in items if item.title == title)


def values(item):
    return {child.field.name: child.field.value for child in item.children}


def test_coded_values_are_named():
    disconnect = SSH.decode(SSH.build("DISCONNECT", reason_code=5, description="x").encode())
    assert format_value(disconnect.fields[1]) == "5 (MAC_ERROR)"
    unknown = SSH.decode(SSH.build("DISCONNECT", reason_code=99, description="x").encode())
    assert format_value(unknown.fields[1]) == "99 (not a defined code)"
    failure = SSH.decode(SSH.build("CHANNEL_OPEN_FAILURE", recipient_channel=0, reason_code=2,
                                   description="").encode())
    assert format_value(next(f for f in failure.fields if f.name == "reason_code")) == "2 (CONNECT_FAILED)"
    opened = SFTP.decode(SFTP.build("OPEN", id=1, filename="f", pflags=0x1A, flags=4, permissions=0o644).encode())
    shown = {f.name: format_value(f) for f in walk_fields(opened.fields)}
    assert shown["pflags"] == "26 (0x1a: WRITE|CREAT|TRUNC)"
    assert shown["flags"] == "4 (0x4: PERMISSIONS)"
    assert shown["permissions"] == "420 (rw-r--r-- (0644))"
    status = SFTP.decode(SFTP.build("STATUS", id=1, code=2, message="no", language_tag="").encode())
    assert format_value(next(f for f in status.fields if f.name == "code")) == "2 (NO_SUCH_FILE)"


def walk_fields(fields):
    for f in fields:
        yield f
        yield from walk_fields(f.children)


def test_name_list_markers_say_they_are_not_algorithms():
    trace = run_scenario(Scenario()).trace
    names = {item.field.value: item.explanation for item in walk(items_of(trace, 3))
             if item.field.type == "name"}
    assert names["kex-strict-c-v00@openssh.com"].startswith("not an algorithm: the client supports strict KEX")
    assert names["ext-info-c"].startswith("not an algorithm")
    assert not names["curve25519-sha256"].startswith("not an algorithm")  # an algorithm


def test_the_host_key_signature_shows_what_was_signed_and_it_verifies():
    trace = run_scenario(Scenario()).trace
    reply = next(i for i, e in enumerate(trace.events) if e.kind == "packet" and e.name == "KEX_ECDH_REPLY")
    items = items_of(trace, reply)
    signature = values(group(items, "calculation: the host key's signature over H"))
    h = values(group(items, "calculation: the exchange hash H"))
    assert signature["signed"] == h["H"] and signature["result"] == "verified by the client"
    message = trace.events[reply].message
    key = Ed25519PublicKey.from_public_bytes(message["host_key"][-32:])
    key.verify(message["signature"][-64:], signature["signed"])  # raises if not


def test_the_user_signature_shows_the_signed_data_field_by_field():
    trace = run_scenario(Scenario(auth="publickey")).trace
    request = next(i for i, e in enumerate(trace.events) if e.kind == "packet" and e.name == "USERAUTH_REQUEST"
                   and e.message.get("has_signature"))
    parts = group(items_of(trace, request), "calculation: the user's signature")
    names = [child.field.name for child in parts.children]
    assert names[:8] == ["session id", "message number", "user", "service", "method", "has signature",
                         "algorithm", "public key"]
    signed = b"".join(child.field.value for child in parts.children[:names.index("by key")])
    message = trace.events[request].message
    Ed25519PublicKey.from_public_bytes(message["public_key"][-32:]).verify(message["signature"][-64:], signed)
    assert values(parts)["result"].startswith("success")


def test_aes_gcm_shows_the_nonce_each_packet_really_uses_across_a_rekey():
    trace = run_scenario(Scenario(cipher="aes128-gcm@openssh.com", rekey=True)).trace
    contexts, checked = KeyContexts(), 0
    for index, event in enumerate(trace.events):
        found = [i for i in message_items(event, contexts.at(trace.events, index)) if i.title == "calculation: AES-GCM"]
        if not found:
            continue
        v = values(found[0])
        record = event.record
        plain = AESGCM(v["key"]).decrypt(v["fixed IV part"] + v["invocation counter"], record.wire[4:], v["AAD"])
        assert plain == record.plain[4:]
        checked += 1
    assert checked > 20


def test_chacha20_and_ctr_say_how_their_keys_are_used():
    trace = run_scenario(Scenario()).trace
    index = next(i for i, e in enumerate(trace.events) if e.kind == "packet" and e.name == "SERVICE_REQUEST")
    chacha = values(group(items_of(trace, index), "calculation: ChaCha20-Poly1305"))
    assert len(chacha["main key"]) == len(chacha["length key"]) == 32
    assert chacha["nonce"] == trace.events[index].record.seq.to_bytes(8, "big")
    trace = run_scenario(Scenario(cipher="aes128-ctr", mac="hmac-sha2-256")).trace
    ctr = values(group(items_of(trace, index), "calculation: aes128-ctr and hmac-sha2-256"))
    assert ctr["MAC over"].startswith(f"sequence number {trace.events[index].record.seq} (4 bytes) || the plaintext")
    assert len(ctr["MAC key"]) == 32 and ctr["MAC"] == trace.events[index].record.mac


def test_one_plain_line_per_step():
    trace = run_scenario(Scenario(auth="password")).trace
    lines = {e.name if e.kind == "packet" else e.kind: plain_line(e) for e in trace.events}
    assert lines["version"].startswith("The server says which protocol and software it speaks")
    assert lines["NEWKEYS"] == "From its next packet on, the client encrypts and authenticates with the new keys."
    assert lines["USERAUTH_REQUEST"] == "The client tries to log in as 'alice' by password: accepted."
    assert all(line.endswith(".") for line in lines.values())


def test_run_print_shows_k_and_the_keys_in_full(capsys):
    assert main(["run", "--print"]) == 0
    out = capsys.readouterr().out
    k = next(line for line in out.splitlines() if line.strip().startswith("K  = "))
    assert "…" not in k and len(k.split("=")[1].split()[0]) == 72  # 36 bytes: the mpint, whole
    keys = [line for line in out.splitlines() if line.strip().startswith(("C encryption", "D encryption"))]
    assert keys and all("…" not in line and len(line.split()[-1]) == 128 for line in keys)
