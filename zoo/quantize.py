"""`zoo quantize ENTRY --mode MODE`: a compressed copy of an entry, as an entry of its own.

Modes (`MODES`):

- `int8`: Keras 3's `model.quantize("int8")`: every `Dense` and token table (`Embedding`,
  zoo's `ReversibleEmbedding` with its tied output projection) holds int8 weights with a
  float32 scale per output unit (symmetric, `max |w| / 127`), and quantizes its inputs per row
  at each call (dynamic activations): integer matmuls. Layers Keras does not quantize
  (convolutions, normalization, position tables, a TF Hub layer) keep float weights; the entry
  lists them (`float_layers`). Loading rebuilds the float model from `model.json` and
  quantizes the recorded layers before the stored int8 values are set
  (`zoo.layers.quantization`).
- `int8-weights`: weight-only int8 storage: each float matrix as int8 rows with a float32
  scale per row, vectors as float16 (`zoo.models.stored_weights`), widened to float32 at load:
  the model computes in float32.
- `float16`: every float weight stored as float16, widened to float32 at load.

The new entry `ENTRY.MODE` (in `--to DIR`, default: where `zoo publish` writes) keeps the float
entry's `model.json`, tokenizer, recipe, history and run.json (its `entry` renamed) and adds
`quantization.json` (`zoo.entries.QUANTIZATION`): the mode, the float entry and the sha256 of
its weights, how that entry stores them (`from_storage`), sizes on disk in bytes, and for int8
the quantized and float layers. The harness reads it into a record's `compression` table
(`zoo.harness.compression`).

Refused, with the reason and what to do instead: a copy that would be the same model (float16
of an entry stored in float16, int8-weights of one stored as int8 rows) or a larger, less exact
one (float16 of int8 rows); int8 of a model whose parameters would mostly stay float (a TF Hub
encoder, which Keras cannot quantize: `hub_bert_classifier.sst2`); `--to` a file, an entry
folder or a folder inside one; a target that exists (unless `--force`).

>>> MODES
('int8', 'int8-weights', 'float16')
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from zoo import atomic, entries, safety, textio
from zoo.registry import did_you_mean

MODES = ("int8", "int8-weights", "float16")
#: What the stored weights are for each mode (`zoo.entries.STORAGE_PRECISIONS`), for the
#: modes that are a storage precision.
_STORAGE = {"int8-weights": "int8", "float16": "float16"}
#: Files of the float entry not copied: its weights (rewritten) and a Keras file beside them.
_NOT_COPIED = (entries.WEIGHTS, entries.MANIFEST, entries.QUANTIZATION, "model.keras")


class QuantizeError(ValueError):
    """A request `zoo quantize` cannot do; the message names the entry, mode or layer."""


def check_mode(mode: str) -> str:
    """`mode` when it is one of `MODES`; else QuantizeError with the modes and the closest."""
    if mode not in MODES:
        hint = did_you_mean(mode.lower() if isinstance(mode, str) else mode, MODES)
        raise QuantizeError(f"Unknown quantization mode {mode!r}; use one of "
                            f"{', '.join(MODES)}.{' ' + hint if hint else ''}")
    return mode


def source_folder(entry) -> Path:
    """The float entry's folder: an entry name on the search path (UnknownNameError with the
    closest names otherwise) or an entry folder's path."""
    path = Path(entry)
    if entries.is_entry_folder(path):
        return path
    if path.exists() or "/" in str(entry) or "\\" in str(entry):  # a path, not a name
        what = ("is not an entry folder (no model.json with weights.npz or weights.json)"
                if path.exists() else "does not exist")
        raise QuantizeError(f"{path} {what}; give an entry name (`zoo entries`) or an "
                            "entry's folder.")
    return entries.folder(str(entry))


def check_target_root(to) -> Path:
    """`to`, the folder the new entry folder goes in, when it can hold one: not a file, not
    an entry folder nor a folder inside one (the new entry would become part of that entry's
    files). Raises QuantizeError naming it."""
    root = Path(to)
    if root.exists() and not root.is_dir():
        raise QuantizeError(f"--to {root} is a file; give a folder of entry folders (the new "
                            "entry is written as a folder inside it).")
    for folder in (root, *root.resolve().parents):
        if entries.is_entry_folder(folder):
            where = "is an entry folder" if folder == root else f"is inside the entry folder {folder}"
            raise QuantizeError(f"--to {root} {where}: the new entry would become one of its "
                                "files; give the folder that holds entry folders (e.g. "
                                f"{folder.parent}).")
    return root


