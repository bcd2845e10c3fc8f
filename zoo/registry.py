"""One registry type for everything zoo names: models, benchmarks, recipes.

A `Registry` maps names to entries. It refuses duplicate names, lists names
with shell-style wildcards in natural order, and answers an unknown name with
the closest registered ones.

Example:

>>> from zoo.registry import Registry
>>> colours = Registry("colour")
>>> _ = colours.register("red", {"rgb": (255, 0, 0)})
>>> colours.names("r*")
['red']
>>> colours.get("rde")
Traceback (most recent call last):
...
zoo.registry.UnknownNameError: Unknown colour 'rde'. Did you mean: 'red'? Known colours: red.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterator
from typing import Any


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists close names."""

    def __str__(self) -> str:  # KeyError would repr() the message.
        return str(self.args[0])


class DuplicateNameError(ValueError):
    """Raised when a name is registered twice."""


def natural_key(name: str) -> list:
    """Sort key that orders `vit_2` before `vit_10`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def closest(name: str, names, n: int = 5) -> list[str]:
    """The known `names` closest to an unknown `name`, for "did you mean" hints: those that
    extend it first (`vit_tiny` -> `vit_tiny_patch4_28`), then similar ones (a typo)."""
    names = list(names)
    prefixed = sorted((k for k in names if k.startswith(name)), key=natural_key)
    similar = difflib.get_close_matches(name, names, n=n, cutoff=0.5)
    return list(dict.fromkeys(prefixed + similar))[:n]


def did_you_mean(name, names, n: int = 3) -> str:
    """The one "did you mean" hint of zoo's messages: `Did you mean: 'a', 'b'?` with the
    `closest` known `names` to an unknown `name` (any value; a non-string has none), or "" when
    none is close. Messages put it after the sentence naming the unknown value, or in
    parentheses inside a list of problems.

    >>> did_you_mean("stpes", ["steps", "seed"])
    "Did you mean: 'steps'?"
    >>> did_you_mean("xyz", ["steps"])
    ''
    """
    close = closest(name, [str(k) for k in names], n) if isinstance(name, str) else []
    return f"Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""


def did_you_mean_path(path, n: int = 3) -> str:
    """`did_you_mean` for a file or folder that does not exist: the closest entries of the
    folder it names (a typo in its last part), written as the path was (`data/trian` ->
    `'data/train'`); "" when its folder does not exist or holds nothing close.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "my_digits").mkdir()
    >>> did_you_mean_path(folder / "my_digit").endswith("my_digits'?")
    True
    """
    import os
    from pathlib import Path

    path = Path(os.fspath(path))
    try:
        names = [p.name for p in path.expanduser().parent.iterdir() if p.name != path.name]
    except OSError:
        return ""
    close = closest(path.name, names, n)
    return (f"Did you mean: {', '.join(repr(str(path.with_name(c))) for c in close)}?"
            if close else "")


class Registry:
    """A strict, typo-tolerant name -> entry mapping.

    Args:
        kind: str. What the entries are ("model", "benchmark", ...); used in
            error messages.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str, entry: Any) -> Any:
        if not isinstance(name, str) or not name:
            raise ValueError(f"A {self.kind} name must be a non-empty string, got {name!r}.")
        if name in self._entries:
            raise DuplicateNameError(
                f"The {self.kind} name '{name}' is already registered; choose another name."
            )
        self._entries[name] = entry
        return entry

    def names(self, pattern: str | None = None) -> list[str]:
        names = self._entries.keys()
        if pattern:
            names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        return sorted(names, key=natural_key)

    def closest(self, name: str, n: int = 5) -> list[str]:
        """Names that extend `name` first (`vit_tiny` -> `vit_tiny_patch4_28`), then similar ones."""
        return closest(name, self._entries, n)

    def get(self, name: str) -> Any:
        try:
            return self._entries[name]
        except KeyError:
            pass
        hint = did_you_mean(str(name), self._entries)
        known = self.names()
        listing = ", ".join(known[:30]) + (", ..." if len(known) > 30 else "")
        raise UnknownNameError(
            f"Unknown {self.kind} '{name}'. {hint + ' ' if hint else ''}Known "
            f"{_plural(self.kind)}: {listing}."
        ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


def _plural(noun: str) -> str:
    return noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"

