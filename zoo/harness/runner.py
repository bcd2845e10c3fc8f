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
from dataclasses import dataclass
from pathlib import Path

from zoo import entries, provenance, records, tasks, textio
from zoo.harness import adapter as adapters
from zoo.harness import benchmarks, compression, contamination, converted, floor, labels
from zoo.metrics import bootstrap
from zoo.models import catalog, dtype_policy, seeding
from zoo.tasks import EvaluationError

# TensorFlow and Keras load with the model (`import zoo` stays light): `zoo.text`
# (tokenizers) is imported inside the step that loads a tokenizer.

#: The seed an untrained model's fresh weights are drawn with (`seeding.scope`), recorded as
#: `seeds.initialization`: the untrained floor of a benchmark is the same model every run.
INITIALIZATION_SEED = 0


def _log(progress, message, end="\n"):
    if progress:
        print(message, file=sys.stderr, end=end, flush=True)


def resolve_weights(weights):
    """`(model_file, tokenizer_dir or None, run_info dict or None)` for a weights path: a
    `.keras` file, a run folder (model.keras) or a published entry folder (model.json and
    weights.npz or the weights.json to download it with, where `model_file` is the folder)."""
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


# --- The run, step by step ----------------------------------------------------------------


@dataclass
class _Data:
    """The examples a run evaluates: `examples` (after `--limit`), how many the benchmark
    has (`total`), the `limit` asked for and the sha256 of exactly what is evaluated."""

    examples: object
    total: int
    limit: int | None
    sha256: str


@dataclass
class _Subject:
    """The model a run evaluates and what is known of it: its tokenizer (None: the task
    reads no tokens, or the model has its own preprocessor), its run.json / entry.json
    (`run_info`; None: untrained or a bare .keras file), its weights file and sha256
    (`weights_info`; None: untrained) and, untrained, the seed its fresh weights were drawn
    with. A model zoo did not train (`zoo.harness.foreign`) also has its `source` (the
    record's `model.source`), `adapter` (`evaluation.adapter`), `params` and `class_name`."""

    name: str
    model: object
    tokenizer: object = None
    run_info: dict | None = None
    weights_info: dict | None = None
    initialization_seed: int | None = None
    source: dict | None = None
    adapter: dict | None = None
    params: int | None = None
    class_name: str | None = None
    tokenizer_info: dict | None = None  # an untrained model's: `zoo.harness.floor.tokenizer`

    @property
    def trained(self) -> bool:
        return self.weights_info is not None


@dataclass
class _Predictions:
    """Per-example prediction rows in order (`resumed` of them from an interrupted run) and
    the seconds the model took for the rest."""

    rows: list
    resumed: int
    model_seconds: float


