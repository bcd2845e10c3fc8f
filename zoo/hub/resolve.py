"""Handles to local SavedModel folders, resolved and cached by `tensorflow_hub`.

A handle is one of:

- a local folder holding `saved_model.pb`;
- a local `.tar.gz` / `.tgz` / `.tar` of such a folder (unpacked once into the cache);
- an `https://` (or `http://`) URL of a TF Hub or Kaggle model, or of a `.tar.gz` SavedModel;
- a `gs://` path (a folder, or a `.tar.gz`);
- `zoo:ENTRY/PART` — a published zoo entry exported in TF Hub's format on first use
  (see `zoo.hub.export`), e.g. `zoo:bert_mini.mlm-sst2-trec/encoder`.

URLs and archives go through `tensorflow_hub.resolve`, which caches them in `$TFHUB_CACHE_DIR`
(or its temporary folder): a second load of the same handle reads the cache, not the network.

>>> import tempfile, pathlib
>>> from zoo.hub import resolve, HubError
>>> try:
...     resolve(pathlib.Path(tempfile.gettempdir()) / "no-such-model")
... except HubError as error:
...     print(str(error).split(":")[0])
No SavedModel at ...
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


class HubError(ValueError):
    """A handle that cannot be resolved or loaded; the message says what to do."""


def cache_dir() -> Path:
    """Where `tensorflow_hub` keeps resolved handles (`$TFHUB_CACHE_DIR` when set)."""
    from tensorflow_hub import resolver

    return Path(resolver.tfhub_cache_dir(use_temp=True))


def cache_folder(handle: str) -> Path:
    """The folder `tensorflow_hub` unpacks `handle` into (sha1 of the handle)."""
    return cache_dir() / hashlib.sha1(handle.encode("utf8")).hexdigest()


def _is_remote(handle: str) -> bool:
    return handle.startswith(("http://", "https://", "gs://"))


def _download_url(handle: str) -> str:
    if handle.endswith(ARCHIVE_SUFFIXES) or handle.startswith("gs://"):
        return handle
    return handle + ("&" if "?" in handle else "?") + "tf-hub-format=compressed"


def _resolve_remote(handle: str) -> str:
    import tensorflow_hub as hub

    try:
        return hub.resolve(handle)
    except Exception as error:  # urllib, socket, tf.errors, tarfile: all mean "not fetched"
        reason = getattr(error, "reason", None) or error
        raise HubError(
            f"Could not fetch {handle} ({type(error).__name__}: {reason}). Without network, "
            f"download {_download_url(handle)} on a machine that has it and either pass the "
            f"downloaded .tar.gz (or the folder it unpacks to) as the handle, or unpack it into "
            f"{cache_folder(handle)} (the cache of $TFHUB_CACHE_DIR), where this handle is "
            f"looked up first."
        ) from None


def _unpack_local_archive(path: Path) -> str:
    stat = path.stat()
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    target = cache_folder(key)
    if target.is_dir() and any(target.iterdir()):
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            with tarfile.open(path) as archive:
                archive.extractall(staging, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise HubError(
                f"{path} is not a readable .tar.gz of a SavedModel ({error}); pass the archive "
                "TF Hub serves (a SavedModel folder packed with tar) or an unpacked folder."
            ) from None
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)


def parse_zoo_handle(handle) -> tuple[str, str] | None:
    """`(entry, part)` of a `zoo:ENTRY/PART` handle (part may be ""), else None.

    >>> parse_zoo_handle("zoo:bert_mini.mlm-sst2-trec/encoder")
    ('bert_mini.mlm-sst2-trec', 'encoder')
    >>> parse_zoo_handle("https://tfhub.dev/x") is None
    True
    """
    if not isinstance(handle, str) or not handle.startswith("zoo:"):
        return None
    entry, _, part = handle[len("zoo:"):].partition("/")
    return entry, part


def _resolve_zoo(handle: str) -> str:
    """`zoo:ENTRY/PART`: the entry exported once into the cache (keyed by its weights file and
    the export format, so a re-published entry or a changed exporter exports again)."""
    from zoo import entries
    from zoo.hub import export as export_lib

    entry, part = parse_zoo_handle(handle)
    folder = entries.folder(entry)
    stat = (folder / "weights.npz").stat()
    root = cache_folder(f"zoo:{entry}:{stat.st_size}:{stat.st_mtime_ns}:{export_lib.FORMAT}")
    if not (root / "MODEL_CARD.md").is_file():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
        try:
            export_lib.export_entry(entry, staging)
            if root.exists():
                shutil.rmtree(root)
            os.replace(staging, root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    kind_parts = sorted(p.name for p in root.iterdir() if (p / "saved_model.pb").is_file())
    if not part and len(kind_parts) == 1:
        part = kind_parts[0]
    if part not in kind_parts:
        raise HubError(f"{handle}: entry {entry} exports the parts {', '.join(kind_parts)}; "
                       f"use zoo:{entry}/<part>.")
    return str(root / part)


def resolve(handle) -> str:
    """The local folder of the SavedModel `handle` names (downloaded and cached if remote).

    Raises `HubError` naming the handle and what to do: for a missing path, a folder that is
    not a SavedModel, or a URL that cannot be fetched (what to download and where to put it).
    """
    handle = os.fspath(handle)
    if not isinstance(handle, str) or not handle:
        raise HubError(f"A handle must be a non-empty path or URL, got {handle!r}.")
    if parse_zoo_handle(handle):
        path = _resolve_zoo(handle)
    elif _is_remote(handle):
        path = _resolve_remote(handle)
    else:
        local = Path(handle).expanduser()
        if not local.exists():
            raise HubError(
                f"No SavedModel at {handle}: the path does not exist. Pass a SavedModel folder "
                "(holding saved_model.pb), a .tar.gz of one, a TF Hub / Kaggle https:// handle "
                "or a zoo:ENTRY/PART handle."
            )
        path = _unpack_local_archive(local) if local.is_file() else str(local)
    _check_saved_model(handle, Path(path))
    return path


def _check_saved_model(handle: str, path: Path) -> None:
    if path.is_dir() and any((path / name).is_file()
                             for name in ("saved_model.pb", "saved_model.pbtxt")):
        return
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir())[:8]
        raise HubError(
            f"{handle} is not a SavedModel: {path} has no saved_model.pb (it holds "
            f"{', '.join(found) or 'nothing'}). Point the handle at the folder that holds "
            "saved_model.pb and variables/."
        )
    raise HubError(
        f"{handle} is not a SavedModel: {path} is a file. Pass the folder holding "
        "saved_model.pb, or a .tar.gz of it."
    )


def _register_text_ops():
    """Text preprocessors (TF Hub's and zoo's own) use tensorflow-text ops, which TensorFlow
    only knows once the library is imported; zoo depends on it, so import it for the user."""
    try:
        import tensorflow_text  # noqa: F401
    except ImportError:  # the error below then says what to install
        pass


def load_saved_model(handle, tags=None):
    """`tf.saved_model.load` of a resolved handle, inside the current strategy scope, with the
    failure explained (e.g. ops from a library that is not imported)."""
    import tensorflow as tf

    path = resolve(handle)
    _register_text_ops()
    try:
        return tf.saved_model.load(path, tags=tags)
    except Exception as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        hint = ""
        if "Op type not registered" in message:
            hint = (" The model uses ops from a library that is not loaded (for text models: "
                    "pip install tensorflow-text, then `import tensorflow_text`).")
        raise HubError(f"Could not load the SavedModel of {handle} from {path}: {message}.{hint}"
                       ) from None
