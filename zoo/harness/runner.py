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

from zoo import provenance, textio
from zoo.harness import benchmarks, labels, records, tasks
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
        info = _read_info(path / "run.json")
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
            info = _read_info(folder / name)
            break
    return model_file, (tokenizer_dir if tokenizer_dir.is_dir() else None), info


def _read_info(path) -> dict:
    """A run.json / entry.json as a dict; EvaluationError naming the file if it is not a JSON
    object."""
    return textio.read_json_object(path, EvaluationError)


def _check_model_fits(model_name, spec):
    """Raises `UnknownNameError` (with the closest names) for an unknown model and
    `EvaluationError` when the model's family cannot do the benchmark's task (an image model on
    sst2). Reads the registry only: no data, no download, no TensorFlow."""
    import zoo
    from zoo.training.recipes import MODEL_TASKS

    family = zoo.describe(model_name)["family"]
    served = MODEL_TASKS[spec.task]
    if family not in served:
        raise EvaluationError(
            f"Model '{model_name}' is a {family} model: it cannot be evaluated on benchmark "
            f"'{spec.id}' (task {spec.task}); use a {' or '.join(sorted(served))} model "
            f"(`zoo list`) or another benchmark (`zoo bench list`).")


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


def _examples_sha256(examples):
    """sha256 of exactly the examples evaluated: their inputs, targets and class names (not
    the files they came from), so that a corrected file, even of the same size, is new data."""
    import numpy as np

    digest = hashlib.sha256()
    for part in (examples.inputs, examples.targets):
        if isinstance(part, np.ndarray) and part.dtype != object:
            digest.update(f"{part.dtype.str}{part.shape}\0".encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(b"none\0" if part is None else f"list {len(part)}\0".encode())
            for item in part if part is not None else ():
                data = str(item).encode("utf-8", "surrogatepass")
                digest.update(len(data).to_bytes(8, "little") + data)
    digest.update(json.dumps(examples.label_names).encode())
    return digest.hexdigest()


def _resume_key(model_name, model, weights_info, tokenizer, spec, examples_sha256, batch_size,
                precision, labels_info):
    """Names the saved predictions of a run: the same only for the same model (weights file
    sha256 and config), tokenizer, benchmark definition, evaluated examples (their content),
    batch size, precision and label matching, so a rerun resumes only what it would predict
    itself."""
    return hashlib.sha256(json.dumps(
        {"model": model_name, "weights": weights_info and weights_info["sha256"],
         "config": model.get_config(),
         "tokenizer": tokenizer.get_config() if tokenizer is not None else None,
         "benchmark": spec.to_dict(), "examples": examples_sha256, "batch_size": batch_size,
         "precision": precision, "labels": labels_info},
        sort_keys=True, default=str).encode()).hexdigest()[:16]


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
        if [row.get("index") for row in rows] != list(range(len(rows))):
            self.discard()  # not the first examples in order: start again
            return []
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
        results_dir="runs/results", command=None, progress=True, safe_mode=True,
        label_map=None):
    """Evaluates `model_name` (random weights, or `weights`) on a benchmark.

    `weights` load in Keras' safe mode: a file holding code raises
    `zoo.safety.UnsafeCodeError` unless `safe_mode=False` (`--unsafe-allow-code`).

    A classifier's class names must be the benchmark's labels (`zoo.harness.labels`), unless
    `label_map` (`{"negative": "ham", ...}` or "negative=ham,...") says which model class is
    which benchmark label.

    Records go under `results_dir` (default `runs/results/`, git-ignored: a user's runs stay
    out of the published `benchmarks/results/`, which is an explicit choice).

    Returns `(record, record_path)`. Writes nothing if the run fails; a run
    interrupted part-way resumes from its saved predictions when started again
    with the same arguments, model and data (they name the saved predictions).
    """
    import zoo
    from zoo.models import dtype_policy

    started = time.perf_counter()
    spec = benchmarks.get(benchmark_id)
    if batch_size <= 0:
        raise EvaluationError(f"--batch-size must be positive, got {batch_size}.")
    _check_model_fits(model_name, spec)  # before any data, download or TensorFlow
    label_map = labels.parse_label_map(label_map)
    examples = _load_examples(spec, data_dir, progress)
    if len(examples) == 0:
        raise EvaluationError(f"Benchmark '{spec.id}' has no examples ({examples.description}).")
    if spec.labels is not None and examples.label_names is not None and tuple(
            examples.label_names) != tuple(spec.labels):
        raise EvaluationError(
            f"Benchmark '{spec.id}' declares the labels {', '.join(spec.labels)} but its "
            f"examples are numbered as {', '.join(examples.label_names)}; fix its labels.")
    total = len(examples)
    examples = _limit(examples, limit)
    # The resamples depend only on the example count: drawn in a thread (numpy releases the
    # GIL) while the model loads and traces, which keep one core busy with Python, so
    # neither scoring nor the model's batches wait for them.
    pool = ThreadPoolExecutor(1, thread_name_prefix="zoo-bootstrap")
    resampling = pool.submit(_resampling, spec, len(examples))
    pool.shutdown(wait=False)  # the one task runs on; its thread ends when it is done

    model_file, tokenizer_dir, run_info = (resolve_weights(weights) if weights is not None
                                           else (None, None, None))
    # Class names are compared before the model loads (its run.json is enough).
    columns, labels_info = labels.for_run(spec, weights, run_info, label_map)
    tokenizer, weights_info = None, None
    if weights is not None:
        # The model runs in the dtype policy its config keeps; a config from before zoo kept
        # it (the published entries) in the one its run.json says it trained in.
        with dtype_policy.scope(dtype_policy.recorded(run_info)):
            if model_file.is_dir():
                model = zoo.entries.load_folder(model_file, safe_mode=safe_mode)
                weights_file = model_file / "weights.npz"
            else:
                model = zoo.load_model(model_file, safe_mode=safe_mode)  # a file the user named
                weights_file = model_file
        weights_info = {"path": str(weights_file), "sha256": provenance.sha256_file(weights_file)}
        if tokenizer_dir is not None:
            from zoo.text import WordPieceTokenizer

            tokenizer = WordPieceTokenizer.load(tokenizer_dir)
    else:
        model = _build_untrained(model_name, spec, examples)
    predict, score = tasks.TASKS[spec.task]
    precision = model.dtype_policy.name  # what the model computes in, recorded
    examples_sha256 = _examples_sha256(examples)
    key = _resume_key(model_name, model, weights_info, tokenizer, spec, examples_sha256,
                      batch_size, precision, labels_info)
    partial = _Partial(results_dir, key)
    rows = partial.load() if weights is not None else []
    resumed = len(rows)
    if rows:
        _log(progress, f"[bench] resuming after {len(rows):,} of {len(examples):,} examples")

    # === Predict, streaming batches; progress and resumable partial results ===
    model_seconds = 0.0
    pending = []
    tick = time.perf_counter()
    stream = predict(model, tokenizer, examples, spec, batch_size, start=len(rows),
                     **({} if columns is None else {"columns": columns}))
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
                rate = (len(rows) - resumed) / max(model_seconds, 1e-9)
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
            "examples_sha256": examples_sha256,
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
            "labels": labels_info,
        },
        "metrics": found,
        "main_metric": {"name": spec.main_metric, "value": main["value"], "low": main["low"],
                        "high": main["high"], "higher_is_better": spec.higher_is_better},
        "report": report,
        "throughput": {
            # Only what this run predicted: resumed predictions took no time here.
            "examples_per_second": (round((len(rows) - resumed) / max(model_seconds, 1e-9), 2)
                                    if len(rows) > resumed else None),
            "examples_predicted": len(rows) - resumed,
            "examples_resumed": resumed,
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
