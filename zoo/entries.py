"""Published leaderboard entries: trained weights loadable by name, offline.

An entry folder (`zoo/entries/<entry>/`) holds `model.json` (the Keras config), `weights.npz`
(the weights, stored as float16, or as int8 matrices with a float32 scale per row for the
larger entries, when the entry's published scores were measured with them), `tokenizer/` for
text models, and the training run's `run.json` and `recipe.json`.

>>> import zoo
>>> names = zoo.entries.list_entries()
>>> all("." in name for name in names)
True
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from zoo import textio
from zoo.registry import Registry

ENTRIES_DIR = Path(__file__).resolve().parent / "entries"


def search_path() -> list[Path]:
    """`$ZOO_ENTRIES_PATH` (os.pathsep-separated), then the entries published with zoo."""
    folders = [Path(p) for p in os.environ.get("ZOO_ENTRIES_PATH", "").split(os.pathsep) if p]
    return folders + [ENTRIES_DIR]


def _registry() -> Registry:
    found = Registry("entry")
    for root in search_path():
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if (folder / "model.json").is_file() and folder.name not in found:
                    found.register(folder.name, folder)
    return found


def list_entries(pattern: str | None = None) -> list[str]:
    return _registry().names(pattern)


def folder(entry: str) -> Path:
    """The folder of a published entry (raises with the closest names if unknown)."""
    return _registry().get(entry)


def is_entry_folder(path) -> bool:
    path = Path(path)
    return (path / "model.json").is_file() and (path / "weights.npz").is_file()


def load_folder(path, safe_mode=True):
    """A Keras model from an entry folder, with float32 weights.

    Entry folders ship with zoo or come from folders the user chose (`$ZOO_ENTRIES_PATH`), so
    the config is rebuilt in Keras' safe mode (a hub entry's `zoo:` handles pass it; see
    `zoo.safety`); code in it raises `zoo.safety.UnsafeCodeError` unless `safe_mode=False`,
    and any other failure (a broken config or weights file) `zoo.safety.ModelFileError`."""
    import keras
    import numpy as np
    from keras.src.saving import serialization_lib

    import zoo.models.catalog as catalog
    from zoo import safety

    catalog.import_all_families()
    path = Path(path)
    # The scope holds even inside the load of another model that was allowed to run code (a
    # HubLayer on zoo:ENTRY/PART exports that entry): only what the user named is trusted.
    with safety.loading(path / "model.json", safe_mode), \
            serialization_lib.SafeModeScope(safe_mode is not False):
        config = textio.read_json(path / "model.json")
        model = keras.saving.deserialize_keras_object(config, safe_mode=safe_mode is not False)
    with safety.loading(path / "weights.npz", safe_mode), \
            np.load(path / "weights.npz", allow_pickle=False) as stored:
        weights = [restore_weight(stored, f"{i:04d}").astype(w.dtype)
                   for i, w in enumerate(model.get_weights())]
        model.set_weights(weights)
    return model


PRECISIONS = ("float16", "float32", "int8")


def store_weight(weight, precision: str) -> dict:
    """One weight as stored: integer weights as they are; float vectors as float16 (int8) or the
    precision; float matrices under int8 as round(w / scale) with one scale per row of the
    weight flattened to [-1, last axis] (symmetric, max |w| / 127), i.e. per token for
    embedding tables, per input unit for kernels."""
    import numpy as np

    if weight.dtype.kind != "f":
        return {"": weight}
    if precision != "int8":
        return {"": weight.astype(precision)}
    if weight.ndim < 2:
        return {"": weight.astype("float16")}
    rows = weight.reshape(-1, weight.shape[-1]).astype("float32")
    scale = np.abs(rows).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    quantized = np.clip(np.rint(rows / scale[:, None]), -127, 127).astype("int8")
    return {"": quantized.reshape(weight.shape), ".scale": scale}


def dequantize(quantized, scale):
    """int8 rows (the weight flattened to [-1, last axis]) times their scale, as float32: for
    numpy arrays at load time and for tensors inside an exported graph alike."""
    from keras import ops

    rows = ops.reshape(ops.cast(quantized, "float32"), (-1, quantized.shape[-1]))
    return ops.reshape(rows * scale[:, None], quantized.shape)


def restore_weight(stored, key: str):
    """The float32 (or integer) array `store_weight` wrote under `key`."""
    import numpy as np

    weight = stored["w" + key]
    if "w" + key + ".scale" not in stored:
        return weight
    return np.asarray(dequantize(weight, stored["w" + key + ".scale"]))


def lineage_training_data(run_info: dict) -> list[dict]:
    """The (dataset, split) pairs a run read, and those of every published entry it started
    from (`init_from`, or `zoo:ENTRY/...` TF Hub handles in its recipe), marked `via` that
    entry: a fine-tuned model has also seen its pretraining data.

    >>> info = json.loads((folder("bert_mini.sst2") / "run.json").read_text())
    >>> [(d["dataset"], d["split"], d.get("via")) for d in lineage_training_data(info)][:2]
    [('sst2', 'train', None), ('sst2', 'train', 'bert_mini.mlm-sst2-trec')]
    """
    from zoo.hub.resolve import parse_zoo_handle

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


def results_dir() -> Path:
    """The published result records: `$ZOO_RESULTS_DIR`, else the checkout's
    `benchmarks/results/` (absent from an installed package: no scores then)."""
    return Path(os.environ.get("ZOO_RESULTS_DIR",
                               Path(__file__).resolve().parents[1] / "benchmarks" / "results"))


def published_scores(entry: str | None = None) -> list[dict]:
    """The published full-run scores of `entry` (None: of every entry), from the records in
    `results_dir()`: dicts with entry, benchmark, metric, value, low, high, record (file name).
    Records that are flagged (untrained, limited, dirty, test data seen) or unreadable are
    left out."""
    results = results_dir()
    scores = []
    for path in sorted(results.glob("*/*.json")) if results.is_dir() else []:
        try:
            record = textio.read_json(path)
        except (OSError, ValueError):
            continue
        name = record.get("model", {}).get("entry")
        if name is None or (entry is not None and name != entry) or any(
                record.get("flags", {}).values()):
            continue
        main = record["main_metric"]
        scores.append({"entry": name, "benchmark": record["benchmark"]["id"],
                       "metric": main["name"], "value": main["value"], "low": main["low"],
                       "high": main["high"], "record": path.name})
    return scores


def expected_input(entry: str) -> str:
    """What the entry's model takes, in words: images with their shape and scale, or text.
    Reads its recipe.json and model.json only (no TensorFlow).

    >>> expected_input("vit_tiny_patch4_28.mnist")
    'images (N, 28, 28, 1) float32 in [0, 1]'
    """
    where = folder(entry)
    recipe = textio.read_json(where / "recipe.json")
    task = recipe.get("task")
    if task in ("image_classification", "image_generation"):
        config = textio.read_json(where / "model.json").get("config", {})
        size = config.get("image_size", "H")
        height, width = size if isinstance(size, list) else (size, size)
        return f"images (N, {height}, {width}, {config.get('num_channels', 'C')}) float32 in [0, 1]"
    if task == "translation":
        return "strings (source sentences)"
    if task == "masked_lm":
        return "strings (masked-LM pretraining: an encoder to fine-tune)"
    return "strings (raw text)"


def load(entry: str):
    """The trained model of a published entry, e.g. `zoo.entries.load("vae_base.mnist")`."""
    return load_folder(folder(entry))


def load_tokenizer(entry: str):
    from zoo.text import WordPieceTokenizer

    return WordPieceTokenizer.load(folder(entry) / "tokenizer")


#: What `publish` reads from a run (or entry) folder; `export_entry` and `init_from` read the
#: same. None may be a link (`zoo.safety.check_own_files`).
COPIED = ("run.json", "recipe.json", "model.keras", "model.json", "weights.npz", "tokenizer")


def publish(run_dir, dest_root=ENTRIES_DIR, precision="float16", safe_mode=True) -> Path:
    """Copies a finished run into an entry folder (atomically): config, weights (`precision`:
    "float16" by default, "float32", or "int8": matrices as int8 with a scale per row, vectors
    as float16, for entries too large to commit otherwise), tokenizer, run.json and recipe.json.
    Returns the entry folder. A link among those files (`COPIED`) raises
    `zoo.safety.LinkedFileError`: it would copy a file from elsewhere into the entry.

    `run_dir` may also be a published entry (its folder), to store it again in a narrower
    precision when its run folder is gone; its run.json then says which precision the
    weights were narrowed from. Measure the entry again after either.

    The model loads in Keras' safe mode (`zoo.safety`; `safe_mode=False` lets its code run),
    and the entry name in run.json must be a plain name: it becomes the folder's name."""
    import keras
    import numpy as np

    import zoo
    from zoo import safety

    if precision not in PRECISIONS:
        raise ValueError(f"Unknown weights precision {precision!r}; use one of "
                         f"{', '.join(PRECISIONS)}.")
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
    if is_entry_folder(run_dir):
        # Re-publishing an entry can only narrow its weights: a float16 entry has no float32
        # weights to give.
        before = info.get("published", {})
        stored = before.get("weights_precision", "float32")

        def width(p):
            return np.dtype(p).itemsize

        if width(precision) > width(stored):
            narrower = [p for p in PRECISIONS if width(p) < width(stored)] or ["none"]
            raise ValueError(f"the entry stores {stored} weights; re-publishing it can only "
                             f"narrow them (--precision {' or '.join(narrower)}); publish its "
                             "run folder for wider weights.")
        model = load_folder(run_dir, safe_mode=safe_mode)
        published = {"weights_precision": precision,
                     "from_run": before.get("from_run", str(run_dir)),
                     "narrowed_from": stored}
    else:
        model = zoo.load_model(run_dir / "model.keras", safe_mode=safe_mode)
        published = {"weights_precision": precision, "from_run": str(run_dir)}
    dest_root = Path(dest_root)
    dest_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry}.", dir=dest_root))
    try:
        config = keras.saving.serialize_keras_object(model)
        (staging / "model.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
        arrays = {f"w{i:04d}{suffix}": array for i, w in enumerate(model.get_weights())
                  for suffix, array in store_weight(w, precision).items()}
        np.savez_compressed(staging / "weights.npz", **arrays)
        if (run_dir / "tokenizer").is_dir():
            shutil.copytree(run_dir / "tokenizer", staging / "tokenizer")
        info["published"] = published
        (staging / "run.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        shutil.copy2(run_dir / "recipe.json", staging / "recipe.json")
        os.chmod(staging, 0o755)
        target = dest_root / entry
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)
