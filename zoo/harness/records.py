"""Result records: one JSON file per run plus a JSON-lines file of per-example predictions.

Files are written atomically (a temporary file, then a rename) and never
overwrite each other: a name that exists is refused, and names carry the time
and a random suffix. A run that fails writes nothing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
from pathlib import Path

SCHEMA_VERSION = 1
REQUIRED = ("schema", "run_id", "created", "model", "benchmark", "evaluation", "metrics",
            "main_metric", "throughput", "provenance", "flags")


class RecordError(ValueError):
    """A record file that is not a valid zoo result record."""


def new_run_id(model: str, benchmark: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", model)
    return f"{stamp}-{safe}-{benchmark}-{secrets.token_hex(3)}"


def _atomic_write(path: Path, write) -> None:
    """Writes through a temporary file in the same folder; refuses to replace a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # fails if `path` exists: two runs never overwrite each other
    finally:
        os.unlink(tmp)


def write(record: dict, predictions: list[dict], results_dir) -> Path:
    """Writes `<results_dir>/<benchmark>/<run_id>.json` and its `.predictions.jsonl`."""
    folder = Path(results_dir) / record["benchmark"]["id"]
    record_path = folder / f"{record['run_id']}.json"
    predictions_path = folder / f"{record['run_id']}.predictions.jsonl"
    record = dict(record, predictions_file=predictions_path.name)
    validate(record, record_path)

    def write_predictions(f):
        for row in predictions:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")

    _atomic_write(predictions_path, write_predictions)
    _atomic_write(record_path, lambda f: f.write(
        json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"))
    return record_path


def validate(record: dict, path="<record>") -> dict:
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise RecordError(f"{path}: not a zoo result record (missing {', '.join(missing)}).")
    if record["schema"] != SCHEMA_VERSION:
        raise RecordError(f"{path}: schema {record['schema']} is not {SCHEMA_VERSION}.")
    for name, metric in record["metrics"].items():
        for key in ("value", "low", "high"):
            if not isinstance(metric.get(key), (int, float)):
                raise RecordError(f"{path}: metric '{name}' lacks a numeric '{key}'.")
    return record


def read(path) -> dict:
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecordError(f"{path}: cannot read a JSON record ({error}).") from None
    if not isinstance(record, dict):
        raise RecordError(f"{path}: a record is a JSON object.")
    return validate(record, path)


def read_predictions(record_path) -> list[dict]:
    record_path = Path(record_path)
    record = read(record_path)
    with open(record_path.parent / record["predictions_file"], encoding="utf-8") as f:
        return [json.loads(line) for line in f]
