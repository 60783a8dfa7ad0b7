"""What a client that never logs in can make the server do is bounded: "none" requests count
as failures after the first, and the packets the server answers before authentication are
capped, so a flood of requests ends the connection instead of costing replies forever."""

from __future__ import annotations

from sshviz.conductor import Conductor
from sshviz.events import AuthAttempt, Disconnected
from sshviz.scenario import Scenario, build_pair, run_scenario
from sshviz.wire.catalog import MSG
from sshviz.wire.catalog import DisconnectReason as R
from sshviz.wire.spec import UNKNOWN_TAIL, Message, MessageSpec


def server_disconnect(conductor: Conductor) -> Disconnected:
    [ended] = [e for step in conductor.steps for side, e in step.changes
               if side == "server" and isinstance(e, Disconnected)]
    return ended


def pair_stopping_after_the_first_none() -> Conductor:
    """A conductor whose client, once its first "none" is refused, does nothing by itself (no
    driver: nobody disconnects when it has no method left)."""
    client, server, _, clock = build_pair(Scenario(command=None))
    client.config.auth.methods = []  # nothing to try after "none"
    conductor = Conductor(client, server, clock)
    while (step := conductor.step()) is not None and step.name != "USERAUTH_FAILURE":
        pass
    return conductor


def none_request() -> Message:
    return MSG.USERAUTH_REQUEST.build(user_name="alice", service_name="ssh-connection", method_name="none")


def test_none_requests_after_the_first_count_as_failures():
    conductor = pair_stopping_after_the_first_none()
    for _ in range(10):
        conductor.inject("client", none_request())
    conductor.run()
    ended = server_disconnect(conductor)
    assert (ended.reason, ended.description) == (R.NO_MORE_AUTH_METHODS_AVAILABLE,
                                                 "too many authentication failures (6)")
    requests = [s for s in conductor.steps if s.name == "USERAUTH_REQUEST" and s.delivered]
    assert len(requests) == 7  # the first is free, as OpenSSH counts; six more end it
    assert conductor.server.internal_error is None
    attempts = [e for s in conductor.steps for side, e in s.changes if isinstance(e, AuthAttempt)]
    assert [a.method for a in attempts] == ["none"] * 7


def test_unknown_messages_before_authentication_are_answered_up_to_a_cap():
    conductor = pair_stopping_after_the_first_none()
    limit = conductor.server.config.transport.max_packets_before_auth
    already = conductor.server.transport.packets_before_auth
    strange = Message(MessageSpec(150, "STRANGE", UNKNOWN_TAIL, "", "", "test"), {"data": b"?"})
    for _ in range(limit + 10):
        conductor.inject("client", strange)
    conductor.run()
    answered = sum(1 for s in conductor.steps if s.name == "UNIMPLEMENTED")
    assert answered == limit - already
    ended = server_disconnect(conductor)
    assert (ended.reason, ended.description) == (
        R.PROTOCOL_ERROR, f"more than {limit} messages to answer before authentication")
    assert conductor.server.internal_error is None


def test_a_normal_login_stays_far_below_the_cap():
    conductor = run_scenario(Scenario(auth="keyboard-interactive", wrong_password_first=True))
    assert conductor.driver_state.exit_status == 0
    sent_before_auth = conductor.server.transport.packets_before_auth
    assert 0 < sent_before_auth < 20 < conductor.server.config.transport.max_packets_before_auth