def stored_precision(folder: Path) -> str:
    """How an entry stores its weights: "int8" (matrices as int8 rows with a scale),
    "float16" (every float weight float16) or "float32"."""
    import numpy as np

    with np.load(entries.weights_file(folder), allow_pickle=False) as stored:
        if any(key.endswith(".scale") for key in stored.files):
            return "int8"
        kinds = {stored[key].dtype for key in stored.files if stored[key].dtype.kind == "f"}
    return "float16" if kinds <= {np.dtype("float16")} else "float32"


def _check_narrower(source: Path, stored: str, mode: str) -> None:
    """QuantizeError when `mode`'s storage would give the same model as `source` (whose
    weights are stored in `stored`) or a larger and less exact one (float16 of int8 rows)."""
    if mode not in _STORAGE:
        return
    name = source.name
    if stored == "int8" and mode == "float16":
        raise QuantizeError(
            f"{name} stores its weight matrices as int8 rows with a scale "
            f"({source / entries.WEIGHTS}): a float16 copy would be larger and round them "
            f"again. Benchmark {name} itself, or use --mode int8 for int8 arithmetic.")
    if stored == _STORAGE[mode]:
        what = ("stores its weight matrices as int8 rows with a scale" if stored == "int8"
                else "already stores its weights as float16")
        raise QuantizeError(
            f"{name} {what} ({source / entries.WEIGHTS}): a {mode} copy would be the same model "
            f"at the same size; its own records are the {mode} numbers. "
            + ("Use --mode int8 for int8 arithmetic." if stored == "int8" else
               "Use --mode int8 or int8-weights to make it smaller."))


def quantize_entry(entry, mode: str, to=None, safe_mode: bool = True,
                   force: bool = False) -> Path:
    """Writes `ENTRY.MODE`, a quantized copy of the entry `entry` (a name or folder), into
    `to` (default `zoo.entries.publish_root()`), atomically; returns its folder.

    Raises:
        QuantizeError: an unknown mode; an entry that is itself quantized; a `to` that is a
            file, an entry folder or inside one; a target that exists (unless `force`), also
            one another process wrote meanwhile; a storage mode that would give the same model
            (float16 of a float16 entry, int8-weights of an int8-stored one) or a larger one
            (float16 of an int8-stored entry); int8 of a model whose parameters would mostly
            stay float (the layers Keras cannot quantize named, with their sizes).
        UnknownNameError: an unknown entry (with the closest names).
    """
    check_mode(mode)
    source = source_folder(entry)
    if (source / entries.QUANTIZATION).is_file():
        done = textio.read_json(source / entries.QUANTIZATION).get("mode")
        raise QuantizeError(f"{source.name} is already quantized ({done}, "
                            f"{source / entries.QUANTIZATION}); quantize its float entry.")
    safety.check_own_files(source)
    root = check_target_root(entries.publish_root() if to is None else to)
    target = root / f"{source.name}.{mode}"
    if target.exists() and not force:
        raise QuantizeError(f"{target} exists; remove it or pass --force to replace it.")
    stored = stored_precision(source)
    _check_narrower(source, stored, mode)
    model = entries.load_folder(source, safe_mode=safe_mode)
    float32_bytes = sum(w.size * 4 if w.dtype.kind == "f" else w.nbytes
                        for w in model.get_weights())  # the weights in float32, uncompressed
    arrays, details = _stored(model, mode)
    details["from_storage"] = stored  # int8: an int8 copy rounds the stored int8 rows again
    try:
        written = _write(source, target, model, arrays, details, float32_bytes, mode, force)
    except FileExistsError:  # another process wrote it since the check above
        raise QuantizeError(f"{target} exists (written meanwhile); remove it or pass --force "
                            "to replace it.") from None
    return written


def _write(source, target, model, arrays, details, float32_bytes, mode, force) -> Path:
    """The entry folder `target`, written whole or not at all (`zoo.atomic.staged_folder`)."""
    with atomic.staged_folder(target, existing="replace" if force else "error") as staging:
        _copy_entry_files(source, staging, target.name)
        _save_weights(arrays, staging)
        weights_bytes = (staging / entries.WEIGHTS).stat().st_size
        record = {
            "mode": mode,
            "from_entry": source.name,
            "from_weights_sha256": _weights_sha256(source),
            "from_size_bytes": _folder_bytes(source),
            "from_weights_bytes": _weights_bytes(source),
            "size_bytes": _folder_bytes(staging),
            "weights_bytes": weights_bytes,
            "float32_bytes": int(float32_bytes),
            "params": int(model.count_params()),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **details,
        }
        (staging / entries.QUANTIZATION).write_text(
            json.dumps(record, indent=1, sort_keys=True) + "\n")
    return target


