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

SCHEMA_VERSION = 2


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
PIXELS = schema.List(schema.List(schema.Int(min=0, max=255), min_length=1, max_length=512),
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
    sizes = {(len(image), len(image[0])) for grid in images.values() for image in grid}
    rows = {len(row) for grid in images.values() for image in grid for row in image}
    if len(sizes) > 1 or len(rows) > 1:
        return "report.images must all have one size (rows of equal length)"
    return None


#: The model evaluated: its registry name, the published entry or run it came from (None for
#: a bare .keras file or an untrained model), its class, config and size, the weights file
#: and what the run.json of its training says (recipe, training data, seconds).
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
#: settings (its seed is in `seeds`), translation decoding and how class names were matched.
EVALUATION = _closed({
    "batch_size": _f(schema.Int(min=1, max=10**9)),
    "precision": _f(TEXT, nullable=True),
    "bootstrap": _f(_closed({"resamples": _f(schema.Int(min=1, max=10**6), True),
                             "confidence": _f(schema.Float(min=0, max=1), True),
                             "method": _f(TEXT, True)}), True),
    "decoding": _f(schema.Table(values=schema.Anything()), nullable=True),
    "labels": _f(schema.Table(values=schema.Anything()), nullable=True),
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
#: Why a run may not be ranked with full runs (see `flags`); `untrained`: random weights.
FLAGS = _closed({key: _f(schema.Bool(), nullable=True)
                 for key in ("untrained", "limited", "dirty", "test_data_in_training")},
                "the flags' table")
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
}, "a result record", rules=(_real_date,))
#: One line of a predictions file: the fields the pages and the paired test read.
PREDICTION = _open({"index": _f(COUNT), "confidence": _f(NUMBER, nullable=True),
                    "sentence_bleu": _f(NUMBER, nullable=True),
                    **{key: _f(TEXT, nullable=True)
                       for key in ("text", "source", "hypothesis", "reference")}},
                   "a JSON object")


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


def migrate(record: dict, path="<record>") -> dict:
    """`record` as a version `SCHEMA_VERSION` record (a copy; the same dict when it is one).

    Version 1 records (`"schema": 1`, no `schema_version`) get `seeds` (`_v1_seeds`) and lose
    `evaluation.seed` and `evaluation.bootstrap.seed`. A record that is neither is left for
    `validate` to name what it lacks.

    Raises:
        RecordError: a `schema_version` this zoo does not know (a newer zoo's record: upgrade).
    """
    version = record.get("schema_version")
    if version is None and record.get("schema") == 1:
        record = copy.deepcopy(record)
        del record["schema"]
        seeds = _v1_seeds(record)
        return {"schema_version": SCHEMA_VERSION, **record, "seeds": seeds}
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
    `--limit`, or test data in the model's training data."""
    f = record.get("flags", {})
    reasons = []
    if f.get("dirty"):
        reasons.append("dirty tree")
    if f.get("limited"):
        reasons.append("--limit")
    if f.get("test_data_in_training"):
        reasons.append("test data in training")
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
