"""Wireshark's SSH key log: the secrets that open a captured session.

One line per key exchange, found by the KEXINIT cookie of the side the secret belongs to:

    <cookie-hex> <private-key-hex>                    the form tshark 4.0 reads
    <cookie-hex> PRIVATE_KEY <private-key-hex>        the newer form, same meaning
    <cookie-hex> SHARED_SECRET <shared-secret-hex>    the newer form: K itself

A private key is that side's ephemeral key exchange secret (an X25519 scalar, an ECDH or
Diffie-Hellman exponent); with it and the peer's public value the shared secret K is computed
again. Lines starting with ``#`` and blank lines are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..crypto.random import RandomSource
from ..events import KexComputed
from ..transport.kex import KEX_METHODS, KexExchange, encode_k
from ..wire.catalog import MSG
from .files import OpenError
from .model import Trace

PRIVATE_KEY = "PRIVATE_KEY"
SHARED_SECRET = "SHARED_SECRET"


class KeyLogError(OpenError):
    """A key log that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class KeyLogEntry:
    cookie: bytes
    kind: str  # PRIVATE_KEY | SHARED_SECRET
    value: bytes
    where: str  # "FILE line N", for messages

    def describe(self) -> str:
        return f"{self.where} ({'private key' if self.kind == PRIVATE_KEY else 'shared secret'} " \
               f"for cookie {self.cookie.hex()[:12]}…)"


class KeyLog:
    def __init__(self, entries: list[KeyLogEntry], source: str = "key log"):
        self.source = source
        self.entries = entries
        self._by_cookie: dict[bytes, list[KeyLogEntry]] = {}
        for entry in entries:
            self._by_cookie.setdefault(entry.cookie, []).append(entry)
        self.used: set[KeyLogEntry] = set()

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def load(cls, path: str | Path) -> "KeyLog":
        path = Path(path)
        try:
            text = path.read_text(encoding="ascii")
        except UnicodeDecodeError:
            raise KeyLogError(f"{path}: not a key log (not plain ASCII text)") from None
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, source: str = "key log") -> "KeyLog":
        entries = []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            entries.append(_parse_line(line, f"{source} line {number}"))
        if not entries:
            raise KeyLogError(f"{source}: no key log lines in it (expected '<cookie-hex> "
                              f"<private-key-hex>' or '<cookie-hex> SHARED_SECRET <hex>')")
        return cls(entries, source)

    def candidates(self, client_cookie: bytes, server_cookie: bytes) -> list[tuple[str, KeyLogEntry]]:
        """The entries for one key exchange, found by either side's KEXINIT cookie (a key log
        may hold many sessions: only this one's cookies match), each with whose secret it is
        ("client" or "server"). Private keys come first: K computed from one is checked
        against that side's public value, and the agent reports the values it used; then
        shared secrets, which work for every method."""
        found = [(side, entry) for side, cookie in (("client", client_cookie), ("server", server_cookie))
                 for entry in self._by_cookie.get(cookie, [])]
        found.sort(key=lambda pair: pair[1].kind == SHARED_SECRET)
        return found

    def unused(self) -> list[KeyLogEntry]:
        return [e for e in self.entries if e not in self.used]


def _parse_line(line: str, where: str) -> KeyLogEntry:
    parts = line.split()
    if len(parts) == 2:
        cookie, kind, value = parts[0], PRIVATE_KEY, parts[1]
    elif len(parts) == 3 and parts[1] in (PRIVATE_KEY, SHARED_SECRET):
        cookie, kind, value = parts
    else:
        raise KeyLogError(f"{where}: expected '<cookie-hex> <private-key-hex>' or "
                          f"'<cookie-hex> PRIVATE_KEY|SHARED_SECRET <hex>', found {line[:60]!r}")
    try:
        cookie_bytes, value_bytes = bytes.fromhex(cookie), bytes.fromhex(value)
    except ValueError:
        raise KeyLogError(f"{where}: the cookie and the key must be hex digits") from None
    if len(cookie_bytes) != 16:
        raise KeyLogError(f"{where}: a KEXINIT cookie is 16 bytes (32 hex digits), not "
                          f"{len(cookie_bytes)}")
    if not value_bytes:
        raise KeyLogError(f"{where}: the key is empty")
    return KeyLogEntry(cookie_bytes, kind, value_bytes, where)


# -- recomputing K ----------------------------------------------------------------------------


class SecretMismatch(ValueError):
    """The logged secret does not belong to this key exchange."""


