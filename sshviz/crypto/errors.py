"""Errors the crypto layer reports to users, importable without loading the crypto itself."""


class KeyFileError(ValueError):
    """A key file that cannot be used, and why."""
