"""Result records -> the leaderboard's data: benchmarks, ranked full runs, flagged runs.

A record that cannot be read or is not schema-valid is reported (file and reason) and skipped;
it never stops the others. Full runs (clean git tree, no `--limit`, no test data in training)
are ranked by the benchmark's main metric; flagged runs are listed apart, never ranked. Each
ranked entry is compared with the leader by a paired bootstrap over the shared resample
indices (`zoo.harness.compare`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from zoo.harness import compare, records


@dataclass
class Entry:
    path: Path
    record: dict
    flags: list
    significance: dict | None = None  # vs the leader: delta, low, high, p_value, significant

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


def load(results_dir, warn=print) -> tuple[list[Board], list[str]]:
    """Reads every record under `results_dir`; returns boards (sorted by id) and problems."""
    results_dir = Path(results_dir)
    problems = []
    by_benchmark: dict[str, list[Entry]] = {}
    for path in sorted(results_dir.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(results_dir).parts):
            continue
        try:
            record = records.read(path)
            _check(record, path)
        except (records.RecordError, KeyError, TypeError, ValueError) as error:
            message = f"skipped {path}: {error}"
            problems.append(message)
            warn(message)
            continue
        entry = Entry(path, record, flags_of(record))
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


def _check(record, path):
    """Fields the pages need, beyond the schema check."""
    for key in ("id", "version", "definition", "examples"):
        record["benchmark"][key]
    for key in ("name", "value", "low", "high"):
        record["main_metric"][key]
    record["model"]["name"]
    if not isinstance(record["run_id"], str) or "/" in record["run_id"] or record["run_id"] in (
            "", ".", ".."):
        raise ValueError(f"unusable run_id {record['run_id']!r}")


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
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
            message = f"no paired test for {entry.path}: {error}"
            problems.append(message)
            warn(message)