def _stored(model, mode):
    """`({npz key: array}, details)` of `model`'s weights in `mode` (the keys `load_folder`
    reads: `w0000`, `w0000.scale`, ...)."""
    from zoo.models.stored_weights import store_weight

    if mode in _STORAGE:
        arrays = {f"w{i:04d}{suffix}": array for i, w in enumerate(model.get_weights())
                  for suffix, array in store_weight(w, _STORAGE[mode]).items()}
        return arrays, {"storage": _STORAGE[mode]}
    from zoo.layers import quantization

    _quantize_int8(model)
    arrays = {f"w{i:04d}": _lossless_narrow(w) for i, w in enumerate(model.get_weights())}
    return arrays, {"storage": "int8 (Keras-quantized layers), float16 or float32 (others)",
                    "quantized_layers": quantization.quantized_layers(model),
                    "float_layers": quantization.float_layers(model)}


def _quantize_int8(model) -> None:
    """Keras' int8 quantization of `model`; QuantizeError when it quantizes no layer, or
    when more than half of the parameters would stay float (the largest such layers named)."""
    import gc
    import warnings

    total = int(model.count_params())  # before quantization adds its scales
    gc.freeze()  # Keras collects garbage once per layer: not over the heap built so far
    try:
        with warnings.catch_warnings():  # a layer without int8 stays float (listed instead)
            warnings.simplefilter("ignore")
            model.quantize("int8")
    finally:
        gc.unfreeze()
    if not any(layer.quantization_mode for layer in model._flatten_layers()):
        kinds = sorted({type(layer).__name__ for layer in model._flatten_layers(
            include_self=False) if layer.weights})
        raise QuantizeError(
            f"Keras quantizes no layer of {type(model).__name__} to int8 (its layers with "
            f"weights: {', '.join(kinds) or 'none'}); use --mode int8-weights or float16.")
    from zoo.layers import quantization

    kept = quantization.float_parameters(model)
    kept_params = sum(params for _, params in kept.values())
    if kept_params > total / 2:  # an "int8" entry in name only
        done = list(quantization.quantized_layers(model))
        biggest = sorted(kept.items(), key=lambda item: -item[1][1])[:3]
        raise QuantizeError(
            f"Keras quantizes only {', '.join(map(repr, done[:3]))}"
            f"{f' and {len(done) - 3} more' if len(done) > 3 else ''} of "
            f"{type(model).__name__} to int8: {total - kept_params:,} of {total:,} parameters; "
            f"{kept_params / total:.0%} would stay float, mostly in "
            + ", ".join(f"{path!r} ({kind}, {params:,} parameters)"
                        for path, (kind, params) in biggest)
            + ". Use --mode int8-weights (every matrix stored as int8) or float16.")


def _lossless_narrow(weight):
    """A float weight as float16 when that loses nothing (an entry stored as float16 widens
    to such values), else as it is; int8 and other integer weights as they are."""
    import numpy as np

    if weight.dtype.kind != "f" or weight.dtype == np.float16:
        return weight
    narrow = weight.astype(np.float16)
    return narrow if np.array_equal(narrow.astype(weight.dtype), weight) else weight


def _save_weights(arrays, folder: Path) -> None:
    import numpy as np

    np.savez_compressed(folder / entries.WEIGHTS, **arrays)
    listing = entries.manifest(folder / entries.WEIGHTS)
    (folder / entries.MANIFEST).write_text(json.dumps(listing, indent=2, sort_keys=True) + "\n")


def _copy_entry_files(source: Path, staging: Path, name: str) -> None:
    """The float entry's own files (config, tokenizer, recipe, history, conversion notes), its
    run.json with `entry` set to the new name."""
    for item in sorted(source.iterdir()):
        if item.name in _NOT_COPIED or item.name.startswith("."):
            continue
        if item.name == "run.json":
            info = textio.read_json(item)
            info["entry"] = name
            (staging / item.name).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        elif item.is_dir():
            shutil.copytree(item, staging / item.name)
        else:
            shutil.copy2(item, staging / item.name)


def _weights_sha256(folder: Path) -> str:
    """The sha256 of an entry's weights: its weights.json's, else computed."""
    if (folder / entries.MANIFEST).is_file():
        sha = textio.read_json(folder / entries.MANIFEST).get("sha256")
        if isinstance(sha, str):
            return sha
    from zoo.datasets import sources

    return sources.sha256_of(entries.weights_file(folder))


def _weights_bytes(folder: Path) -> int:
    if (folder / entries.WEIGHTS).is_file():
        return (folder / entries.WEIGHTS).stat().st_size
    return int(textio.read_json(folder / entries.MANIFEST).get("size", 0))


def _folder_bytes(folder: Path) -> int:
    """Bytes of an entry folder's files, its weights at their published size (downloaded or
    not), weights.json and quantization.json left out."""
    skip = {entries.WEIGHTS, entries.MANIFEST, entries.QUANTIZATION}
    total = sum(f.stat().st_size for f in folder.rglob("*")
                if f.is_file() and not (f.parent == folder and f.name in skip))
    return total + _weights_bytes(folder)
