"""Result records: one JSON file per run plus a JSON-lines file of per-example predictions.

Files are written atomically (a temporary file, then a rename) and never
overwrite each other: a name that exists is refused, and names carry the time
and a random suffix. A run that fails writes nothing.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

from zoo import atomic, textio

SCHEMA_VERSION = 1
REQUIRED = ("schema", "run_id", "created", "model", "benchmark", "evaluation", "metrics",
            "main_metric", "throughput", "provenance", "flags")


class RecordError(ValueError):
    """A record file that is not a valid zoo result record."""


def new_run_id(model: str, benchmark: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", model)
    return f"{stamp}-{safe}-{benchmark}-{secrets.token_hex(3)}"


def write(record: dict, predictions: list[dict], results_dir) -> Path:
    """Writes `<results_dir>/<benchmark>/<run_id>.json` and its `.predictions.jsonl`."""
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


def validate(record: dict, path="<record>") -> dict:
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise RecordError(f"{path}: not a zoo result record (missing {', '.join(missing)}).")
    if record["schema"] != SCHEMA_VERSION:
        raise RecordError(f"{path}: schema {record['schema']} is not {SCHEMA_VERSION}.")
    metrics = record["metrics"]
    if not isinstance(metrics, dict) or not all(isinstance(m, dict) for m in metrics.values()):
        raise RecordError(f"{path}: metrics must be a table of metrics, each a table with a "
                          "numeric value, low and high.")
    for name, metric in metrics.items():
        for key in ("value", "low", "high"):
            if not isinstance(metric.get(key), (int, float)):
                raise RecordError(f"{path}: metric '{name}' lacks a numeric '{key}'.")
    return record


def read(path) -> dict:
    path = Path(path)
    record = textio.read_json_object(path, RecordError, "a JSON record (an object)")
    return validate(record, path)


def predictions_path(record_path, record: dict) -> Path:
    """The predictions file of a record: `predictions_file`, a file name beside the record. A
    value that names a file elsewhere ("../x", "/etc/x") raises `RecordError`: records come
    from anyone, and their values never lead outside their folder."""
    from zoo import safety

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