def run(model_name, benchmark_id, weights=None, limit=None, batch_size=64, data_dir=None,
        results_dir="runs/results", command=None, progress=True, safe_mode=True,
        label_map=None, adapter=None, adapt=()):
    """Evaluates `model_name` (random weights, or `weights`) on a benchmark.

    `model_name` may instead name a model zoo did not train (`zoo.harness.adapter.is_source`:
    a `.keras` file, a SavedModel folder or `.tar.gz`, a URL or TF Hub handle), called as its
    `adapter` says (a `.toml` / `.json` file or a dict, with the `adapt` "KEY=VALUE" options
    over it; see `zoo.harness.adapter`); the record keeps its source, files' sha256 and the
    adapter.

    `weights` load in Keras' safe mode: a file holding code raises
    `zoo.safety.UnsafeCodeError` unless `safe_mode=False` (`--unsafe-allow-code`). Without
    `weights` the model's fresh weights are drawn with `INITIALIZATION_SEED` (recorded as
    `seeds.initialization`), so the untrained floor is the same every run.

    A classifier's class names must be the benchmark's labels (`zoo.harness.labels`), unless
    `label_map` (`{"negative": "ham", ...}` or "negative=ham,...") says which model class is
    which benchmark label.

    Records go under `results_dir` (default `runs/results/`, git-ignored: a user's runs stay
    out of the published `benchmarks/results/`, which is an explicit choice).

    Returns `(record, record_path)`. Writes nothing if the run fails; a run
    interrupted part-way resumes from its saved predictions when started again
    with the same arguments, model and data (they name the saved predictions).
    """
    started = time.perf_counter()
    outside = adapters.is_source(model_name, adapted=adapter is not None or bool(adapt))
    spec = _check_request(model_name, benchmark_id, batch_size, outside)
    if not outside and weights is None and model_name in catalog.families():
        presets = [name for name in catalog.list_models()
                   if catalog.get_spec(name).family == model_name]
        raise EvaluationError(
            f"'{model_name}' is a family, which has a size only with weights: give --weights "
            f"(a converted checkpoint's folder) or --entry, or a size of it "
            f"({', '.join(presets)}) for an untrained floor.")
    label_map = labels.parse_label_map(label_map)
    declared = _check_adapter(model_name, spec, outside, weights, adapter, adapt)
    converted.check_fits(weights, spec)  # a converted backbone on a classification benchmark
    kind = tasks.get(spec.task)
    own_units = tasks.has_units(kind)  # rows of units that need the model's tokenizer
    data = _load_data(spec, data_dir, None if own_units else limit, progress)
    resampling = None if own_units else _resample_meanwhile(spec, len(data.examples))
    model_file, tokenizer_dir, run_info = (resolve_weights(weights) if weights is not None
                                           else (None, None, None))
    # Class names are compared before the model loads (its run.json or adapter is enough).
    columns, labels_info = labels.for_run(
        spec, weights, run_info, label_map,
        declared=None if declared is None or declared.labels is None
        else (declared.labels, f"labels in {declared.where}"))
    if outside:
        subject = _load_foreign(model_name, declared, spec, data.examples, safe_mode)
    else:
        subject = (_load_trained(model_name, model_file, tokenizer_dir, run_info, safe_mode)
                   if weights is not None else
                   _build_untrained(model_name, spec, data.examples, data_dir, progress))
    read = data  # the benchmark's own examples: what the test-data check compares
    if own_units:
        data = _limited(tasks.units(kind, spec, data.examples, subject.tokenizer), limit)
        resampling = _resample_meanwhile(spec, len(data.examples))
    settings = {"batch_size": batch_size, "labels": labels_info,
                "precision": subject.model.dtype_policy.name}  # what the model computes in
    partial = _Partial(results_dir, _resume_key(subject, spec, data, settings))
    rows = _resume(partial, subject, len(data.examples), progress)
    predictions = _predict(spec, subject, data, rows, partial, batch_size, columns, progress)
    idx = resampling.result()
    found, report = _score(spec, subject, data, predictions.rows, idx, data_dir, progress)
    seen = _seen_in_training(spec, subject, read, model_file, data_dir, progress)
    record = _record(spec, subject, data, settings, predictions, found, report, idx, command,
                     started, seen, _training_curve(subject, model_file))
    compressed = compression.section(model_file, record, predictions.rows, idx, spec,
                                     [results_dir])
    if compressed is not None:  # an entry `zoo quantize` wrote
        record["compression"] = compressed
    path = records.write(record, predictions.rows, results_dir)
    partial.discard()
    return records.read(path), path


def _check_request(model_name, benchmark_id, batch_size, outside=False):
    """The benchmark's spec, once the request is known to make sense. Reads the registry
    only: no data, no download, no TensorFlow.

    Raises:
        UnknownNameError: an unknown benchmark or model (with the closest names).
        EvaluationError: a batch size that is not positive, or a model whose family cannot do
            the benchmark's task (an image model on sst2). A model zoo did not train
            (`outside`) is checked with its adapter (`_check_adapter`).
    """
    spec = benchmarks.get(benchmark_id)
    if batch_size <= 0:
        raise EvaluationError(f"--batch-size must be positive, got {batch_size}.")
    if not outside:
        _check_model_fits(model_name, spec)
    return spec


def _family_name(model_name) -> str:
    """The family of `model_name`: a preset's, or the name itself when it names a family (a
    converted checkpoint, which has the size of its weights: `zoo bench run --entry`).
    UnknownNameError (closest names) for anything else."""
    if model_name in catalog.families():
        return model_name
    return catalog.get_spec(model_name).family


