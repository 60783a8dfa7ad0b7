"""User authentication messages (RFC 4252, RFC 4256, OpenSSH's host-bound public key)."""

from __future__ import annotations

from .spec import BOOLEAN, NAME_LIST, STRING, TEXT, UINT32, Field, MessageSpec, Repeat, Switch, When
from .structures import PUBLIC_KEY, SIGNATURE


def _msg(number, name, rfc, doc, *fields, context=None):
    return MessageSpec(number, name, tuple(fields), rfc, doc, "userauth", context)


def _has_signature(values):
    return bool(values.get("has_signature"))


_PUBLICKEY = (
    Field("has_signature", BOOLEAN, "FALSE asks whether the key would do; TRUE carries a signature"),
    Field("algorithm", TEXT, "public key signature algorithm"),
    Field("public_key", STRING, "the user's public key blob", nested=PUBLIC_KEY),
)
_SIGNED = When(_has_signature, (
    Field("signature", STRING, "signature over the session id and this request", nested=SIGNATURE),
), "if has_signature")

METHODS = {
    "none": (),
    "password": (
        Field("change_password", BOOLEAN, "TRUE when the client sends a new password"),
        Field("password", TEXT, "the password, in clear inside the encrypted transport"),
        When(lambda v: bool(v.get("change_password")),
             (Field("new_password", TEXT, "the new password"),), "if change_password"),
    ),
    "publickey": _PUBLICKEY + (_SIGNED,),
    "publickey-hostbound-v00@openssh.com": _PUBLICKEY + (
        Field("server_host_key", STRING, "the server host key this request is bound to",
              nested=PUBLIC_KEY),
        _SIGNED,
    ),
    "keyboard-interactive": (
        Field("language_tag", TEXT, "deprecated, empty"),
        Field("submethods", TEXT, "hints for the server, usually empty"),
    ),
    "hostbased": (
        Field("algorithm", TEXT, "public key algorithm for the host key"),
        Field("public_key", STRING, "client host key", nested=PUBLIC_KEY),
        Field("client_host", TEXT, "client host name (FQDN)"),
        Field("client_user", TEXT, "user name on the client host"),
        Field("signature", STRING, "signature with the host key", nested=SIGNATURE),
    ),
}

MESSAGES = [
    _msg(50, "USERAUTH_REQUEST", "RFC 4252 5", "an authentication attempt by one method",
         Field("user_name", TEXT, "user name (UTF-8)"),
         Field("service_name", TEXT, "service to start after authentication"),
         Field("method_name", TEXT, "authentication method"),
         Switch("method_name", METHODS)),
    _msg(51, "USERAUTH_FAILURE", "RFC 4252 5.1", "not (yet) authenticated; methods that can continue",
         Field("authentications", NAME_LIST, "methods that may productively continue"),
         Field("partial_success", BOOLEAN, "TRUE when this method succeeded but more are required")),
    _msg(52, "USERAUTH_SUCCESS", "RFC 4252 5.1", "authentication is complete"),
    _msg(53, "USERAUTH_BANNER", "RFC 4252 5.4", "text to show the user before authentication",
         Field("message", TEXT, "banner text"), Field("language_tag", TEXT, "RFC 3066 tag", default="")),
    _msg(60, "USERAUTH_PK_OK", "RFC 4252 7", "the server would accept this key: sign with it",
         Field("algorithm", TEXT, "public key algorithm from the request"),
         Field("public_key", STRING, "public key blob from the request", nested=PUBLIC_KEY),
         context="auth=publickey"),
    _msg(60, "USERAUTH_PASSWD_CHANGEREQ", "RFC 4252 8", "the password has expired: choose another",
         Field("prompt", TEXT, "prompt text"), Field("language_tag", TEXT, "RFC 3066 tag", default=""),
         context="auth=password"),
    _msg(60, "USERAUTH_INFO_REQUEST", "RFC 4256 3.2", "questions for the user (keyboard-interactive)",
         Field("name", TEXT, "title"), Field("instruction", TEXT, "instructions"),
         Field("language_tag", TEXT, "deprecated, empty", default=""),
         Field("num_prompts", UINT32, "number of prompts", count_for="prompts"),
         Repeat("prompts", (Field("prompt", TEXT, "question"),
                            Field("echo", BOOLEAN, "whether typed text may be shown")),
                count="num_prompts", doc="prompts"),
         context="auth=keyboard-interactive"),
    _msg(61, "USERAUTH_INFO_RESPONSE", "RFC 4256 3.4", "the user's answers (keyboard-interactive)",
         Field("num_responses", UINT32, "number of answers", count_for="responses"),
         Repeat("responses", (Field("response", TEXT, "answer"),), count="num_responses",
                doc="answers, one per prompt"),
         context="auth=keyboard-interactive"),
]
