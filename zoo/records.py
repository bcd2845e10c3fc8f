"""Result records: what `zoo bench run` writes, declared once, versioned, read by everyone.

A run writes `<results>/<benchmark>/<run_id>.json` (the record) and `<run_id>.predictions.jsonl`
(one JSON object per example). `RECORD` below is the record's one declaration: every field, its
type and its sane bounds. The writer (`zoo.harness.runner`, through `write`) is checked against
it before anything is written; the reader (`read`: the CLI, `zoo bench compare`), the leaderboard
(`zoo.leaderboard.collect`) and the published scores (`zoo.entries.published_scores`, hence the
model cards of `zoo.hub.export`) read records through `read`, which migrates an older record to
this version first and then checks it. Records come from anyone, so a check failure is a
`RecordError` naming the file and each bad field; values that become file names (`run_id`,
`benchmark.id`, `model.entry`, `predictions_file`) must be plain names.

Versions (`schema_version`):

1. (written as `"schema": 1`, no `schema_version`) the first records. Their `evaluation.seed` was
   0 whatever the run used; the bootstrap's seed was `evaluation.bootstrap.seed`.
2. every seed the run used is in `seeds` (see `SEEDS`); `evaluation.seed` and
   `evaluation.bootstrap.seed` are gone. `migrate` turns a version 1 record into this one.
3. a model zoo did not train (a `.keras` file, SavedModel or TF Hub handle given to `zoo bench
   run --model`) can be scored: `model.source` says where it came from and the sha256 of its
   files (None: a model zoo trained or built), `evaluation.adapter` how it was called (None:
   zoo's own model). `migrate` adds both as None to a version 2 record. Test data seen in
   training is found by content: `contamination` counts the evaluated examples the training
   data held (see `CONTAMINATION`); an untrained text model's tokenizer is described in
   `model.tokenizer`, and `flags.tokenizer_from_test_data` says when it was learned from the
   test data. Older records lack these three (unknown). `training_curve` keeps the training
   history of the weights evaluated (their run or entry folder's `history.jsonl`, thinned;
   None: untrained, or no history); `migrate` gives a version 2 record None. A record of a
   compressed entry (`zoo quantize`) has `compression` (see `COMPRESSION`); other records,
   and those written before it, lack it (optional: no migration).

Files are written atomically and never overwrite each other: a name that exists is refused,
and names carry the time and a random suffix. A run that fails writes nothing.

>>> import tempfile, pathlib
>>> from zoo import records
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path = records.write(records.example(), [{"index": 0, "prediction": 1, "target": 1}], folder)
>>> records.read(path)["seeds"]
{'bootstrap': 20261122, 'training': 0}
>>> records.read_predictions(path)
[{'index': 0, 'prediction': 1, 'target': 1}]
"""

from __future__ import annotations

import copy
import datetime
import json
import re
import secrets
import time
from pathlib import Path

from zoo import atomic, safety, schema, textio

SCHEMA_VERSION = 3


class RecordError(ValueError):
    """A record file that is not a valid zoo result record; the message names the file and
    what is wrong."""


# --- The declaration ----------------------------------------------------------------------


def _open(fields, what="a table", rules=()):
    """A table with these fields checked and any others let through (parts of a record that
    another declaration owns: a model's config, a benchmark's definition, provenance)."""
    return schema.Table(fields=fields, values=schema.Anything(), what=what, rules=rules)


def _closed(fields, what="a table", rules=()):
    """A table with exactly these fields (another is an error naming the closest field)."""
    return schema.Table(fields=fields, what=what, rules=rules)


def _f(type_, required=False, nullable=False):
    return schema.Field(type_, required=required, nullable=nullable)


