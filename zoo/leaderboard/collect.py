"""Result records -> the leaderboard's data: benchmarks, ranked full runs, flagged runs.

Records come from anyone, so each is checked before use: read through `zoo.records.read`
(migrated to the current version and checked against the record's one declaration,
`zoo.records.RECORD`: every field's type, a plain name for values that become file names, a
sane bound for every number, a real ISO 8601 time for every date), its predictions file against
`zoo.records.PREDICTION` line by line, and both files must lie inside the results folder (links
followed). A file nested too deep for the parser or holding a number too large for a float is
refused like any other: a record that cannot be read or fails a check is reported (file and
reason) and skipped; it never stops the others. Full runs (clean git tree, no `--limit`, no test data in training)
are ranked by the benchmark's main metric; flagged runs are listed apart, never ranked. Each
ranked entry is compared with the leader by a paired bootstrap over the shared resample
indices (`zoo.harness.compare`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from zoo import records, safety, schema
from zoo.harness import compare


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
        entry = Entry(path, record, records.flags(record), predictions=rows)
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


def _check(record, path, results_dir) -> list | None:
    """Checks a record read from `path` (see the module docstring); returns its predictions'
    rows (None when it has no predictions file). Raises `RecordError` naming the problem."""
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
            schema.validate(row, records.PREDICTION, where, error=records.RecordError)
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
