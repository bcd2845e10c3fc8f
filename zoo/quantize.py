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
its weights, sizes on disk in bytes, and for int8 the quantized and float layers. The harness
reads it into a record's `compression` table (`zoo.harness.compression`).

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
        hint = did_you_mean(mode, MODES)
        raise QuantizeError(f"Unknown quantization mode {mode!r}; use one of "
                            f"{', '.join(MODES)}.{' ' + hint if hint else ''}")
    return mode


def source_folder(entry) -> Path:
    """The float entry's folder: an entry name on the search path (UnknownNameError with the
    closest names otherwise) or an entry folder's path."""
    path = Path(entry)
    if entries.is_entry_folder(path):
        return path
    return entries.folder(str(entry))


def quantize_entry(entry, mode: str, to=None, safe_mode: bool = True,
                   force: bool = False) -> Path:
    """Writes `ENTRY.MODE`, a quantized copy of the entry `entry` (a name or folder), into
    `to` (default `zoo.entries.publish_root()`), atomically; returns its folder.

    Raises:
        QuantizeError: an unknown mode; an entry that is itself quantized; a target that
            exists (unless `force`); a model with nothing Keras can quantize in that mode
            (its class named).
        UnknownNameError: an unknown entry (with the closest names).
    """
    check_mode(mode)
    source = source_folder(entry)
    if (source / entries.QUANTIZATION).is_file():
        done = textio.read_json(source / entries.QUANTIZATION).get("mode")
        raise QuantizeError(f"{source.name} is already quantized ({done}, "
                            f"{source / entries.QUANTIZATION}); quantize its float entry.")
    safety.check_own_files(source)
    target = Path(entries.publish_root() if to is None else to) / f"{source.name}.{mode}"
    if target.exists() and not force:
        raise QuantizeError(f"{target} exists; remove it or pass --force to replace it.")
    model = entries.load_folder(source, safe_mode=safe_mode)
    float32_bytes = sum(w.size * 4 if w.dtype.kind == "f" else w.nbytes
                        for w in model.get_weights())  # the weights in float32, uncompressed
    arrays, details = _stored(model, mode)
    with atomic.staged_folder(target, existing="replace") as staging:
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
    """Keras' int8 quantization of `model`; QuantizeError when it quantizes no layer."""
    import gc
    import warnings

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