NAME = schema.NAME  # a value that becomes a file name (never "..", "/x", ".hidden")
TEXT = schema.Str(empty=True)
#: Sane bounds: no metric, count or size a real run records comes near them, and every one
#: fits a float (the site formats them; 10**400 overflowed).
NUMBER = schema.Float(min=-10**15, max=10**15)
COUNT = schema.Int(min=0, max=10**12)
PARAMS = schema.Int(min=0, max=10**15 - 1)
SECONDS = schema.Float(min=0, max=10**10)  # about 300 years
SEED = schema.Int(min=0, max=2**64 - 1)
MAX_CLASSES = 1000  # label names and confusion matrix rows (ImageNet has 1000)
#: An image as rows of pixels: grey values 0..255, or [red, green, blue] triples.
_LEVEL = schema.Int(min=0, max=255)
PIXELS = schema.List(schema.List(schema.OneOf(_LEVEL, schema.List(_LEVEL, min_length=3,
                                                                   max_length=3)),
                                 min_length=1, max_length=512),
                     min_length=1, max_length=512)
DATE = schema.Str(pattern=r"\d{4}-\d\d-\d\d([T ][0-9:.]+(Z|[+-]\d\d:?\d\d)?)?",
                  what="a date and time as text (ISO 8601, 2026-01-31T12:00:00Z)")


def _real_date(record):
    """`created` is a real time (2026-99-99 has the shape of a date but is none)."""
    try:
        datetime.datetime.fromisoformat(record["created"])
    except ValueError as error:
        return f"created must be a real date and time (ISO 8601), got {record['created']!r} " \
               f"({error})"
    return None


def _square_matrix(report):
    matrix, labels = report.get("confusion_matrix"), report.get("label_names")
    if matrix is None:
        return None
    if labels is None or any(len(row) != len(matrix) for row in matrix) or (
            len(labels) != len(matrix)):
        return ("report.confusion_matrix must be square with one row per name in "
                "report.label_names")
    return None


def _one_size(images):
    """Each list of pictures in `report.images` has one size and one kind of pixel (grey or
    RGB): each becomes one grid or table of PNGs."""
    for key, grid in images.items():
        sizes = {(len(image), len(image[0])) for image in grid}
        rows = {len(row) for image in grid for row in image}
        kinds = {isinstance(pixel, list | tuple) for image in grid for row in image
                 for pixel in row}
        if len(sizes) > 1 or len(rows) > 1:
            return f"report.images.{key} must all have one size (rows of equal length)"
        if len(kinds) > 1:
            return f"report.images.{key} must be all grey or all RGB pixels"
    return None


