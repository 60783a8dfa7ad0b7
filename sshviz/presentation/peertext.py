"""Text a peer sent, made safe to print on a terminal or in a log.

User names, DISCONNECT descriptions, version lines, banners, prompts, file names: anything a
peer chose may hold escape sequences (which clear the screen or set the title) or CR/LF (which
forge log lines such as ``127.0.0.1:4242: student password success``). ``visible`` shows every
control or otherwise non-printable character as an escape (``\\x1b``, ``\\r``, ``\\n``,
``\\u202e``); ``word`` quotes a value meant to be one word when it is not one."""

from __future__ import annotations

NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in NAMED:
        return NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str | bytes, keep: str = "", limit: int | None = None) -> str:
    """``text`` with each non-printable character (``str.isprintable``: controls, format
    characters such as bidi overrides, separators other than space) escaped, except those in
    ``keep`` (such as "\\n" for a multi-line banner). Bytes are read as UTF-8, invalid bytes
    shown as ``\\xNN``. Past ``limit`` characters the rest is only counted."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "backslashreplace")
    cut = 0
    if limit is not None and len(text) > limit:
        text, cut = text[:limit], len(text) - limit
    if not text.isprintable() and not _printable_but(text, keep):
        text = "".join(c if c.isprintable() or c in keep else _escape(c) for c in text)
    return text + (f"… ({cut} more characters)" if cut else "")


def _printable_but(text: str, keep: str) -> bool:
    """Whether ``text`` is printable but for the characters in ``keep`` (so that a long
    multi-line text skips the character by character escaping when it needs none)."""
    for character in keep:
        text = text.replace(character, "")
    return bool(keep) and text.isprintable()


def word(text: str, limit: int = 100) -> str:
    """A value that should be one word (a user name, a method name): as it is when it is one,
    else quoted with its specials escaped, so it can neither look like more words nor hide."""
    if text and text.isprintable() and len(text) <= limit and not any(
            c.isspace() or c in "'\"\\" for c in text):
        return text
    quoted = repr(text[:limit])
    return quoted + (f"… ({len(text) - limit} more characters)" if len(text) > limit else "")


def banner_text(text: str) -> str:
    """A multi-line text from a peer (a banner, instructions): lines stay lines (CR LF counts
    as a line end), everything else non-printable is escaped."""
    return visible(text.replace("\r\n", "\n"), keep="\n\t")
