"""Reading other libraries' weight files into numpy, without their libraries and without
running code: safetensors (Transformers, timm), TensorFlow checkpoints (Google's original
BERT) and Keras `.weights.h5` files (KerasHub presets). Pickled PyTorch files
(`pytorch_model.bin`) are refused: unpickling runs code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from zoo.checkpoints.errors import ConversionError


def safetensors_folder(folder) -> dict:
    """Every tensor of `model.safetensors`, or of the shards `model.safetensors.index.json`
    lists, as float32/int numpy arrays (bfloat16 and float16 are widened to float32).

    Raises:
        ConversionError: no safetensors file (naming a pickled `.bin` when there is one and
            how to convert it), a shard the index lists that is missing, or a file safetensors
            cannot read.
    """
    folder = Path(folder)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text("utf-8"))["weight_map"].values()))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConversionError(f"{index}: not a safetensors index ({e}).") from None
        files = [folder / shard for shard in shards]
        absent = [file.name for file in files if not file.is_file()]
        if absent:
            raise ConversionError(
                f"{index} lists the shard{'s' if len(absent) > 1 else ''} "
                f"{', '.join(absent)}, which {folder} does not have. Download every shard "
                "the index lists into the folder (or convert the hf:// source, which does).")
    elif (folder / "model.safetensors").is_file():
        files = [folder / "model.safetensors"]
    else:
        pickled = sorted(p.name for p in folder.glob("*.bin")) + sorted(
            p.name for p in folder.glob("*.pt*"))
        hint = (f" It has {', '.join(pickled)}: pickled PyTorch weights, which zoo does not "
                "load because unpickling runs code. Convert them once where you trust the file "
                "(`transformers`: `model.save_pretrained(folder, safe_serialization=True)`)."
                if pickled else "")
        raise ConversionError(f"{folder} has no model.safetensors.{hint}")
    tensors = {}
    for file in files:
        tensors.update(safetensors_file(file))
    return tensors


def safetensors_file(file) -> dict:
    """The tensors of one `.safetensors` file (float16/bfloat16 widened to float32)."""
    import safetensors

    file = Path(file)
    if not file.is_file():
        raise ConversionError(f"{file} is missing; give the folder holding it (the "
                              "checkpoint's weights).")
    tensors = {}
    try:
        with safetensors.safe_open(str(file), framework="numpy") as f:
            for name in f.keys():
                tensors[name] = _widened(f.get_tensor(name))
    except ConversionError:
        raise
    except Exception as e:  # safetensors raises its own error types for a broken header
        raise ConversionError(f"{file}: not a readable safetensors file ({e}).") from None
    return tensors


def tf_checkpoint(prefix) -> dict:
    """Every variable of a TensorFlow checkpoint (`prefix` like ".../bert_model.ckpt"), by
    its name in the checkpoint."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(prefix))
        return {name: _widened(reader.get_tensor(name))
                for name in reader.get_variable_to_shape_map()}
    except (tf.errors.OpError, ValueError) as e:
        raise ConversionError(f"{prefix}: not a readable TensorFlow checkpoint ({e}).") from None


def keras_weights_h5(file) -> dict:
    """The arrays of a Keras 3 `.weights.h5` file, by their path in the file
    (e.g. "layers/bert_backbone/layers/.../vars/0")."""
    import h5py

    file = Path(file)
    if not file.is_file():
        raise ConversionError(f"{file} is missing: a KerasHub preset holds its weights in "
                              f"{file.name} beside config.json. Download the whole preset "
                              "folder (every file its metadata.json goes with).")
    arrays = {}
    try:
        with h5py.File(file, "r") as f:
            def visit(name, item):
                if isinstance(item, h5py.Dataset):
                    arrays[name] = _widened(np.asarray(item))
            f.visititems(visit)
    except OSError as e:
        raise ConversionError(f"{file}: not a readable Keras weights file ({e}).") from None
    return arrays


def _widened(array):
    array = np.asarray(array)
    if array.dtype.kind == "f" and array.dtype.itemsize < 4:
        return array.astype("float32")
    if array.dtype.kind == "V" or str(array.dtype) == "bfloat16":
        return array.astype("float32")
    return array
