"""A converted model as a zoo entry folder (`zoo convert SOURCE --to DIR`): what
`zoo.entries.load_folder` loads, `zoo bench run --weights DIR` scores, a recipe's `init_from`
starts from (the folder on `$ZOO_ENTRIES_PATH`, or `runs/<name>`) and `zoo export` exports.

The folder holds `model.json` and `weights.npz` (float32: the checkpoint's values exactly,
written as `zoo.entries.publish` writes them), `weights.json`, `tokenizer/` when the source has
a tokenizer zoo reads, `source_tokenizer/` (the source's own tokenizer files, byte for byte:
`zoo export --format hf` writes them back when zoo has no tokenizer of its own for the model,
as for GPT-2's byte-level BPE), `conversion.json` (where it came from: location, format,
architecture, each file read with its sha256, the notes, zoo's version; and what an entry's
recipe would say for it: the task kind its head serves and the model name `zoo bench run
--entry` runs it as, its family) and a `run.json` that says it was converted, not trained (its
training data unknown, the class names of a classifier), and, on request, `model.keras`. It
has no `recipe.json`: it was not trained here.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from zoo import atomic
from zoo.checkpoints.converted import Converted
from zoo.entries import CONVERSION, SOURCE_TOKENIZER
from zoo.models import catalog

#: The tokenizer files of the source layouts (Transformers' WordPiece, byte-level BPE and
#: SentencePiece files; Google's `vocab.txt`; a KerasHub preset's `tokenizer.json` and
#: `assets/tokenizer/`), copied into `source_tokenizer/` as the source has them.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "added_tokens.json", "vocab.txt", "vocab.json", "target_vocab.json",
                   "merges.txt", "spiece.model", "source.spm", "target.spm",
                   "sentencepiece.bpe.model")


def served_task(family: str, head: str) -> str | None:
    """The task kind (`zoo.tasks`) the `family`'s `serves` does with `head` (None: a head
    that serves none, e.g. BERT's "backbone")."""
    fam = catalog.families()[family]
    kinds = [kind for kind, served in fam.serves.items() if (served or fam.default_head) == head]
    return kinds[0] if kinds else None


def task_of(converted: Converted) -> str | None:
    """The task kind the converted model does: the one its head serves (`served_task`), none
    for a classifier without classes (`num_classes` 0, e.g. a ViT from `ViTModel`: it
    outputs features)."""
    if getattr(converted.model, "num_classes", None) == 0:
        return None
    return served_task(converted.family, converted.head)


def tokenizer_files(source) -> list[str]:
    """The names (relative to the source folder) of the source's tokenizer files, sorted."""
    return sorted(name for name in source.files
                  if Path(name).name in TOKENIZER_FILES or name.startswith("assets/tokenizer/"))


def record(converted: Converted) -> dict:
    """What `conversion.json` holds."""
    from zoo.version import __version__

    source = converted.source
    return {
        "location": source.location,
        "format": source.format,
        "architecture": source.architecture,
        "family": converted.family,
        "head": converted.head,
        "task": task_of(converted),
        "model": converted.family,
        "source_tokenizer": tokenizer_files(source),
        "class": type(converted.model).__name__,
        "files": dict(source.files),
        "notes": list(converted.notes),
        "extra": converted.extra,
        "zoo_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run_info(converted: Converted, name: str) -> dict:
    """The `run.json` of a converted entry: complete, trained elsewhere on data zoo does not
    know (so a benchmark record says so), float32, with a classifier's class names
    (`extra["labels"]`) when the source names them."""
    info = {
        "entry": name,
        "status": "complete",
        "converted_from": converted.source.location,
        "precision": "float32",
        "seed": None,
        "recipe": None,
        "training_data": [{"dataset": None, "split": None,
                           "note": f"pretrained elsewhere ({converted.source.location}): its "
                                   "training data is unknown"}],
        "published": {"weights_precision": "float32", "from_run": None},
    }
    labels = converted.extra.get("labels") if isinstance(converted.extra, dict) else None
    if labels:
        info["labels"] = [str(label) for label in labels]
    return info


def check_target(folder, force: bool = False, option: str | None = None) -> None:
    """Refuses `folder` as the place to write an entry folder before any work is done: a
    file (an entry is a folder, and `force` replaces folders only), or a folder that is not
    empty unless `force`. `option` is the command-line option that named it ("--to"), for
    messages; None: the caller is Python (`force=True`).

    Raises:
        FileExistsError: saying which, with what to do (a folder name beside the file, when
            the file's name looks like a file's: `model.keras` -> `model`).
    """
    folder = Path(folder)
    named = f"{option} {folder}" if option else str(folder)
    force_flag = "--force" if option else "force=True"
    if folder.exists() and not folder.is_dir():
        hint, stem = "", folder.with_suffix("")
        if folder.suffix and not stem.exists():
            hint = f" Did you mean: '{stem}'?"
            if folder.suffix == ".keras":
                keras_flag = "--keras" if option else "keras_file=True"
                hint += f" (the entry folder; {keras_flag} writes model.keras inside it)"
        raise FileExistsError(f"{named} is a file, not a folder: a converted entry is a folder "
                              f"of files (model.json, weights.npz, ...). Name a new folder; "
                              f"{force_flag} replaces folders only, not a file.{hint}")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise FileExistsError(f"{named} exists and is not empty; choose a new folder or pass "
                              f"{force_flag} to replace it.")


def write(converted: Converted, folder, force: bool = False, keras_file: bool = False) -> Path:
    """Writes `converted` as an entry folder at `folder`, atomically (a reader sees no folder
    or the whole one).

    Raises:
        FileExistsError: `folder` is a file, or a folder that is not empty unless `force`
            (then it is replaced whole); see `check_target`.
    """
    import keras
    import numpy as np

    from zoo import entries
    from zoo.models.stored_weights import store_weight

    folder = Path(folder)
    check_target(folder, force)
    model = converted.model
    with atomic.staged_folder(folder, existing="replace") as staging:
        config = keras.saving.serialize_keras_object(model)
        (staging / "model.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
        arrays = {f"w{i:04d}{suffix}": array for i, w in enumerate(model.get_weights())
                  for suffix, array in store_weight(w, "float32").items()}
        np.savez_compressed(staging / entries.WEIGHTS, **arrays)
        (staging / entries.MANIFEST).write_text(
            json.dumps(entries.manifest(staging / entries.WEIGHTS), indent=2, sort_keys=True)
            + "\n")
        if converted.tokenizer is not None:
            converted.tokenizer.save(staging / "tokenizer")
        for name in tokenizer_files(converted.source):
            copy = staging / SOURCE_TOKENIZER / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(converted.source.folder / name, copy)
        atomic.write_json(staging / CONVERSION, record(converted))
        atomic.write_json(staging / "run.json", run_info(converted, folder.name))
        if keras_file:
            model.save(staging / "model.keras")
    return folder
