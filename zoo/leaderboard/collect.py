"""Result records -> the leaderboard's data: benchmarks, ranked full runs, flagged runs.

Records come from anyone, so each is checked before use: every field the pages read against
`RECORD` (its type and, for values that become file names, a plain name), its predictions file
against `PREDICTION` line by line, and both files must lie inside the results folder (links
followed). Every number has a sane bound (a parameter count below 10**15, counts below 10**12,
at most `MAX_CLASSES` classes), every date is a real ISO 8601 time, and a file nested too deep
for the parser or holding a number too large for a float is refused like any other: a record
that cannot be read or fails a check is reported (file and reason) and skipped; it never stops
the others. Full runs (clean git tree, no `--limit`, no test data in training)
are ranked by the benchmark's main metric; flagged runs are listed apart, never ranked. Each
ranked entry is compared with the leader by a paired bootstrap over the shared resample
indices (`zoo.harness.compare`).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path

from zoo import safety, schema
from zoo.harness import compare, records


@dataclass
class Entry:
    path: Path
    record: dict
    flags: list
    significance: dict | None = None  # vs the leader: delta, low, high, p_value, significant
    predictions: list | None = None  # the checked rows of its predictions file (None: none)

    @property
    def run_id(self) -> str:
        return self.record["run_id"]

    @property
    def name(self) -> str:
        model = self.record["model"]
        return model.get("entry") or model["name"]

    @property
    def main(self) -> dict:
        return self.record["main_metric"]


@dataclass
class Board:
    benchmark: dict  # the newest record's benchmark block (definition, counts)
    ranked: list = field(default_factory=list)
    flagged: list = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.benchmark["id"]


def flags_of(record: dict) -> list[str]:
    """Why a record is not ranked with full runs (empty for a full run)."""
    f = record.get("flags", {})
    reasons = []
    if f.get("dirty"):
        reasons.append("dirty tree")
    if f.get("limited"):
        reasons.append("--limit")
    if f.get("test_data_in_training"):
        reasons.append("test data in training")
    return reasons


#: What reading or checking one hostile record may raise; it skips that record, never the build.
RECORD_ERRORS = (records.RecordError, KeyError, TypeError, ValueError, RecursionError,
                 OverflowError)


def _reason(error, limit=1000) -> str:
    """Why a record was skipped, in at most about `limit` characters (a hostile record may
    have thousands of bad values)."""
    if isinstance(error, RecursionError):
        text = f"cannot read a JSON record (nested too deeply: {error})"
    elif isinstance(error, OverflowError):
        text = f"a number too large ({error})"
    else:
        text = str(error)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def load(results_dir, warn=print) -> tuple[list[Board], list[str]]:
    """Reads every record under `results_dir`; returns boards (sorted by id) and problems."""
    results_dir = Path(results_dir)
    problems = []
    by_benchmark: dict[str, list[Entry]] = {}
    run_ids = {}
    for path in sorted(results_dir.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(results_dir).parts):
            continue
        try:
            record = records.read(path)
            rows = _check(record, path, results_dir)
            if record["run_id"] in run_ids:
                raise ValueError(f"run_id {record['run_id']!r} is also the run_id of "
                                 f"{run_ids[record['run_id']]}")
        except RECORD_ERRORS as error:
            reason = _reason(error).removeprefix(f"{path}: ")
            message = f"skipped {path}: {reason}"
            problems.append(message)
            warn(message)
            continue
        run_ids[record["run_id"]] = path
        entry = Entry(path, record, flags_of(record), predictions=rows)
        by_benchmark.setdefault(record["benchmark"]["id"], []).append(entry)
    boards = []
    for benchmark_id in sorted(by_benchmark):
        entries = by_benchmark[benchmark_id]
        newest = max(entries, key=lambda e: (e.record["created"], e.run_id))
        board = Board(newest.record["benchmark"])
        higher = newest.record["main_metric"].get("higher_is_better", True)
        full = _newest_per_model([e for e in entries if not e.flags
                                  and e.record["benchmark"]["version"] == board.benchmark["version"]])
        full.sort(key=lambda e: ((-1 if higher else 1) * e.main["value"], e.name, e.run_id))
        board.ranked = full
        board.flagged = sorted((e for e in entries if e not in full),
                               key=lambda e: (e.record["created"], e.run_id), reverse=True)
        _compare_with_leader(board, problems, warn)
        boards.append(board)
    return boards, problems


# --- What the pages read from a record, checked before use -----------------------------------


def _open(fields, what="a table", rules=()):
    """A table with these fields checked, and any others (records carry more) let through."""
    return schema.Table(fields=fields, values=schema.Anything(), what=what, rules=rules)


def _f(type_, required=False, nullable=False):
    return schema.Field(type_, required=required, nullable=nullable)


NAME = schema.NAME  # a value that becomes a file name (never "..", "/x", ".hidden")
TEXT = schema.Str(empty=True)
#: Sane bounds: no metric, count or size a real run records comes near them, and every one
#: fits a float (site._num formats them; 10**400 overflowed).
NUMBER = schema.Float(min=-10**15, max=10**15)
COUNT = schema.Int(min=0, max=10**12)
PARAMS = schema.Int(min=0, max=10**15 - 1)
SECONDS = schema.Float(min=0, max=10**10)  # about 300 years
MAX_CLASSES = 1000  # label names and confusion matrix rows (ImageNet has 1000)
PIXELS = schema.List(schema.List(schema.Int(min=0, max=255), min_length=1, max_length=512),
                     min_length=1, max_length=512)


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


METRIC = _open({"value": _f(NUMBER, True), "low": _f(NUMBER, True), "high": _f(NUMBER, True),
                "signature": _f(TEXT, nullable=True)}, "a metric (value, low, high)")
DATE = schema.Str(pattern=r"\d{4}-\d\d-\d\d([T ][0-9:.]+(Z|[+-]\d\d:?\d\d)?)?",
                  what="a date and time as text (ISO 8601, 2026-01-31T12:00:00Z)")
RECORD = _open({
    "run_id": _f(NAME, True),
    "created": _f(DATE, True),
    "predictions_file": _f(NAME, nullable=True),
    "benchmark": _f(_open({
        "id": _f(NAME, True),
        "version": _f(schema.Int(min=0, max=10**9), True),
        "data_sha256": _f(TEXT, nullable=True),
        "definition": _f(_open({
            "task": _f(TEXT, nullable=True), "main_metric": _f(TEXT, True),
            "metrics": _f(schema.List(schema.Str()), nullable=True),
            "labels": _f(schema.List(TEXT), nullable=True),
            "higher_is_better": _f(schema.Bool()),
            "description": _f(TEXT, nullable=True), "licence": _f(TEXT, nullable=True),
        }), True),
        "examples": _f(_open({"total": _f(COUNT), "evaluated": _f(COUNT)}), True),
    }), True),
    "main_metric": _f(_open({"name": _f(TEXT, True), "value": _f(NUMBER, True),
                             "low": _f(NUMBER, True), "high": _f(NUMBER, True),
                             "higher_is_better": _f(schema.Bool())}), True),
    "metrics": _f(schema.Table(values=METRIC), True),
    "model": _f(_open({
        "name": _f(TEXT, True), "entry": _f(NAME, nullable=True),
        "family": _f(TEXT, nullable=True), "class": _f(TEXT, nullable=True),
        "params": _f(PARAMS, nullable=True),
        "training_seconds": _f(SECONDS, nullable=True),
        "weights": _f(_open({"sha256": _f(TEXT, nullable=True)}), nullable=True),
        "training_data": _f(schema.List(_open({"via": _f(TEXT, nullable=True)})),
                            nullable=True),
    }), True),
    "throughput": _f(_open({"examples_per_second": _f(schema.Float(min=0, max=10**12),
                                                      nullable=True),
                            "hardware": _f(TEXT, nullable=True)}), True),
    "provenance": _f(_open({"command": _f(TEXT, nullable=True)}), True),
    "flags": _f(_open({key: _f(schema.Bool(), nullable=True)
                       for key in ("dirty", "limited", "test_data_in_training")}), True),
    "report": _f(_open({
        "confusion_matrix": _f(schema.List(schema.List(schema.Float(min=0, max=10**12),
                                                       max_length=MAX_CLASSES),
                                           max_length=MAX_CLASSES)),
        "label_names": _f(schema.List(TEXT, max_length=MAX_CLASSES)),
        "per_class": _f(schema.Table(values=schema.OneOf(NUMBER, _open({
            key: _f(NUMBER, nullable=True)
            for key in ("precision", "recall", "f1-score", "support")})))),
        "images": _f(schema.Table(values=schema.List(PIXELS, max_length=64),
                                  rules=(_one_size,))),
    }, rules=(_square_matrix,)), nullable=True),
}, rules=(_real_date,))
#: One line of a predictions file: the fields the pages and the paired test read.
PREDICTION = _open({"index": _f(COUNT), "confidence": _f(NUMBER, nullable=True),
                    "sentence_bleu": _f(NUMBER, nullable=True),
                    **{key: _f(TEXT, nullable=True)
                       for key in ("text", "source", "hypothesis", "reference")}},
                   "a JSON object")


def _check(record, path, results_dir) -> list | None:
    """Checks a record read from `path` (see the module docstring); returns its predictions'
    rows (None when it has no predictions file). Raises `RecordError` naming the problem."""
    schema.validate(record, RECORD, str(path), error=records.RecordError)
    if not safety.inside(results_dir, path):
        raise records.RecordError(f"{path}: the record is a link to a file outside "
                                  f"{results_dir}.")
    if record.get("predictions_file") is None:
        return None
    predictions = records.predictions_path(path, record)
    if not predictions.exists():
        return None
    if not safety.inside(results_dir, predictions):
        raise records.RecordError(f"{path}: its predictions file {predictions.name} is a link to "
                                  f"a file outside {results_dir}.")
    if not predictions.is_file():
        raise records.RecordError(f"{path}: its predictions file {predictions.name} is not a "
                                  "file.")
    rows = []
    with open(predictions, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            where = f"{predictions}, line {number}"
            try:
                row = json.loads(line)
            except (ValueError, RecursionError) as error:
                raise records.RecordError(f"{where}: not JSON ({error}).") from None
            schema.validate(row, PREDICTION, where, error=records.RecordError)
            rows.append(row)
    return rows


def _newest_per_model(entries):
    """One ranked row per model and weights: the newest evaluation."""
    chosen = {}
    for e in sorted(entries, key=lambda e: (e.record["created"], e.run_id)):
        weights = (e.record["model"].get("weights") or {}).get("sha256")
        chosen[(e.name, weights)] = e
    return list(chosen.values())


def _compare_with_leader(board, problems, warn):
    if not board.ranked:
        return
    leader = board.ranked[0]
    leader.significance = None
    for entry in board.ranked[1:]:
        try:
            result = compare.compare(leader.path, entry.path)
            entry.significance = {k: result[k] for k in ("delta", "low", "high", "p_value",
                                                         "significant")}
        except (OSError, *RECORD_ERRORS) as error:
            message = f"no paired test for {entry.path}: {error}"
            problems.append(message)
            warn(message)