def _check_adapter(model_name, spec, outside, weights, adapter, adapt):
    """The adapter of a model zoo did not train (`zoo.harness.adapter.read`), read and checked
    for benchmark `spec` (`zoo.harness.adapter.check_for`) before any data; None for a
    registered model, which takes none.

    Raises:
        EvaluationError: weights for a model file or handle, an adapter for a registered
            model, or a benchmark such a model cannot be scored on. AdapterError: an adapter
            that does not fit its schema or the benchmark (file and field).
    """
    if not outside:
        if adapter is not None or adapt:
            raise EvaluationError(
                f"--adapter and --adapt say how to call a model zoo did not train (a .keras "
                f"file, a SavedModel or a handle given to --model); '{model_name}' is a "
                "registered model, which zoo calls itself.")
        return None
    if weights is not None:
        raise EvaluationError(
            f"--weights goes with a registered model (--model NAME); {model_name} is a model "
            "file or handle, benchmarked as it is (with --adapter).")
    return adapters.check_for(adapters.read(adapter, adapt), spec, model_name)


def _check_model_fits(model_name, spec):
    """Raises `UnknownNameError` (with the closest names) for an unknown model and
    `EvaluationError` when the model's family cannot do the benchmark's task (an image model on
    sst2). A family name (a converted checkpoint's) is checked by what the family serves.
    Reads the registry only: no data, no download, no TensorFlow."""
    family = _family_name(model_name)
    fits = (spec.task in catalog.families()[family].serves if model_name == family
            else catalog.head_for(model_name, spec.task) is not None)
    if not fits:
        raise EvaluationError(
            f"Model '{model_name}' is a {family} model: it cannot "
            f"be evaluated on benchmark '{spec.id}' (task {spec.task}); use "
            f"{catalog.serving_hint(spec.task)}"
            f"{' (`zoo list`)' if catalog.families_serving(spec.task) else ''} or another "
            "benchmark (`zoo bench list`).")


def _load_data(spec, data_dir, limit, progress) -> _Data:
    """The benchmark's examples, the first `limit` of them when given (a kind that predicts
    rows of its own units, `zoo.tasks.units`, limits those instead: `_limited`).

    Raises:
        EvaluationError: no examples; examples numbered by other class names than the
            benchmark declares; a `limit` that is not positive.
    """
    examples = _load_examples(spec, data_dir, progress)
    if len(examples) == 0:
        raise EvaluationError(f"Benchmark '{spec.id}' has no examples ({examples.description}).")
    if spec.labels is not None and examples.label_names is not None and tuple(
            examples.label_names) != tuple(spec.labels):
        raise EvaluationError(
            f"Benchmark '{spec.id}' declares the labels {', '.join(spec.labels)} but its "
            f"examples are numbered as {', '.join(examples.label_names)}; fix its labels.")
    return _limited(examples, limit)


def _limited(examples, limit) -> _Data:
    """The examples (or a kind's units) evaluated: the first `limit` of them when given."""
    total = len(examples)
    examples = _limit(examples, limit)
    return _Data(examples, total, limit, examples.sha256())


def _load_examples(spec, data_dir, progress):
    """The benchmark's dataset split (`zoo.datasets.load`), or its own files
    (`dataset = "files"`: `zoo.datasets.load_files`): `benchmarks.load_examples`."""
    return benchmarks.load_examples(spec, data_dir=data_dir, progress=progress)


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


