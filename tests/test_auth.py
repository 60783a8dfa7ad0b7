"""User authentication (RFC 4252): the password store, partial success, host-bound publickey."""

from __future__ import annotations

import base64

from sshviz.auth.passwords import hash_password, verify_password
from sshviz.conductor import Conductor
from sshviz.crypto.random import SeededRandom
from sshviz.events import AuthFailed, AuthSucceeded
from sshviz.scenario import Scenario, build_pair
from sshviz.wire.catalog import SSH

from .conftest import changes, step_until

# -- passwords ----------------------------------------------------------------------------------


def test_password_hashes_are_salted_scrypt():
    a, b = hash_password("pw"), hash_password("pw")
    assert a != b and a.startswith("scrypt$14$8$1$")
    assert verify_password(a, "pw") and not verify_password(a, "PW")
    assert not verify_password("garbage", "pw")
    assert base64.b64decode(a.split("$")[4])  # the salt


# -- methods ----------------------------------------------------------------------------------


def test_partial_success_then_a_second_method():
    client, server, driver, clock = build_pair(Scenario(auth="publickey"))
    server.config.auth.chains = [["publickey", "password"]]
    server.config.auth.users["alice"].password_hash = hash_password("correct horse battery staple")
    client.config.auth.methods = ["publickey", "password"]
    client.config.auth.passwords = ["correct horse battery staple"]
    conductor = Conductor(client, server, clock, driver=driver.for_conductor)
    conductor.run()
    failures = changes(conductor, AuthFailed, "client")
    assert [(f.method, f.partial_success, f.methods_left) for f in failures] == [
        ("none", False, ["publickey", "password"]), ("publickey", True, ["password"])]
    assert changes(conductor, AuthSucceeded, "client")[0].method == "password"
    assert driver.exit_status == 0


def test_host_bound_auth_binds_the_host_key_of_the_first_key_exchange():
    # OpenSSH's publickey-hostbound-v00 names the host key of the initial key exchange (the
    # one whose H is the session id), whatever a rekey negotiated since.
    from sshviz.auth.common import HOSTBOUND
    from sshviz.crypto.keys import PrivateKey

    client, server, driver, clock = build_pair(Scenario())
    first = server.config.transport.host_keys[0]
    other = PrivateKey.generate("ecdsa-sha2-nistp256", SeededRandom(7))
    server.config.transport.host_keys.append(other)
    client.config.transport.host_key_algorithms = ["ssh-ed25519", "ecdsa-sha2-nistp256"]
    client.config.transport.verify_host_key = lambda key: ("known", "either test key")
    conductor = Conductor(client, server, clock, driver=driver.for_conductor)
    step_until(conductor, "SERVICE_ACCEPT")
    client.config.transport.host_key_algorithms = ["ecdsa-sha2-nistp256"]
    conductor.act("client", lambda c: c.request_rekey())  # auth requests wait for it
    conductor.run()
    assert server.transport.last_negotiation.algorithms["host_key"].chosen == "ecdsa-sha2-nistp256"
    bound = [s.message["server_host_key"] for s in conductor.steps
             if s.name == "USERAUTH_REQUEST" and s.message["method_name"] == HOSTBOUND]
    assert bound and set(bound) == {first.public.blob}
    assert driver.exit_status == 0
    # And the server refuses a request bound to the rekey's host key.
    server.auth.authenticated = False
    server.auth._publickey(SSH.build("USERAUTH_REQUEST", user_name="demo", service_name="ssh-connection",
                                     method_name=HOSTBOUND, has_signature=False,
                                     algorithm="ssh-ed25519",
                                     public_key=client.config.auth.keys[0].public.blob,
                                     server_host_key=other.public.blob), HOSTBOUND)
    assert server.events[-1].detail == "bound to a different server host key"


# -- user certificates ------------------------------------------------------------------------


def _certificate_pair(principals=("alice",), valid_before=2_000_000_000, now=1_800_000_000.0, **options):
    """alice logs in with a user certificate from a CA the server trusts (--user-ca); her
    plain key is not in authorized_keys."""
    from sshviz.crypto.certificates import sign_certificate
    from sshviz.crypto.keys import PrivateKey
    from sshviz.wire.codes import CertificateType

    client, server, driver, clock = build_pair(Scenario(auth="publickey"))
    ca = PrivateKey.generate("ecdsa-sha2-nistp256", SeededRandom("user CA"))
    key = client.config.auth.keys[0]
    cert = sign_certificate(ca, key.public, CertificateType.USER, "alice's laptop", list(principals),
                            valid_after=1_700_000_000, valid_before=valid_before, **options)
    client.config.auth.keys = [key.with_certificate(cert)]
    server.config.auth.users["alice"].authorized_keys = []
    server.config.auth.user_cas = [ca.public]
    server.config.auth.wall_clock = lambda: now
    conductor = Conductor(client, server, clock, driver=driver.for_conductor)
    conductor.run()
    return conductor, driver


def _publickey_attempts(conductor):
    from sshviz.events import AuthAttempt

    return [a for a in changes(conductor, AuthAttempt, "server") if a.method.startswith("publickey")]


def test_user_certificate_logs_in_and_shows_its_fields():
    conductor, driver = _certificate_pair()
    assert driver.exit_status == 0
    requests = [s for s in conductor.steps if s.name == "USERAUTH_REQUEST" and s.message["method_name"] != "none"]
    assert requests[0].message["algorithm"] == "ssh-ed25519-cert-v01@openssh.com"
    key_field = next(f for f in requests[0].record.message.fields if f.name == "public_key")
    shown = {f.name: f for f in key_field.walk()}
    assert shown["key_id"].value == "alice's laptop" and shown["cert_type"].meaning == "USER"
    pk_ok = next(s for s in conductor.steps if s.name == "USERAUTH_PK_OK")
    assert any(f.name == "signature_key" for f in pk_ok.record.message.fields[-1].walk())
    success = _publickey_attempts(conductor)[-1]
    assert success.result == "success" and 'user certificate "alice\'s laptop"' in success.detail


def test_user_certificates_refused():
    expired, _ = _certificate_pair(now=2_000_000_000.0)
    assert "expired" in _publickey_attempts(expired)[0].detail
    other, _ = _certificate_pair(principals=("bob",))
    assert "'alice' is not among its principals (bob)" in _publickey_attempts(other)[0].detail
    forced, _ = _certificate_pair(critical_options={"force-command": b"\x00\x00\x00\x02ls"})
    assert "force-command cannot be enforced" in _publickey_attempts(forced)[0].detail
    for conductor in (expired, other, forced):
        assert not changes(conductor, AuthSucceeded, "client")
