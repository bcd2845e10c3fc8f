"""A compressed entry's record table: what was compressed, its size, and its paired difference
from the float entry it came from.

An entry `zoo quantize` wrote (`zoo.quantize`) has a `quantization.json`
(`zoo.entries.QUANTIZATION`); a run of it gets the record's `compression` table
(`zoo.records.COMPRESSION`): the mode, the sizes on disk, the float entry and its weights'
sha256, and `against_float`: the paired bootstrap test (`zoo.harness.compare.paired`) of this
run's predictions against those of the newest record of the float entry on the same benchmark
version, the same evaluated examples (sha256) and the same resamples (seed and count), found in
the run's results folder or among the published records; None when there is none (score the
float entry first: `zoo bench run --entry FLOAT --benchmark B --results DIR`).
"""

from __future__ import annotations

from pathlib import Path

from zoo import entries, records, textio
from zoo.harness.compare import paired

#: The fields of `quantization.json` a record's `compression` table copies.
_COPIED = ("mode", "size_bytes", "weights_bytes", "float32_bytes", "from_entry",
           "from_weights_sha256", "from_size_bytes", "from_weights_bytes")


def section(model_file, record: dict, rows: list, idx, spec, results_dirs) -> dict | None:
    """The `compression` table of a run whose weights are `model_file` (None when it is not a
    compressed entry's folder), given the run's `record` (its benchmark and seeds tables), its
    prediction `rows`, resample indices `idx`, benchmark `spec` and the folders of records to
    look for the float entry's in (`results_dirs`; the published ones are added)."""
    if model_file is None or not (Path(model_file) / entries.QUANTIZATION).is_file():
        return None
    info = textio.read_json(Path(model_file) / entries.QUANTIZATION)
    table = {key: info.get(key) for key in _COPIED}
    found = float_record(info.get("from_entry"), record, int(idx.shape[0]), results_dirs)
    table["against_float"] = None
    if found is not None:
        path, float_record_ = found
        test = paired(spec, rows, records.read_predictions(path), idx)
        table["against_float"] = {
            "record": path.name, "run_id": float_record_["run_id"], "metric": test["metric"],
            "value_float": test["value_b"], "value": test["value_a"], "delta": test["delta"],
            "low": test["low"], "high": test["high"], "p_value": test["p_value"],
            "significant": test["significant"]}
    return table


def float_record(entry, record: dict, resamples: int, results_dirs):
    """`(path, record)` of the newest readable record of `entry` that a paired test with
    `record` may use: same benchmark id and version, same evaluated examples (sha256 and
    count), same bootstrap seed and resample count, trained weights; None if none."""
    bench = record["benchmark"]
    folders = [Path(d) for d in results_dirs if d is not None]
    published = entries.results_dir()
    if published is not None:
        folders.append(published)
    best = None
    seen = set()
    for folder in folders:
        for path in sorted((folder / bench["id"]).glob("*.json")) if (
                folder / bench["id"]).is_dir() else []:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                other = records.read(path)
            except (OSError, ValueError, RecursionError):  # RecordError is a ValueError
                continue
            if _pairs_with(other, entry, record, resamples) and (
                    best is None or other["created"] > best[1]["created"]):
                best = (path, other)
    return best


def _pairs_with(other: dict, entry, record: dict, resamples: int) -> bool:
    a, b = other["benchmark"], record["benchmark"]
    return (other["model"].get("entry") == entry and not other["flags"].get("untrained")
            and all(a.get(key) == b.get(key) for key in
                    ("id", "version", "data_sha256", "examples_sha256"))
            and a["examples"]["evaluated"] == b["examples"]["evaluated"]
            and other["seeds"]["bootstrap"] == record["seeds"]["bootstrap"]
            and other["evaluation"]["bootstrap"]["resamples"] == resamples)
