"""Published leaderboard entries: trained weights loadable by name, offline.

An entry folder (`zoo/entries/<entry>/`) holds `model.json` (the Keras config), `weights.npz`
(the weights, stored as float16, or as int8 matrices with a float32 scale per row for the
larger entries, when the entry's published scores were measured with them), `weights.json`
(their sha256 and size), `tokenizer/` for text models, and the training run's `run.json`,
`recipe.json` and `history.jsonl` (its training curve; entries published before it lack it).
A converted entry (`zoo convert`: another library's checkpoint) has `conversion.json` (where it
came from, the task kind its head serves and the model name it is benchmarked as) instead of a
recipe, and `source_tokenizer/` (the source's own tokenizer files); `recipe`, `task_of` and
`model_name_of` read either kind.

The installed package ships every entry without its `weights.npz`: `weights_file` takes it
from the folder when there (a checkout), else from the cache (`$ZOO_CACHE_DIR/entries/`, default
`~/.cache/zoo/entries/`), else downloads it from `$ZOO_WEIGHTS_URL` (default `WEIGHTS_URL`, the
published copy of `zoo/entries/`) with a progress line, checks its sha256 against
`weights.json` and renames it into the cache only then (`zoo.datasets.sources.fetch_cached`).

>>> import zoo
>>> names = zoo.entries.list_entries()
>>> all("." in name for name in names)
True
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from zoo import atomic, provenance, records, safety, schema, tasks, textio
from zoo.datasets import sources
from zoo.datasets.errors import DatasetError
from zoo.models import catalog
from zoo.models.stored_weights import restore_weight, store_weight
from zoo.registry import UnknownNameError, did_you_mean

ENTRIES_DIR = Path(__file__).resolve().parent / "entries"

#: The weights file of an entry folder, and the small JSON beside it (shipped in the package
#: when the weights are not) with their sha256 and size in bytes.
WEIGHTS, MANIFEST = "weights.npz", "weights.json"
#: In an entry `zoo quantize` wrote: the mode, the float entry it came from, sizes, and
#: for int8 the layers Keras quantized (`load_folder` quantizes them before the weights).
QUANTIZATION = "quantization.json"

#: Where `weights_file` downloads weights the folder and the cache lack, unless
#: `$ZOO_WEIGHTS_URL` says otherwise: the published site serves the repository's files, so
#: `<WEIGHTS_URL><entry>/weights.npz` is the committed `zoo/entries/<entry>/weights.npz`.
WEIGHTS_URL = "https://zoo-leaderboard.github.io/zoo/zoo/entries/"


class WeightsError(DatasetError):
    """An entry's weights could not be found, downloaded or verified; the message says what to
    download where, or which variable to set."""


def search_path() -> list[Path]:
    """`$ZOO_ENTRIES_PATH` (os.pathsep-separated), then the entries published with zoo."""
    folders = [Path(p) for p in os.environ.get("ZOO_ENTRIES_PATH", "").split(os.pathsep) if p]
    return folders + [ENTRIES_DIR]


class EntryError(ValueError):
    """An entry name that cannot be used: two folders on the search path hold it."""


def _entry_folders(root: Path) -> list[Path]:
    """The entry folders in `root` (not the hidden one a `publish` is still filling)."""
    return sorted(folder for folder in root.iterdir()
                  if not folder.name.startswith(".") and (folder / "model.json").is_file())


def scan() -> schema.Scan:
    """The entry folders on the search path (a fresh look each call): the usable ones by name
    in `.registry`, and in `.problems` an entry name two folders hold (a user's entry reusing
    a shipped one's name), refused as recipes and benchmarks are (`schema.scan`)."""
    return schema.scan(search_path(), lambda folder: folder, lambda folder: folder.name, "entry",
                       EntryError, files=_entry_folders, shipped=ENTRIES_DIR,
                       rename=" (its folder)")


def list_entries(pattern: str | None = None) -> list[str]:
    return scan().registry.names(pattern)


def folder(entry: str) -> Path:
    """The folder of a published entry. Raises UnknownNameError (with the closest names) if
    unknown, EntryError if two folders on the search path hold it."""
    return scan().get(entry)


def is_entry_folder(path) -> bool:
    """Whether `path` holds an entry: model.json, and weights.npz or the weights.json that
    says which weights to download."""
    path = Path(path)
    return (path / "model.json").is_file() and (
        (path / WEIGHTS).is_file() or (path / MANIFEST).is_file())


def weights_url() -> str:
    """`$ZOO_WEIGHTS_URL`, else `WEIGHTS_URL`, ending in "/"."""
    url = os.environ.get("ZOO_WEIGHTS_URL", "").strip() or WEIGHTS_URL
    return url if url.endswith("/") else url + "/"


def manifest(weights) -> dict:
    """What `weights.json` holds for a weights file: its sha256 (hex) and size (bytes)."""
    return {"sha256": sources.sha256_of(weights), "size": Path(weights).stat().st_size}


def weights_file(path, progress: bool = True) -> Path:
    """The local weights of the entry folder `path`: its own `weights.npz`, else the cached
    copy whose sha256 is the one `weights.json` gives, else that file downloaded from
    `weights_url()` into the cache (progress on stderr when `progress`; verified before it is
    renamed into place, so nothing is left behind by a failed or wrong download).

    Raises:
        WeightsError: the folder has neither file; `weights.json` is unreadable; or the
            download failed or gave other bytes. The message names the file to download, its
            sha256 and where to put it, and `$ZOO_WEIGHTS_URL`.
    """
    path = Path(path)
    if (path / WEIGHTS).is_file():
        return path / WEIGHTS
    if not (path / MANIFEST).is_file():
        raise WeightsError(f"{path} has neither {WEIGHTS} nor {MANIFEST} (the sha256 and size "
                           "to download it with); publish the entry again (`zoo publish`).")
    expected = textio.read_json_object(path / MANIFEST, WeightsError)
    sha256, size = expected.get("sha256"), expected.get("size")
    if not (isinstance(sha256, str) and len(sha256) == 64 and isinstance(size, int)
            and set(sha256) <= set("0123456789abcdef")):
        raise WeightsError(f"{path / MANIFEST}: expected {{\"sha256\": 64 hex digits, \"size\": "
                           f"bytes}}, got {expected}; publish the entry again (`zoo publish`).")
    file = sources.RemoteFile(f"entries/{path.name}/{WEIGHTS}",
                              f"{weights_url()}{path.name}/{WEIGHTS}", sha256)
    target = sources.cache_dir() / file.path
    hint = (f"Offline? Download {file.url} ({size / 1e6:.1f} MB, sha256 {sha256}) to {target}, "
            f"or set ZOO_WEIGHTS_URL to a server (or file:// folder) that holds "
            f"{path.name}/{WEIGHTS}, or ZOO_CACHE_DIR to a cache that holds "
            f"{file.path}.")
    return sources.fetch_cached(file, progress, hint=hint, error=WeightsError)


def size(entry: str) -> int:
    """Bytes of an entry's files, its weights counted at their published size whether or not
    they are downloaded yet."""
    where = folder(entry)
    total = sum(f.stat().st_size for f in where.rglob("*") if f.is_file() and f.name != MANIFEST)
    if not (where / WEIGHTS).is_file() and (where / MANIFEST).is_file():
        total += int(textio.read_json(where / MANIFEST).get("size", 0))
    return total


def load_folder(path, safe_mode=True):
    """A Keras model from an entry folder, with float32 weights.

    Entry folders ship with zoo or come from folders the user chose (`$ZOO_ENTRIES_PATH`), so
    the config is rebuilt in Keras' safe mode (a hub entry's `zoo:` handles pass it; see
    `zoo.safety`); code in it raises `zoo.safety.UnsafeCodeError` unless `safe_mode=False`,
    and any other failure (a broken config or weights file) `zoo.safety.ModelFileError`."""
    import keras
    import numpy as np
    from keras.src.saving import serialization_lib

    catalog.import_all_families()
    path = Path(path)
    # The scope holds even inside the load of another model that was allowed to run code (a
    # HubLayer on zoo:ENTRY/PART exports that entry): only what the user named is trusted.
    with safety.loading(path / "model.json", safe_mode), \
            serialization_lib.SafeModeScope(safe_mode is not False):
        config = textio.read_json(path / "model.json")
        model = keras.saving.deserialize_keras_object(config, safe_mode=safe_mode is not False)
    if (path / QUANTIZATION).is_file():  # an int8 entry: the float model's quantized layers
        from zoo.layers.quantization import requantize

        requantize(model, textio.read_json(path / QUANTIZATION).get("quantized_layers") or {})
    stored_file = weights_file(path)
    with safety.loading(stored_file, safe_mode), \
            np.load(stored_file, allow_pickle=False) as stored:
        weights = [restore_weight(stored, f"{i:04d}").astype(w.dtype)
                   for i, w in enumerate(model.get_weights())]
        model.set_weights(weights)
    return model


#: How an entry stores its weights (`weights.npz`), and how an export stores them: a storage
#: format, not the precision a model trains or computes in (Keras dtype policies: those are
#: `zoo.models.dtype_policy.TRAINING_POLICIES`).
STORAGE_PRECISIONS = ("float16", "float32", "int8")


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


def lineage_training_data(run_info: dict) -> list[dict]:
    """The (dataset, split) pairs a run read, and those of every published entry it started
    from (`init_from`, or `zoo:ENTRY/...` TF Hub handles in its recipe), marked `via` that
    entry: a fine-tuned model has also seen its pretraining data.

    >>> info = json.loads((folder("bert_mini.sst2") / "run.json").read_text())
    >>> [(d["dataset"], d["split"], d.get("via")) for d in lineage_training_data(info)][:2]
    [('sst2', 'train', None), ('sst2', 'train', 'bert_mini.mlm-sst2-trec')]
    """
    data = [dict(d) for d in run_info.get("training_data", [])]
    parents = [run_info["init_from"]] if run_info.get("init_from") else []
    for value in ((run_info.get("recipe") or {}).get("model_overrides") or {}).values():
        handle = parse_zoo_handle(value)
        if handle and handle[0] not in parents:
            parents.append(handle[0])
    for parent in parents:
        try:
            info = textio.read_json(folder(parent) / "run.json")
        except (KeyError, LookupError, OSError, ValueError):
            data.append({"dataset": None, "split": None, "via": parent,
                         "note": "entry not found: its training data is unknown"})
            continue
        for d in lineage_training_data(info):
            data.append({**d, "via": d.get("via") or parent})
    return data


def results_dir() -> Path | None:
    """The published result records: `$ZOO_RESULTS_DIR`, else the checkout's
    `benchmarks/results/`; None from an installed package (no scores then)."""
    if os.environ.get("ZOO_RESULTS_DIR"):
        return Path(os.environ["ZOO_RESULTS_DIR"])
    root = provenance.checkout()
    return root / "benchmarks" / "results" if root is not None else None


def published_scores(entry: str | None = None) -> list[dict]:
    """The published full-run scores of `entry` (None: of every entry), from the records in
    `results_dir()`: dicts with entry, benchmark, metric, value, low, high, record (file name).
    Records are read as `zoo.records.read` reads them (older versions migrated, every field
    checked); those that are flagged (untrained, limited, dirty, test data seen) or unreadable
    are left out (`zoo.records.published_score`)."""
    results = results_dir()
    scores = []
    for path in sorted(results.glob("*/*.json")) if results and results.is_dir() else []:
        try:
            score = records.published_score(records.read(path), path.name)
        except (OSError, ValueError, RecursionError):  # RecordError is a ValueError
            continue
        if score is not None and entry in (None, score["entry"]):
            scores.append(score)
    return scores


#: A converted entry's record of its source (written by `zoo.convert.entry`), in place of the
#: `recipe.json` of a trained one.
CONVERSION = "conversion.json"
#: A converted entry's copy of its source's tokenizer files (`vocab.json`, `merges.txt`, ...
#: as the source has them), written back by `zoo export --format hf` when zoo has no tokenizer
#: of its own for the model.
SOURCE_TOKENIZER = "source_tokenizer"


def conversion(path) -> dict | None:
    """The `conversion.json` of the entry folder `path` as a dict, or None for an entry zoo
    trained (no such file)."""
    file = Path(path) / CONVERSION
    return textio.read_json_object(file) if file.is_file() else None


def recipe(path) -> dict:
    """The `recipe.json` of the entry folder `path` as a dict; `{}` for a converted entry
    (trained elsewhere: no recipe) or a folder without one."""
    file = Path(path) / "recipe.json"
    return textio.read_json_object(file) if file.is_file() else {}


def task_of(path) -> str | None:
    """The task kind the entry in folder `path` does: its recipe's `task`, or for a converted
    entry the kind its head serves (`conversion.json` `task`; None for a head that serves no
    task kind, as a bare backbone)."""
    found = recipe(path)
    if found:
        return found.get("task")
    return (conversion(path) or {}).get("task")


def model_name_of(path) -> str | None:
    """The model name the entry in folder `path` is benchmarked as (`zoo bench run --entry`):
    its recipe's `model` (a preset), or for a converted entry its family (`conversion.json`
    `model`), which the harness accepts with the entry's weights; None when neither says."""
    found = recipe(path)
    if found:
        return found.get("model")
    return (conversion(path) or {}).get("model")


def expected_input(entry: str) -> str:
    """What the entry's model takes, in words: images with their shape and scale, or text.
    Reads its recipe.json (a converted entry's conversion.json) and model.json only (no
    TensorFlow).

    >>> expected_input("vit_tiny_patch4_28.mnist")
    'images (N, 28, 28, 1) float32 in [0, 1]'
    """
    where = folder(entry)
    task = task_of(where)
    if task is None:
        name = textio.read_json(where / "model.json").get("class_name", "zoo")
        return f"the inputs of a {name} (no task kind: a backbone)"
    try:
        kind = tasks.get(task)
    except UnknownNameError:  # a plug-in kind this process has not registered
        return f"inputs of a {task} model"
    config = textio.read_json(where / "model.json").get("config", {})
    return tasks.expected_input(kind, config)


def load(entry: str):
    """The trained model of a published entry, e.g. `zoo.entries.load("vae_base.mnist")`."""
    return load_folder(folder(entry))


def load_tokenizer(entry: str):
    """The tokenizer of a published entry (of the kind its `tokenizer.json` names)."""
    from zoo.text import tokenizers

    return tokenizers.load(folder(entry) / "tokenizer")


#: What `publish` reads from a run (or entry) folder; `export_entry` and `init_from` read the
#: same. None may be a link (`zoo.safety.check_own_files`).
COPIED = ("run.json", "recipe.json", "model.keras", "model.json", "weights.npz", "tokenizer",
          "history.jsonl", CONVERSION, SOURCE_TOKENIZER)
#: The training history `zoo train` writes into a run folder (one JSON row per logged step),
#: copied into the entry as it is when the run has one: `zoo bench run` draws the entry's
#: training curve from it (`zoo.records.training_curve`).
HISTORY = "history.jsonl"


def publish_root() -> Path:
    """Where `publish` writes unless told: the checkout's `zoo/entries/`; for an installed zoo,
    `entries/` in the current folder (never the installed package; put it on
    `$ZOO_ENTRIES_PATH` to load its entries by name)."""
    return ENTRIES_DIR if provenance.checkout() is not None else Path("entries")


def publish(run_dir, dest_root=None, precision="float16", safe_mode=True) -> Path:
    """Copies a finished run into an entry folder (atomically): config, weights (`precision`:
    "float16" by default, "float32", or "int8": matrices as int8 with a scale per row, vectors
    as float16, for entries too large to commit otherwise), weights.json (their sha256 and
    size), tokenizer, run.json, recipe.json and the training history (history.jsonl, when
    the run has one). Returns the entry folder, under `dest_root`
    (default `publish_root()`). A link among those files (`COPIED`) raises
    `zoo.safety.LinkedFileError`: it would copy a file from elsewhere into the entry.

    `run_dir` may also be a published entry (its folder), to store it again in a narrower
    precision when its run folder is gone; its run.json then says which precision the
    weights were narrowed from. Measure the entry again after either.

    The model loads in Keras' safe mode (`zoo.safety`; `safe_mode=False` lets its code run),
    and the entry name in run.json must be a plain name: it becomes the folder's name. The
    checks of the arguments and of the folder come before TensorFlow is imported."""
    import numpy as np

    if precision not in STORAGE_PRECISIONS:
        hint = did_you_mean(precision, STORAGE_PRECISIONS)
        raise ValueError(f"Unknown weights precision {precision!r}; use one of "
                         f"{', '.join(STORAGE_PRECISIONS)}.{' ' + hint if hint else ''}")
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file():
        raise FileNotFoundError(f"{run_dir} has no run.json: give the folder `zoo train` wrote "
                                "(or a published entry's folder).")
    # Everything publish reads or copies is the run's own file, never a link to one elsewhere.
    safety.check_own_files(run_dir, COPIED)
    info = textio.read_json(run_dir / "run.json")
    if info.get("status") != "complete":
        raise ValueError(f"{run_dir} is not a finished run (status {info.get('status')!r}).")
    entry = safety.check_name(info.get("entry"), "its entry name", run_dir / "run.json")
    import keras

    if is_entry_folder(run_dir):
        # Re-publishing an entry can only narrow its weights: a float16 entry has no float32
        # weights to give.
        before = info.get("published", {})
        stored = before.get("weights_precision", "float32")

        def width(p):
            return np.dtype(p).itemsize

        if width(precision) > width(stored):
            narrower = [p for p in STORAGE_PRECISIONS if width(p) < width(stored)] or ["none"]
            raise ValueError(f"the entry stores {stored} weights; re-publishing it can only "
                             f"narrow them (--precision {' or '.join(narrower)}); publish its "
                             "run folder for wider weights.")
        model = load_folder(run_dir, safe_mode=safe_mode)
        published = {"weights_precision": precision,
                     "from_run": before.get("from_run", str(run_dir)),
                     "narrowed_from": stored}
    else:
        model = catalog.load_model(run_dir / "model.keras", safe_mode=safe_mode)
        published = {"weights_precision": precision, "from_run": str(run_dir)}
    dest_root = publish_root() if dest_root is None else Path(dest_root)
    target = dest_root / entry
    with atomic.staged_folder(target, existing="replace") as staging:  # re-publishing replaces
        config = keras.saving.serialize_keras_object(model)
        (staging / "model.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
        arrays = {f"w{i:04d}{suffix}": array for i, w in enumerate(model.get_weights())
                  for suffix, array in store_weight(w, precision).items()}
        np.savez_compressed(staging / WEIGHTS, **arrays)
        listing = manifest(staging / WEIGHTS)
        (staging / MANIFEST).write_text(json.dumps(listing, indent=2, sort_keys=True) + "\n")
        if (run_dir / "tokenizer").is_dir():
            shutil.copytree(run_dir / "tokenizer", staging / "tokenizer")
        info["published"] = published
        (staging / "run.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        if (run_dir / "recipe.json").is_file():  # a converted entry has conversion.json instead
            shutil.copy2(run_dir / "recipe.json", staging / "recipe.json")
        for name in (CONVERSION, SOURCE_TOKENIZER):
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, staging / name)
            elif (run_dir / name).is_dir():
                shutil.copytree(run_dir / name, staging / name)
        if (run_dir / HISTORY).is_file():
            shutil.copy2(run_dir / HISTORY, staging / HISTORY)
    return target
