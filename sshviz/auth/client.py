"""The client side of ssh-userauth: asks for the service, then tries methods in order until the
server says USERAUTH_SUCCESS or nothing is left to try.

Order of attempts: ``none`` first (the server's FAILURE answer lists what it accepts), then each
configured method the server allows: every key (a query, then a signature after PK_OK), every
password, keyboard-interactive. When no password is configured, a ``PasswordNeeded`` or
``PromptsNeeded`` event asks the application, which answers with ``provide_password`` or
``provide_responses``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..crypto.keys import SIGNATURE_ALGORITHMS, PrivateKey
from ..events import (AuthBanner, AuthExhausted, AuthFailed, AuthSucceeded, PasswordNeeded,
                      PromptsNeeded, ServiceAccepted)
from ..transport.errors import ProtocolError
from ..wire.catalog import MSG, DisconnectReason
from ..wire.spec import Message
from .common import HOSTBOUND, HOSTBOUND_EXTENSION, publickey_signed_data

E = DisconnectReason
PROMPT_LIMIT = 3  # like OpenSSH's NumberOfPasswordPrompts


@dataclass
class ClientAuthConfig:
    user: str = "demo"
    methods: list[str] = field(default_factory=lambda: ["publickey", "keyboard-interactive", "password"])
    keys: list[PrivateKey] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)  # tried in order; empty: ask
    ask: bool = False  # with no passwords configured, ask the application (else skip the method)
    try_none: bool = True
    query_keys: bool = True  # ask with has_signature=FALSE before signing
    allow_sha1_rsa: bool = False


class AuthState(Enum):
    IDLE = "idle"  # the first key exchange is not over
    SERVICE = "service"  # ssh-userauth asked for
    WAITING = "waiting"  # a request is out, the server's answer not in
    ASKING = "asking"  # the application was asked for a password or answers
    DONE = "done"  # authenticated
    EXHAUSTED = "exhausted"  # no method left to try


class ClientAuth:
    """The client side of ssh-userauth: asks for the service, then sends one attempt at a
    time and reacts to the server's answers, asking the application when it must."""

    def __init__(self, config: ClientAuthConfig, transport, events: list, context: dict):
        self.config = config
        self.transport = transport
        self.events = events
        self.context = context
        self.state = AuthState.IDLE
        self.allowed: list[str] | None = None
        self.attempt: tuple | None = None
        self._none_tried = not config.try_none
        self._key_index = 0
        self._password_index = 0
        self._prompts_used = 0
        self._ki_tried = 0
        self.method_used = ""

    @property
    def done(self) -> bool:
        return self.state == AuthState.DONE

    def start(self) -> None:
        if self.state == AuthState.IDLE:
            self.state = AuthState.SERVICE
            self.transport.send(MSG.SERVICE_REQUEST.build(service_name="ssh-userauth"))

    # -- choosing attempts --------------------------------------------------------------------

    def _allowed(self, method: str) -> bool:
        return self.allowed is None or method in self.allowed

    def _rsa_algorithm(self, key: PrivateKey) -> str | None:
        server_algs = self.transport.peer_extensions.get("server-sig-algs")
        for algorithm in key.algorithms:
            spec = SIGNATURE_ALGORITHMS[algorithm]
            if spec.hash == "sha1" and not self.config.allow_sha1_rsa:
                continue
            # server-sig-algs names plain algorithms; a certificate signs as its key does
            if server_algs is None or algorithm in server_algs or spec.signature_name in server_algs:
                return algorithm
        return None

    def _next(self) -> None:
        """Send the next attempt, or report that nothing is left."""
        cfg = self.config
        if not self._none_tried:
            self._none_tried = True
            self._request("none")
            return
        for method in cfg.methods:
            if not self._allowed(method):
                continue
            if method == "publickey":
                while self._key_index < len(cfg.keys):
                    key = cfg.keys[self._key_index]
                    self._key_index += 1
                    algorithm = self._rsa_algorithm(key)
                    if algorithm:
                        self._publickey(key, algorithm, signed=not cfg.query_keys)
                        return
            elif method == "password":
                if self._password_index < len(cfg.passwords):
                    self._password_index += 1
                    self._password(cfg.passwords[self._password_index - 1])
                    return
                if not cfg.passwords and cfg.ask and self._prompts_used < PROMPT_LIMIT:
                    self._prompts_used += 1
                    self.state = AuthState.ASKING
                    self.attempt = ("password",)
                    self.events.append(PasswordNeeded(cfg.user, f"{cfg.user}'s password: "))
                    return
            elif method == "keyboard-interactive":
                budget = len(cfg.passwords) if cfg.passwords else (PROMPT_LIMIT if cfg.ask else 0)
                if self._ki_tried < budget:
                    self._ki_tried += 1
                    self._request("keyboard-interactive", language_tag="", submethods="")
                    return
        self.state = AuthState.EXHAUSTED
        self.events.append(AuthExhausted(list(self.allowed or [])))

    def _request(self, method: str, **values) -> None:
        self.state = AuthState.WAITING
        self.attempt = (method,)
        self.context["auth"] = "publickey" if method == HOSTBOUND else method
        self.transport.send(MSG.USERAUTH_REQUEST.build(user_name=self.config.user, service_name="ssh-connection",
                                                       method_name=method, **values))

    def _publickey(self, key: PrivateKey, algorithm: str, signed: bool) -> None:
        hostbound = HOSTBOUND_EXTENSION in self.transport.peer_extensions
        method = HOSTBOUND if hostbound else "publickey"
        extra = {"server_host_key": self.transport.host_key.blob} if hostbound else {}
        values = dict(has_signature=signed, algorithm=algorithm, public_key=key.public.blob, **extra)
        if signed:
            data = publickey_signed_data(self.transport.session_id, self.config.user, "ssh-connection",
                                         method, algorithm, key.public.blob, extra.get("server_host_key"))
            values["signature"] = key.sign(algorithm, data)
        self._request(method, **values)
        self.attempt = ("publickey", key, algorithm, signed)

    def _password(self, password: str) -> None:
        self._request("password", change_password=False, password=password)

    # -- answers from the application ---------------------------------------------------------

    def provide_password(self, password: str | None) -> None:
        """The answer to PasswordNeeded; None gives up on passwords."""
        if self.state != AuthState.ASKING or self.attempt != ("password",):
            raise RuntimeError("no password was asked for")
        if password is None:
            self._prompts_used = PROMPT_LIMIT
            self._next()
        else:
            self._password(password)

    def provide_responses(self, responses: list[str]) -> None:
        if self.state != AuthState.ASKING or self.attempt != ("keyboard-interactive",):
            raise RuntimeError("no keyboard-interactive prompts are waiting")
        self.state = AuthState.WAITING
        self.transport.send(MSG.USERAUTH_INFO_RESPONSE.build(responses=[
            {"response": r} for r in responses]))

    # -- messages from the server -------------------------------------------------------------

    def handle(self, msg: Message) -> None:
        states, handler = self._HANDLERS.get(msg.spec, ((), None))
        if self.state not in states:
            raise ProtocolError(E.PROTOCOL_ERROR,
                                f"unexpected {msg.spec.rfc_name} during user authentication")
        handler(self, msg)

    def _on_service_accept(self, msg: Message) -> None:
        if msg["service_name"] != "ssh-userauth":
            raise ProtocolError(E.PROTOCOL_ERROR, f"server accepted {msg['service_name']!r}, not ssh-userauth")
        self.events.append(ServiceAccepted(msg["service_name"]))
        self._next()

    def _on_banner(self, msg: Message) -> None:
        self.events.append(AuthBanner(msg["message"]))

    def _on_success(self, msg: Message) -> None:
        self.state = AuthState.DONE
        self.method_used = self.attempt[0]
        self.context.pop("auth", None)
        self.transport.auth_completed()
        self.events.append(AuthSucceeded(self.config.user, self.method_used))

    def _on_failure(self, msg: Message) -> None:
        self.allowed = list(msg["authentications"])
        self.events.append(AuthFailed(self.attempt[0], self.allowed, bool(msg["partial_success"])))
        self._next()

    def _on_pk_ok(self, msg: Message) -> None:
        _, key, algorithm, signed = self.attempt
        if signed or msg["public_key"] != key.public.blob:
            raise ProtocolError(E.PROTOCOL_ERROR, "USERAUTH_PK_OK for a key we did not offer")
        self._publickey(key, algorithm, signed=True)

    def _on_passwd_changereq(self, msg: Message) -> None:
        # Changing an expired password is not supported; count it as a failure.
        self.events.append(AuthFailed("password", list(self.allowed or []), False))
        self._next()

    def _on_info_request(self, msg: Message) -> None:
        prompts = [(p["prompt"], p["echo"]) for p in msg["prompts"]]
        cfg = self.config
        if not prompts:
            self.transport.send(MSG.USERAUTH_INFO_RESPONSE.build(responses=[]))
        elif cfg.passwords:
            answer = cfg.passwords[min(self._ki_tried, len(cfg.passwords)) - 1]
            self.transport.send(MSG.USERAUTH_INFO_RESPONSE.build(
                responses=[{"response": answer} for _ in prompts]))
        else:
            self.state = AuthState.ASKING
            self.events.append(PromptsNeeded(msg["name"], msg["instruction"], prompts))

    # What the server may send in which states, and what each does. A method's own
    # message only decodes as such after a request by that method (the catalog's context).
    _WAITING = {AuthState.WAITING}
    _HANDLERS = {
        MSG.SERVICE_ACCEPT: ({AuthState.SERVICE}, _on_service_accept),
        MSG.USERAUTH_BANNER: ({AuthState.WAITING, AuthState.SERVICE, AuthState.ASKING}, _on_banner),
        MSG.USERAUTH_SUCCESS: (_WAITING, _on_success),
        MSG.USERAUTH_FAILURE: (_WAITING, _on_failure),
        MSG.USERAUTH_PK_OK: (_WAITING, _on_pk_ok),
        MSG.USERAUTH_PASSWD_CHANGEREQ: (_WAITING, _on_passwd_changereq),
        MSG.USERAUTH_INFO_REQUEST: (_WAITING, _on_info_request),
    }

