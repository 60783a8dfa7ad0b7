"""User authentication messages (RFC 4252, RFC 4256, OpenSSH's host-bound public key).

Numbers 60-79 belong to the method being tried: each method's messages are a group of their
own, whose context (``auth=publickey``) tells the catalog which meaning a number has."""

from __future__ import annotations

from .spec import (BOOLEAN, NAME_LIST, STRING, TEXT, UINT32, Field, MessageGroup, Repeat, Section,
                   Switch, When, message)
from .structures import PUBLIC_KEY, SIGNATURE


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
    "publickey-hostbound-v00@openssh.com": Section("RFC 4252 7; OpenSSH PROTOCOL 3.1", _PUBLICKEY + (
        Field("server_host_key", STRING, "the server host key this request is bound to",
              nested=PUBLIC_KEY),
        _SIGNED,
    )),
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



class UserauthMessages(MessageGroup, protocol="userauth"):
    """The messages of every authentication, whichever method is tried (RFC 4252 5)."""

    USERAUTH_REQUEST = message(50, "RFC 4252 5", "an authentication attempt by one method",
                               Field("user_name", TEXT, "user name (UTF-8)"),
                               Field("service_name", TEXT, "service to start after authentication"),
                               Field("method_name", TEXT, "authentication method"),
                               Switch("method_name", METHODS))
    USERAUTH_FAILURE = message(
        51, "RFC 4252 5.1", "not (yet) authenticated; methods that can continue",
        Field("authentications", NAME_LIST, "methods that may productively continue"),
        Field("partial_success", BOOLEAN, "TRUE when this method succeeded but more are required"))
    USERAUTH_SUCCESS = message(52, "RFC 4252 5.1", "authentication is complete")
    USERAUTH_BANNER = message(53, "RFC 4252 5.4", "text to show the user before authentication",
                              Field("message", TEXT, "banner text"),
                              Field("language_tag", TEXT, "RFC 3066 tag", default=""))


class PublickeyMessages(MessageGroup, protocol="userauth", context="auth=publickey"):
    USERAUTH_PK_OK = message(60, "RFC 4252 7", "the server would accept this key: sign with it",
                             Field("algorithm", TEXT, "public key algorithm from the request"),
                             Field("public_key", STRING, "public key blob from the request",
                                   nested=PUBLIC_KEY))


class PasswordMessages(MessageGroup, protocol="userauth", context="auth=password"):
    USERAUTH_PASSWD_CHANGEREQ = message(60, "RFC 4252 8", "the password has expired: choose another",
                                        Field("prompt", TEXT, "prompt text"),
                                        Field("language_tag", TEXT, "RFC 3066 tag", default=""))


class KeyboardInteractiveMessages(MessageGroup, protocol="userauth",
                                  context="auth=keyboard-interactive"):
    USERAUTH_INFO_REQUEST = message(
        60, "RFC 4256 3.2", "questions for the user (keyboard-interactive)",
        Field("name", TEXT, "title"), Field("instruction", TEXT, "instructions"),
        Field("language_tag", TEXT, "deprecated, empty", default=""),
        Field("num_prompts", UINT32, "number of prompts", count_for="prompts"),
        Repeat("prompts", (Field("prompt", TEXT, "question"),
                           Field("echo", BOOLEAN, "whether typed text may be shown")),
               count="num_prompts", doc="prompts"))
    USERAUTH_INFO_RESPONSE = message(
        61, "RFC 4256 3.4", "the user's answers (keyboard-interactive)",
        Field("num_responses", UINT32, "number of answers", count_for="responses"),
        Repeat("responses", (Field("response", TEXT, "answer"),), count="num_responses",
               doc="answers, one per prompt"))
