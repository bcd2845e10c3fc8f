"""Resolving a conversion SOURCE to a local folder, telling its format, and finding the family
that converts its architecture.

A SOURCE is a local folder, or `hf://ORG/NAME[@REVISION]`: a Hugging Face model repository,
fetched over HTTPS from the hub's public file URLs (`<endpoint>/ORG/NAME/resolve/REV/FILE`,
endpoint `$ZOO_HF_ENDPOINT`, default `https://huggingface.co`) into zoo's cache
(`$ZOO_CACHE_DIR/hf/ORG/NAME/REV/`, `zoo.datasets.sources.cache_dir`). Only the files the
format needs are downloaded (config, weights, tokenizer files). Each is checked: large files
against the sha256 the hub's metadata (`/api/models/ORG/NAME/revision/REV?blobs=true`) gives,
small ones against their git blob id; every sha256 is recorded in the cache
(`.zoo-files.json`), so that a later conversion without a network reads the cache, checked
against those sha256. Downloads show progress and are renamed into place only once verified.

Formats, told by their files (`FORMATS` says what each needs):

- "transformers": `config.json` with `model_type`, and `model.safetensors` (or
  `model.safetensors.index.json` and its shards); architecture `config["architectures"][0]`.
- "keras_hub": `config.json` with `registered_name` "keras_hub>...", `metadata.json` and
  `model.weights.h5` (a task preset also `task.json`, `task.weights.h5`: its class is the
  architecture).
- "bert_original": `bert_config.json` and `bert_model.ckpt.index` (+ data, `vocab.txt`), the
  google-research/bert release; architecture "BertModel".
- "timm": `config.json` with `architecture` and `pretrained_cfg`, and `model.safetensors`.

>>> import json, pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "bert_config.json").write_text(json.dumps({"hidden_size": 32}))
>>> _ = (folder / "bert_model.ckpt.index").write_bytes(b"")
>>> source = resolve(str(folder))
>>> source.format, source.architecture, sorted(source.files)
('bert_original', 'BertModel', ['bert_config.json', 'bert_model.ckpt.index'])
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from zoo import atomic
from zoo.checkpoints.converted import Source
from zoo.checkpoints.errors import ConversionError
from zoo.datasets import sources as downloads

HF_PREFIX = "hf://"
#: The hub zoo downloads from, unless `$ZOO_HF_ENDPOINT` names another (a mirror, a test server).
HF_ENDPOINT = "https://huggingface.co"
ENDPOINT_VARIABLE = "ZOO_HF_ENDPOINT"
#: The cache's record of a downloaded repository: file name -> sha256.
RECORD = ".zoo-files.json"

#: What each format needs, for the messages that list them.
FORMATS = {
    "transformers": "config.json with model_type, and model.safetensors or "
                    "model.safetensors.index.json with its shards (Transformers' "
                    "save_pretrained)",
    "keras_hub": "config.json with registered_name 'keras_hub>...', metadata.json and "
                 "model.weights.h5; a task preset also task.json and task.weights.h5 "
                 "(KerasHub's save_to_preset)",
    "bert_original": "bert_config.json and bert_model.ckpt.index with its "
                     "bert_model.ckpt.data-* files, and vocab.txt (google-research/bert)",
    "timm": "config.json with architecture and pretrained_cfg, and model.safetensors "
            "(timm's save_pretrained / push_to_hub)",
}

#: Files a Transformers repository may hold beside its weights that a converter may read:
#: tokenizers (WordPiece, byte-level BPE, SentencePiece), generation and image settings.
TRANSFORMERS_EXTRAS = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.txt", "vocab.json", "target_vocab.json", "merges.txt", "spiece.model",
    "source.spm", "target.spm",
    "sentencepiece.bpe.model", "generation_config.json", "preprocessor_config.json",
)
#: KerasHub preset files besides the weights (its preprocessor and tokenizer; `assets/`).
KERAS_HUB_EXTRAS = ("task.json", "task.weights.h5", "preprocessor.json", "tokenizer.json",
                    "image_converter.json")
#: Weight files that are Python pickles: refused, since unpickling runs code.
PICKLED = ("*.bin", "*.pt", "*.pth", "*.pkl")


def resolve(location, *, progress: bool = True) -> Source:
    """The `Source` at `location`: a local folder, or `hf://ORG/NAME[@REVISION]` downloaded
    into (or, offline, read from) zoo's cache.

    Raises:
        ConversionError: no such folder; a layout of no known format (listing what each
            needs); only pickled weights; a download that fails or gives other bytes than the
            hub's metadata says; offline with no complete copy in the cache.
    """
    location = str(location)
    if location.startswith(HF_PREFIX):
        return _Hub(location, progress).resolve()
    folder = Path(location).expanduser()
    if not folder.is_dir():
        from zoo.registry import did_you_mean_path

        hint = did_you_mean_path(folder)
        raise ConversionError(
            f"{location} is not a folder{' (' + hint + ')' if hint else ''}. Give a folder "
            f"holding a checkpoint, or {HF_PREFIX}ORG/NAME[@REVISION] for a Hugging Face "
            "model repository.")
    return detect(folder, location)


def detect(folder, location: str | None = None) -> Source:
    """The `Source` of a local folder, its format told by its files (see the module).
    `Source.files` holds the sha256 of every file the format reads."""
    folder = Path(folder)
    location = location or str(folder)
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
             if p.is_file() and not p.name.startswith(".")}
    fmt, architecture, config = classify(names, lambda name: _read_config(folder / name),
                                         location)
    wanted = needed_files(fmt, names, lambda name: _read_config(folder / name), location)
    files = {name: downloads.sha256_of(folder / name) for name in sorted(wanted)}
    return Source(folder=folder, format=fmt, architecture=architecture, config=config,
                  location=location, files=files)


def classify(names: set, config_of: Callable[[str], dict], location: str):
    """`(format, architecture, config)` of a checkpoint holding the files `names` (paths
    relative to its folder); `config_of(name)` reads one of its JSON files.

    Raises:
        ConversionError: only pickled weights, a format's file missing, or no known layout.
    """
    if "bert_config.json" in names and "bert_model.ckpt.index" in names:
        return "bert_original", "BertModel", config_of("bert_config.json")
    if "config.json" in names:
        config = config_of("config.json")
        registered = config.get("registered_name")
        if isinstance(registered, str) and registered.startswith("keras_hub>"):
            _require(names, ("metadata.json", "model.weights.h5"), "keras_hub", location)
            architecture = registered.removeprefix("keras_hub>")
            if "task.json" in names:
                _require(names, ("task.weights.h5",), "keras_hub", location)
                task = config_of("task.json").get("registered_name")
                if isinstance(task, str):
                    architecture = task.removeprefix("keras_hub>")
            return "keras_hub", architecture, config
        if "architecture" in config and "pretrained_cfg" in config:
            _require(names, ("model.safetensors",), "timm", location)
            return "timm", str(config["architecture"]), config
        if "model_type" in config:
            if not {"model.safetensors", "model.safetensors.index.json"} & names:
                _refuse_weights(names, location)
            architectures = config.get("architectures") or [config["model_type"]]
            return "transformers", str(architectures[0]), config
    if _pickled(names):
        _refuse_weights(names, location)
    shown = ", ".join(sorted(names)[:8]) + (" ..." if len(names) > 8 else "") or "no files"
    needs = "; ".join(f"{fmt}: {need}" for fmt, need in FORMATS.items())
    raise ConversionError(f"{location} is not a checkpoint zoo can convert (it has {shown}). "
                          f"Zoo reads these layouts: {needs}.")


def needed_files(fmt: str, names: set, config_of: Callable[[str], dict],
                 location: str = "the checkpoint") -> set:
    """The files of a `fmt` checkpoint (among `names`) that a conversion reads: config,
    weights (the shards an index lists) and tokenizer files."""
    if fmt == "bert_original":
        return {n for n in names if n in ("bert_config.json", "bert_model.ckpt.index", "vocab.txt")
                or n.startswith("bert_model.ckpt.data-")}
    if fmt == "keras_hub":
        return {n for n in names if n in ("config.json", "metadata.json", "model.weights.h5",
                                          *KERAS_HUB_EXTRAS) or n.startswith("assets/")}
    if fmt == "timm":
        return {"config.json", "model.safetensors"}
    wanted = {"config.json"} | (set(TRANSFORMERS_EXTRAS) & names)
    if "model.safetensors.index.json" in names:
        index = config_of("model.safetensors.index.json")
        shards = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(shards, dict):
            raise ConversionError(f"{location}: model.safetensors.index.json has no "
                                  "weight_map (shard file name per tensor): not a safetensors "
                                  "index. Save the model again with Transformers' "
                                  "save_pretrained, or remove the index if model.safetensors "
                                  "holds every tensor.")
        missing = sorted(set(shards.values()) - names)
        if missing:
            raise ConversionError(f"{location}: model.safetensors.index.json lists "
                                  f"{', '.join(missing)}, which it does not have: copy every "
                                  "shard the index names into it (an interrupted download or "
                                  "copy leaves some out).")
        return wanted | {"model.safetensors.index.json", *shards.values()}
    return wanted | {"model.safetensors"}


def _read_config(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as e:
        raise ConversionError(f"{path}: not a readable JSON file ({e}).") from None
    if not isinstance(value, dict):
        raise ConversionError(f"{path}: expected a JSON object, got {type(value).__name__}.")
    return value


def _require(names, required, fmt, location):
    missing = [name for name in required if name not in names]
    if missing:
        raise ConversionError(f"{location} looks like a {fmt} checkpoint but lacks "
                              f"{', '.join(missing)}; a {fmt} checkpoint has {FORMATS[fmt]}.")


def _pickled(names) -> list:
    import fnmatch

    return sorted(n for n in names if any(fnmatch.fnmatch(n, p) for p in PICKLED))


def _refuse_weights(names, location):
    pickled = _pickled(names)
    if pickled:
        raise ConversionError(
            f"{location} has only pickled PyTorch weights ({', '.join(pickled)}), which zoo "
            "does not load: unpickling runs code. Convert them once where you trust the file, "
            "e.g. with Transformers: `AutoModel.from_pretrained(folder).save_pretrained(folder, "
            "safe_serialization=True)` writes model.safetensors (on the hub, a repository's "
            "'refs/pr/N' revision often has one: hf://ORG/NAME@refs/pr/N).")
    raise ConversionError(f"{location} has config.json but no weights zoo reads; a "
                          f"transformers checkpoint has {FORMATS['transformers']}.")


def git_blob_id(path) -> str:
    """The git blob id (sha1 of "blob <size>\\0" + the bytes) of a file: what the hub lists as
    `blobId` for a file not stored in LFS."""
    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def endpoint() -> str:
    """`$ZOO_HF_ENDPOINT`, else `HF_ENDPOINT`, without a trailing "/"."""
    return (os.environ.get(ENDPOINT_VARIABLE, "").strip() or HF_ENDPOINT).rstrip("/")


def parse_hf(location: str) -> tuple[str, str]:
    """`(repository, revision)` of `hf://ORG/NAME[@REVISION]` (revision default "main").

    >>> parse_hf("hf://google-bert/bert-base-uncased@v1")
    ('google-bert/bert-base-uncased', 'v1')
    """
    rest = location[len(HF_PREFIX):]
    repo, _, revision = rest.partition("@")
    parts = repo.strip("/").split("/")
    if not (1 <= len(parts) <= 2 and all(parts)) or any(p in (".", "..") for p in parts):
        raise ConversionError(f"{location}: expected {HF_PREFIX}ORG/NAME or "
                              f"{HF_PREFIX}ORG/NAME@REVISION (a model repository on the hub).")
    return "/".join(parts), revision or "main"


class _Hub:
    """One `hf://` source: its metadata, its cache folder and the downloads."""

    def __init__(self, location: str, progress: bool):
        self.location, self.progress = location, progress
        self.repo, self.revision = parse_hf(location)
        self.base = endpoint()
        self.folder = (downloads.cache_dir() / "hf" / self.repo
                       / urllib.parse.quote(self.revision, safe=""))
        self.recorded: dict = {}
        self.siblings: dict = {}
        self.offline_reason = "unreachable"

    def url(self, name: str) -> str:
        return (f"{self.base}/{self.repo}/resolve/"
                f"{urllib.parse.quote(self.revision, safe='')}/{urllib.parse.quote(name)}")

    def resolve(self) -> Source:
        siblings = self._siblings()
        if siblings is None:
            return self._offline()
        self.siblings = siblings
        names = set(siblings)
        fmt, architecture, config = classify(names, self._json, self.location)
        wanted = needed_files(fmt, names, self._json, self.location)
        for name in sorted(wanted):
            self._fetch(name, siblings[name])
        files = {name: self.recorded[name] for name in sorted(wanted)}
        atomic.write_json(self.folder / RECORD, {"location": self.location, "files": files})
        return Source(folder=self.folder, format=fmt, architecture=architecture, config=config,
                      location=self.location, files=files)

    def _siblings(self) -> dict | None:
        """File name -> `(lfs sha256 or None, git blob id or None)` from the hub's metadata;
        None when the hub cannot be reached (offline)."""
        api = (f"{self.base}/api/models/{self.repo}/revision/"
               f"{urllib.parse.quote(self.revision, safe='')}?blobs=true")
        request = urllib.request.Request(api, headers={"User-Agent": "zoo-convert"})
        try:
            with urllib.request.urlopen(request, timeout=downloads.DOWNLOAD_TIMEOUT) as response:
                info = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            if e.code in (401, 403, 404):
                raise ConversionError(
                    f"{self.location}: the hub ({self.base}) has no public model repository "
                    f"{self.repo} at revision {self.revision} (HTTP {e.code}). Check the name "
                    "and revision; zoo reads public repositories only (download a gated one "
                    "yourself and convert its folder).") from None
            self.offline_reason = f"HTTP {e.code}"
            return None
        except (OSError, http.client.HTTPException) as e:
            self.offline_reason = str(getattr(e, "reason", None) or e)
            return None
        except ValueError as e:
            raise ConversionError(f"{api}: the hub's metadata is not JSON ({e}).") from None
        siblings = info.get("siblings") if isinstance(info, dict) else None
        if not isinstance(siblings, list):
            raise ConversionError(f"{api}: the hub's metadata lists no files (siblings).")
        found = {}
        for entry in siblings:
            if isinstance(entry, dict) and isinstance(entry.get("rfilename"), str):
                lfs = entry.get("lfs") if isinstance(entry.get("lfs"), dict) else {}
                found[entry["rfilename"]] = (lfs.get("sha256"),
                                             None if lfs else entry.get("blobId"))
        return found

    def _json(self, name: str) -> dict:
        return _read_config(self._fetch(name, self.siblings.get(name, (None, None))))

    def _fetch(self, name: str, known) -> Path:
        """The cache's verified copy of file `name`, downloaded when missing or outdated."""
        if name in self.recorded:
            return self.folder / name
        sha256, blob = known
        target = self.folder / name
        relative = target.relative_to(downloads.cache_dir()).as_posix()
        hint = (f"Offline? Download the repository's files yourself and convert the folder, or "
                f"set {ENDPOINT_VARIABLE} to a mirror, or ZOO_CACHE_DIR to a cache that holds "
                f"{relative}.")
        if sha256:  # an LFS file: the hub gives its sha256
            path = downloads.fetch_cached(downloads.RemoteFile(relative, self.url(name), sha256),
                                          self.progress, hint=hint, error=ConversionError)
        else:  # a small file in git: its blob id checks it
            path = target
            if not (target.is_file() and (blob is None or git_blob_id(target) == blob)):
                with atomic.staged_file(target) as staged:
                    # zoo's one downloader (progress, timeout, length check)
                    downloads._download_or_raise(  # noqa: SLF001
                        downloads.RemoteFile(relative, self.url(name), ""), staged,
                        self.progress, hint, ConversionError)
                    if blob is not None and git_blob_id(staged) != blob:
                        raise ConversionError(
                            f"Downloaded {self.url(name)} but its git blob id is "
                            f"{git_blob_id(staged)}, not the {blob} the hub's metadata lists; "
                            f"nothing was saved. {hint}")
        self.recorded[name] = downloads.sha256_of(path)
        return path

    def _offline(self) -> Source:
        """The cache's copy, each file checked against the sha256 recorded when it was
        downloaded."""
        record_file = self.folder / RECORD
        why = self.offline_reason
        if not record_file.is_file():
            raise ConversionError(
                f"{self.location}: could not reach {self.base} ({why}), and the cache holds no "
                f"copy of it ({self.folder}). Convert it once online, or download its files "
                f"yourself and give their folder, or set {ENDPOINT_VARIABLE} to a mirror.")
        record = _read_config(record_file)
        files = record.get("files") if isinstance(record.get("files"), dict) else {}
        for name, sha256 in files.items():
            path = self.folder / name
            if not path.is_file() or downloads.sha256_of(path) != sha256:
                raise ConversionError(
                    f"{self.location}: offline ({why}), and the cached {path} "
                    f"{'is missing' if not path.is_file() else 'has changed since it was downloaded'} "
                    f"(expected sha256 {sha256}). Remove {self.folder} and convert again online.")
        source = detect(self.folder, self.location)
        source.files = dict(sorted(files.items()))
        return source
