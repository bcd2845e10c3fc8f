"""What a run trains on, read and recorded.

A recipe names its training data (`Recipe.training_data`): a split of a dataset zoo knows, the
user's own files (`dataset = "files"` and a `[files]` table, read by
`zoo.datasets.load_files`, as a benchmark's are), or the training data of its benchmark
(`dataset = "benchmark"`: the benchmark's `train_split`, or its `[train_files]`), which
`resolve` turns into one of the other two before the run starts.

`load` reads every source into one `Examples` and says, for run.json's `training_data`, what
each held: the files it was read from and their sha256, its example count and the sha256 of
its examples (`Examples.sha256`). The run keeps each source's example digests
(`Examples.digests`) in `DIGESTS_FILE`, so that the harness finds the test examples a model
saw in training by their content, whatever the files or datasets were called
(`zoo.harness.contamination`).

>>> from zoo.training import recipes, sources
>>> read = sources.load(recipes.get("vit_tiny_patch2_8.digits"), log=lambda *_: None)
>>> source, = read.sources
>>> source["dataset"], source["split"], source["examples"], len(read.digests[0])
('digits', 'train', 1437, 1437)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo import atomic, datasets, tasks
from zoo.datasets import catalog
from zoo.harness import benchmarks
from zoo.training.errors import RecipeError
from zoo.training.recipes import BENCHMARK_DATA, OWN_FILES

#: The run folder's file of training example digests: one uint64 array per source, named by
#: its index in run.json's `training_data` ("0", "1", ...).
DIGESTS_FILE = "training_examples.npz"


@dataclass
class Read:
    """The run's examples (every source's, as one `Examples`), run.json's `training_data`
    (one dict per source) and each source's example digests, in the same order."""

    examples: object
    sources: list
    digests: list


def resolve(recipe):
    """`recipe` itself, or for `dataset = "benchmark"` the recipe of the same run over that
    benchmark's training data: its dataset and `train_split`, or its `[train_files]` (with
    its labels, for a classifier).

    Raises:
        UnknownNameError: no such benchmark (with the closest ids).
        RecipeError: a benchmark of another task, or one without training data.
    """
    if recipe.dataset != BENCHMARK_DATA:
        return recipe
    spec = benchmarks.get(recipe.benchmark)
    where = f"Recipe '{recipe.entry}'"
    if spec.task != recipe.task:
        raise RecipeError(f"{where}: benchmark '{spec.id}' is a {spec.task} benchmark, not "
                          f"{recipe.task}; train on a benchmark of the recipe's task.")
    if spec.train_split is None:
        raise RecipeError(
            f"{where}: benchmark '{spec.id}' has no training data (no train_split, no "
            f"[train_files] table in {spec.path}); add one, or name the training data with "
            'dataset = "files" and a [files] table.')
    if spec.dataset != OWN_FILES:
        return recipe.replace(dataset=spec.dataset, split=spec.train_split)
    labels = list(spec.labels) if spec.labels and tasks.get(recipe.task).CLASSIFYING else None
    return recipe.replace(dataset=OWN_FILES, files=dict(spec.train_files), labels=labels)


def load(recipe, data_dir=None, log=print) -> Read:
    """Every source of `recipe` (resolved: `resolve`), read. One source: its examples; with
    `extra_training_data` (a masked LM's corpus), the texts of every source in one `Examples`
    without targets.

    Raises:
        DatasetError: a file or dataset that cannot be read (naming it and the fix).
    """
    read = [_load_one(recipe, declared, data_dir) for declared in recipe.training_data]
    for declared, (_, part) in zip(recipe.training_data, read):
        if declared["dataset"] == OWN_FILES and recipe.labels is None:
            _log_classes(part, log)
    examples = read[0][1]
    if len(read) > 1:
        texts = [text for _, part in read for text in part.inputs]
        log(f"[train] corpus: {len(texts):,} texts from {len(read)} sources")
        examples = dataclasses.replace(examples, inputs=texts, targets=None)
    return Read(examples, [record for record, _ in read],
                [part.digests() for _, part in read])


#: A class with fewer examples than this share of the largest class's (or a single example
#: where the largest has ten or more) is named in a warning: one misspelt label makes a class of
#: its own when the recipe declares no labels.
RARE_CLASS_SHARE = 0.01
#: The most classes `_log_classes` lists by name.
SHOWN_CLASSES = 20


def _log_classes(examples, log) -> None:
    """Logs the classes the user's files hold (those the model learns, when the recipe
    declares none), with their counts, and warns of any with under `RARE_CLASS_SHARE` of the
    largest one's examples, or a single one: a misspelt label in a file is a class of its
    own."""
    names, targets = examples.label_names, examples.targets
    if not names or targets is None:
        return
    counts = np.bincount(np.asarray(targets, np.int64), minlength=len(names))
    shown = ", ".join(f"{name} {count:,}" for name, count in
                      zip(names[:SHOWN_CLASSES], counts[:SHOWN_CLASSES]))
    more = f", and {len(names) - SHOWN_CLASSES:,} more" if len(names) > SHOWN_CLASSES else ""
    log(f"[train] {len(names)} classes in the files (examples each): {shown}{more}")
    largest = int(counts.max())
    rare = [(name, int(count)) for name, count in zip(names, counts)
            if count < RARE_CLASS_SHARE * largest or count == 1 and largest >= 10]
    if rare:
        listed = ", ".join(f"'{name}' ({count:,})" for name, count in rare[:SHOWN_CLASSES])
        log(f"[train] warning: {listed} "
            f"{'is' if len(rare) == 1 else 'are'} far smaller than the largest class "
            f"({largest:,}): a misspelt label? Declare the classes in the recipe (labels = "
            "[...]) to refuse any other name, with its line.")


def _load_one(recipe, declared: dict, data_dir):
    """`(record, examples)` of one declared source: run.json's description of what it held
    and its examples."""
    if declared["dataset"] == OWN_FILES:
        examples = catalog.load_table(declared["files"], labels=recipe.labels)
        record = {"dataset": OWN_FILES, "split": None, "kind": declared["files"]["kind"]}
    else:
        examples = datasets.load(declared["dataset"], declared["split"], data_dir=data_dir)
        record = {"dataset": declared["dataset"], "split": declared["split"]}
    record.update(files=[list(f) for f in examples.files], examples=len(examples),
                  examples_sha256=examples.sha256())
    return record, examples


def save_digests(run_dir, digests: list) -> Path:
    """Writes `DIGESTS_FILE` into `run_dir` (atomically): each source's digests."""
    path = Path(run_dir) / DIGESTS_FILE
    with atomic.staged_file(path, suffix=".npz") as tmp:
        np.savez(tmp, **{str(i): np.asarray(d, np.uint64) for i, d in enumerate(digests)})
    return path


def read_digests(folder) -> dict | None:
    """`{source index: uint64 digests}` from a run folder's `DIGESTS_FILE`; None when it has
    none (a run from before zoo kept them, a published entry) or it cannot be read."""
    path = Path(folder) / DIGESTS_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {int(key): data[key].astype(np.uint64) for key in data.files
                    if key.isdigit()}
    except (OSError, ValueError):
        return None