#: `[[relative path, sha256], ...]`: the files of a model zoo did not train.
FILE_HASHES = schema.List(schema.List(TEXT, min_length=2, max_length=2))
#: Where a model zoo did not train came from: a `.keras` file or a SavedModel (folder,
#: archive, URL or handle), as given (`location`), the sha256 of its files and of the whole
#: (`zoo.harness.foreign.tree_sha256`), of a local archive, and of its text preprocessor's.
SOURCE = _closed({
    "kind": _f(schema.Str(choices=("keras", "saved_model")), True),
    "location": _f(TEXT, True),
    "sha256": _f(TEXT, True),
    "files": _f(FILE_HASHES),
    "archive_sha256": _f(TEXT, nullable=True),
    "preprocessor": _f(_closed({"location": _f(TEXT, True), "sha256": _f(TEXT, True),
                                "files": _f(FILE_HASHES)}, "the preprocessor's source"),
                       nullable=True),
}, "the model's source")
#: The model evaluated: its registry name, the published entry or run it came from (None for
#: a bare .keras file or an untrained model), its class, config and size, the weights file
#: and what the run.json of its training says (recipe, training data, seconds); for a model
#: zoo did not train, its `source` (its training data is unknown: None).
MODEL = _closed({
    "name": _f(TEXT, True),
    "entry": _f(NAME, nullable=True),
    "family": _f(TEXT, nullable=True),
    "class": _f(TEXT, nullable=True),
    "config": _f(schema.Anything(), nullable=True),
    "params": _f(PARAMS, nullable=True),
    "weights": _f(_closed({"path": _f(TEXT, nullable=True),
                           "sha256": _f(TEXT, nullable=True)}), nullable=True),
    "recipe": _f(schema.Table(values=schema.Anything()), nullable=True),
    "training_data": _f(schema.List(_open({"via": _f(TEXT, nullable=True)})), nullable=True),
    "training_seconds": _f(SECONDS, nullable=True),
    "source": _f(SOURCE, nullable=True),
    "tokenizer": _f(_open({"learned_from": _f(TEXT, True), "split": _f(TEXT, nullable=True),
                           "examples": _f(COUNT), "examples_sha256": _f(TEXT),
                           "kind": _f(TEXT), "vocabulary_size": _f(COUNT),
                           "settings": _f(schema.Table(values=schema.Anything())),
                           "settings_of": _f(TEXT, nullable=True)},
                          "the untrained model's tokenizer"), nullable=True),
}, "the model's table")
#: The benchmark: its id and version, the definition it was run with (the benchmark file's
#: own declaration, `zoo.harness.benchmarks`), the data's and the examples' sha256 and counts.
BENCHMARK = _closed({
    "id": _f(NAME, True),
    "version": _f(schema.Int(min=0, max=10**9), True),
    "task": _f(TEXT, nullable=True),
    "dataset": _f(TEXT, nullable=True),
    "split": _f(TEXT, nullable=True),
    "definition": _f(_open({
        "task": _f(TEXT, nullable=True), "main_metric": _f(TEXT, True),
        "metrics": _f(schema.List(schema.Str()), nullable=True),
        "labels": _f(schema.List(TEXT), nullable=True),
        "higher_is_better": _f(schema.Bool()),
        "description": _f(TEXT, nullable=True), "licence": _f(TEXT, nullable=True),
    }), True),
    "data_sha256": _f(TEXT, nullable=True),
    "examples_sha256": _f(TEXT, nullable=True),
    "files": _f(schema.List(schema.List(TEXT)), nullable=True),
    "examples": _f(_closed({"total": _f(COUNT), "evaluated": _f(COUNT),
                            "limit": _f(COUNT, nullable=True)}), True),
}, "the benchmark's table")
#: How the run evaluated: batch size, the precision the model computed in, the bootstrap's
#: settings (its seed is in `seeds`), translation decoding, how class names were matched and
#: the adapter a model zoo did not train was called through (`zoo.harness.adapter`: its file,
#: the file's sha256, the `--adapt` options and every setting).
EVALUATION = _closed({
    "batch_size": _f(schema.Int(min=1, max=10**9)),
    "precision": _f(TEXT, nullable=True),
    "bootstrap": _f(_closed({"resamples": _f(schema.Int(min=1, max=10**6), True),
                             "confidence": _f(schema.Float(min=0, max=1), True),
                             "method": _f(TEXT, True)}), True),
    "decoding": _f(schema.Table(values=schema.Anything()), nullable=True),
    "labels": _f(schema.Table(values=schema.Anything()), nullable=True),
    "adapter": _f(_open({"file": _f(TEXT, nullable=True), "file_sha256": _f(TEXT, nullable=True),
                         "options": _f(schema.List(TEXT), nullable=True)}, "the adapter"),
                  nullable=True),
}, "the evaluation's table")
#: Every seed the run used, by what it seeded: `bootstrap`, the resample indices
#: (`zoo.metrics.bootstrap.indices(n, evaluation.bootstrap.resamples, seeds.bootstrap)`);
#: `training`, the seed the weights were trained with (their run.json's; None: untrained, or
#: weights without a run.json); `initialization`, an untrained model's only: the seed its
#: fresh weights were drawn with (`zoo.harness.runner.INITIALIZATION_SEED`; records before it
#: lack it: their untrained floor was drawn unseeded); and any the task's prediction or scoring
#: draws with, under the names its `seeds(spec)` gives (the VAE's: `binarization`,
#: `posterior_noise`, `prior_samples`).
SEEDS = schema.Table(fields={"bootstrap": _f(SEED, True), "training": _f(SEED, True, True),
                             "initialization": _f(SEED)},
                     values=SEED, what="a table of seeds (name -> non-negative integer)")
