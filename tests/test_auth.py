"""User authentication (RFC 4252): the password store."""

from __future__ import annotations

import base64

from sshviz.auth.passwords import hash_password, verify_password

# -- passwords ----------------------------------------------------------------------------------


def test_password_hashes_are_salted_scrypt():
    a, b = hash_password("pw"), hash_password("pw")
    assert a != b and a.startswith("scrypt$14$8$1$")
    assert verify_password(a, "pw") and not verify_password(a, "PW")
    assert not verify_password("garbage", "pw")
    assert base64.b64decode(a.split("$")[4])  # the salt
