"""A registry of algorithms of one kind, by SSH name, in preference order."""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._default: dict[str, bool] = {}

    def register(self, name: str, entry: T, default: bool = True) -> T:
        self._entries[name] = entry
        self._default[name] = default
        return entry

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}") from None

    def get(self, name: str | None) -> T | None:
        return self._entries.get(name) if name is not None else None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def names(self) -> list[str]:
        """Every supported name, in preference order."""
        return list(self._entries)

    def defaults(self) -> list[str]:
        """The names offered unless asked otherwise (legacy ones are off), in preference order."""
        return [name for name in self._entries if self._default[name]]

    def resolve(self, spec: str | list[str] | tuple[str, ...] | None) -> list[str]:
        """A user's preference list: None for the defaults, or a name / comma-separated list."""
        if spec is None:
            return self.defaults()
        names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else list(spec)
        names = [n for n in names if n]
        unknown = [n for n in names if n not in self._entries]
        if unknown or not names:
            raise ValueError(
                f"unknown {self.kind} {', '.join(unknown) or '(empty)'}; "
                f"supported: {', '.join(self._entries)}"
            )
        return names