METRIC = _open({"value": _f(NUMBER, True), "low": _f(NUMBER, True), "high": _f(NUMBER, True),
                "signature": _f(TEXT, nullable=True)}, "a metric (value, low, high)")
MAIN_METRIC = _closed({"name": _f(TEXT, True), "value": _f(NUMBER, True),
                       "low": _f(NUMBER, True), "high": _f(NUMBER, True),
                       "higher_is_better": _f(schema.Bool())}, "the main metric's table")
REPORT = _open({
    "confusion_matrix": _f(schema.List(schema.List(schema.Float(min=0, max=10**12),
                                                   max_length=MAX_CLASSES),
                                       max_length=MAX_CLASSES)),
    "label_names": _f(schema.List(TEXT, max_length=MAX_CLASSES)),
    "per_class": _f(schema.Table(values=schema.OneOf(NUMBER, _open({
        key: _f(NUMBER, nullable=True)
        for key in ("precision", "recall", "f1-score", "support")})))),
    "images": _f(schema.Table(values=schema.List(PIXELS, max_length=64), rules=(_one_size,))),
}, rules=(_square_matrix,))
THROUGHPUT = _closed({
    "examples_per_second": _f(schema.Float(min=0, max=10**12), nullable=True),
    "examples_predicted": _f(COUNT),
    "examples_resumed": _f(COUNT),
    "model_seconds": _f(SECONDS),
    "wall_seconds": _f(SECONDS),
    "hardware": _f(TEXT, nullable=True),
}, "the throughput's table")
#: Why a run may not be ranked with full runs (see `flags`); `untrained`: random weights;
#: `tokenizer_from_test_data`: an untrained model's tokenizer learned from the test examples.
FLAGS = _closed({key: _f(schema.Bool(), nullable=True)
                 for key in ("untrained", "limited", "dirty", "test_data_in_training",
                             "tokenizer_from_test_data")},
                "the flags' table")
#: Test examples found in the model's training data by content (`zoo.harness.contamination`):
#: how they were compared; whether a training source names the benchmark's own split
#: (`by_name`); how many evaluated examples the training data holds (`examples_in_training`:
#: more than 0 sets `flags.test_data_in_training`); how many only another split of the
#: benchmark's own dataset holds (the dataset's own duplicates, which do not flag a run; None:
#: not counted); and the sources that could not be compared, each with why.
CONTAMINATION = _closed({
    "method": _f(TEXT, True),
    "by_name": _f(schema.Bool(), True),
    "examples_in_training": _f(COUNT, True),
    "examples_in_other_splits": _f(COUNT, nullable=True),
    "unchecked": _f(schema.List(TEXT)),
}, "the contamination table")
#: The most points a series of `training_curve` may hold (the harness keeps `CURVE_POINTS`).
MAX_CURVE_POINTS = 1000
MAX_CURVE_SERIES = 16


def _aligned(series):
    """A series' `step`, `value` and `seconds` (when given) run in step, and the steps rise."""
    steps = series["step"]
    if len(series["value"]) != len(steps) or (
            series.get("seconds") is not None and len(series["seconds"]) != len(steps)):
        return "a training_curve series must have as many values (and seconds) as steps"
    if any(b <= a for a, b in zip(steps, steps[1:])):
        return "a training_curve series' steps must rise"
    return None


def _few_series(series):
    if len(series) > MAX_CURVE_SERIES:
        return f"training_curve.series must hold at most {MAX_CURVE_SERIES} series"
    return None


