"""The transport layer (RFC 4253): key derivation, ping."""

from __future__ import annotations

from sshviz.events import PongReceived
from sshviz.scenario import Scenario, make_conductor
from sshviz.transport.derivation import derive_key

# -- key derivation -----------------------------------------------------------------------------


def test_key_derivation_extends_with_further_hashes():
    K, H = b"\x00\x00\x00\x01\x05", b"h" * 32
    short = derive_key("sha256", K, H, "C", H, 16)
    long = derive_key("sha256", K, H, "C", H, 64)
    assert long.value[:16] == short.value
    assert len(long.blocks) == 2 and long.blocks[0] == short.blocks[0]
    from sshviz.crypto.hashes import digest

    assert long.blocks[1] == digest("sha256", K, H, long.blocks[0])
    assert "K1 || ... || Kn" in long.formula


# -- ping -------------------------------------------------------------------------------------


def test_ping_and_pong():
    conductor = make_conductor(Scenario())
    while (step := conductor.step()) is not None and step.name != "USERAUTH_SUCCESS":
        pass
    conductor.act("client", lambda client: client.ping(b"are you there"))
    conductor.run()
    pongs = [e for step in conductor.steps for side, e in step.changes if isinstance(e, PongReceived)]
    assert [p.data for p in pongs] == [b"are you there"]
