"""Declarative checks for the fields of files a user writes: benchmarks, recipes, file options.

A schema is a `Table` of named `Field`s. Each field has a type (`Str`, `Int`, `Float`, `Bool`,
`Path`, `List`, `Table`, `Tagged`, `OneOf`, `Converted`, `Anything`), its allowed values (a
range, choices, a pattern) and whether it is required; a table may add `rules` that relate its
fields. Values are converted inside the schema (`Converted`), so every check sees them as the
reader will.
`validate` checks a parsed file against a schema and raises one error that lists every
problem, each naming the field (dotted for nested tables, e.g. `files.path`), what was expected
and what was found, with the closest known names for a misspelt field or value.

>>> from zoo import schema
>>> table = schema.Table({"name": schema.Field(schema.Str(), required=True),
...                       "steps": schema.Field(schema.Int(min=1))})
>>> schema.validate({"name": "a", "steps": 3}, table, "my.toml")
{'name': 'a', 'steps': 3}
>>> schema.validate({"name": "a", "stpes": 5}, table, "my.toml")
Traceback (most recent call last):
...
zoo.schema.SchemaError: my.toml: unknown field 'stpes' (Did you mean: 'steps'?); fields: name, steps.
>>> schema.validate({"name": 5, "steps": 0}, table, "my.toml")
Traceback (most recent call last):
...
zoo.schema.SchemaError: my.toml: name must be a non-empty string, got the integer 5; steps must be a positive integer, got 0.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path as _Path

from zoo.registry import Registry, UnknownNameError, did_you_mean


class SchemaError(ValueError):
    """A file whose fields do not match its schema; the message lists every problem."""


class _Problems(Exception):
    """Problems found below one field (collected, then raised once by `validate`)."""

    def __init__(self, problems):
        super().__init__(problems)
        self.problems = problems


_KINDS = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
          (list, "array"), (tuple, "array"), (dict, "table"),
          (datetime.datetime, "date-time"), (datetime.date, "date"), (datetime.time, "time"))


def _kind(value) -> str:
    for type_, name in _KINDS:
        if isinstance(value, type_):
            return name
    return type(value).__name__


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _found(value) -> str:
    kind = _kind(value)
    if isinstance(value, dict | list | tuple):
        return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    return f"the {kind} {_show(value)}"


def _wrong_type(name, expected, value) -> _Problems:
    return _Problems([f"{name} must be {expected}, got {_found(value)}"])


def _wrong_value(name, expected, value) -> _Problems:
    return _Problems([f"{name} must be {expected}, got {_show(value)}"])


def _number_range(min_, max_, min_exclusive, what) -> str:
    if min_ is not None and (max_ is None or what == "integer"):  # an integer's max: see Int
        if min_ == 0 and min_exclusive:
            return f"a positive {what}"
        if min_ == 1 and what == "integer" and not min_exclusive:
            return "a positive integer"
        if min_ == 0:
            return f"a non-negative {what}"
        return f"{'an' if what == 'integer' else 'a'} {what} {'>' if min_exclusive else '>='} {min_}"
    if min_ is not None:
        return (f"{'an' if what == 'integer' else 'a'} {what} in "
                f"{'(' if min_exclusive else '['}{min_}, {max_}]")
    if max_ is not None:
        return f"{'an' if what == 'integer' else 'a'} {what} <= {max_}"
    return "an integer" if what == "integer" else "a number"


class Type:
    """One kind of value. `check` returns the value (perhaps converted) or raises `_Problems`."""

    expected = "a value"

    def check(self, value, name):
        raise NotImplementedError


@dataclass
class Str(Type):
    """A string; `choices` (a tuple, or a function returning one, read when checked),
    `pattern` (a full-match regular expression, described by `what`), `empty` allowed or not."""

    choices: tuple | Callable | None = None
    pattern: str | None = None
    what: str | None = None
    empty: bool = False

    @property
    def expected(self):
        if self.choices is not None:
            return "one of " + ", ".join(self._choices())
        return self.what or ("a string" if self.empty else "a non-empty string")

    def _choices(self):
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def check(self, value, name):
        if not isinstance(value, str):
            raise _wrong_type(name, self.expected, value)
        if self.choices is not None and value not in self._choices():
            hint = did_you_mean(value, self._choices())
            raise _Problems([f"{name} must be {self.expected}, got {_show(value)}"
                             + (f" ({hint})" if hint else "")])
        if not self.empty and not value.strip():
            raise _wrong_value(name, self.expected, value)
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise _wrong_value(name, self.expected, value)
        return value


@dataclass
class Int(Type):
    """An integer (not a boolean) in `[min, max]`. A `max` is a sanity bound (a count that
    no run can use), named only to a value above it."""

    min: int | None = None
    max: int | None = None

    @property
    def expected(self):
        return _number_range(self.min, self.max, False, "integer")

    def check(self, value, name):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong_type(name, self.expected, value)
        if self.min is not None and value < self.min:
            raise _wrong_value(name, self.expected, value)
        if self.max is not None and value > self.max:
            raise _wrong_value(name, f"at most {self.max}", value)
        return value


@dataclass
class Float(Type):
    """A finite number (an integer is accepted as it is) above `min` (or at it unless
    `min_exclusive`) and below `max` (or at it unless `max_exclusive`)."""

    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False

    @property
    def expected(self):
        if self.min is not None and self.max is not None:
            return (f"a number in {'(' if self.min_exclusive else '['}{self.min}, {self.max}"
                    f"{')' if self.max_exclusive else ']'}")
        return _number_range(self.min, self.max, self.min_exclusive, "number")

    def check(self, value, name):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong_type(name, self.expected, value)
        low_ok = self.min is None or (value > self.min if self.min_exclusive else value >= self.min)
        high_ok = self.max is None or (value < self.max if self.max_exclusive else value <= self.max)
        # An integer too large for a float (10**400) is refused, not an OverflowError.
        finite = abs(value) <= sys.float_info.max if isinstance(value, int) else math.isfinite(value)
        if not finite or not low_ok or not high_ok:
            raise _wrong_value(name, self.expected, value)
        return value


class Bool(Type):
    """`true` or `false`."""

    expected = "true or false"

    def check(self, value, name):
        if not isinstance(value, bool):
            raise _wrong_type(name, self.expected, value)
        return value


class Path(Type):
    """A file or folder path: a non-empty string (or, from Python, an `os.PathLike`)."""

    expected = "a path (a non-empty string)"

    def check(self, value, name):
        if isinstance(value, os.PathLike):
            return value
        if not isinstance(value, str) or not value.strip():
            raise _wrong_type(name, self.expected, value)
        return value


class Anything(Type):
    """Any value (checked later by whatever reads it)."""

    expected = "any value"

    def check(self, value, name):
        return value


@dataclass
class OneOf(Type):
    """A value of one of `types`, tried in order."""

    types: tuple

    def __init__(self, *types):
        self.types = types

    @property
    def expected(self):
        return " or ".join(t.expected for t in self.types)

    def check(self, value, name):
        for type_ in self.types:
            try:
                return type_.check(value, name)
            except _Problems:
                continue
        raise _wrong_type(name, self.expected, value)


@dataclass
class Converted(Type):
    """A value of `type`, returned as `convert(value)` (e.g. an integer label as its string):
    what reads the file sees the converted value, and so do the checks around it (a `List`'s
    `unique` compares converted items, so `[0, "0"]` as strings is one label twice)."""

    type: Type
    convert: Callable

    @property
    def expected(self):
        return self.type.expected

    def check(self, value, name):
        return self.convert(self.type.check(value, name))


@dataclass
class List(Type):
    """An array of `item` values, with `min_length`/`max_length` items, all different when
    `unique` (compared as `item` returns them: after any `Converted`). Returned as a tuple."""

    item: Type
    min_length: int = 0
    max_length: int | None = None
    unique: bool = False

    @property
    def expected(self):
        count = ""
        if self.max_length is not None and self.max_length == self.min_length:
            count = f" of {self.min_length}"
        elif self.min_length:
            count = f" of at least {self.min_length}"
        unique = " different" if self.unique else ""
        return f"an array{count}{unique} items, each {self.item.expected}".replace(
            "an array items", "an array of items")

    def check(self, value, name):
        if not isinstance(value, list | tuple):
            raise _wrong_type(name, self.expected, value)
        if len(value) < self.min_length or (  # before the items: one message, no long walk
                self.max_length is not None and len(value) > self.max_length):
            raise _Problems([f"{name} must be {self.expected}, got {len(value)} item(s)"])
        problems, items = [], []
        for i, item in enumerate(value):
            try:
                items.append(self.item.check(item, f"{name}[{i}]"))
            except _Problems as found:
                problems += found.problems
        if problems:
            raise _Problems(problems)
        if self.unique:
            seen = set()
            for item in items:
                if item in seen:
                    raise _Problems([f"{name} must hold different items, got {_show(item)} twice"])
                seen.add(item)
        return tuple(items)


@dataclass(frozen=True)
class Field:
    """One named field of a table: its type, whether it must be given, whether `None` (JSON's
    null, an absent optional value) is accepted, and a description for messages."""

    type: Type
    required: bool = False
    nullable: bool = False


@dataclass
class Table(Type):
    """A table with the named `fields` (closed: any other key is an error with the closest
    names), or with any keys whose values are `values` (open, when `fields` is None), or both:
    the named `fields` checked as such and any other key's value by `values` (`Anything()` for
    a file that may carry more than its reader checks, e.g. a result record).

    `rules` relate fields: functions of the checked values (a dict) returning a problem (a
    string, or a list of them) or None; they run only when every field is well typed."""

    fields: dict | None = None
    values: Type | None = None
    rules: tuple = ()
    what: str = "a table"

    @property
    def expected(self):
        return self.what

    def check(self, value, name):
        if not isinstance(value, dict):
            raise _wrong_type(name, self.expected, value)
        prefix = f"{name}." if name else ""
        problems, result = [], {}
        if self.fields is not None:
            if self.values is None:
                problems += self._unknown(value, name)
            missing = [key for key, f in self.fields.items() if f.required and key not in value]
            if missing:
                problems.append("missing required field(s) " + ", ".join(
                    f"'{prefix}{key}'" for key in missing))
        for key, item in value.items():
            spec = (self.fields or {}).get(key)
            type_ = spec.type if spec is not None else self.values
            if type_ is None:
                continue
            if item is None and spec is not None and spec.nullable:
                result[key] = None
                continue
            try:
                result[key] = type_.check(item, f"{prefix}{key}")
            except _Problems as found:
                problems += found.problems
        if not problems:
            for rule in self.rules:
                found = rule(result)
                problems += [found] if isinstance(found, str) else list(found or ())
        if problems:
            raise _Problems(problems)
        return result

    def _unknown(self, value, name):
        prefix = f"{name}." if name else ""
        known = list(self.fields)
        problems = []
        for key in value:
            if key in self.fields:
                continue
            hint = did_you_mean(str(key), known)
            problems.append(f"unknown field '{prefix}{key}'{f' ({hint})' if hint else ''}")
        if problems:  # the known fields once, after the last unknown one
            problems[-1] += f"; fields{' of ' + name if name else ''}: {', '.join(known)}"
        return problems


@dataclass
class Tagged(Type):
    """A table whose `tag` field (e.g. `kind`) chooses which `variants` table checks it."""

    tag: str
    variants: dict
    what: str = "a table"

    @property
    def expected(self):
        return self.what

    def check(self, value, name):
        if not isinstance(value, dict):
            raise _wrong_type(name, self.expected, value)
        prefix = f"{name}." if name else ""
        if self.tag not in value:
            raise _Problems([f"missing required field '{prefix}{self.tag}' (one of "
                             f"{', '.join(self.variants)})"])
        Str(choices=tuple(self.variants)).check(value[self.tag], f"{prefix}{self.tag}")
        return self.variants[value[self.tag]].check(value, name)


def problems(value, type_: Type, name: str) -> list[str]:
    """The problems of `value` (the field `name`) against `type_`, for a table's `rules` that
    check a field against a schema built when the file is read; [] when it fits."""
    try:
        type_.check(value, name)
    except _Problems as found:
        return found.problems
    return []


def validate(data, table: Type, source: str, error: type = SchemaError):
    """`data` checked against `table`: the values (lists as tuples), or `error` raised with a
    message `"<source>: <problem>; <problem>."` naming each field, what it must be and what it
    is."""
    try:
        return table.check(data, "")
    except _Problems as found:
        raise error(f"{source}: " + "; ".join(found.problems) + ".") from None


#: Names that become file and page names (benchmark ids, recipe entries): letters, digits,
#: ".", "_" and "-", starting with a letter or digit.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
NAME = Str(pattern=NAME_PATTERN, what="a name of letters, digits, '.', '_' and '-' (starting "
           "with a letter or digit)")


@dataclass
class Scan:
    """Definition files read from folders: the good ones by name in `registry`, and the
    error of each file that cannot be used in `problems`, by name (the file's stem)."""

    registry: Registry
    problems: dict

    def get(self, name: str):
        """The definition; its file's error if that file is bad; for an unknown name, the
        closest names (and the files that could not be read)."""
        if name in self.problems:
            raise self.problems[name]
        try:
            return self.registry.get(name)
        except UnknownNameError as error:
            if not self.problems:
                raise
            bad = ", ".join(str(e.path) for e in self.problems.values())
            raise UnknownNameError(f"{error} (Files that could not be read: {bad}.)") from None


def toml_files(folder):
    """The `*.toml` files of `folder`, sorted: what `scan` reads by default."""
    return sorted(folder.glob("*.toml"))


def toml_files_but(key: str, own_key: str):
    """A `files` lister for `scan`: the `*.toml` files of a folder, except those of another
    kind of definition, which have `key` and not `own_key` (recipes, with an `entry`, beside
    benchmarks, with an `id`, in one folder a user keeps both in). A file that cannot be read
    as TOML is listed: parsing it says what is wrong."""
    from zoo import textio

    def listed(folder):
        kept = []
        for file in toml_files(folder):
            try:
                table = textio.read_toml(file)
            except (OSError, UnicodeDecodeError, ValueError):
                table = {}
            if not (key in table and own_key not in table):
                kept.append(file)
        return kept

    return listed


def scan(folders, parse, name_of, kind: str, error: type, *, files=toml_files, shipped=None,
         rename: str = "") -> Scan:
    """Parses every definition file of `folders` (a search path, in order; `files(folder)` lists
    a folder's, by default its `*.toml` files) with `parse`, keeping going past a bad file: one
    bad file never hides the others.

    One rule for a name defined twice (in two folders of the search path): neither definition
    is used, and `get` raises `error` naming both files and the fix: rename yours (the one
    outside `shipped`, the folder zoo ships; `rename` says what to rename, e.g. " (the file and
    its `id`)"). Which one was meant is never guessed: a user's file never silently replaces a
    shipped one, nor is it silently ignored. A name whose file is bad is not usable either.
    A folder listed twice on the path is read once."""
    definitions, problems, read = {}, {}, set()
    for folder in folders:
        if not folder.is_dir() or folder.resolve() in read:
            continue
        read.add(folder.resolve())
        for file in files(folder):
            try:
                item = parse(file)
            except error as problem:
                problem.path = file
                problems.setdefault(file.stem if file.is_file() else file.name, problem)
                continue
            definitions.setdefault(name_of(item), []).append((file, item))
    found = Registry(kind)
    for name, defined in definitions.items():
        if len(defined) > 1:
            problems.setdefault(name, _clash(name, [file for file, _ in defined], kind, error,
                                             shipped, rename))
        elif name not in problems:
            found.register(name, defined[0][1])
    return Scan(found, problems)


def _clash(name, files, kind, error, shipped, rename):
    """The `error` for `kind` `name` defined in each of `files` (search-path order)."""
    ours = [f for f in files if shipped is not None
            and _Path(shipped).resolve() in _Path(f).resolve().parents]
    yours = [f for f in files if f not in ours]
    rule = (f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} name must be unique on the search "
            "path, so neither is used")
    if ours and yours:
        problem = error(f"{yours[0]}: the {kind} '{name}' is also shipped with zoo ({ours[0]}); "
                        f"{rule}. Rename yours{rename}.")
    else:
        problem = error(f"{files[1]}: the {kind} '{name}' is also defined in {files[0]}; "
                        f"{rule}. Rename one of them{rename}.")
    problem.path = yours[0] if ours and yours else files[1]
    return problem
