"""Files from elsewhere never run code, and never write outside their target.

zoo reads files it did not write: a `.keras` file or run folder given to `zoo bench run
--weights`, an entry folder on `$ZOO_ENTRIES_PATH`, a run folder to publish or start from,
result records from anyone. Two rules hold for all of them:

- **No code runs unless the user says so.** Models load in Keras' safe mode, which refuses
  Python code stored in a file (a `Lambda` layer's lambda and the like). zoo's own classes are
  registered with Keras and load in safe mode, and so does a `zoo.hub.HubLayer` on a
  `zoo:ENTRY/PART` handle (a graph zoo exports itself from a published entry); any other
  SavedModel graph is refused too, since a graph can read and write files. A refusal is an
  `UnsafeCodeError` that names the file and the way to allow it: `--unsafe-allow-code` on the
  command line, `safe_mode=False` in Python.
- **Names from a file stay names.** A value read from a file that becomes part of a path (a
  benchmark id, a run id, an entry name, a file name) must be a plain name (`is_plain_name`),
  and a path built from one must stay inside its folder (`inside`).

>>> is_plain_name("vit_tiny_patch2_8.digits"), is_plain_name("../../tmp/x")
(True, False)
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from zoo import schema

#: The command-line flag that lets a file's code run.
FLAG = "--unsafe-allow-code"

#: What a plain name is (the one definition, `zoo.schema.NAME`): letters, digits, '.', '_'
#: and '-', starting with a letter or digit, so never `.`, `..`, a hidden file or a path.
NAME_RULE = schema.NAME.expected


class UnsafeCodeError(ValueError):
    """A file holds code that would run when it loads, and the user did not allow it."""


def is_plain_name(value) -> bool:
    """Whether `value` is a string that is safe as one path component (`NAME_RULE`)."""
    return isinstance(value, str) and re.fullmatch(schema.NAME_PATTERN, value) is not None


def check_name(value, what: str, source) -> str:
    """`value` if it is a plain name, else `ValueError` naming `source` and `what` it is."""
    if not is_plain_name(value):
        raise ValueError(f"{source}: {what} must be {NAME_RULE}; it becomes a file name. Got "
                         f"{value!r}.")
    return value


def inside(folder, path) -> bool:
    """Whether `path`, with every link followed, lies inside `folder` (or is it)."""
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


class LinkedFileError(ValueError):
    """A folder zoo copies or reads from holds a link (or a file resolving outside it)."""


def check_own_files(folder, names=None) -> None:
    """Raises `LinkedFileError` naming the first file or folder among `names` (paths relative
    to `folder`; all of `folder` when None), or anywhere below one, that is a symbolic link or
    resolves outside `folder`. A folder zoo copies (a run to publish, an entry to export or
    start from) must hold its own files: `shutil.copytree` and `copy2`, and every reader,
    follow links, so a link `tokenizer/x -> /etc/passwd` would copy that file into the entry.
    Names that do not exist are skipped. `folder` itself may be a link.

    >>> import pathlib, tempfile
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> (run / "recipe.json").symlink_to("/etc/hostname")
    >>> check_own_files(run, ["recipe.json", "run.json"])
    Traceback (most recent call last):
    ...
    zoo.safety.LinkedFileError: .../recipe.json is a link (to /etc/hostname); zoo copies only a folder's own files. Replace the link with a copy of the file.
    """
    import os

    root = Path(folder).resolve()
    tops = [root / name for name in names] if names is not None else [root]
    for top in tops:
        if not top.exists() and not top.is_symlink():
            continue
        paths = [top]
        if top.is_dir() and not top.is_symlink():
            for where, dirs, files in os.walk(top):  # does not follow links to folders
                paths += [Path(where) / name for name in sorted(dirs + files)]
        for path in paths:
            if path.is_symlink():
                raise LinkedFileError(
                    f"{path} is a link (to {os.readlink(path)}); zoo copies only a folder's own "
                    "files. Replace the link with a copy of the file.")
            if not inside(root, path):
                raise LinkedFileError(f"{path} resolves outside {root}; zoo copies only a "
                                      "folder's own files.")


def allow_hint() -> str:
    return (f"Only if you trust whoever made it, allow its code with {FLAG} (in Python: "
            "safe_mode=False).")


class ModelFileError(ValueError):
    """A model file (or entry folder) that cannot be loaded: not a model Keras can rebuild, a
    class or function it does not know, weights that do not fit. The message names the file
    and Keras' reason in one line."""


