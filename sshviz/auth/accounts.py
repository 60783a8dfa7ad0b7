"""Accounts for a class: who may log in to ``sshviz serve``, with a scrypt password hash and/or
authorized keys each. Read from and written to text (YAML); the command line does the file I/O.
Names are plain user names, so that each can also name a user's own directory."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from ..crypto.keyfiles import KeyFileError, parse_authorized_keys
from .server import UserRecord

NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\Z")
VERSION = 1


class AccountsError(ValueError):
    """An accounts file or name that cannot be used; the message says where and why."""


@dataclass
class Account:
    """One user: the stored password (scrypt, as ``hash_password`` makes it) and public keys
    as OpenSSH writes them (``ssh-ed25519 AAAA... comment``)."""

    name: str
    password_hash: str | None = None
    keys: list[str] = field(default_factory=list)

    def record(self) -> UserRecord:
        keys, problems = parse_authorized_keys("\n".join(self.keys), f"account {self.name}")
        if problems:
            raise AccountsError(problems[0])
        return UserRecord(self.password_hash, keys)


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise AccountsError(f"{name!r} is not a user name: lower-case letters, digits, _ . - "
                            "(a letter or _ first, at most 32)")
    return name


def parse_accounts(text: str, source: str = "accounts") -> dict[str, Account]:
    try:
        document = yaml.safe_load(text) if text.strip() else {"version": VERSION, "accounts": {}}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise AccountsError(f"{source}:{where} not YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(document, dict) or not isinstance(document.get("accounts", {}), dict):
        raise AccountsError(f"{source}: expected 'accounts:' mapping names to their password and keys")
    if document.get("version", VERSION) != VERSION:
        raise AccountsError(f"{source}: version {document.get('version')!r}; this sshviz reads {VERSION}")
    accounts = {}
    for name, entry in (document.get("accounts") or {}).items():
        check_name(str(name))
        entry = entry or {}
        if not isinstance(entry, dict):
            raise AccountsError(f"{source}: account {name}: expected 'password:' and/or 'keys:'")
        password, keys = entry.get("password"), entry.get("keys") or []
        if password is not None and not str(password).startswith("scrypt$"):
            raise AccountsError(f"{source}: account {name}: the password must be a scrypt hash "
                                "(made by `sshviz accounts add NAME --password`)")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise AccountsError(f"{source}: account {name}: 'keys' is a list of public key lines")
        account = Account(str(name), password, list(keys))
        try:
            account.record()
        except (AccountsError, KeyFileError) as exc:
            raise AccountsError(f"{source}: account {name}: {exc}") from None
        accounts[str(name)] = account
    return accounts


def dump_accounts(accounts: dict[str, Account]) -> str:
    body = {name: {k: v for k, v in (("password", a.password_hash), ("keys", a.keys)) if v}
            for name, a in sorted(accounts.items())}
    return ("# sshviz accounts: `sshviz accounts add/list/remove`; passwords only as scrypt hashes\n"
            + yaml.safe_dump({"version": VERSION, "accounts": body}, sort_keys=False, width=1000))
