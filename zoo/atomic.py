"""Atomic file writes: a reader sees the old file or the whole new one, never half of one.

Each write goes to a temporary file in the destination's folder (same file system), is flushed
to disk, and is then renamed over the destination (or, with `overwrite=False`, hard-linked to
it, which fails if the destination exists, so two writers never replace each other's file).

>>> import json, tempfile, pathlib
>>> from zoo import atomic
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.json"
>>> atomic.write_json(path, {"b": 1})
>>> json.loads(path.read_text())
{'b': 1}
>>> try:
...     atomic.write_text(path, "again", overwrite=False)
... except FileExistsError:
...     print("kept")
kept
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_bytes(path, data: bytes, overwrite: bool = True) -> None:
    """Writes `data` to `path` atomically (file mode 0644); creates the folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path, text: str, overwrite: bool = True) -> None:
    write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def write_json(path, data, overwrite: bool = True, indent: int | None = 2) -> None:
    """JSON with sorted keys and UTF-8 text (values JSON cannot hold are written as str)."""
    text = json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False, default=str)
    write_text(path, text + "\n", overwrite=overwrite)
