"""``sshviz accounts add|list|remove``: the accounts file `serve --accounts` reads."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from .common import state_dir
from .errors import CLIError


def default_file() -> Path:
    return state_dir() / "accounts.yaml"


def register(sub) -> None:
    parser = sub.add_parser(
        "accounts", help="add, list and remove the accounts serve --accounts lets in",
        description="The accounts of a class for `sshviz serve --accounts FILE`: each a user name "
                    "with a password (kept only as a scrypt hash) and/or public keys. With "
                    "--root, serve gives each user a directory of their own.")
    parser.add_argument("--file", metavar="ACCOUNTS", default=None,
                        help=f"the accounts file (default: {default_file()})")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a user, or add to one: a password and/or keys")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--password", action="store_true", help="ask for the password (twice)")
    add.add_argument("--password-env", metavar="VAR", help="take the password from this environment variable")
    add.add_argument("--key", metavar="FILE", action="append", default=[],
                     help="an OpenSSH public key file (NAME.pub; repeatable)")
    actions.add_parser("list", help="the users, with what each can log in with")
    remove = actions.add_parser("remove", help="remove a user")
    remove.add_argument("name", metavar="NAME")
    for each in (parser, add, remove, actions.choices["list"]):
        each.set_defaults(func=accounts)


def _load(path: Path):
    from ..auth.accounts import AccountsError, parse_accounts

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CLIError(f"{path}: {exc.strerror or exc}", 1) from None
    try:
        return parse_accounts(text, str(path))
    except AccountsError as exc:
        raise CLIError(str(exc)) from None


def load_accounts(path: str) -> dict:
    """The accounts of ``path`` (for serve); CLIError if missing or wrong."""
    if not Path(path).exists():
        raise CLIError(f"--accounts {path}: no such file (make it with `sshviz accounts add NAME`)")
    accounts = _load(Path(path))
    if not accounts:
        raise CLIError(f"--accounts {path}: no accounts in it: nobody could log in")
    return accounts


def _save(path: Path, accounts: dict) -> None:
    from ..auth.accounts import dump_accounts

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(dump_accounts(accounts))
    os.replace(temporary, path)  # never a half-written file


def _password(args) -> str | None:
    if args.password_env:
        if args.password_env not in os.environ:
            raise CLIError(f"--password-env: environment variable {args.password_env} is not set")
        return os.environ[args.password_env]
    if not args.password:
        return None
    if not sys.stdin.isatty():
        raise CLIError("--password asks on a terminal; without one, use --password-env VAR")
    first = getpass.getpass(f"password for {args.name}: ")
    if not first or first != getpass.getpass("again: "):
        raise CLIError("the two passwords differ (or are empty): nothing changed")
    return first


def accounts(args) -> int:
    from ..auth.accounts import Account, AccountsError, check_name
    from ..auth.passwords import hash_password
    from ..crypto.keyfiles import KeyFileError, read_public_key

    path = Path(args.file) if args.file else default_file()
    users = _load(path)
    if args.action == "list":
        for name, account in users.items():
            what = (["password"] if account.password_hash else []) + \
                   [f"key {key.fingerprint()}" for key in account.record().authorized_keys]
            print(f"{name}: {', '.join(what) or 'nothing (cannot log in)'}")
        if not users:
            print(f"no accounts in {path}", file=sys.stderr)
        return 0
    try:
        name = check_name(args.name)
    except AccountsError as exc:
        raise CLIError(str(exc)) from None
    if args.action == "remove":
        if name not in users:
            raise CLIError(f"no account {name} in {path}")
        del users[name]
        _save(path, users)
        print(f"removed {name} from {path}", file=sys.stderr)
        return 0
    account = users.get(name) or Account(name)
    keys = []
    for key_file in args.key:
        try:
            key, comment = read_public_key(key_file)
        except (KeyFileError, OSError) as exc:
            raise CLIError(f"--key {key_file}: {getattr(exc, 'strerror', None) or exc}") from None
        keys.append(key.openssh(comment))
    password = _password(args)
    if password is None and not keys:
        raise CLIError(f"give {name} a way to log in: --password, --password-env VAR and/or --key FILE")
    if password is not None:
        account.password_hash = hash_password(password)
    account.keys += [k for k in keys if k not in account.keys]
    existed = name in users
    users[name] = account
    _save(path, users)
    print(f"{'updated' if existed else 'added'} {name} in {path}", file=sys.stderr)
    return 0
