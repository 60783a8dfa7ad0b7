"""OpenSSH certificates (PROTOCOL.certkeys): parsing and the CA's signature, ssh-keygen's
certificates and ours, the rules for believing one, field-by-field display, and known_hosts'
@cert-authority and @revoked lines."""

from __future__ import annotations

import subprocess
import time

import pytest

from sshviz.crypto.certificates import check_certificate, parse_ca_keys, sign_certificate
from sshviz.crypto.keyfiles import read_private_key, read_public_key
from sshviz.crypto.keys import CERTIFICATE_ALGORITHMS, Certificate, PrivateKey, PublicKey
from sshviz.crypto.known_hosts import KnownHosts, hash_host
from sshviz.crypto.random import SeededRandom
from sshviz.wire import types as t
from sshviz.wire.codes import CertificateType
from sshviz.wire.spec import decode_struct
from sshviz.wire.structures import PUBLIC_KEY
from sshviz.wire.types import DecodeError

from .openssh import SSH_KEYGEN, require

HOST, USER = CertificateType.HOST, CertificateType.USER
NOW = 1_700_000_000


def _key(kind: str = "ssh-ed25519", seed: int = 1) -> PrivateKey:
    return PrivateKey.generate(kind, SeededRandom(seed))


CA = _key(seed=100)
OTHER_CA = _key("ecdsa-sha2-nistp256", seed=101)
HOST_KEY = _key(seed=2)


def _host_cert(**overrides) -> Certificate:
    settings = dict(key_id="web", principals=["web.example", "192.0.2.7"],
                    valid_after=NOW - 60, valid_before=NOW + 3600)
    settings.update(overrides)
    ca = settings.pop("ca", CA)
    cert_type = settings.pop("cert_type", HOST)
    return sign_certificate(ca, HOST_KEY.public, cert_type, **settings)


@pytest.mark.parametrize("kind, flags", [("ed25519", []), ("ecdsa", ["-b", "256"]), ("ecdsa", ["-b", "384"]),
                                         ("ecdsa", ["-b", "521"]), ("rsa", ["-b", "2048"])])
def test_ssh_keygen_certificates_parse_verify_and_sign(tmp_path, kind, flags):
    require(SSH_KEYGEN)
    for name, ca_kind in (("ca", "ed25519"), ("rsa_ca", "rsa")):
        subprocess.run([SSH_KEYGEN, "-q", "-t", ca_kind, "-N", "", "-f", str(tmp_path / name)], check=True)
    subprocess.run([SSH_KEYGEN, "-q", "-t", kind, *flags, "-N", "", "-f", str(tmp_path / "host")], check=True)
    subprocess.run([SSH_KEYGEN, "-q", "-s", str(tmp_path / "ca"), "-I", "host id", "-h", "-n", "web.example,other",
                    "-z", "42", "-V", "-5m:+1h", str(tmp_path / "host.pub")], check=True)
    subprocess.run([SSH_KEYGEN, "-q", "-t", kind, *flags, "-N", "", "-f", str(tmp_path / "user")], check=True)
    subprocess.run([SSH_KEYGEN, "-q", "-s", str(tmp_path / "rsa_ca"), "-I", "alice@corp", "-n", "alice",
                    "-O", "force-command=ls", str(tmp_path / "user.pub")], check=True)
    cert, _ = read_public_key(str(tmp_path / "host-cert.pub"))
    plain, _ = read_public_key(str(tmp_path / "host.pub"))
    ca, _ = read_public_key(str(tmp_path / "ca.pub"))
    assert isinstance(cert, Certificate) and cert.key == plain and cert.plain == plain
    assert cert.fingerprint() == plain.fingerprint()  # as ssh-keygen -l shows a certificate
    assert (cert.serial, cert.cert_type, cert.key_id, cert.principals) == (42, HOST, "host id",
                                                                           ["web.example", "other"])
    assert cert.signature_key == ca and cert.ca_signature_valid()
    assert check_certificate(cert, HOST, "web.example", time.time(), [ca]) is None
    # The certificate's key signs as the plain algorithm, named by the certificate algorithm.
    private = read_private_key(str(tmp_path / "host")).with_certificate(cert)
    algorithm = private.algorithms[0]
    assert algorithm in CERTIFICATE_ALGORITHMS and private.public is cert
    signature = private.sign(algorithm, b"data")
    assert cert.verify(algorithm, signature, b"data") and plain.verify(algorithm.split("-cert")[0], signature, b"data")

    user, _ = read_public_key(str(tmp_path / "user-cert.pub"))
    assert user.cert_type == USER and user.critical_options == {"force-command": t.string("ls")}
    assert "permit-pty" in user.extensions and user.signature_algorithm() == "rsa-sha2-512"
    assert "cannot be enforced" in check_certificate(user, USER, "alice", time.time())
    with pytest.raises(ValueError):
        read_private_key(str(tmp_path / "host")).with_certificate(user)  # another key's certificate