_POINTS = {"min_length": 1, "max_length": MAX_CURVE_POINTS}
#: One curve of a training history: the optimizer steps it was logged at, its values and the
#: training seconds at each (None: the history did not say).
CURVE_SERIES = _closed({
    "step": _f(schema.List(COUNT, **_POINTS), True),
    "value": _f(schema.List(NUMBER, **_POINTS), True),
    "seconds": _f(schema.List(SECONDS, **_POINTS), nullable=True),
}, "a series (step, value, seconds)", rules=(_aligned,))
#: The training history of the weights evaluated (`training_curve`, made by
#: `training_curve`): where it was read (`source`: the file name in the run or entry folder,
#: its sha256 and row count) and its series by name: `loss` (the training objective's mean
#: over each logging window) and each validation value (`val_loss`, `val_bleu`), each
#: thinned to at most `CURVE_POINTS` points.
TRAINING_CURVE = _closed({
    "source": _f(TEXT, True),
    "sha256": _f(TEXT, True),
    "rows": _f(COUNT, True),
    "series": _f(schema.Table(values=CURVE_SERIES, rules=(_few_series,)), True),
}, "the training curve")
#: The paired bootstrap difference of a compressed entry from its float entry on the same
#: examples and resamples (`zoo.harness.compression`): the float entry's record (file name and
#: run id), the metric, both values and `delta` = compressed - float with its 95% interval.
AGAINST_FLOAT = _closed({
    "record": _f(NAME, True),
    "run_id": _f(NAME, True),
    "metric": _f(TEXT, True),
    "value_float": _f(NUMBER, True),
    "value": _f(NUMBER, True),
    "delta": _f(NUMBER, True),
    "low": _f(NUMBER, True),
    "high": _f(NUMBER, True),
    "p_value": _f(schema.Float(min=0, max=1), True),
    "significant": _f(schema.Bool(), True),
}, "the paired difference from the float entry")
#: A compressed entry's table (`zoo quantize`'s `quantization.json`, read by the harness):
#: its precision `mode` (int8, int8-weights, float16), its size on disk and its weights' in
#: bytes, the float entry it came from with that entry's weights' sha256 and sizes, and
#: `against_float` (None: no record of the float entry on the same examples was found).
COMPRESSION = _closed({
    "mode": _f(TEXT, True),
    "size_bytes": _f(COUNT, True),
    "weights_bytes": _f(COUNT, nullable=True),
    "float32_bytes": _f(COUNT, nullable=True),
    "from_entry": _f(NAME, True),
    "from_weights_sha256": _f(TEXT, True),
    "from_size_bytes": _f(COUNT, nullable=True),
    "from_weights_bytes": _f(COUNT, nullable=True),
    "against_float": _f(AGAINST_FLOAT, nullable=True),
}, "the compression table")
#: The record, version `SCHEMA_VERSION`.
RECORD = _closed({
    "schema_version": _f(schema.Int(min=SCHEMA_VERSION, max=SCHEMA_VERSION), True),
    "run_id": _f(NAME, True),
    "created": _f(DATE, True),
    "predictions_file": _f(NAME, nullable=True),
    "model": _f(MODEL, True),
    "benchmark": _f(BENCHMARK, True),
    "evaluation": _f(EVALUATION, True),
    "seeds": _f(SEEDS, True),
    "metrics": _f(schema.Table(values=METRIC), True),
    "main_metric": _f(MAIN_METRIC, True),
    "report": _f(REPORT, nullable=True),
    "throughput": _f(THROUGHPUT, True),
    "provenance": _f(_open({"command": _f(TEXT, nullable=True)}), True),
    "flags": _f(FLAGS, True),
    "contamination": _f(CONTAMINATION, nullable=True),
    "training_curve": _f(TRAINING_CURVE, nullable=True),
    "compression": _f(COMPRESSION, nullable=True),
}, "a result record", rules=(_real_date,))
#: One line of a predictions file: the fields the pages and the paired test read.
PREDICTION = _open({"index": _f(COUNT), "confidence": _f(NUMBER, nullable=True),
                    "sentence_bleu": _f(NUMBER, nullable=True),
                    **{key: _f(TEXT, nullable=True)
                       for key in ("text", "source", "hypothesis", "reference")}},
                   "a JSON object")


