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


def allow_hint() -> str:
    return (f"Only if you trust whoever made it, allow its code with {FLAG} (in Python: "
            "safe_mode=False).")


def _is_keras_refusal(error: BaseException) -> bool:
    text = str(error)
    return "safe_mode=False" in text or "enable_unsafe_deserialization" in text


@contextlib.contextmanager
def loading(path, safe_mode=True):
    """Loads inside turn Keras' safe-mode refusals into `UnsafeCodeError` naming `path`.

    >>> with loading("m.keras"):
    ...     raise ValueError("... passing `safe_mode=False` to the loading function ...")
    Traceback (most recent call last):
    ...
    zoo.safety.UnsafeCodeError: m.keras holds Python code (a lambda in its Keras config, such as a Lambda layer's) that would run as it loads; zoo loads model files in Keras' safe mode, which refuses it. Only if you trust whoever made it, allow its code with --unsafe-allow-code (in Python: safe_mode=False).
    """
    try:
        yield
    except UnsafeCodeError as error:
        raise UnsafeCodeError(f"{path}: {error}") from None
    except ValueError as error:
        if safe_mode is False or not _is_keras_refusal(error):
            raise
        raise UnsafeCodeError(
            f"{path} holds Python code (a lambda in its Keras config, such as a Lambda layer's) "
            "that would run as it loads; zoo loads model files in Keras' safe mode, which "
            f"refuses it. {allow_hint()}") from None