class _LoggedSecret(RandomSource):
    """A random source that hands out one logged private key: the key exchange agents draw
    their ephemeral secret from a random source, so giving them this one rebuilds the agent
    that side used, and the agent's own code computes K (with its checks)."""

    def __init__(self, secret: bytes):
        self.secret = secret

    def bytes(self, n: int) -> bytes:
        if len(self.secret) != n:
            raise SecretMismatch(f"a {n}-byte private key was expected, the log has {len(self.secret)} bytes")
        return self.secret

    def below_power_of_two(self, bits: int) -> int:
        return int.from_bytes(self.secret, "big")

    def fork(self, label: str) -> "_LoggedSecret":
        return self


def shared_secret(exchange: KexExchange, entry: KeyLogEntry, side: str) -> tuple[bytes, dict]:
    """K (encoded for hashing) for one key exchange from a key log entry, and the values the
    agent reports (for the trace). Raises SecretMismatch, or KexError for invalid values."""
    method = exchange.method
    if entry.kind == SHARED_SECRET:
        value = int.from_bytes(entry.value, "big") if method.k_encoding == "mpint" else entry.value
        return encode_k(method.k_encoding, value), {"shared_secret": entry.value}
    if method.private_key_insufficient:
        raise SecretMismatch(f"{method.name} {method.private_key_insufficient}: log its SHARED_SECRET instead")
    agent = exchange.family.make_agent(exchange, _LoggedSecret(entry.value))
    client, server = exchange.client_value, exchange.server_value
    mine, theirs = (client, server) if side == "client" else (server, client)
    if agent.public != mine:
        raise SecretMismatch(f"its public value does not match the {side}'s in this key exchange")
    K = agent.client_finish(theirs) if side == "client" else agent.server_respond(theirs)[1]
    return K, dict(agent.details)


# -- writing a key log from a trace -----------------------------------------------------------


def keylog_lines(trace: Trace, form: str = "auto") -> list[str]:
    """Key log lines for every key exchange in ``trace`` whose secret a side reported, found by
    that side's KEXINIT cookie.

    ``form`` "auto" writes, for each side, the two-field private key form when the key exchange
    has a single private value (what tshark 4.0 and 4.4 read), else the ``SHARED_SECRET`` form
    (K itself: the hybrids need it); "shared" writes ``SHARED_SECRET`` lines for every key
    exchange (sshviz reads them all; tshark 4.4 only for curve25519, and given both forms for a
    finite-field group it takes this one and decrypts nothing, so "auto" does not add it)."""
    lines = []
    cookies = _kexinit_cookies(trace)
    for side, kex, round_number in _kex_results(trace):
        cookie = cookies.get((side, round_number))
        if cookie is None:
            continue
        private = _single_private_value(kex)
        if form == "auto" and private is not None:
            lines.append(f"{cookie.hex()} {private.hex()}")
            continue
        value = kex.K_value
        raw = value if isinstance(value, bytes) else value.to_bytes((value.bit_length() + 7) // 8, "big")
        lines.append(f"{cookie.hex()} {SHARED_SECRET} {raw.hex()}")
    return list(dict.fromkeys(lines))


def _kexinit_cookies(trace: Trace) -> dict[tuple[str, int], bytes]:
    """(side, key exchange round) -> that side's KEXINIT cookie."""
    rounds = {"client": 0, "server": 0}
    cookies = {}
    for event in trace.events:
        message = event.message
        if message is not None and message.spec is MSG.KEXINIT:
            side = event.sender
            cookies[(side, rounds[side])] = message["cookie"]
            rounds[side] += 1
    return cookies


def _kex_results(trace: Trace):
    """(side, KexComputed, round) for each key exchange, once per side."""
    rounds = {"client": 0, "server": 0}
    for event in trace.events:
        for side, change in event.changes:
            if isinstance(change, KexComputed):
                yield side, change, rounds[side]
                rounds[side] += 1


def _single_private_value(kex: KexComputed) -> bytes | None:
    secrets = kex.secrets
    if "private_key" in secrets:
        value = secrets["private_key"]
        if isinstance(value, int):  # an ECDH scalar: as many bytes as the curve's order needs
            method = KEX_METHODS.get(kex.method)
            size = method.private_key_size if method and method.private_key_size else None
            return value.to_bytes(size or (value.bit_length() + 7) // 8, "big")
        return value
    if "private_exponent" in secrets:
        value = secrets["private_exponent"]
        return value.to_bytes((value.bit_length() + 7) // 8, "big")
    return None