# --- Training curves ----------------------------------------------------------------------

#: The points the harness keeps of each series of a training history: enough for a plot's
#: width, few enough that a record of a long run stays small.
CURVE_POINTS = 200


def _curve_value(value, type_) -> bool:
    """Whether `value` fits `type_` (NUMBER, SECONDS): a number a record may hold."""
    return not schema.problems(value, type_, "value")


def _series_names(rows) -> list[str]:
    """The series of a history worth a curve: the training loss and every validation value
    (`val_...`), in that order."""
    names = {key for row in rows for key in row if key == "loss" or key.startswith("val_")}
    return sorted(names, key=lambda name: (name != "loss", name))


def _thinned(points: list, max_points: int) -> list:
    """At most `max_points` of `points`, evenly spaced, the first and last always kept."""
    n = len(points)
    if n <= max_points:
        return points
    if max_points == 1:
        return points[-1:]
    return [points[round(i * (n - 1) / (max_points - 1))] for i in range(max_points)]


def training_curve(rows, source: str, sha256: str, max_points: int = CURVE_POINTS):
    """The `training_curve` of a training history (`rows`: the dicts of its `history.jsonl`),
    or None when it has no series: `loss` and each `val_...` value over the steps, each thinned
    to at most `max_points` points evenly spaced over the rows that have it (first and last
    kept: values are the rows' own, never averaged). Rows without a whole-number step, steps
    that do not rise, and values that are not finite numbers within a record's bounds are
    left out; seconds are None for a series when a kept row lacks them.

    >>> rows = [{"step": s, "loss": 5 / s, "seconds": s / 10} for s in range(1, 1001)]
    >>> rows[-1]["val_loss"] = 0.5
    >>> curve = training_curve(rows, "history.jsonl", "0" * 64)
    >>> len(curve["series"]["loss"]["step"]), curve["series"]["loss"]["step"][-1]
    (200, 1000)
    >>> curve["series"]["val_loss"]
    {'step': [1000], 'value': [0.5], 'seconds': [100.0]}
    """
    rows = [row for row in rows if isinstance(row, dict) and _curve_value(row.get("step"), COUNT)]
    series = {}
    for name in _series_names(rows)[:MAX_CURVE_SERIES]:
        points, last = [], -1
        for row in rows:
            step, value = row["step"], row.get(name)
            if step > last and _curve_value(value, NUMBER):
                points.append((step, value, row.get("seconds")))
                last = step
        points = _thinned(points, max_points)
        if not points:
            continue
        seconds = [p[2] for p in points]
        series[name] = {"step": [p[0] for p in points], "value": [p[1] for p in points],
                        "seconds": seconds if all(_curve_value(s, SECONDS) for s in seconds)
                        else None}
    if not series:
        return None
    return {"source": source, "sha256": sha256, "rows": len(rows), "series": series}


# --- Older records ------------------------------------------------------------------------

#: zoo's default bootstrap seed when version 1 records were written (a benchmark without a
#: `[bootstrap] seed` was resampled with it).
V1_DEFAULT_BOOTSTRAP_SEED = 20261122


