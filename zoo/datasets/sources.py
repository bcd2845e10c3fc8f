"""Where dataset files come from: a folder the user names, the cache, or a verified download.

`fetch` looks for a file in three places, in order:

1. the data directory (the `data_dir` argument, else env `ZOO_DATA_DIR`), where the file must
   have the published sha256;
2. the cache (env `ZOO_CACHE_DIR`, else `~/.cache/zoo`), used when its sha256 matches;
3. the file's URL: downloaded into the cache through a temporary file in the same folder,
   verified, then renamed into place, so a partial or wrong download never sits at the final
   path.

`fetch_cached` is the last two steps alone; published entries' weights come through it too
(`zoo.entries.weights_file`).
"""

from __future__ import annotations

import hashlib
import http.client
import lzma
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from zoo import atomic
from zoo.datasets.errors import DatasetError

#: Seconds to wait for the server before giving up on a download.
DOWNLOAD_TIMEOUT = 60.0
_CHUNK = 1 << 16


@dataclass(frozen=True)
class RemoteFile:
    """A dataset file: where it lives relative to a data folder, its URL and its sha256.

    Attributes:
        path: relative path, e.g. "mnist/train-images-idx3-ubyte.gz".
        url: where to download it from.
        sha256: hex digest of the file (of the member, when `member` is set).
        member: a file inside the .zip at `url`, or None when `url` is the file itself.
    """

    path: str
    url: str
    sha256: str
    member: str | None = None

    @property
    def name(self) -> str:
        return Path(self.path).name


def _env_path(variable: str) -> Path | None:
    value = os.environ.get(variable, "").strip()
    return Path(value).expanduser() if value else None


def _resolve_data_dir(explicit=None) -> Path | None:
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    return _env_path("ZOO_DATA_DIR")


def data_dir(explicit=None) -> Path | None:
    """The explicit folder, else env `ZOO_DATA_DIR`, else None."""
    return _resolve_data_dir(explicit)


def cache_dir() -> Path:
    """Env `ZOO_CACHE_DIR`, else `~/.cache/zoo`."""
    return _env_path("ZOO_CACHE_DIR") or Path.home() / ".cache" / "zoo"


def sha256_of(path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


class _Progress:
    """Bytes received (and percent when the size is known) on stderr, at most 10 times a second."""

    def __init__(self, label: str, total: int | None, enabled: bool):
        self.label, self.total, self.enabled = label, total, enabled
        self.done = 0
        self._last = 0.0

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.1:
            self._last = now
            self._show()

    def _show(self, end: str = "") -> None:
        text = f"\rDownloading {self.label}: {_human(self.done)}"
        if self.total:
            text += f" / {_human(self.total)} ({100 * self.done / self.total:.0f}%)"
        sys.stderr.write(text + end)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self._show(end="\n")


def _offline_hint(file: RemoteFile, root: Path | None) -> str:
    target = (root if root is not None else cache_dir()) / file.path
    origin = f"; it is the member {file.member} of {file.url}" if file.member else ""
    return (
        f"Offline? Put {file.name} (sha256 {file.sha256}{origin}) at {target}, or pass "
        f"--data-dir / set ZOO_DATA_DIR to a folder that holds {file.path}."
    )


def _download(url: str, dest: Path, label: str, progress: bool) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "zoo-datasets"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = _Progress(label, total, progress)
        with open(dest, "wb") as out:
            while block := response.read(_CHUNK):
                out.write(block)
                bar.update(len(block))
        bar.close()
        if total is not None and bar.done != total:
            raise http.client.IncompleteRead(b"", total - bar.done)


def _extract_member(archive: Path, member: str, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, _CHUNK)


def fetch(file: RemoteFile, data_dir=None, progress: bool = True) -> Path:
    """Return a local, sha256-verified copy of `file`.

    Args:
        file: the RemoteFile to get.
        data_dir: a folder that may hold `file.path` (default: env `ZOO_DATA_DIR`).
        progress: show download progress on stderr.

    Raises:
        DatasetError: the data-dir copy has the wrong sha256, the download failed, or the
            downloaded file has the wrong sha256. The message says where to put the file.
    """
    root = _resolve_data_dir(data_dir)
    if root is not None:
        local = root / file.path
        if local.is_file():
            actual = sha256_of(local)
            if actual != file.sha256:
                raise DatasetError(
                    f"{local} has sha256 {actual}, expected {file.sha256} ({file.path}). It is "
                    f"corrupt, truncated or a different version: replace it with the original "
                    f"(from {file.url}{', member ' + file.member if file.member else ''}), or "
                    f"remove it to let zoo download and verify it."
                )
            return local

    return fetch_cached(file, progress, hint=_offline_hint(file, root))


def fetch_cached(file: RemoteFile, progress: bool = True, *, hint: str,
                 error: type[Exception] = DatasetError) -> Path:
    """The cache's copy of `file` (`cache_dir() / file.path`) when its sha256 matches, else
    `file.url` downloaded into the cache: through a temporary file in the same folder, verified,
    then renamed into place, so a partial or wrong download never sits at the final path.

    Args:
        file: the RemoteFile to get.
        progress: show download progress on stderr.
        hint: what to do instead (offline), appended to every error message.
        error: the exception class raised (a DatasetError by default).

    Raises:
        `error`: the download failed, the member could not be extracted, or the downloaded
            file has the wrong sha256 (nothing is saved then).
    """
    target = cache_dir() / file.path
    if target.is_file() and sha256_of(target) == file.sha256:
        return target

    with atomic.staged_file(target) as result:  # renamed into place once verified
        if file.member is None:
            _download_or_raise(file, result, progress, hint, error)
        else:
            with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.",
                                             suffix=atomic.TEMP_SUFFIX) as archive:
                _download_or_raise(file, Path(archive.name), progress, hint, error)
                try:
                    _extract_member(Path(archive.name), file.member, result)
                except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error,
                        lzma.LZMAError) as failure:  # cut or corrupt: every decompressor's error
                    raise error(
                        f"Downloaded {file.url} but could not extract {file.member} from it "
                        f"({failure}). {hint}"
                    ) from failure
        actual = sha256_of(result)
        if actual != file.sha256:
            raise error(
                f"Downloaded {file.url}{' (member ' + file.member + ')' if file.member else ''} "
                f"but {file.name} has sha256 {actual}, expected {file.sha256}; nothing was saved. "
                f"The server may serve a different version. {hint}"
            )
    return target


def _download_or_raise(file: RemoteFile, dest: Path, progress: bool, hint: str, error) -> None:
    """`file.url` downloaded into `dest`; a failure raises `error` saying why, with `hint`."""
    try:
        _download(file.url, dest, file.url, progress)
    except (OSError, http.client.HTTPException, ValueError) as failure:
        reason = getattr(failure, "reason", None) or failure
        raise error(f"Could not download {file.url} ({reason}). {hint}") from failure