def test_our_certificates_read_by_ssh_keygen(tmp_path):
    require(SSH_KEYGEN)
    cert = sign_certificate(CA, _key("ecdsa-sha2-nistp384", 5).public, USER, "bob's laptop", ["bob", "admin"],
                            serial=7, extensions={"permit-pty": b""}, valid_after=NOW, valid_before=NOW + 86400)
    path = tmp_path / "id-cert.pub"
    path.write_text(cert.openssh() + "\n")
    shown = subprocess.run([SSH_KEYGEN, "-L", "-f", str(path)], capture_output=True, text=True, check=True).stdout
    assert "user certificate" in shown and "Serial: 7" in shown and "bob's laptop" in shown
    assert "bob" in shown and "admin" in shown and "permit-pty" in shown
    assert CA.public.fingerprint() in shown


def test_the_rules():
    cert = _host_cert()
    assert check_certificate(cert, HOST, "web.example", NOW, [CA.public]) is None
    assert "not trusted" in check_certificate(cert, HOST, "web.example", NOW, [OTHER_CA.public])
    assert check_certificate(cert, HOST, "web.example", NOW - 61).startswith("not valid yet")
    assert check_certificate(cert, HOST, "web.example", NOW + 3600).startswith("expired")
    assert "not among its principals" in check_certificate(cert, HOST, "mail.example", NOW)
    assert "user certificate, presented as a host" in check_certificate(
        _host_cert(cert_type=USER), HOST, "web.example", NOW)
    assert check_certificate(_host_cert(principals=[]), HOST, "any.example", NOW) is None
    assert "names no principals" in check_certificate(
        _host_cert(cert_type=USER, principals=[]), USER, "alice", NOW)
    assert "unknown critical option" in check_certificate(
        _host_cert(cert_type=USER, principals=["alice"], critical_options={"x@example.com": b""}),
        USER, "alice", NOW)
    assert "source-address cannot be enforced" in check_certificate(
        _host_cert(cert_type=USER, principals=["alice"],
                   critical_options={"source-address": t.string("127.0.0.1/32")}), USER, "alice", NOW)
    # A changed byte anywhere before the signature breaks the CA's signature.
    blob = bytearray(cert.blob)
    blob[blob.index(b"web.example")] ^= 0x20
    tampered = PublicKey.from_blob(bytes(blob))
    assert "does not verify" in check_certificate(tampered, HOST, "Web.example", NOW)


def test_certificate_fields_decode_for_display():
    cert = _host_cert(critical_options={}, extensions={"permit-pty": b""})
    values, fields = decode_struct(PUBLIC_KEY, cert.blob, "key", spans=True)
    names = [f.name for f in fields]
    assert names == ["key_type", "nonce", "key", "serial", "cert_type", "key_id", "valid_principals",
                     "valid_after", "valid_before", "critical_options", "extensions", "reserved",
                     "signature_key", "signature"]
    by = {f.name: f for f in fields}
    assert by["cert_type"].meaning == "HOST"
    assert by["valid_before"].meaning.endswith("UTC")
    principals = [c.value for c in by["valid_principals"].walk() if c.name == "principal" and c.type == "string"]
    assert principals == ["web.example", "192.0.2.7"]
    assert [c.name for c in by["signature_key"].children] == ["key_type", "key"]
    assert [c.name for c in by["signature"].children] == ["sig_algorithm", "signature_blob"]
    for field in fields:  # every span holds exactly its value's bytes
        assert field.end <= len(cert.blob)


