"""Which class is which: a trained model's class names against a benchmark's labels.

A classifier's output k means the k-th class it was trained on. Scoring it on a benchmark
whose labels are other names (a sentiment model on spam/ham) would compare outputs with
targets by position, a silently wrong number. The harness therefore

- finds the model's class names (`model_labels`): the `labels` of its run.json or entry.json
  (written by `zoo train`), else the class names of the dataset its recipe or training data
  names (the published entries); they are unknown for a bare .keras file;
- refuses a model whose names differ from the benchmark's, unless the user maps them
  (`--label-map negative=ham,positive=spam`: each model class to a different benchmark
  label; a benchmark label no class maps to is never predicted, recorded as `unmapped`);
- scores the same names in another order by name, and unknown names by position with a
  warning. The record keeps what was done (`evaluation.labels`).

>>> parse_label_map("negative=ham, positive=spam")
{'negative': 'ham', 'positive': 'spam'}
>>> match(("ham", "spam"), ("positive", "negative"), "its run.json", "mine",
...       {"negative": "ham", "positive": "spam"})
([1, 0], 'by map')
"""

from __future__ import annotations

import sys

from zoo import tasks
from zoo.tasks import EvaluationError


def _classifying(kind) -> bool:
    """Whether task kind `kind` (a name; perhaps one this version does not know) has
    classes."""
    return kind in tasks.names() and tasks.get(kind).CLASSIFYING


def parse_label_map(text) -> dict | None:
    """`--label-map` text, `"negative=ham,positive=spam"` (or a dict, from Python), as a dict
    from the model's class names to the benchmark's labels; None for None. Raises
    EvaluationError for a malformed map."""
    if text is None:
        return None
    if isinstance(text, dict):
        pairs = [(str(k), str(v)) for k, v in text.items()]
    else:
        pairs = []
        for part in str(text).split(","):
            model, sep, benchmark = part.partition("=")
            if not sep or "=" in benchmark or not model.strip() or not benchmark.strip():
                raise EvaluationError(
                    f"--label-map takes MODEL_LABEL=BENCHMARK_LABEL pairs joined by commas "
                    f"(e.g. negative=ham,positive=spam), got {part.strip()!r} in {text!r}.")
            pairs.append((model.strip(), benchmark.strip()))
    mapping = {}
    for model, benchmark in pairs:
        if model in mapping:
            raise EvaluationError(f"--label-map maps the model's class '{model}' twice.")
        mapping[model] = benchmark
    if not mapping:
        raise EvaluationError("--label-map is empty; give MODEL_LABEL=BENCHMARK_LABEL pairs.")
    return mapping


def _dataset_labels(name):
    from zoo import datasets

    try:
        return datasets.info(name).labels
    except datasets.DatasetError:
        return None


def model_labels(run_info: dict | None) -> tuple[tuple | None, str]:
    """`(names, source)`: the class names a trained model predicts, in output order, and
    where they were found; `(None, why)` when nothing says.

    In order: `labels` of its run.json / entry.json; the classes of its recipe's dataset (a
    classification recipe); the classes of the one labeled dataset of its training data
    (not counting the data of the entries it started from)."""
    if not run_info:
        return None, "unknown: no run.json or entry.json beside the weights"
    if run_info.get("labels"):
        return tuple(str(label) for label in run_info["labels"]), "labels in its run.json"
    recipe = run_info.get("recipe") or {}
    if _classifying(recipe.get("task")) and recipe.get("dataset"):
        names = _dataset_labels(recipe["dataset"])
        if names:
            return names, f"the classes of its recipe's dataset '{recipe['dataset']}'"
    found = {}
    for data in run_info.get("training_data") or []:
        if isinstance(data, dict) and data.get("dataset") and not data.get("via"):
            names = _dataset_labels(data["dataset"])
            if names:
                found.setdefault(names, data["dataset"])
    if len(found) == 1:
        (names, dataset), = found.items()
        return names, f"the classes of its training dataset '{dataset}'"
    return None, "unknown: its run.json names no labels and no one labeled training dataset"


