"""The server side of ssh-userauth.

Accepts ``ssh-userauth`` once, then judges each USERAUTH_REQUEST: none, password (scrypt hashes
only), publickey and its host-bound variant (authorized_keys; query then signature),
keyboard-interactive (one password prompt). Optional chains of methods give partial success.
At most ``max_attempts`` failures, then a disconnect; and a login grace time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from ..crypto.certificates import check_certificate, describe
from ..crypto.keys import SIGNATURE_ALGORITHMS, PublicKey
from ..events import AuthAttempt
from ..transport.errors import ProtocolError
from ..transport.work import SlowWork
from ..wire.catalog import MSG, DisconnectReason
from ..wire.codes import CertificateType
from ..wire.spec import Message
from ..wire.types import DecodeError
from .common import HOSTBOUND, publickey_signed_data
from .passwords import dummy_hash, verify_password

E = DisconnectReason
SUPPORTED = ("publickey", "password", "keyboard-interactive")


@dataclass
class UserRecord:
    password_hash: str | None = None
    authorized_keys: list[PublicKey] = field(default_factory=list)


@dataclass
class ServerAuthConfig:
    users: dict[str, UserRecord] = field(default_factory=dict)
    methods: list[str] = field(default_factory=lambda: list(SUPPORTED))
    # Each chain is a list of methods that must all succeed, like OpenSSH's
    # AuthenticationMethods; None means any one method is enough.
    chains: list[list[str]] | None = None
    banner: str | None = None
    max_attempts: int = 6
    login_grace: float = 120.0  # seconds
    allow_sha1_rsa: bool = False
    # CA keys whose user certificates are accepted for the users they name (OpenSSH's
    # TrustedUserCAKeys), checked against the time this clock gives (seconds since 1970).
    user_cas: list[PublicKey] = field(default_factory=list)
    wall_clock: Callable[[], float] = time.time


class ServerAuth:
    """The server side of ssh-userauth: accepts the service once, then judges each request
    by its method, counts failures, and keeps the login grace time."""

    def __init__(self, config: ServerAuthConfig, transport, events: list, context: dict,
                 start_time: float, work: SlowWork | None = None):
        self.config = config
        self.transport = transport
        self.events = events
        self.context = context
        self.work = work or SlowWork()  # where scrypt runs
        self.service_accepted = False
        self.authenticated = False
        self.user: str | None = None
        self.failures = 0
        self.requests = 0  # USERAUTH_REQUESTs judged
        self.done_methods: list[str] = []
        self.banner_sent = False
        self.ki_pending = False
        self.deadline = start_time + config.login_grace

    # -- what may continue --------------------------------------------------------------------

    def _methods_left(self) -> list[str]:
        chains = self.config.chains or [[m] for m in self.config.methods]
        left: list[str] = []
        for chain in chains:
            if all(m in chain for m in self.done_methods):
                left += [m for m in chain if m not in self.done_methods and m not in left]
        return left

    def _chain_complete(self) -> bool:
        chains = self.config.chains or [[m] for m in self.config.methods]
        return any(all(m in self.done_methods for m in chain) for chain in chains)

    # -- messages from the client -------------------------------------------------------------

    def handle(self, msg: Message) -> None:
        handler = self._HANDLERS.get(msg.spec)
        if handler is None:
            raise ProtocolError(E.PROTOCOL_ERROR, f"unexpected {msg.spec.rfc_name} from the client")
        handler(self, msg)

    def _on_service_request(self, msg: Message) -> None:
        if self.service_accepted or msg["service_name"] != "ssh-userauth":
            raise ProtocolError(E.SERVICE_NOT_AVAILABLE, f"service {msg['service_name']!r} is not available")
        self.service_accepted = True
        self.transport.send(MSG.SERVICE_ACCEPT.build(service_name="ssh-userauth"))

    def _on_request(self, msg: Message) -> None:
        if not self.service_accepted:
            raise ProtocolError(E.PROTOCOL_ERROR, "USERAUTH_REQUEST before the ssh-userauth service was accepted")
        if self.authenticated:
            return  # RFC 4252 5.1: later requests are ignored
        self._request(msg)

    def _on_info_response(self, msg: Message) -> None:
        if not self.ki_pending:
            raise ProtocolError(E.PROTOCOL_ERROR, f"unexpected {msg.spec.rfc_name} from the client")
        self.ki_pending = False
        self._info_response(msg)

    def _request(self, msg: Message) -> None:
        if msg["service_name"] != "ssh-connection":
            raise ProtocolError(E.SERVICE_NOT_AVAILABLE, f"service {msg['service_name']!r} is not available")
        if self.user is None:
            self.user = msg["user_name"]
        elif msg["user_name"] != self.user:
            raise ProtocolError(E.PROTOCOL_ERROR, "the user name changed during authentication")
        if self.config.banner and not self.banner_sent:
            self.banner_sent = True
            self.transport.send(MSG.USERAUTH_BANNER.build(message=self.config.banner, language_tag=""))
        self.ki_pending = False
        self.requests += 1
        method = msg["method_name"]
        base = "publickey" if method == HOSTBOUND else method
        self.context["auth"] = base
        if method == "none":
            # The first asks which methods may continue; more are failures, as OpenSSH counts
            # them, so a client cannot loop on "none" for free.
            self.events.append(AuthAttempt(self.user, method, "failure", "lists the methods"))
            self._failure(count=self.requests > 1)
        elif base not in self.config.methods or base not in self._methods_left():
            self._fail(method, "method not allowed")
        elif base == "password":
            self._password(msg)
        elif base == "publickey":
            self._publickey(msg, method)
        elif base == "keyboard-interactive":
            self.ki_pending = True
            self.events.append(AuthAttempt(self.user, method, "prompt", "asks for the password"))
            self.transport.send(MSG.USERAUTH_INFO_REQUEST.build(
                name="", instruction="", language_tag="", prompts=[{"prompt": "Password: ", "echo": False}]))
        else:
            self._fail(method, "method not supported")

    def _record(self) -> "UserRecord | None":
        return self.config.users.get(self.user)

    def _check_password(self, method: str, password: str) -> None:
        """Judge a password (by scrypt, where the adapter runs slow work), then answer."""
        record = self._record()
        stored = record.password_hash if record and record.password_hash else None

        def judged(ok: bool) -> None:
            if ok and stored is not None:
                self._success(method)
            else:
                self._fail(method, "wrong password or unknown user")

        # An unknown user or one without a password costs the same scrypt time.
        self.work.run(verify_password, (stored or dummy_hash(), password), judged)

    def _password(self, msg: Message) -> None:
        if msg["change_password"]:
            self._fail("password", "password change is not supported")
        else:
            self._check_password("password", msg["password"])

    def _info_response(self, msg: Message) -> None:
        if len(msg["responses"]) != 1:
            raise ProtocolError(E.PROTOCOL_ERROR,
                                f"{len(msg['responses'])} keyboard-interactive answers to 1 prompt")
        self._check_password("keyboard-interactive", msg["responses"][0]["response"])

    def _publickey(self, msg: Message, method: str) -> None:
        algorithm = msg["algorithm"]
        try:
            key = PublicKey.from_blob(msg["public_key"])
        except DecodeError as exc:
            self._fail(method, f"unreadable key: {exc}")
            return
        spec = SIGNATURE_ALGORITHMS[algorithm] if algorithm in SIGNATURE_ALGORITHMS else None
        if spec is None or spec.key_type != key.key_type or (spec.hash == "sha1" and not self.config.allow_sha1_rsa):
            self._fail(method, f"algorithm {algorithm} not accepted for a {key.key_type} key")
            return
        host_key_blob = None
        if method == HOSTBOUND:
            host_key_blob = msg["server_host_key"]
            if host_key_blob != self.transport.host_key.blob:
                self._fail(method, "bound to a different server host key")
                return
        record = self._record()
        cert = key.certificate
        if cert is not None:
            if not self.config.user_cas:
                self._fail(method, f"certificate {cert.key_id!r} refused: no user CA is trusted")
                return
            reason = check_certificate(cert, CertificateType.USER, self.user, self.config.wall_clock(),
                                       self.config.user_cas)
            if reason is None and record is None:
                reason = "no such user here"
            if reason is not None:
                self._fail(method, f"certificate {cert.key_id!r} refused: {reason}")
                return
        elif record is None or key not in record.authorized_keys:
            self._fail(method, f"key {key.fingerprint()} is not authorized")
            return
        if not msg["has_signature"]:
            self.events.append(AuthAttempt(self.user, method, "pk_ok", key.fingerprint()))
            self.transport.send(MSG.USERAUTH_PK_OK.build(algorithm=algorithm, public_key=msg["public_key"]))
            return
        data = publickey_signed_data(self.transport.session_id, self.user, "ssh-connection", method,
                                     algorithm, msg["public_key"], host_key_blob)
        if key.verify(algorithm, msg["signature"], data):
            self._success("publickey", key.fingerprint() + (f", {describe(cert)}" if cert else ""))
        else:
            self._fail(method, "signature does not verify")

    # -- verdicts -----------------------------------------------------------------------------

    def _success(self, method: str, detail: str = "") -> None:
        self.done_methods.append(method)
        if not self._chain_complete():
            self.events.append(AuthAttempt(self.user, method, "partial", detail))
            self.transport.send(MSG.USERAUTH_FAILURE.build(authentications=self._methods_left(),
                                                           partial_success=True))
            return
        self.authenticated = True
        self.context.pop("auth", None)
        self.events.append(AuthAttempt(self.user, method, "success", detail))
        self.transport.send(MSG.USERAUTH_SUCCESS.build())
        self.transport.auth_completed()

    def _fail(self, method: str, detail: str) -> None:
        self.events.append(AuthAttempt(self.user or "", method, "failure", detail))
        self._failure(count=True)

    def _failure(self, count: bool) -> None:
        if count:
            self.failures += 1
            if self.failures >= self.config.max_attempts:
                raise ProtocolError(E.NO_MORE_AUTH_METHODS_AVAILABLE,
                                    f"too many authentication failures ({self.failures})")
        self.transport.send(MSG.USERAUTH_FAILURE.build(authentications=self._methods_left(),
                                                       partial_success=False))

    def check_timeout(self, now: float) -> None:
        if not self.authenticated and now >= self.deadline:
            raise ProtocolError(E.BY_APPLICATION,
                                f"login grace time of {self.config.login_grace:g} s exceeded")

    _HANDLERS = {
        MSG.SERVICE_REQUEST: _on_service_request,
        MSG.USERAUTH_REQUEST: _on_request,
        MSG.USERAUTH_INFO_RESPONSE: _on_info_response,
    }

