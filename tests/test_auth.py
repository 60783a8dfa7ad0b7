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
