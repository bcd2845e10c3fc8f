"""`zoo bench run`: evaluate a model on a benchmark and write a result record.

Example (from Python; `zoo bench run --model vit_tiny_patch2_8 --benchmark digits` on the
command line):

>>> from zoo.harness import runner
>>> record, path = runner.run("vit_tiny_patch2_8", "digits", limit=40, progress=False,
...                           results_dir=getfixture("tmp_path"))
>>> record["benchmark"]["examples"]["evaluated"], record["flags"]["untrained"]
(40, True)
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from zoo import provenance
from zoo.harness import benchmarks, records, tasks
from zoo.harness.tasks import EvaluationError


def _log(progress, message, end="\n"):
    if progress:
        print(message, file=sys.stderr, end=end, flush=True)


def resolve_weights(weights):
    """`(model_file, tokenizer_dir or None, run_info dict or None)` for a weights path: a
    `.keras` file, a run folder (model.keras) or a published entry folder (model.json and
    weights.npz, where `model_file` is the folder)."""
    from zoo import entries

    path = Path(weights)
    if entries.is_entry_folder(path):
        info = json.loads((path / "run.json").read_text(encoding="utf-8"))
        tokenizer_dir = path / "tokenizer"
        return path, (tokenizer_dir if tokenizer_dir.is_dir() else None), info
    if path.is_dir():
        folder, model_file = path, path / "model.keras"
    else:
        folder, model_file = path.parent, path
    if not model_file.is_file():
        raise EvaluationError(
            f"No model at {model_file}: --weights takes a .keras file or a run folder holding "
            "model.keras."
        )
    tokenizer_dir = folder / "tokenizer"
    info = None
    for name in ("run.json", "entry.json"):
        if (folder / name).is_file():
            info = json.loads((folder / name).read_text(encoding="utf-8"))
            break
    return model_file, (tokenizer_dir if tokenizer_dir.is_dir() else None), info


def _build_untrained(model_name, spec, examples):
    import zoo

    overrides = {}
    info = zoo.describe(model_name)
    task = None
    if spec.task in ("image_classification", "text_classification"):
        overrides["num_classes"] = len(spec.labels)
        if info["family"] == "bert":
            task = "classifier"
    if spec.task in ("image_classification", "image_generation"):
        overrides["image_size"] = list(examples.inputs.shape[1:3])
        overrides["num_channels"] = int(examples.inputs.shape[3])
        if overrides["image_size"][0] == overrides["image_size"][1]:
            overrides["image_size"] = overrides["image_size"][0]
    try:
        return zoo.build(model_name, task=task, **overrides)
    except ValueError as error:
        raise EvaluationError(
            f"Cannot build {model_name} for benchmark '{spec.id}': {error}"
        ) from None


def _load_examples(spec, data_dir, progress):
    from zoo import datasets

    if spec.dataset == "files":
        options = dict(spec.files)
        kind = options.pop("kind")
        labels = spec.labels if spec.task != "translation" else None
        return datasets.load_files(kind, labels=labels, **options)
    return datasets.load(spec.dataset, spec.split, data_dir=data_dir, progress=progress)


def _limit(examples, limit):
    if limit is None or limit >= len(examples):
        return examples
    if limit <= 0:
        raise EvaluationError(f"--limit must be positive, got {limit}.")
    return examples.take(limit)


def _data_sha256(examples):
    digest = hashlib.sha256()
    for path, sha in sorted(examples.files):
        digest.update(f"{path}\0{sha}\n".encode())
    if not examples.files:
        digest.update(examples.description.encode())
    return digest.hexdigest()


def _resampling(spec, n):
    """The benchmark's bootstrap indices for `n` examples, with their draw counts cached
    (`bootstrap.counts`) for the scoring that follows."""
    idx = tasks.bootstrap_indices(spec, n)
    tasks.bootstrap.counts(idx)
    return idx


SYNC_SECONDS = 5.0


class _Partial:
    """Per-example predictions of an unfinished run, kept so that a rerun resumes."""

    def __init__(self, results_dir, key):
        self.path = Path(results_dir) / ".incomplete" / f"{key}.jsonl"
        self.file = None
        self.synced = time.monotonic()

    def load(self):
        rows = []
        if self.path.exists():
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    if not line.endswith("\n"):
                        break  # a line cut off by a crash
                    rows.append(json.loads(line))
        return rows

    def append(self, rows):
        """Appends whole lines. They reach the operating system at once (a killed process
        loses nothing); they are synced to disk every few seconds, not per batch."""
        if self.file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.path, "a", encoding="utf-8")
        self.file.write("".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"
                                for row in rows))
        self.file.flush()
        if time.monotonic() - self.synced > SYNC_SECONDS:
            os.fsync(self.file.fileno())
            self.synced = time.monotonic()

    def close(self):
        if self.file is not None:
            self.file.close()
            self.file = None

    def discard(self):
        self.close()
        if self.path.exists():
            self.path.unlink()


def run(model_name, benchmark_id, weights=None, limit=None, batch_size=64, data_dir=None,
        results_dir="benchmarks/results", command=None, progress=True):
    """Evaluates `model_name` (random weights, or `weights`) on a benchmark.

    Returns `(record, record_path)`. Writes nothing if the run fails; a run
    interrupted part-way resumes from its saved predictions when started again
    with the same arguments.
    """
    import keras

    import zoo

    started = time.perf_counter()
    spec = benchmarks.get(benchmark_id)
    if batch_size <= 0:
        raise EvaluationError(f"--batch-size must be positive, got {batch_size}.")
    zoo.describe(model_name)  # an unknown name fails here, with the closest names
    examples = _load_examples(spec, data_dir, progress)
    total = len(examples)
    examples = _limit(examples, limit)
    # The resamples depend only on the example count: drawn in a thread (numpy releases the
    # GIL) while the model loads and traces, which keep one core busy with Python, so
    # neither scoring nor the model's batches wait for them.
    pool = ThreadPoolExecutor(1, thread_name_prefix="zoo-bootstrap")
    resampling = pool.submit(_resampling, spec, len(examples))
    pool.shutdown(wait=False)  # the one task runs on; its thread ends when it is done

    tokenizer, run_info, weights_info = None, None, None
    if weights is not None:
        model_file, tokenizer_dir, run_info = resolve_weights(weights)
        if model_file.is_dir():
            model = zoo.entries.load_folder(model_file)
            weights_file = model_file / "weights.npz"
        else:
            model = zoo.load_model(model_file, safe_mode=False)  # a file the user named
            weights_file = model_file
        weights_info = {"path": str(weights_file), "sha256": provenance.sha256_file(weights_file)}
        if tokenizer_dir is not None:
            from zoo.text import WordPieceTokenizer

            tokenizer = WordPieceTokenizer.load(tokenizer_dir)
    else:
        model = _build_untrained(model_name, spec, examples)
    predict, score = tasks.TASKS[spec.task]
    precision = keras.config.dtype_policy().name
    key = hashlib.sha256(json.dumps(
        [model_name, weights_info and weights_info["sha256"], spec.id, spec.version,
         len(examples), batch_size, precision, weights is None and model.get_config()],
        sort_keys=True, default=str).encode()).hexdigest()[:16]
    partial = _Partial(results_dir, key)
    rows = partial.load() if weights is not None else []
    if rows:
        _log(progress, f"[bench] resuming after {len(rows):,} of {len(examples):,} examples")

    # === Predict, streaming batches; progress and resumable partial results ===
    model_seconds = 0.0
    pending = []
    tick = time.perf_counter()
    stream = predict(model, tokenizer, examples, spec, batch_size, start=len(rows))
    try:
        for row in stream:
            pending.append(row)
            if len(pending) >= batch_size or row["index"] == len(examples) - 1:
                now = time.perf_counter()
                model_seconds += now - tick
                if weights is not None:
                    partial.append(pending)
                rows.extend(pending)
                pending = []
                rate = len(rows) / max(model_seconds, 1e-9)
                _log(progress, f"\r[bench] {spec.id}: {len(rows):,}/{len(examples):,} "
                               f"examples ({rate:,.0f}/s)", end="")
                tick = time.perf_counter()
    finally:
        partial.close()
    _log(progress, "")
    if len(rows) != len(examples):
        raise EvaluationError(f"Predicted {len(rows)} of {len(examples)} examples.")

    # === Score ===
    idx = resampling.result()
    if spec.task == "image_generation":
        train = None
        if spec.train_split and any(m.startswith("probe_") for m in spec.metrics):
            from zoo import datasets

            train = datasets.load(spec.dataset, spec.train_split, data_dir=data_dir,
                                  progress=progress)
        found, _, report = score(spec, examples, rows, idx, model=model, train_examples=train)
    else:
        found, _, report = score(spec, examples, rows, idx)
    main = found[spec.main_metric]

    # === Record ===
    info = zoo.describe(model_name)
    training_data = zoo.entries.lineage_training_data(run_info or {})
    in_training = any(
        d.get("dataset") == spec.dataset and d.get("split") == spec.split for d in training_data
    )
    prov = provenance.collect(command)
    record = {
        "schema": records.SCHEMA_VERSION,
        "run_id": records.new_run_id((run_info or {}).get("entry", model_name), spec.id),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": {
            "name": model_name,
            "entry": (run_info or {}).get("entry"),
            "family": info["family"],
            "class": type(model).__name__,
            "config": model.get_config(),
            "params": int(model.count_params()),
            "weights": weights_info,
            "recipe": (run_info or {}).get("recipe"),
            "training_data": training_data,
            "training_seconds": (run_info or {}).get("training_seconds"),
        },
        "benchmark": {
            "id": spec.id,
            "version": spec.version,
            "task": spec.task,
            "dataset": spec.dataset,
            "split": spec.split,
            "definition": spec.to_dict(),
            "data_sha256": _data_sha256(examples),
            "files": [list(f) for f in examples.files],
            "examples": {"total": total, "evaluated": len(rows), "limit": limit},
        },
        "evaluation": {
            "batch_size": batch_size,
            "precision": precision,
            "seed": int(spec.bootstrap.get("seed", 0)),
            "bootstrap": {"resamples": int(idx.shape[0]),
                          "seed": int(spec.bootstrap.get("seed", tasks.bootstrap.DEFAULT_SEED)),
                          "confidence": tasks.bootstrap.CONFIDENCE, "method": "percentile"},
            "decoding": dict(spec.decoding) if spec.task == "translation" else None,
        },
        "metrics": found,
        "main_metric": {"name": spec.main_metric, "value": main["value"], "low": main["low"],
                        "high": main["high"], "higher_is_better": spec.higher_is_better},
        "report": report,
        "throughput": {
            "examples_per_second": round(len(rows) / max(model_seconds, 1e-9), 2),
            "model_seconds": round(model_seconds, 3),
            "wall_seconds": round(time.perf_counter() - started, 3),
            "hardware": prov["hardware"]["label"],
        },
        "provenance": prov,
        "flags": {
            "untrained": weights is None,
            "limited": len(rows) < total,
            "dirty": bool(prov["git"]["dirty"]),
            "test_data_in_training": in_training,
        },
    }
    path = records.write(record, rows, results_dir)
    partial.discard()
    return records.read(path), path
