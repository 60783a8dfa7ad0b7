"""Key files: OpenSSH private keys (openssh-key-v1 and PEM), public keys in OpenSSH's one-line
form and the RFC 4716 "SSH2 PUBLIC KEY" form, and authorized_keys files.

Reading and writing private keys is `cryptography`'s own code; this module only picks the
format, turns failures into one readable ``KeyFileError``, and writes files with mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from cryptography.hazmat.primitives import serialization

from ..wire.types import DecodeError
from .errors import KeyFileError
from .keys import PrivateKey, PublicKey




# -- private keys -----------------------------------------------------------------------------


def load_private_key(data: bytes | str, passphrase: str | None = None, source: str = "key") -> PrivateKey:
    if isinstance(data, str):
        data = data.encode()
    secret = passphrase.encode() if passphrase is not None else None
    try:
        if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
            key = serialization.load_ssh_private_key(data, secret)
        elif b"-----BEGIN" in data and b"PRIVATE KEY-----" in data:
            key = serialization.load_pem_private_key(data, secret)
        else:
            raise KeyFileError(f"{source}: not an OpenSSH or PEM private key")
    except (TypeError, ValueError) as exc:
        if isinstance(exc, KeyFileError):
            raise
        text = str(exc).lower()
        if "password" in text and secret is None:
            raise KeyFileError(f"{source}: the key is encrypted; a passphrase is needed") from None
        if "password" in text or "decrypt" in text or ("checksum" in text and secret is not None):
            raise KeyFileError(f"{source}: wrong passphrase") from None
        raise KeyFileError(f"{source}: cannot read the private key ({exc})") from None
    except Exception as exc:  # e.g. bcrypt missing for an encrypted openssh-key-v1 file
        raise KeyFileError(f"{source}: cannot read the private key ({exc})") from None
    try:
        return PrivateKey(key, comment="")
    except ValueError as exc:
        raise KeyFileError(f"{source}: unsupported key ({exc})") from None


def read_private_key(path: str, passphrase: str | None = None) -> PrivateKey:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror}") from None
    return load_private_key(data, passphrase, source=path)


def private_key_bytes(key: PrivateKey, passphrase: str | None = None, fmt: str = "openssh") -> bytes:
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    if fmt == "openssh":
        return key.crypto_key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.OpenSSH, encryption)
    if fmt == "pem":
        return key.crypto_key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8, encryption)
    raise ValueError(f"unknown private key format {fmt!r}")


def write_private_key(key: PrivateKey, path: str, passphrase: str | None = None, fmt: str = "openssh") -> None:
    """Write with mode 0600 from the first byte (never readable by others, even briefly)."""
    data = private_key_bytes(key, passphrase, fmt)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


# -- public keys ------------------------------------------------------------------------------


def parse_public_key_line(line: str, source: str = "public key") -> tuple[PublicKey, str]:
    """``<type> <base64 blob> [comment]`` as in id_ed25519.pub."""
    parts = line.strip().split(None, 2)
    if len(parts) < 2:
        raise KeyFileError(f"{source}: expected '<type> <base64> [comment]'")
    key_type, blob_text = parts[0], parts[1]
    key = _key_from_base64(blob_text, source)
    if key.key_type != key_type:
        raise KeyFileError(f"{source}: line says {key_type} but the key is {key.key_type}")
    return key, parts[2] if len(parts) > 2 else ""


def _key_from_base64(text: str, source: str) -> PublicKey:
    try:
        blob = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{source}: the key is not valid base64") from None
    try:
        return PublicKey.from_blob(blob)
    except DecodeError as exc:
        raise KeyFileError(f"{source}: {exc}") from None


RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----"
RFC4716_END = "---- END SSH2 PUBLIC KEY ----"


def parse_rfc4716(text: str, source: str = "public key") -> tuple[PublicKey, dict[str, str]]:
    """RFC 4716: begin/end markers, headers (``Tag: value``, continued with a trailing
    backslash), then the base64 body. Returns the key and its headers."""
    lines = [line.rstrip("\r") for line in text.strip().splitlines()]
    if not lines or lines[0].strip() != RFC4716_BEGIN:
        raise KeyFileError(f"{source}: missing '{RFC4716_BEGIN}'")
    try:
        end = [line.strip() for line in lines].index(RFC4716_END)
    except ValueError:
        raise KeyFileError(f"{source}: missing '{RFC4716_END}'") from None
    headers: dict[str, str] = {}
    body: list[str] = []
    pending = ""
    for line in lines[1:end]:
        if pending or (":" in line and not body):
            line = pending + line
            if line.endswith("\\"):
                pending = line[:-1]
                continue
            pending = ""
            tag, _, value = line.partition(":")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            headers[tag.strip()] = value
        else:
            body.append(line.strip())
    if pending:
        raise KeyFileError(f"{source}: a header ends with a continuation backslash")
    return _key_from_base64("".join(body), source), headers


def format_rfc4716(key: PublicKey, comment: str = "") -> str:
    """The key in RFC 4716 form: header lines at most 72 bytes, body lines of 70 characters."""
    lines = [RFC4716_BEGIN]
    if comment:
        header = f'Comment: "{comment}"'
        while len(header.encode()) > 72:
            cut = 71
            while len(header[:cut].encode()) > 71:
                cut -= 1
            lines.append(header[:cut] + "\\")
            header = header[cut:]
        lines.append(header)
    body = base64.b64encode(key.blob).decode()
    lines += [body[i:i + 70] for i in range(0, len(body), 70)]
    lines.append(RFC4716_END)
    return "\n".join(lines) + "\n"


def load_public_key(text: str, source: str = "public key") -> tuple[PublicKey, str]:
    """Either form; returns the key and its comment."""
    if text.lstrip().startswith("---- BEGIN SSH2 PUBLIC KEY"):
        key, headers = parse_rfc4716(text, source)
        return key, headers.get("Comment", "")
    return parse_public_key_line(text, source)


def read_public_key(path: str) -> tuple[PublicKey, str]:
    try:
        with open(path, encoding="utf-8") as f:
            return load_public_key(f.read(), path)
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror}") from None


# -- authorized_keys --------------------------------------------------------------------------



def parse_authorized_keys(text: str, source: str = "authorized_keys") -> tuple[list[PublicKey], list[str]]:
    """Keys from an OpenSSH authorized_keys file. Returns (keys, problems); a bad line is
    reported and skipped, never fatal. A key with options (restrict, command=, from=, ...) is
    skipped too: this server enforces none of them, and a key meant to be restricted must not
    get full access."""
    keys, problems = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        rest = line
        if not _looks_like_key_type(rest.split(None, 1)[0]):
            # Options come first: a comma-separated list that may hold quoted spaces.
            match = re.match(r'(?:[^\s"]|"(?:[^"\\]|\\.)*")+', rest)
            options = match.group(0) if match else rest
            problems.append(f"{source}:{number}: key options ({options[:60]}) are not supported; "
                            f"the key is skipped rather than given full access")
            continue
        try:
            keys.append(parse_public_key_line(rest, f"{source}:{number}")[0])
        except KeyFileError as exc:
            problems.append(str(exc))
    return keys, problems


def _looks_like_key_type(token: str) -> bool:
    return token.startswith(("ssh-", "ecdsa-", "sk-", "rsa-"))
