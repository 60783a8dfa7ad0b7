"""What a KEXINIT offered: HASSH as the HASSH project defines it (checked against an MD5 computed
here from the lists), the post-quantum and strict KEX markers, the weak names with why; and
``inspect`` printing them for each side of a trace."""

from __future__ import annotations

import hashlib
import json

from sshviz.presentation.offer import offer_of, offers_in, weakness
from sshviz.trace.fileformat import load_trace
from sshviz.trace.samples import find_sample
from sshviz.wire.catalog import MSG

from .openssh import sshviz_cli


def kexinit(kex, hostkeys=("ssh-ed25519",), ciphers=("aes128-ctr",), macs=("hmac-sha2-256",),
            compression=("none",), s2c_ciphers=("aes256-ctr",)):
    return MSG.KEXINIT.build(
        cookie=bytes(16), kex_algorithms=list(kex), server_host_key_algorithms=list(hostkeys),
        encryption_algorithms_client_to_server=list(ciphers), encryption_algorithms_server_to_client=list(s2c_ciphers),
        mac_algorithms_client_to_server=list(macs), mac_algorithms_server_to_client=["hmac-sha1"],
        compression_algorithms_client_to_server=list(compression), compression_algorithms_server_to_client=["zlib"],
        languages_client_to_server=[], languages_server_to_client=[], first_kex_packet_follows=False, reserved=0)


def test_hassh_is_the_md5_of_the_senders_four_lists_as_sent():
    message = kexinit(["curve25519-sha256", "ext-info-c", "kex-strict-c-v00@openssh.com"],
                      ciphers=["chacha20-poly1305@openssh.com", "aes128-ctr"], macs=["hmac-sha2-256-etm@openssh.com"],
                      compression=["none", "zlib@openssh.com"])
    offer = offer_of(message, "client")
    string = ("curve25519-sha256,ext-info-c,kex-strict-c-v00@openssh.com;chacha20-poly1305@openssh.com,aes128-ctr;"
              "hmac-sha2-256-etm@openssh.com;none,zlib@openssh.com")
    assert offer.hassh_string == string
    assert offer.hassh == hashlib.md5(string.encode()).hexdigest()
    assert offer.strict_kex and not offer.post_quantum and not offer.weak
    # A server's (hasshServer) takes the server-to-client lists, and its own strict marker.
    server = offer_of(message, "server")
    assert server.hassh_string == "curve25519-sha256,ext-info-c,kex-strict-c-v00@openssh.com;aes256-ctr;hmac-sha1;zlib"
    assert not server.strict_kex


def test_the_grade_names_post_quantum_methods_and_each_weak_name_with_why():
    message = kexinit(["mlkem768x25519-sha256", "sntrup761x25519-sha512@openssh.com", "diffie-hellman-group1-sha1",
                       "diffie-hellman-group14-sha1"], hostkeys=["ssh-ed25519", "ssh-rsa", "ssh-dss"],
                      ciphers=["aes128-ctr", "aes256-cbc", "3des-cbc", "arcfour"], macs=["hmac-sha2-256", "hmac-md5",
                                                                                        "hmac-sha1", "umac-64@openssh.com"])
    offer = offer_of(message, "client")
    assert offer.post_quantum == ("mlkem768x25519-sha256", "sntrup761x25519-sha512@openssh.com")
    assert not offer.strict_kex
    assert dict(offer.weak) == {
        "diffie-hellman-group1-sha1": "1024-bit group, SHA-1", "diffie-hellman-group14-sha1": "SHA-1 exchange hash",
        "ssh-rsa": "SHA-1 signatures", "ssh-dss": "DSA: 1024 bits, SHA-1",
        "aes256-cbc": "CBC mode: plaintext recovery attacks", "3des-cbc": "3DES: 64-bit blocks",
        "arcfour": "RC4: biased keystream", "hmac-md5": "MD5 MAC", "hmac-sha1": "SHA-1 MAC (legacy)",
        "umac-64@openssh.com": "64-bit tag"}
    assert offer.grade() == "PQ · no strict KEX · weak: " + ", ".join(name for name, _ in offer.weak)
    assert weakness("aes128-gcm@openssh.com") is None and weakness("hmac-sha2-512-etm@openssh.com") is None


def test_offers_in_a_trace_are_the_first_kexinit_of_each_side():
    trace = load_trace(find_sample("rekey"))
    offers = offers_in(trace)
    assert list(offers) == ["client", "server"]
    first = next(e.message for e in trace.events if e.message is not None and e.message.spec is MSG.KEXINIT
                 and e.direction == "c2s")
    assert offers["client"].hassh == offer_of(first, "client").hassh


def test_inspect_prints_each_sides_hassh_and_grade():
    result = sshviz_cli("inspect", "rekey")
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    offers = offers_in(load_trace(find_sample("rekey")))
    assert f"client HASSH {offers['client'].hassh}" in text
    assert f"server hasshServer {offers['server'].hassh}" in text
    assert "strict KEX (Terrapin countermeasure): offered" in text
    data = json.loads(sshviz_cli("inspect", "rekey", "--format", "json").stdout)
    assert data["offers"]["client"]["hassh"] == offers["client"].hassh
    assert data["offers"]["server"]["strict_kex"] is True
