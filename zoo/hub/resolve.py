"""Handles to local SavedModel folders, resolved and cached where `tensorflow_hub` caches them.

A handle is one of:

- a local folder holding `saved_model.pb`;
- a local `.tar.gz` / `.tgz` / `.tar` of such a folder (unpacked once into the cache);
- an `https://` (or `http://`) URL of a TF Hub or Kaggle model, or of a `.tar.gz` SavedModel;
- a `gs://` path (a folder, or a `.tar.gz`);
- `zoo:ENTRY/PART` — a published zoo entry exported in TF Hub's format on first use
  (see `zoo.hub.export`), e.g. `zoo:bert_mini.mlm-sst2-trec/encoder`.

Archives, local or fetched (http(s), gs://), are unpacked into the cache `tensorflow_hub` uses
(`$TFHUB_CACHE_DIR`, or its temporary folder, in the folder it would use for the handle): a
second load of the same handle reads the cache, not the network. An archive is unpacked only if
every member is a plain file or folder inside it (`member_problem`); otherwise nothing is
written and the error names the member. A handle that cannot be fetched says so and what to do
offline; one that was fetched and refused says that instead.

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

from zoo import atomic, entries
from zoo.entries import parse_zoo_handle
from zoo.registry import did_you_mean_path

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
#: Seconds to wait for a server before giving up on a download.
DOWNLOAD_TIMEOUT = 60.0


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


def _offline_hint(handle: str) -> str:
    return (f"Without network, download {_download_url(handle)} on a machine that has it and "
            f"either pass the downloaded .tar.gz (or the folder it unpacks to) as the handle, or "
            f"unpack it into {cache_folder(handle)} (the cache of $TFHUB_CACHE_DIR), where this "
            "handle is looked up first.")


class _Refused(Exception):
    """An archive member that is not a plain file or folder inside the archive's folder."""

    def __init__(self, member: str, problem: str):
        super().__init__(member, problem)
        self.member, self.problem = member, problem


def member_problem(member: tarfile.TarInfo) -> str | None:
    """Why a SavedModel archive's `member` is refused, or None. A SavedModel is plain files
    and folders, so anything else is refused: absolute paths, `..` (a path that climbs out of
    the folder it is unpacked into), links, devices and pipes.

    >>> member_problem(tarfile.TarInfo("variables/variables.index")) is None
    True
    >>> member_problem(tarfile.TarInfo("../evil"))
    "a path that climbs out of the model's folder ('..')"
    """
    name = member.name
    if name.startswith(("/", "\\")) or (name[:1].isalpha() and name[1:2] == ":"):
        return "an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "a path that climbs out of the model's folder ('..')"
    if member.issym() or member.islnk():
        return f"a {'symbolic' if member.issym() else 'hard'} link (to {member.linkname!r})"
    if not (member.isfile() or member.isdir()):
        return "a device, pipe or other special file"
    return None


def _unpack(archive_path: Path, dest: Path) -> None:
    """Unpacks a SavedModel archive into `dest` once every member passed `member_problem`
    (nothing is written otherwise). Raises `_Refused`, or `tarfile.TarError` / `OSError` for a
    file that is not a readable archive (a cut or corrupt one, whose decompressor raises
    EOFError, zlib.error or lzma.LZMAError, included)."""
    import lzma
    import zlib

    try:
        with tarfile.open(archive_path) as archive:
            members = archive.getmembers()
            for member in members:
                problem = member_problem(member)
                if problem is not None:
                    raise _Refused(member.name, problem)
            archive.extractall(dest, members=members, filter="data")
    except (EOFError, zlib.error, lzma.LZMAError) as error:
        raise tarfile.ReadError(f"it is cut short or corrupt: {error}") from None


def _refusal(what: str, error: _Refused) -> HubError:
    return HubError(
        f"{what} but refused it: its member {error.member!r} is {error.problem}, and a "
        "SavedModel archive holds only plain files and folders inside it. Nothing was "
        "unpacked. Ask its publisher for a clean archive, or unpack a copy you trust yourself "
        "and pass that folder as the handle."
    )


