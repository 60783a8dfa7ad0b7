"""The transport layer (RFC 4253): identification lines, key derivation, rekeying, delayed
compression, ping."""

from __future__ import annotations

from sshviz.conductor import Conductor
from sshviz.events import KexComputed, PongReceived
from sshviz.scenario import Scenario, build_pair, make_conductor, run_scenario
from sshviz.transport.derivation import derive_key
from sshviz.wire.catalog import MSG, SPANS_ON_DEMAND, SSH

from .conftest import changes, step_until

# -- identification lines ---------------------------------------------------------------------


def test_lines_before_the_server_version_are_kept():
    client, server, driver, clock = build_pair(Scenario())
    server.config.transport.pre_version_lines = ["Welcome, this line comes before the version"]
    conductor = Conductor(client, server, clock, driver=driver.for_conductor)
    conductor.run()
    versions = [s.record for s in conductor.steps if s.kind == "version"]
    assert versions[1].pre_lines == [b"Welcome, this line comes before the version\r\n"]
    assert driver.exit_status == 0


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


# -- rekeying and delayed compression ---------------------------------------------------------


def test_rekey_after_a_number_of_packets():
    client, server, driver, clock = build_pair(Scenario())
    server.config.transport.rekey_packets = 5
    conductor = Conductor(client, server, clock, driver=driver.for_conductor)
    conductor.run()
    assert len(changes(conductor, KexComputed, "server")) >= 2
    assert driver.exit_status == 0


def test_delayed_compression_when_authentication_ends_during_a_rekey():
    # The server rekeys while the client's signed request is on its way: USERAUTH_SUCCESS
    # waits for the key exchange, and zlib@openssh.com starts only once it has gone out
    # (the key exchange packets around it are not compressed by either side).
    conductor = make_conductor(Scenario(compression="zlib@openssh.com", auth="publickey"))
    step_until(conductor, "USERAUTH_PK_OK")
    conductor.act("server", lambda server: server.request_rekey())
    conductor.run()
    assert conductor.driver_state.exit_status == 0
    names = [s.name for s in conductor.steps]
    assert names.index("USERAUTH_SUCCESS") > names.index("NEWKEYS", names.index("USERAUTH_PK_OK"))
    assert conductor.server.transport.writer.keys.compressor is not None


# -- ping -------------------------------------------------------------------------------------


def test_ping_and_pong():
    conductor = make_conductor(Scenario())
    step_until(conductor, "USERAUTH_SUCCESS")
    conductor.act("client", lambda client: client.ping(b"are you there"))
    conductor.run()
    pongs = changes(conductor, PongReceived)
    assert [p.data for p in pongs] == [b"are you there"]


def test_a_transfers_messages_are_read_without_spans_until_a_view_asks():
    trace = run_scenario(Scenario()).trace  # records as their receivers read them
    bulk = [e for e in trace.events if e.spec in SPANS_ON_DEMAND]
    assert MSG.CHANNEL_DATA in {e.spec for e in bulk}
    for event in bulk:
        record = event.record
        assert record.message.fields is None
        assert record.fields() == SSH.decode_as(record.message.spec, record.payload).fields
        assert record.message.values == SSH.decode_as(record.message.spec, record.payload).values
    kexinit = next(e for e in trace.events if e.spec is MSG.KEXINIT)
    assert kexinit.record.message.fields, "other messages keep their spans"
