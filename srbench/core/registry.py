"""One small registry type for every name -> thing table of srbench.

Models, attacks, datasets, executors, degradations and feature extractors
are each a :class:`Registry`, so every unknown name gets the same
did-you-mean error. Entries are lazy: a "module:object" string is imported
only when the entry is used, so listing names never imports heavy code.
Third-party packages add entries through Python entry points (groups
``srbench.models``, ``srbench.attacks``, ``srbench.datasets``), exactly like
the built-in zoo; the internal tables have no group.
"""
from __future__ import annotations

import difflib
import fnmatch
import importlib
from importlib.metadata import entry_points
from typing import Any, Iterator

from srbench.core.errors import UserError, shown


def import_object(spec: str) -> Any:
    """Import "package.module:attr.sub" and return the object."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"lazy entry {spec!r} must look like 'module:object'")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    """Name -> object, filled lazily from code and from an entry-point group (None: code only)."""

    def __init__(self, kind: str, group: str | None = None):
        self.kind = kind
        self.group = group
        self._entries: dict[str, Any] = {}
        self._loaded: dict[str, Any] = {}
        self._scanned = False

    def _scan_entry_points(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        if self.group is None:
            return
        for ep in entry_points(group=self.group):
            self._entries.setdefault(ep.name, ep.value)

    def register(self, name: str, obj: Any = None, *, overwrite: bool = False) -> Any:
        """Register ``obj`` (an object or a lazy "module:object" string) under ``name``.

        Used as a decorator when ``obj`` is omitted.
        """
        if obj is None:
            def decorator(target: Any) -> Any:
                self.register(name, target, overwrite=overwrite)
                return target
            return decorator
        self._scan_entry_points()
        if name in self._entries and not overwrite and self._entries[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it")
        self._entries[name] = obj
        self._loaded.pop(name, None)
        return obj

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)
        self._loaded.pop(name, None)

    def names(self, pattern: str | None = None) -> list[str]:
        self._scan_entry_points()
        names = sorted(self._entries)
        if pattern:
            names = [n for n in names if fnmatch.fnmatch(n, pattern)]
        return names

    def __contains__(self, name: str) -> bool:
        self._scan_entry_points()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> Any:
        """Return the registered object, importing it on first use."""
        self._scan_entry_points()
        if name not in self._entries:
            raise UserError(self.unknown_message(name))
        if name not in self._loaded:
            entry = self._entries[name]
            self._loaded[name] = import_object(entry) if isinstance(entry, str) else entry
        return self._loaded[name]

    def unknown_message(self, name: str) -> str:
        names = self.names()
        return f"unknown {self.kind} {shown(name)}.{did_you_mean(name, names)} Available: {', '.join(names) or '(none)'}."


def did_you_mean(name: str, choices: list[str]) -> str:
    """`` Did you mean 'x'?`` for up to three close matches among ``choices`` ('' when none is close)."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


