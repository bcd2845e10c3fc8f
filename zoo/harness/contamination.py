"""Test data seen in training, found by content, not by name.

`zoo train` records each source it trained on in run.json (`training_data`: a dataset's split
or the user's files, with the sha256 of each file and of its examples) and keeps the digest of
every training example (`zoo.training.sources.DIGESTS_FILE`). `check` compares the digest of
each evaluated test example (`zoo.datasets.Examples.digests`: its input and its target) with
those, whatever the files and datasets are called: a benchmark over a file that holds the
training pairs is caught as surely as one that names the training split.

A source whose digests were not kept (a published entry's, an entry a model started from) is
read again when it names a dataset and split whose files are here (the data folder or the
cache: nothing is downloaded for the check);
the user's files of such a run are compared by their sha256 with the benchmark's files; a
source that cannot be compared is listed in `unchecked`.

Examples that the benchmark's own dataset also holds in another split (TREC's test set repeats
10 of its training questions, the Tatoeba sample 9 sentences) are counted apart and do not flag
a run: every model trained on the dataset's training split has seen them, so they set no model
apart. Any other overlap flags the run (`flags.test_data_in_training`), which the leaderboard
never ranks.

>>> from zoo import datasets
>>> from zoo.harness import benchmarks
>>> spec, test = benchmarks.get("digits"), datasets.load("digits", "test")
>>> check(spec, test, [{"dataset": "digits", "split": "test"}], None)["examples_in_training"]
360
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo import datasets

#: How examples are compared, in words (the record's `contamination.method`).
METHOD = ("exact match of each example's input and target (the first 8 bytes of a sha256), "
          "against every source of the training data")


def check(spec, examples, training_data, folder, data_dir=None, progress=True) -> dict | None:
    """The record's `contamination` table for `examples` of benchmark `spec` evaluated with a
    model trained on `training_data` (run.json's sources and those of the entries it started
    from, marked `via`: `zoo.entries.lineage_training_data`), whose run folder `folder` may
    keep its training examples' digests. None when the training data is unknown (a model
    zoo did not train).

    Returns `{"method", "by_name", "examples_in_training", "examples_in_other_splits",
    "unchecked"}`: whether a source names the benchmark's own split; how many evaluated
    examples a source holds (they flag the run); how many only another split of the
    benchmark's own dataset holds (None: not counted; they do not flag it); and the sources
    that could not be compared, each with why.
    """
    if training_data is None:
        return None
    tests = examples.digests()
    found, other, counted, unchecked = np.zeros(len(tests), bool), np.zeros(len(tests), bool), \
        False, []
    by_name = False
    for source, digests in _sources_with_digests(training_data, folder):
        same_dataset = spec.dataset != "files" and source.get("dataset") == spec.dataset
        if same_dataset and source.get("split") == spec.split:
            by_name, found[:] = True, True  # the very examples, whatever digests say
            continue
        if digests is None:
            digests, why = _digests_again(spec, examples, source, same_dataset, data_dir,
                                          progress)
            if digests is None:
                if why:
                    unchecked.append(why)
                continue
        held = np.isin(tests, digests)
        if same_dataset:
            other, counted = other | held, True
        else:
            found |= held
    return {"method": METHOD, "by_name": by_name, "examples_in_training": int(found.sum()),
            "examples_in_other_splits": int((other & ~found).sum()) if counted else None,
            "unchecked": unchecked}


def flagged(result: dict | None) -> bool | None:
    """Whether a `check` result flags the run: test examples in training (or its training
    split named), other than those the dataset's own splits share; None: unknown."""
    if result is None:
        return None
    return bool(result["by_name"] or result["examples_in_training"])


def _sources_with_digests(training_data, folder):
    """`(source, digests or None)` for each source: the run's own from `folder`'s kept
    digests (by index), those of an entry it started from (`via`) from that entry's run
    folder, when it kept them."""
    from zoo.training import sources as training_sources

    kept = {None: training_sources.read_digests(folder) if folder is not None else None}
    position: dict = {}
    for source in training_data:
        via = source.get("via")
        if via not in kept:
            kept[via] = _kept_by_entry(via)
        index = position[via] = position.get(via, -1) + 1
        yield source, (kept[via] or {}).get(index)


def _kept_by_entry(entry):
    """The kept training digests of entry `entry`'s run folder (`locate_entry`), or None."""
    from zoo.training import sources as training_sources
    from zoo.training.errors import TrainingError
    from zoo.training.train import locate_entry

    try:
        return training_sources.read_digests(locate_entry(entry))
    except (TrainingError, OSError, ValueError):
        return None


def _digests_again(spec, examples, source, same_dataset, data_dir, progress):
    """`(digests, None)` of a source whose digests were not kept, read again; `(None, why)`
    when it cannot be (`why` None: nothing to say, another split of the benchmark's own
    dataset, which would not flag the run). The user's files are compared by their sha256:
    a file the benchmark reads whole was read whole in training (all its examples)."""
    name, split = source.get("dataset"), source.get("split")
    if name == "files":
        test_files = {sha for _, sha in examples.files}
        if spec.dataset == "files" and test_files & {f[1] for f in source.get("files") or ()
                                                    if len(f) == 2}:
            return examples.digests(), None
        return None, (f"files {', '.join(Path(f[0]).name for f in source.get('files') or ())}"
                      " (their examples were not kept: compared by file sha256 only)")
    if same_dataset:
        return None, None
    if not name or not split:
        where = f"the training data of {source['via']}" if source.get("via") else "a source"
        return None, f"{where}: {source.get('note') or 'no dataset and split to read'}"
    missing = _not_here(name, data_dir)
    if missing:
        return None, (f"{name}/{split}: its files are not here ({', '.join(missing)}; give "
                      "--data-dir, or download them with `zoo train` or `zoo bench run` on it); "
                      "not downloaded for this check")
    try:
        return datasets.load(name, split, data_dir=data_dir, progress=progress).digests(), None
    except (datasets.DatasetError, OSError, ValueError) as error:
        return None, f"{name}/{split}: cannot be read here ({error})"


def _not_here(name: str, data_dir) -> list:
    """The files of dataset `name` that neither `data_dir` (or `ZOO_DATA_DIR`) nor the cache
    holds: a source is read again only from what is here, never downloaded for the check
    (an embedded dataset has no files: always here)."""
    try:
        files = datasets.remote_files(name)
    except (datasets.DatasetError, KeyError):
        return []  # not a dataset zoo knows: `load` says so
    root = datasets.data_dir(data_dir)
    return [f.path for f in files
            if not (root is not None and (root / f.path).is_file())
            and not (datasets.cache_dir() / f.path).is_file()]
