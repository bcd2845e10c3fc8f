"""`zoo export ENTRY --format hf DIR`: a zoo model in Transformers' layout (`config.json`,
`model.safetensors`, tokenizer files), written by its family's `hf_export` ("module:function"
in its `family.py`, called as `hf_export(model, tokenizer)` -> `(config, tensors, files)`).
No family is named here."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from zoo import atomic
from zoo.checkpoints.errors import ConversionError
from zoo.models import catalog
from zoo.models.family import load as load_reference

#: The weights file Transformers reads (`save_pretrained`'s name for one shard).
WEIGHTS = "model.safetensors"


def exporter(model):
    """The family's `hf_export` function for `model`. ConversionError naming the families
    that have one when its family has none."""
    family, _ = catalog.head_of(model)
    if family.hf_export is None:
        able = sorted(name for name, fam in catalog.families().items() if fam.hf_export)
        raise ConversionError(
            f"The {family.name} family has no export to Transformers' layout; "
            f"{', '.join(able) or 'no family'} {'has' if len(able) == 1 else 'have'} one.")
    return load_reference(family.hf_export)


def write(model, tokenizer, directory, force: bool = False, labels=None,
          source_files=None) -> list[Path]:
    """Writes `model` (and `tokenizer`) in Transformers' layout into `directory`, atomically
    (the folder appears whole or not at all).

    Args:
        labels: a classifier's class names, passed to the family's `hf_export` when it takes
            `labels` (Transformers' `id2label`).
        source_files: file name -> bytes written beside the family's files (not over them):
            a converted entry's source tokenizer files, when zoo has no tokenizer of its own.

    Returns the files written, sorted.

    Raises:
        ConversionError: the family has no `hf_export`, or it returned something other than
            `(dict, dict of arrays, dict of str or bytes)`, or a file name that escapes the folder.
        FileExistsError: `directory` exists and is not empty, unless `force` (replaced whole).
    """
    import numpy as np
    from safetensors.numpy import save_file

    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())) \
            and not force:
        raise FileExistsError(f"{directory} exists and is not empty; choose a new folder or "
                              "pass --force to replace it.")
    function = exporter(model)
    takes_labels = "labels" in inspect.signature(function).parameters
    result = (function(model, tokenizer, labels=labels) if takes_labels and labels
              else function(model, tokenizer))
    if not (isinstance(result, tuple) and len(result) == 3 and isinstance(result[0], dict)
            and isinstance(result[1], dict) and isinstance(result[2], dict)):
        raise ConversionError(f"{function.__module__}.{function.__name__} must return "
                              "(config dict, tensors dict, files dict).")
    config, tensors, files = result
    files = {**(source_files or {}), **files}
    for name in files:
        if name in ("config.json", WEIGHTS) or Path(name).is_absolute() or ".." in Path(name).parts:
            raise ConversionError(f"{function.__module__}.{function.__name__}: extra file "
                                  f"name {name!r} is not a plain name inside the folder.")
    with atomic.staged_folder(directory, existing="replace") as staging:
        (staging / "config.json").write_text(
            json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        arrays = {name: np.ascontiguousarray(np.asarray(value))
                  for name, value in tensors.items()}
        save_file(arrays, str(staging / WEIGHTS), metadata={"format": "pt"})
        for name, content in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(str(content), encoding="utf-8")
    return sorted(p for p in directory.rglob("*") if p.is_file())


def export_entry(entry, directory, force: bool = False, safe_mode: bool = True) -> list[Path]:
    """Exports an entry (by name, or its folder: a published, trained or converted one) in
    Transformers' layout (`write`).

    The family's `hf_export` gets the entry's zoo tokenizer (`tokenizer/`, else None) and,
    when it takes them, the class names its run.json gives. A converted entry without a zoo
    tokenizer (GPT-2's byte-level BPE) gets its source's tokenizer files back as they were
    (`source_tokenizer/`) when the source was in Transformers' layout."""
    from zoo import entries, textio
    from zoo.text import tokenizers

    folder = Path(entry) if entries.is_entry_folder(entry) else entries.folder(entry)
    model = entries.load_folder(folder, safe_mode=safe_mode)
    tokenizer = tokenizers.load(folder / "tokenizer") if (folder / "tokenizer").is_dir() \
        else None
    info = textio.read_json_object(folder / "run.json") if (folder / "run.json").is_file() \
        else {}
    return write(model, tokenizer, directory, force=force, labels=info.get("labels"),
                 source_files=None if tokenizer is not None else source_tokenizer(folder))


def source_tokenizer(folder) -> dict:
    """A converted entry's source tokenizer files (`source_tokenizer/`), relative name ->
    bytes, when its source was in Transformers' layout (`conversion.json` `format`); `{}`
    otherwise (a KerasHub preset's `tokenizer.json` is a Keras config, not Transformers')."""
    from zoo import entries

    folder = Path(folder)
    record = entries.conversion(folder) or {}
    copies = folder / entries.SOURCE_TOKENIZER
    if record.get("format") != "transformers" or not copies.is_dir():
        return {}
    return {p.relative_to(copies).as_posix(): p.read_bytes()
            for p in sorted(copies.rglob("*")) if p.is_file()}
