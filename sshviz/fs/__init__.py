"""Filesystems the server exposes: a real directory confined to its root."""

from .confined import ConfinedFS, FSError

__all__ = ["ConfinedFS", "FSError"]