def _fetch(handle: str, dest: Path) -> None:
    """Downloads `handle` (http(s) or gs://) into the file `dest`; raises HubError when it cannot
    be fetched: a network failure (with what to do offline) or an HTTP error status."""
    import http.client
    import urllib.error
    import urllib.request

    url = _download_url(handle)
    try:
        if handle.startswith("gs://"):
            import tensorflow as tf

            tf.io.gfile.copy(url, str(dest), overwrite=True)
            return
        request = urllib.request.Request(url, headers={"User-Agent": "zoo-hub"})
        context = None
        if os.environ.get("TFHUB_DISABLE_CERT_VALIDATION") == "true":  # as tensorflow_hub
            import ssl

            context = ssl._create_unverified_context()
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT,
                                    context=context) as response, open(dest, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and out.tell() != int(length):
                raise http.client.IncompleteRead(b"", int(length) - out.tell())
    except urllib.error.HTTPError as error:
        raise HubError(
            f"Could not fetch {handle}: the server answered HTTP {error.code} ({error.reason}) "
            f"for {url}. Check the handle; {_offline_hint(handle)}"
        ) from None
    except Exception as error:  # urllib, socket, http.client, tf.errors: all mean "not fetched"
        reason = getattr(error, "reason", None) or error
        raise HubError(
            f"Could not fetch {handle} ({type(error).__name__}: {reason}). "
            f"{_offline_hint(handle)}"
        ) from None


def _resolve_remote(handle: str) -> str:
    """An http(s) or gs:// archive, fetched once into the cache folder `tensorflow_hub` uses for
    the handle and unpacked there only if every member is a plain file or folder; other remote
    handles (gs:// folders, `TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED`) go to `tensorflow_hub`."""
    import tensorflow_hub as hub
    from tensorflow_hub import resolver

    compressed = resolver.model_load_format() != resolver.ModelLoadFormat.UNCOMPRESSED.value
    archive = handle.startswith(("http://", "https://")) or handle.endswith(ARCHIVE_SUFFIXES)
    if not (compressed and archive):
        try:
            return hub.resolve(handle)
        except Exception as error:
            reason = getattr(error, "reason", None) or error
            raise HubError(f"Could not fetch {handle} ({type(error).__name__}: {reason}). "
                           f"{_offline_hint(handle)}") from None
    target = cache_folder(handle)
    if target.is_dir() and any(target.iterdir()):
        return str(target)
    # The archive is downloaded beside the cache folder (removed after) and unpacked into it
    # whole; a process that unpacked the same handle first keeps its copy.
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.",
                                     suffix=atomic.TEMP_SUFFIX) as download, \
            atomic.staged_folder(target, existing="keep") as model:
        archive = Path(download.name)
        _fetch(handle, archive)
        size = archive.stat().st_size
        try:
            _unpack(archive, model)
        except _Refused as error:
            raise _refusal(f"Fetched {handle} ({size:,} bytes)", error) from None
        except (tarfile.TarError, OSError) as error:
            raise HubError(
                f"Fetched {handle} ({size:,} bytes) but it is not a readable .tar.gz of a "
                f"SavedModel ({_archive_problem(error)}); a handle names a SavedModel folder packed with tar, as TF "
                "Hub serves them."
            ) from None
    return str(target)


def _archive_problem(error) -> str:
    """Why an archive could not be read, in one line: tarfile lists each compression it
    tried on a line of its own, which says only that the file is none of them."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1 and all(line.startswith("- method") for line in lines[1:]):
        return "not a tar archive, compressed or not"
    return " ".join(lines) or type(error).__name__


def _unpack_local_archive(path: Path) -> str:
    stat = path.stat()
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    target = cache_folder(key)
    if target.is_dir() and any(target.iterdir()):
        return str(target)
    with atomic.staged_folder(target, existing="keep") as model:  # the first copy wins
        try:
            _unpack(path, model)
        except _Refused as error:
            raise _refusal(f"Read {path}", error) from None
        except (tarfile.TarError, OSError) as error:
            raise HubError(
                f"{path} is not a readable .tar.gz of a SavedModel ({_archive_problem(error)}); "
                "pass the archive "
                "TF Hub serves (a SavedModel folder packed with tar) or an unpacked folder."
            ) from None
    return str(target)


def _resolve_zoo(handle: str) -> str:
    """`zoo:ENTRY/PART`: the entry exported once into the cache (keyed by its weights file and
    the export format, so a re-published entry or a changed exporter exports again)."""
    from zoo.hub import export as export_lib  # TensorFlow: loaded only for a zoo: handle

    entry, part = parse_zoo_handle(handle)
    folder = entries.folder(entry)
    stat = entries.weights_file(folder).stat()
    root = cache_folder(f"zoo:{entry}:{stat.st_size}:{stat.st_mtime_ns}:{export_lib.FORMAT}")
    if not (root / "MODEL_CARD.md").is_file():  # none yet, or one a killed export left
        with atomic.staged_folder(root, existing="replace") as staging:
            export_lib.export_entry(entry, staging)
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
    not a SavedModel, a URL that cannot be fetched (what to download and where to put it), or
    an archive that was read but refused (the offending member).
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
            hint = did_you_mean_path(local)
            raise HubError(
                f"No SavedModel at {handle}: the path does not exist.{' ' + hint if hint else ''}"
                " Pass a SavedModel folder (holding saved_model.pb), a .tar.gz of one, a TF Hub /"
                " Kaggle https:// handle or a zoo:ENTRY/PART handle."
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