def _v1_seeds(record: dict) -> dict:
    """The seeds a version 1 run used, from what it recorded: the bootstrap's (recorded, else
    its benchmark's declared seed, else the default of that time), the training seed (its
    recipe's, which is its run.json's; None without a recipe), and for image generation the
    draws the harness of that time made with fixed seeds (binarization: the benchmark's
    `binarize_seed` or 0; the VAE's posterior noise: its own generator, seed 0; prior
    samples: 0). Nothing it cannot know is filled in."""
    evaluation = record.get("evaluation") if isinstance(record.get("evaluation"), dict) else {}
    bootstrap = evaluation.get("bootstrap") if isinstance(evaluation.get("bootstrap"), dict) \
        else {}
    benchmark = record.get("benchmark") if isinstance(record.get("benchmark"), dict) else {}
    definition = benchmark.get("definition") if isinstance(benchmark.get("definition"), dict) \
        else {}
    declared = definition.get("bootstrap") if isinstance(definition.get("bootstrap"), dict) \
        else {}
    model = record.get("model") if isinstance(record.get("model"), dict) else {}
    recipe = model.get("recipe") if isinstance(model.get("recipe"), dict) else {}
    seeds = {"bootstrap": bootstrap.pop("seed", declared.get("seed", V1_DEFAULT_BOOTSTRAP_SEED)),
             "training": recipe.get("seed")}
    if definition.get("task") == "image_generation":
        preprocessing = definition.get("preprocessing") or {}
        if isinstance(preprocessing, dict) and preprocessing.get("binarize") == "stochastic":
            seeds["binarization"] = preprocessing.get("binarize_seed", 0)
        seeds.update(posterior_noise=0, prior_samples=0)
    evaluation.pop("seed", None)  # 0 whatever the run used: not a seed of the run
    return seeds


def _v2_to_v3(record: dict) -> dict:
    """A version 2 record as version 3 (a copy): its model was trained or built by zoo and
    called without an adapter, so `model.source` and `evaluation.adapter` are None; it kept
    no training history (`training_curve` None)."""
    record = dict(copy.deepcopy(record), schema_version=3)
    record.setdefault("training_curve", None)
    for table, key in (("model", "source"), ("evaluation", "adapter")):
        if isinstance(record.get(table), dict):
            record[table].setdefault(key, None)
    return record


def migrate(record: dict, path="<record>") -> dict:
    """`record` as a version `SCHEMA_VERSION` record (a copy; the same dict when it is one).

    Version 1 records (`"schema": 1`, no `schema_version`) get `seeds` (`_v1_seeds`) and lose
    `evaluation.seed` and `evaluation.bootstrap.seed`, which makes them version 2; version 2
    records get `model.source`, `evaluation.adapter` and `training_curve` (`_v2_to_v3`). A record that is
    neither is left for `validate` to name what it lacks.

    Raises:
        RecordError: a `schema_version` this zoo does not know (a newer zoo's record: upgrade).
    """
    version = record.get("schema_version")
    if version is None and record.get("schema") == 1:
        record = copy.deepcopy(record)
        del record["schema"]
        seeds = _v1_seeds(record)
        record, version = {"schema_version": 2, **record, "seeds": seeds}, 2
    if version == 2 and not isinstance(version, bool):
        record = _v2_to_v3(record)
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise RecordError(f"{path}: schema_version {version} is newer than this zoo reads "
                          f"({SCHEMA_VERSION}); upgrade zoo to read it.")
    return record


# --- Reading and writing ------------------------------------------------------------------


def validate(record: dict, path="<record>") -> dict:
    """`record` itself when it fits `RECORD` (the current version); else `RecordError` naming
    `path` and every bad field (what it must be, what it is)."""
    schema.validate(record, RECORD, str(path), error=RecordError)
    return record


def read(path) -> dict:
    """The record in `path`, migrated to the current version and checked (`RecordError`
    naming the file otherwise)."""
    path = Path(path)
    record = textio.read_json_object(path, RecordError, "a JSON record (an object)")
    return validate(migrate(record, path), path)


