"""A compressed entry's record table: what was compressed, its size, and its paired difference
from the float entry it came from.

An entry `zoo quantize` wrote (`zoo.quantize`) has a `quantization.json`
(`zoo.entries.QUANTIZATION`); a run of it gets the record's `compression` table
(`zoo.records.COMPRESSION`): the mode, the sizes on disk, the float entry and its weights'
sha256, and `against_float`: the paired bootstrap test (`zoo.harness.compare.paired`) of this
run's predictions against those of the newest record of the float entry on the same benchmark
version, the same evaluated examples (their sha256; for a record written before it, both runs
whole on data of the same sha256) and the same resamples (seed and count), found in the run's
results folder or among the published records; None when there is none (score the
float entry first: `zoo bench run --entry FLOAT --benchmark B --results DIR`).
"""

from __future__ import annotations

import shlex
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
    `record` may use: same benchmark id and version, same evaluated examples (`_same_examples`),
    same bootstrap seed and resample count, trained weights; None if none."""
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
            and all(a.get(key) == b.get(key) for key in ("id", "version", "data_sha256"))
            and _same_examples(a, b)
            and other["seeds"]["bootstrap"] == record["seeds"]["bootstrap"]
            and other["evaluation"]["bootstrap"]["resamples"] == resamples)


def _same_examples(a: dict, b: dict) -> bool:
    """Whether two records' benchmark tables evaluated the same examples: the same
    `examples_sha256`, or, where one lacks it (records written before it: null), both runs
    whole (no limit, every example) on data of the same sha256."""
    if a["examples"]["evaluated"] != b["examples"]["evaluated"]:
        return False
    if a.get("examples_sha256") is not None and b.get("examples_sha256") is not None:
        return a["examples_sha256"] == b["examples_sha256"]
    return a.get("data_sha256") is not None and all(
        t["examples"].get("limit") is None and t["examples"]["evaluated"] == t["examples"]["total"]
        for t in (a, b))


def summary(record: dict, path) -> list[str]:
    """Lines for `zoo bench run` to print after the scores of a compressed entry's run (none
    for another run): its size against its float32 weights, and its paired difference from
    the float entry, or, when `against_float` is None, that there is none and the command
    that scores the float entry on the same examples (into the folder of the record at
    `path`), after which this run, repeated, finds it."""
    from zoo.metrics.bootstrap import decimals, format_interval

    table = record.get("compression")
    if not table:
        return []
    source = table["from_entry"]
    lines = [f"{table['mode']} copy of {source}: weights {table['weights_bytes'] / 1e6:.2f} MB "
             f"on disk, {table['weights_bytes'] / table['float32_bytes']:.0%} of its float32 "
             f"weights ({table['float32_bytes'] / 1e6:.2f} MB); the float entry's folder "
             f"{table['from_size_bytes'] / 1e6:.2f} MB, this one's {table['size_bytes'] / 1e6:.2f}"
             " MB"] if table.get("weights_bytes") and table.get("float32_bytes") else []
    found = table["against_float"]
    bench = record["benchmark"]
    if found is None:
        results = Path(path).parent.parent
        lines.append(
            f"against {source}: no record of it on these {bench['examples']['evaluated']:,} "
            f"examples (benchmark {bench['id']} version {bench['version']}, the same bootstrap "
            f"seed and resamples) in {results} or the published records: no paired difference "
            "(compression.against_float is null). Score it, then run this again: "
            + _float_command(record, source, results))
        return lines
    places = decimals(found["low"], found["high"])
    lines.append(
        f"against {source}: {found['metric']} {found['value_float']:.{places}f} -> "
        f"{found['value']:.{places}f}, difference "
        f"{format_interval(found['delta'], found['low'], found['high'], sign=True)} (95% "
        f"interval), paired bootstrap p = {found['p_value']:.4f} (its record {found['record']})")
    return lines


def _float_command(record: dict, source: str, results: Path) -> str:
    """The command that scores the float entry `source` as the run of `record` was made: its
    own command (provenance) with `--entry` naming `source`, else one built from the record
    (benchmark, limit, results folder)."""
    command = record["provenance"].get("command")
    words = shlex.split(command) if isinstance(command, str) else []
    entry = record["model"].get("entry")
    for i, word in enumerate(words):
        if word == "--entry" and i + 1 < len(words) and words[i + 1] == entry:
            return shlex.join([*words[:i + 1], source, *words[i + 2:]])
        if word == f"--entry={entry}":
            return shlex.join([*words[:i], f"--entry={source}", *words[i + 1:]])
    bench = record["benchmark"]
    limit = bench["examples"].get("limit")
    return shlex.join(["zoo", "bench", "run", "--entry", source, "--benchmark", bench["id"],
                       *(["--limit", str(limit)] if limit is not None else []),
                       "--results", str(results)])