def _columns_from_map(mapping, names, benchmark, spec_id, numbered):
    """For each benchmark label, the model's output column that `mapping` sends to it."""
    what = ("class numbers (its class names are unknown)" if numbered else "classes")
    unknown = [k for k in mapping if k not in names]
    problems = []
    if unknown:
        problems.append(f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not "
                        f"among the model's {what} {', '.join(names)}")
    missing = [n for n in names if n not in mapping]
    if missing:
        problems.append(f"the model's {what} {', '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} not mapped")
    foreign = [v for v in mapping.values() if v not in benchmark]
    if foreign:
        problems.append(f"{', '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} not "
                        f"among benchmark '{spec_id}''s labels {', '.join(benchmark)}")
    targets = list(mapping.values())
    twice = sorted({v for v in targets if targets.count(v) > 1})
    if twice:
        problems.append(f"{', '.join(twice)} {'is' if len(twice) == 1 else 'are'} given to "
                        "more than one model class")
    if problems:
        extra = ""
        if len(names) > len(benchmark):
            extra = (f" The model has {len(names)} classes and the benchmark {len(benchmark)} "
                     "labels: a prediction of a class with no benchmark label could not be "
                     "scored; evaluate it on a benchmark with all of its classes.")
        raise EvaluationError("--label-map must send each of the model's classes to a "
                              "different benchmark label: " + "; ".join(problems) + "." + extra)
    inverse = {v: k for k, v in mapping.items()}
    return [names.index(inverse[label]) if label in inverse else None for label in benchmark]


def match(benchmark: tuple, names: tuple | None, source: str, spec_id: str,
          mapping: dict | None = None) -> tuple[list | None, str]:
    """`(columns, how)`: for each benchmark label (in order) the model's output column that
    scores it, or None when the columns are already in the benchmark's order; and how they
    were matched ("same", "by name", "by map", or "by position" when `names` is None).

    A `mapping` must send every model class to a different benchmark label. A model with
    fewer classes than the benchmark can be scored so: a benchmark label that no class maps to
    has no column (None in `columns`) and is never predicted (its examples count as errors).
    A model with more classes than the benchmark cannot (a prediction of an unmapped class
    has no label).

    Raises EvaluationError, listing both lists, when the names differ and no `mapping` says
    how they correspond, or when `mapping` is not one-to-one from the model's classes into the
    benchmark's labels."""
    benchmark = tuple(benchmark)
    if mapping is not None:
        numbered = names is None
        keys = tuple(str(i) for i in range(len(benchmark))) if numbered else tuple(names)
        columns = _columns_from_map(mapping, keys, benchmark, spec_id, numbered)
        return (None if columns == list(range(len(benchmark))) else columns), "by map"
    if names is None:
        return None, "by position"
    names = tuple(names)
    if names == benchmark:
        return None, "same"
    if sorted(names) == sorted(benchmark) and len(set(names)) == len(names):
        return [names.index(label) for label in benchmark], "by name"
    example = ",".join(f"{a}={b}" for a, b in zip(names, benchmark))
    raise EvaluationError(
        f"The model predicts the classes {', '.join(names)} ({source}) but benchmark "
        f"'{spec_id}' has the labels {', '.join(benchmark)}: scoring one as the other by "
        "position would be silently wrong. Evaluate a model trained for this benchmark or, if "
        "the classes mean the same, say which is which with --label-map MODEL=BENCHMARK,... "
        f"(Python: label_map=...), e.g. --label-map {example}.")


def for_run(spec, weights, run_info, mapping, declared=None) -> tuple[list | None, dict | None]:
    """`(columns, record)` for evaluating trained `weights` (None: a model built for the
    benchmark) with `run_info` (its run.json) on benchmark `spec`: the output columns in the
    benchmark's order (None: as they are) and what the result record keeps of it
    (`evaluation.labels`). Says on stderr when the model's class names are unknown.
    `declared`: `(names, source)` of a model zoo did not train, whose adapter names its
    classes (`zoo.harness.adapter`), instead of `weights` and `run_info`."""
    if not _classifying(spec.task):
        if mapping is not None:
            raise EvaluationError(f"--label-map maps class names; benchmark '{spec.id}' is "
                                  f"{spec.task}, without classes.")
        return None, None
    benchmark = tuple(spec.labels)
    if weights is None and declared is None:
        if mapping is not None:
            raise EvaluationError("--label-map is for trained weights: a model without "
                                  "--weights is built with the benchmark's classes.")
        return None, {"model": list(benchmark), "source": "built for the benchmark",
                      "benchmark": list(benchmark), "map": None, "matched": "same"}
    names, source = declared if declared is not None else model_labels(run_info)
    columns, how = match(benchmark, names, source, spec.id, mapping)
    if names is None and mapping is None:
        print(f"[bench] warning: the model's class names are {source}; its outputs are "
              f"scored by position as {', '.join(benchmark)}. Add \"labels\" to its run.json "
              "or give --label-map to say which is which.", file=sys.stderr, flush=True)
    record = {"model": None if names is None else list(names), "source": source,
              "benchmark": list(benchmark), "map": mapping, "matched": how}
    unmapped = [label for label, column in zip(benchmark, columns or ()) if column is None]
    if unmapped:
        record["unmapped"] = unmapped
        print(f"[bench] warning: no class of the model maps to the benchmark's label(s) "
              f"{', '.join(unmapped)}: they are never predicted, their examples count as "
              "errors.", file=sys.stderr, flush=True)
    return columns, record