def new_run_id(model: str, benchmark: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", model)
    return f"{stamp}-{safe}-{benchmark}-{secrets.token_hex(3)}"


def write(record: dict, predictions: list[dict], results_dir) -> Path:
    """Writes `<results_dir>/<benchmark>/<run_id>.json` and its `.predictions.jsonl`, after
    checking the record against `RECORD` (`RecordError`: nothing is written)."""
    folder = Path(results_dir) / record["benchmark"]["id"]
    record_path = folder / f"{record['run_id']}.json"
    predictions_path = folder / f"{record['run_id']}.predictions.jsonl"
    record = dict(record, predictions_file=predictions_path.name)
    validate(record, record_path)

    # Hard links, not renames: two runs never overwrite each other's files.
    lines = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"
                    for row in predictions)
    atomic.write_text(predictions_path, lines, overwrite=False)
    atomic.write_json(record_path, record, overwrite=False)
    return record_path


def predictions_path(record_path, record: dict) -> Path:
    """The predictions file of a record: `predictions_file`, a file name beside the record. A
    value that names a file elsewhere ("../x", "/etc/x") raises `RecordError`: records come
    from anyone, and their values never lead outside their folder."""
    name = record.get("predictions_file")
    if not safety.is_plain_name(name):
        raise RecordError(f"{record_path}: predictions_file must be the name of a file beside "
                          f"the record ({safety.NAME_RULE}), got {name!r}.")
    return Path(record_path).parent / name


def read_predictions(record_path) -> list[dict]:
    record_path = Path(record_path)
    record = read(record_path)
    with open(predictions_path(record_path, record), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


# --- What readers ask of a record ---------------------------------------------------------


def flags(record: dict) -> list[str]:
    """Why a record is not ranked with full runs (empty for a full run): a dirty git tree,
    `--limit`, test data in the model's training data, or an untrained model's tokenizer
    learned from the test data."""
    f = record.get("flags", {})
    reasons = []
    if f.get("dirty"):
        reasons.append("dirty tree")
    if f.get("limited"):
        reasons.append("--limit")
    if f.get("test_data_in_training"):
        reasons.append("test data in training")
    if f.get("tokenizer_from_test_data"):
        reasons.append("tokenizer from test data")
    return reasons


def published_score(record: dict, file_name: str) -> dict | None:
    """The score a record publishes for its entry: entry, benchmark, metric, value, low, high
    and record (`file_name`); None for a run of no published entry or one that is not a full
    run (`flags`, or an untrained model)."""
    entry = record["model"].get("entry")
    if entry is None or flags(record) or record["flags"].get("untrained"):
        return None
    main = record["main_metric"]
    return {"entry": entry, "benchmark": record["benchmark"]["id"], "metric": main["name"],
            "value": main["value"], "low": main["low"], "high": main["high"],
            "record": file_name}


def example(**changes) -> dict:
    """A small valid record (for examples and tests of readers): an untrained-looking run on
    digits with one metric; `changes` replace top-level fields."""
    record = {
        "schema_version": SCHEMA_VERSION, "run_id": "example-run",
        "created": "2026-11-22T00:00:00Z",
        "model": {"name": "vit_tiny_patch2_8", "entry": None, "params": 1000, "weights": None,
                  "recipe": None, "training_data": [], "training_seconds": None},
        "benchmark": {"id": "digits", "version": 1,
                      "definition": {"task": "image_classification", "main_metric": "accuracy",
                                     "metrics": ["accuracy"], "higher_is_better": True},
                      "examples": {"total": 1, "evaluated": 1, "limit": None}},
        "evaluation": {"batch_size": 64, "precision": "float32",
                       "bootstrap": {"resamples": 1000, "confidence": 0.95,
                                     "method": "percentile"}},
        "seeds": {"bootstrap": V1_DEFAULT_BOOTSTRAP_SEED, "training": 0},
        "metrics": {"accuracy": {"value": 0.5, "low": 0.4, "high": 0.6}},
        "main_metric": {"name": "accuracy", "value": 0.5, "low": 0.4, "high": 0.6,
                        "higher_is_better": True},
        "report": {}, "throughput": {"examples_per_second": None, "hardware": None},
        "provenance": {"command": None},
        "flags": {"untrained": False, "limited": False, "dirty": False,
                  "test_data_in_training": False},
    }
    record.update(changes)
    return record
