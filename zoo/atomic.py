"""Atomic writes of files and folders: a reader sees the old one or the whole new one, never half.

Each write goes to a temporary file in the destination's folder (same file system), is flushed
to disk, and is then renamed over the destination (or, with `overwrite=False`, hard-linked to
it, which fails if the destination exists, so two writers never replace each other's file).
`staged_file` hands that temporary file to a writer that is not a string of bytes (a download,
a library's `save`); `staged_folder` does the same for a folder (a SavedModel, an entry, a
site), renamed into place whole.

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

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

#: What an unfinished write leaves when its process is killed: `.<name>.<random>.tmp` beside
#: the destination `<name>` (a write that ends, well or not, removes it).
TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"
TEMP_GLOB = f"{TEMP_PREFIX}*{TEMP_SUFFIX}"


def leftovers(folder) -> list[Path]:
    """The temporary files and folders unfinished writes left in `folder` and below
    (`TEMP_GLOB`, or it and an extension a writer needed: `.model.keras.<random>.tmp.keras`; a
    staging folder's own contents not listed again), sorted: empty unless a writing process was
    killed."""
    found = sorted({*Path(folder).rglob(TEMP_GLOB), *Path(folder).rglob(f"{TEMP_GLOB}.*")})
    return [p for p in found if not any(parent in found for parent in p.parents)]


def _temporary(path: Path, suffix: str = "") -> dict:
    """`tempfile` arguments for a temporary beside `path`: `.<name>.<random>.tmp<suffix>`."""
    return {"dir": path.parent, "prefix": f"{TEMP_PREFIX}{path.name}.",
            "suffix": TEMP_SUFFIX + suffix}


@contextlib.contextmanager
def staged_file(path, overwrite: bool = True, suffix: str = ""):
    """Yields a temporary path beside `path` (an empty file) for the caller to write by any
    means; when the block ends without an error the file is flushed to disk, made mode 0644 and
    renamed to `path` (`overwrite=False`: hard-linked, `FileExistsError` if `path` exists).
    On an error it is removed and `path` is untouched. `suffix` ends the temporary name (a
    writer that insists on one: `.keras`). Creates the folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(**_temporary(path, suffix))
    os.close(fd)
    try:
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


#: What `staged_folder` does when its destination exists once the new folder is complete.
EXISTING = ("replace", "keep", "error")


@contextlib.contextmanager
def staged_folder(path, existing: str = "replace"):
    """Yields an empty temporary folder beside `path` for the caller to fill; when the block
    ends without an error the folder (mode 0755) is renamed to `path` in one step. On an error
    it is removed and `path` is untouched.

    `existing` says what happens to a folder already at `path` then:
    - "replace": it is renamed aside, the new one renamed in, the old one removed (a reader
      sees the old folder or the new one, each whole);
    - "keep": it stays and the new one is dropped, unless it is empty (a cache that concurrent
      processes fill with the same content: the first complete copy wins);
    - "error": `FileExistsError`, the new one dropped.
    """
    if existing not in EXISTING:
        raise ValueError(f"existing must be one of {', '.join(EXISTING)}, got {existing!r}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(**_temporary(path)))
    try:
        yield staging
        os.chmod(staging, 0o755)
        _move_folder(staging, path, existing)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_folder(staging: Path, path: Path, existing: str) -> None:
    if path.is_dir() and not any(path.iterdir()):
        path.rmdir()  # an empty folder holds nothing to keep or replace
    try:
        os.rename(staging, path)  # fails if `path` exists (a non-empty folder, or a file)
        return
    except OSError:
        if not path.exists():
            raise
    if existing == "keep":
        return
    if existing == "error":
        raise FileExistsError(f"{path} exists; the new copy was not written.")
    aside = Path(tempfile.mkdtemp(**_temporary(path)))
    os.replace(path, aside)  # a folder onto the empty folder `aside`
    try:
        os.rename(staging, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.rename(aside, path)  # the old one back, unless another writer was quicker
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def write_bytes(path, data: bytes, overwrite: bool = True) -> None:
    """Writes `data` to `path` atomically (file mode 0644); creates the folder if needed."""
    with staged_file(path, overwrite) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_text(path, text: str, overwrite: bool = True) -> None:
    write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def write_json(path, data, overwrite: bool = True, indent: int | None = 2) -> None:
    """JSON with sorted keys and UTF-8 text (values JSON cannot hold are written as str)."""
    text = json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False, default=str)
    write_text(path, text + "\n", overwrite=overwrite)