def _resample_meanwhile(spec, n):
    """A future of the benchmark's bootstrap indices for `n` examples (`_resampling`).

    The resamples depend only on the example count: drawn in a thread (numpy releases the
    GIL) while the model loads and traces, which keep one core busy with Python, so neither
    scoring nor the model's batches wait for them."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="zoo-bootstrap")
    resampling = pool.submit(_resampling, spec, n)
    pool.shutdown(wait=False)  # the one task runs on; its thread ends when it is done
    return resampling


def _resampling(spec, n):
    """The benchmark's bootstrap indices for `n` examples, with their draw counts cached
    (`bootstrap.counts`) for the scoring that follows."""
    idx = spec.resample_indices(n)
    bootstrap.counts(idx)
    return idx


def _load_trained(model_name, model_file, tokenizer_dir, run_info, safe_mode) -> _Subject:
    """The trained model `resolve_weights` found (a published entry's folder or a `.keras`
    file, loaded in Keras' safe mode unless `safe_mode` is False) and its tokenizer.

    The model runs in the dtype policy its config keeps; a config from before zoo kept it
    (the published entries) in the one its run.json says it trained in."""
    with dtype_policy.scope(dtype_policy.recorded(run_info)):
        if model_file.is_dir():
            model = entries.load_folder(model_file, safe_mode=safe_mode)
            weights_file = entries.weights_file(model_file)  # local by now
        else:
            model = catalog.load_model(model_file, safe_mode=safe_mode)  # a file the user named
            weights_file = model_file
    tokenizer = None
    if tokenizer_dir is not None:
        from zoo.text import tokenizers

        tokenizer = tokenizers.load(tokenizer_dir)
    return _Subject(model_name, model, tokenizer, run_info,
                    {"path": str(weights_file), "sha256": provenance.sha256_file(weights_file)})


def _load_foreign(location, adapter, spec, examples, safe_mode) -> _Subject:
    """A model zoo did not train (`zoo.harness.foreign.load`: TensorFlow loads here), wrapped
    for the benchmark as its `adapter` says; its sha256 is that of its files."""
    from zoo.harness import foreign

    found = foreign.load(location, adapter, spec, examples, safe_mode=safe_mode)
    return _Subject(found.name, found.model, weights_info=found.weights, source=found.source,
                    adapter=found.adapter, params=found.params, class_name=found.class_name)


def _build_untrained(model_name, spec, examples, data_dir=None, progress=True) -> _Subject:
    """The model with fresh weights drawn with `INITIALIZATION_SEED` (`seeding.scope`: the
    caller's random state is left as it was), sized for the benchmark's data (`model_dims`
    of its task kind: class count from the benchmark's labels, image size and channels) and,
    for a text task, for the tokenizer `zoo.harness.floor` learns from the benchmark's
    training data (or its test data, flagged)."""
    tokenizer, tokenizer_info = floor.tokenizer(model_name, spec, examples, data_dir, progress)
    dims = tasks.get(spec.task).model_dims(examples, label_names=spec.labels,
                                           tokenizer=tokenizer,
                                           max_length=spec.preprocessing.get("max_length"))
    try:
        with seeding.scope(INITIALIZATION_SEED):
            model = catalog.build_for_task(model_name, spec.task, dims)
    except ValueError as error:
        raise EvaluationError(
            f"Cannot build {model_name} for benchmark '{spec.id}': {error}"
        ) from None
    return _Subject(model_name, model, tokenizer, initialization_seed=INITIALIZATION_SEED,
                    tokenizer_info=tokenizer_info)


def _resume_key(subject, spec, data, settings):
    """Names the saved predictions of a run: the same only for the same model (weights file
    sha256 and config), tokenizer, benchmark definition, evaluated examples (their content),
    batch size, precision and label matching (`settings`), so a rerun resumes only what it
    would predict itself."""
    tokenizer, weights_info = subject.tokenizer, subject.weights_info
    return hashlib.sha256(json.dumps(
        {"model": subject.name, "weights": weights_info and weights_info["sha256"],
         "config": subject.model.get_config(),
         "tokenizer": tokenizer.get_config() if tokenizer is not None else None,
         "benchmark": spec.to_dict(), "examples": data.sha256,
         "batch_size": settings["batch_size"], "precision": settings["precision"],
         "labels": settings["labels"]},
        sort_keys=True, default=str).encode()).hexdigest()[:16]


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


def _resume(partial, subject, n, progress) -> list:
    """The rows a trained model's interrupted run already predicted (`_Partial.load`: the
    first examples in order), saying so; an untrained model's run starts afresh."""
    rows = partial.load() if subject.trained else []
    if rows:
        _log(progress, f"[bench] resuming after {len(rows):,} of {n:,} examples")
    return rows


def _predict(spec, subject, data, rows, partial, batch_size, columns, progress) -> _Predictions:
    """Predicts the examples after the resumed `rows` with the task kind's `predict`,
    streaming batches: each batch's rows are appended to `partial` (a trained model's run,
    so that a rerun resumes) and counted in a progress line (examples per second).

    Raises:
        EvaluationError: the kind predicted another number of rows than there are examples.
    """
    n, resumed = len(data.examples), len(rows)
    model_seconds, pending = 0.0, []
    tick = time.perf_counter()
    stream = tasks.get(spec.task).predict(
        subject.model, subject.tokenizer, data.examples, spec, batch_size, start=resumed,
        **({} if columns is None else {"columns": columns}))
    shown = False  # a progress line is open (no line break yet)
    try:
        for row in stream:
            pending.append(row)
            if len(pending) >= batch_size or row["index"] == n - 1:
                now = time.perf_counter()
                model_seconds += now - tick
                if subject.trained:
                    partial.append(pending)
                rows.extend(pending)
                pending = []
                rate = (len(rows) - resumed) / max(model_seconds, 1e-9)
                _log(progress, f"\r[bench] {spec.id}: {len(rows):,}/{n:,} "
                               f"examples ({rate:,.0f}/s)", end="")
                shown = True
                tick = time.perf_counter()
    except BaseException:
        if shown:
            _log(progress, "")  # the error that follows starts a line of its own
        raise
    finally:
        partial.close()
    _log(progress, "")
    if len(rows) != n:
        raise EvaluationError(f"Predicted {len(rows)} of {n} examples.")
    return _Predictions(rows, resumed, model_seconds)


def _score(spec, subject, data, rows, idx, data_dir, progress):
    """`(metrics, report)`: the task kind's `score` of the rows, each metric with its
    bootstrap interval over the resamples `idx`. A kind that needs another split of the
    benchmark's dataset (a probe's training set) loads it through `load_split`; one that
    shows generated text has the model's `tokenizer` too."""

    def load_split(split):
        return benchmarks.load_examples(spec, split, data_dir=data_dir, progress=progress)

    found, _, report = tasks.get(spec.task).score(spec, data.examples, rows, idx,
                                                  model=subject.model, load_split=load_split,
                                                  tokenizer=subject.tokenizer)
    return found, report


def _seeds_used(spec, kind, subject) -> dict:
    """Every seed a run of `spec` uses, by name (`zoo.records.SEEDS`): the bootstrap's
    (`spec.bootstrap_seed`), the weights' training seed (their run.json's `seed`; None when
    untrained or unknown), an untrained model's `initialization` seed and the task kind's own
    draws (`zoo.tasks.seeds`)."""
    trained = (subject.run_info or {}).get("seed")
    known = isinstance(trained, int) and not isinstance(trained, bool) and trained >= 0
    initialization = ({} if subject.initialization_seed is None
                      else {"initialization": subject.initialization_seed})
    return {"bootstrap": spec.bootstrap_seed, "training": trained if known else None,
            **initialization, **tasks.seeds(kind, spec)}


def _model_section(subject) -> dict:
    """The record's `model` table: what was evaluated and what its run.json says; for a model
    zoo did not train, its source (`model.source`), and no recipe or training data (unknown:
    None)."""
    run_info, model = subject.run_info or {}, subject.model
    if subject.source is not None:
        return {"name": subject.name, "entry": None, "family": None,
                "class": subject.class_name, "config": model.get_config(),
                "params": subject.params, "weights": subject.weights_info, "recipe": None,
                "training_data": None, "training_seconds": None, "source": subject.source}
    return {
        "name": subject.name,
        "entry": run_info.get("entry"),
        "family": _family_name(subject.name),
        "class": type(model).__name__,
        "config": model.get_config(),
        "params": int(model.count_params()),
        "weights": subject.weights_info,
        "recipe": run_info.get("recipe"),
        "training_data": entries.lineage_training_data(run_info),
        "training_seconds": run_info.get("training_seconds"),
        "source": None,  # trained (or built) by zoo
    }


def _benchmark_section(spec, data, evaluated) -> dict:
    """The record's `benchmark` table: the definition run and the data evaluated."""
    return {
        "id": spec.id,
        "version": spec.version,
        "task": spec.task,
        "dataset": spec.dataset,
        "split": spec.split,
        "definition": spec.to_dict(),
        "data_sha256": _data_sha256(data.examples),
        "examples_sha256": data.sha256,
        "files": [list(f) for f in data.examples.files],
        "examples": {"total": data.total, "evaluated": evaluated, "limit": data.limit},
    }


def _throughput(predictions, started, hardware) -> dict:
    """The record's `throughput` table: only what this run predicted (resumed predictions
    took no time here), and the run's wall time since `started` (`time.perf_counter`)."""
    predicted = len(predictions.rows) - predictions.resumed
    return {
        "examples_per_second": (round(predicted / max(predictions.model_seconds, 1e-9), 2)
                                if predicted > 0 else None),
        "examples_predicted": predicted,
        "examples_resumed": predictions.resumed,
        "model_seconds": round(predictions.model_seconds, 3),
        "wall_seconds": round(time.perf_counter() - started, 3),
        "hardware": hardware,
    }


def _seen_in_training(spec, subject, data, model_file, data_dir, progress) -> dict | None:
    """The record's `contamination` (`zoo.harness.contamination.check`): the evaluated
    examples the model saw in training, found by content, with the digests its run folder
    kept; None for a model zoo did not train (its training data is unknown)."""
    if getattr(subject, "source", None) is not None:
        return None
    folder = None if model_file is None else (
        Path(model_file) if Path(model_file).is_dir() else Path(model_file).parent)
    return contamination.check(spec, data.examples,
                               entries.lineage_training_data(subject.run_info or {}), folder,
                               data_dir, progress)


def _history_rows(path) -> list:
    """The JSON objects of a `history.jsonl`, one a line; a line that is not one (cut off by
    a kill, or edited) is skipped: a curve is shown, never a reason to fail a run."""
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def _training_curve(subject, model_file) -> dict | None:
    """The record's `training_curve` (`zoo.records.training_curve`): the `history.jsonl` of
    the run or entry folder the weights came from, thinned; None for an untrained model, a
    model zoo did not train, a `.keras` file outside a run folder (no run.json beside it) or
    a folder without a history of its own (a link is not read: it may lead anywhere)."""
    if not subject.trained or subject.source is not None or subject.run_info is None:
        return None
    folder = Path(model_file) if Path(model_file).is_dir() else Path(model_file).parent
    path = folder / entries.HISTORY
    if path.is_symlink() or not path.is_file():
        return None
    return records.training_curve(_history_rows(path), entries.HISTORY,
                                  provenance.sha256_file(path))


def _record(spec, subject, data, settings, predictions, found, report, idx, command,
            started, seen=None, curve=None) -> dict:
    """The result record (`zoo.records.RECORD` declares it) of the run: model, benchmark,
    evaluation settings, seeds, metrics and main metric, report, throughput, provenance,
    the test examples seen in training (`seen`: `_seen_in_training`), the flags that keep
    it apart from full runs of trained models and the weights' training history (`curve`:
    `_training_curve`)."""
    kind = tasks.get(spec.task)
    main = found[spec.main_metric]
    model_info = dict(_model_section(subject), tokenizer=subject.tokenizer_info)
    # A model zoo did not train was trained on data zoo cannot know: unknown (None).
    in_training = contamination.flagged(seen)
    learned_from_test = (subject.tokenizer_info or {}).get("learned_from") == floor.TEST
    evaluated = len(predictions.rows)
    prov = provenance.collect(command)
    return {
        "schema_version": records.SCHEMA_VERSION,
        "run_id": records.new_run_id((subject.run_info or {}).get("entry", subject.name),
                                     spec.id),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": model_info,
        "benchmark": _benchmark_section(spec, data, evaluated),
        "evaluation": {
            "batch_size": settings["batch_size"],
            "precision": settings["precision"],
            "bootstrap": {"resamples": int(idx.shape[0]), "confidence": bootstrap.CONFIDENCE,
                          "method": "percentile"},
            "decoding": dict(spec.decoding) if "decoding" in kind.BENCHMARK_FIELDS else None,
            "labels": settings["labels"],
            "adapter": subject.adapter,
        },
        "seeds": _seeds_used(spec, kind, subject),
        "metrics": found,
        "main_metric": {"name": spec.main_metric, "value": main["value"], "low": main["low"],
                        "high": main["high"], "higher_is_better": spec.higher_is_better},
        "report": report,
        "throughput": _throughput(predictions, started, prov["hardware"]["label"]),
        "provenance": prov,
        "flags": {
            "untrained": not subject.trained,
            "limited": evaluated < data.total,
            "dirty": bool(prov["git"]["dirty"]),
            "test_data_in_training": in_training,
            "tokenizer_from_test_data": learned_from_test,
        },
        "contamination": seen,
        "training_curve": curve,
    }