@pytest.mark.parametrize("damage", ["truncate", "bad type", "chained", "bad principals", "twice"])
def test_malformed_certificates_are_decode_errors(damage):
    cert = _host_cert()
    if damage == "truncate":
        blob = cert.blob[:-10]
    elif damage == "bad type":
        blob = cert.blob.replace(t.uint32(2) + t.string("web"), t.uint32(3) + t.string("web"))
    elif damage == "chained":  # a certificate as the CA key
        ca_cert = PrivateKey(CA.crypto_key, certificate=sign_certificate(CA, CA.public, USER, "ca", ["x"]))
        body = cert.blob[:cert.blob.index(t.string(CA.public.blob))]
        body += t.string(ca_cert.public.blob)
        blob = body + t.string(CA.sign("ssh-ed25519", body))
    elif damage == "bad principals":
        blob = sign_certificate(CA, HOST_KEY.public, HOST, "x", []).blob.replace(
            t.string("x") + t.string(b""), t.string("x") + t.string(b"\x00\x00\x00\x09short"))
    else:
        blob = sign_certificate(CA, HOST_KEY.public, USER, "x", ["a"],
                                extensions={"permit-pty": b""}).blob.replace(
            t.string(t.string("permit-pty") + t.string(b"")),
            t.string((t.string("permit-pty") + t.string(b"")) * 2))
    with pytest.raises(DecodeError):
        PublicKey.from_blob(blob)


# -- known_hosts ----------------------------------------------------------------------------


def test_known_hosts_cert_authority():
    salt = bytes(range(20))
    known = KnownHosts.parse("\n".join([
        f"@cert-authority *.example {CA.public.openssh()}",
        f"@cert-authority {hash_host('[hashed.test]:2222', salt)} {CA.public.openssh()}",
    ]))
    cert = _host_cert()
    assert known.trusts_a_ca_for("web.example", 22) and not known.trusts_a_ca_for("web.other", 22)
    status, detail = known.check("web.example", 22, cert, NOW)
    assert status == "known" and "line 1" in detail and "'web'" in detail
    # hashed host names, on another port
    hashed = _host_cert(principals=["hashed.test"])
    assert known.check("hashed.test", 2222, hashed, NOW)[0] == "known"
    # refused by the trusted CA: expired, not yet valid, another host, a user certificate
    assert known.check("web.example", 22, cert, NOW + 7200) == ("invalid", "certificate refused: expired: "
                                                               "valid before 2023-11-14 23:13:20 UTC")
    assert known.check("web.example", 22, cert, NOW - 3600)[0] == "invalid"
    assert "not among its principals" in known.check("mail.example", 22, cert, NOW)[1]
    assert known.check("web.example", 22, _host_cert(cert_type=USER), NOW)[0] == "invalid"
    # a CA not trusted for this host: the key is checked as a plain key
    status, detail = known.check("web.other", 22, cert, NOW)
    assert status == "unknown" and "no @cert-authority line trusts" in detail
    assert known.check("web.example", 22, _host_cert(ca=OTHER_CA), NOW)[0] == "unknown"


def test_known_hosts_plain_key_of_a_certificate_and_plain_keys_unchanged():
    known = KnownHosts.parse(f"@cert-authority * {CA.public.openssh()}\nweb.example {HOST_KEY.public.openssh()}\n")
    expired = _host_cert()
    status, detail = known.check("web.example", 22, expired, NOW + 7200)
    assert status == "known" and "certificate refused: expired" in detail  # as OpenSSH falls back
    assert known.check("web.example", 22, HOST_KEY.public, NOW)[0] == "known"
    assert known.check("web.example", 22, _key(seed=3).public, NOW)[0] == "changed"
    # a CA line never vouches for a plain key
    assert known.check("mail.example", 22, HOST_KEY.public, NOW)[0] == "unknown"


def test_known_hosts_revoked_keys_and_cas():
    cert = _host_cert()
    trusting = f"@cert-authority * {CA.public.openssh()}\n"
    revoked_ca = KnownHosts.parse(trusting + f"@revoked * {CA.public.openssh()}\n")
    status, detail = revoked_ca.check("web.example", 22, cert, NOW)
    assert status == "revoked" and "REVOKED" in detail and CA.public.fingerprint() in detail
    revoked_key = KnownHosts.parse(trusting + f"@revoked * {HOST_KEY.public.openssh()}\n")
    assert revoked_key.check("web.example", 22, cert, NOW)[0] == "revoked"
    assert revoked_key.check("web.example", 22, HOST_KEY.public, NOW)[0] == "revoked"
    revoked_cert = KnownHosts.parse(trusting + f"@revoked * {cert.openssh()}\n")
    assert revoked_cert.check("web.example", 22, cert, NOW)[0] == "revoked"
    assert KnownHosts.parse(trusting).check("web.example", 22, cert, NOW)[0] == "known"


def test_ca_key_files():
    text = f"# CAs\n{CA.public.openssh()} ca one\n\n{_host_cert().openssh()}\nnot a key\n"
    keys, problems = parse_ca_keys(text, "ca.pub")
    assert keys == [CA.public]
    assert len(problems) == 2 and "cannot be a CA" in problems[0]