def _is_keras_refusal(error: BaseException) -> bool:
    text = str(error)
    return "safe_mode=False" in text or "enable_unsafe_deserialization" in text


def _keras_reason(error: BaseException, limit: int = 400) -> str:
    """The innermost reason in a Keras loading error, one line: Keras nests each layer's
    failure as "... Exception encountered: <inner>", appends whole configs and variables, and
    may put the reason on the line after a colon."""
    text = str(error).rsplit("Exception encountered: ", 1)[-1].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    line = lines[0]
    if line.endswith(":") and len(lines) > 1:  # "... for object <Dense ...>:" then the reason
        line = f"{line} {lines[1]}"
    for tail in (" Full object config:", " Make sure custom classes", " Target variable:"):
        line = line.split(tail)[0]
    return line if len(line) <= limit else line[:limit] + "..."


def _refused_what(error: BaseException) -> str:
    """What Keras' safe mode refused, in its own words: the sentence it starts with ("Requested
    the deserialization of a Python lambda", "... of a `TFSMLayer`, which loads an external
    SavedModel", "the loading of a vocabulary file outside of the model archive")."""
    found = re.search(r"Requested (the .+?)\. This carries", str(error), re.S)
    return " ".join(found.group(1).split()) if found else _keras_reason(error)


@contextlib.contextmanager
def loading(path, safe_mode=True):
    """Loads inside turn any failure into a one-line error naming `path`: Keras' safe-mode
    refusals into `UnsafeCodeError` (quoting what Keras refused), anything else Keras or the
    file raises (an unknown class or function, a broken config, weights that do not fit) into
    `ModelFileError` with Keras' innermost reason. zoo's own errors pass (their messages say
    what to do), prefixed with `path` for an `UnsafeCodeError`.

    >>> with loading("m.keras"):
    ...     raise ValueError("Requested the deserialization of a Python lambda. This carries a "
    ...                      "potential risk ... passing `safe_mode=False` to the loading ...")
    Traceback (most recent call last):
    ...
    zoo.safety.UnsafeCodeError: m.keras was refused by Keras' safe mode, in which zoo loads model files: it requested the deserialization of a Python lambda, which could run code (or read files) as the model loads. Only if you trust whoever made it, allow its code with --unsafe-allow-code (in Python: safe_mode=False).
    >>> with loading("m.keras"):
    ...     raise TypeError("<class 'Dense'> could not be deserialized properly... config={}. "
    ...                     "Exception encountered: Could not locate function 'system'. "
    ...                     "Make sure custom classes ... Full object config: {...}")
    Traceback (most recent call last):
    ...
    zoo.safety.ModelFileError: m.keras: cannot load this model file: Could not locate function 'system'.
    """
    try:
        yield
    except UnsafeCodeError as error:
        raise UnsafeCodeError(f"{path}: {error}") from None
    except Exception as error:  # noqa: BLE001 - a user's file may make Keras raise anything
        if type(error).__module__.startswith("zoo.") and not isinstance(error, ModelFileError):
            raise
        if safe_mode is not False and _is_keras_refusal(error):
            raise UnsafeCodeError(
                f"{path} was refused by Keras' safe mode, in which zoo loads model files: it "
                f"requested {_refused_what(error)}, which could run code (or read files) as the "
                f"model loads. {allow_hint()}") from None
        raise ModelFileError(f"{path}: cannot load this model file: "
                             f"{_keras_reason(error)}") from None
