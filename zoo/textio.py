"""Reading text files a user writes or edits: UTF-8 with or without a byte-order mark.

Editors on Windows often start a UTF-8 file with a byte-order mark (U+FEFF). Read as plain
UTF-8 it stays in the text: glued to the first sentence of a dataset file (which then scores
lower), a TOML file's first key, a JSON file's first brace. Every reader of user text goes
through `codec` (or the helpers here), so a mark at the start is dropped alike everywhere.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
>>> _ = path.write_bytes("\\ufeffHola".encode("utf-8"))
>>> read_text(path)
'Hola'
>>> codec("UTF8"), codec("latin-1")
('utf-8-sig', 'latin-1')
"""

from __future__ import annotations

import codecs
import json
import tomllib
from pathlib import Path


def codec(encoding: str) -> str:
    """The codec to decode user text declared as `encoding`: "utf-8-sig" for UTF-8 in any
    spelling (it drops a leading byte-order mark, and reads a file without one unchanged),
    `encoding` itself otherwise. Raises LookupError for an unknown encoding."""
    name = codecs.lookup(encoding).name
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else encoding


def read_text(path, encoding: str = "utf-8") -> str:
    """The text of a file, a leading UTF-8 byte-order mark dropped."""
    return Path(path).read_text(encoding=codec(encoding))


def read_json(path):
    """A JSON file's value (UTF-8, with or without a byte-order mark)."""
    return json.loads(read_text(path))


def read_json_object(path, error=ValueError, what="a JSON object") -> dict:
    """A JSON file that must hold an object (UTF-8, a byte-order mark allowed), as a dict;
    `error` naming the file if it cannot be read, is not JSON or holds something else.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.json"
    >>> _ = path.write_text("[1, 2]")
    >>> read_json_object(path)
    Traceback (most recent call last):
    ...
    ValueError: ...run.json: expected a JSON object, got list.
    """
    try:
        value = read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise error(f"{path}: cannot read it as {what} ({problem}).") from None
    if not isinstance(value, dict):
        raise error(f"{path}: expected {what}, got {type(value).__name__}.")
    return value


def read_toml(path) -> dict:
    """A TOML file's table (UTF-8, with or without a byte-order mark)."""
    return tomllib.loads(read_text(path))


def toml_value(value) -> str:
    """`value` (a string, number, boolean, list or dict of them) as a TOML value (a dict
    as an inline table).

    >>> toml_value({"path": "a b.tsv", "header": False, "labels": [1, 2]})
    '{ path = "a b.tsv", header = false, labels = [1, 2] }'
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")
