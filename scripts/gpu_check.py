#!/usr/bin/env python3
"""GPU check: every model family trains, fast and right, on this machine's accelerators.

    scripts/gpu_check.sh                       # a GPU machine: about 6 minutes on one H200
    scripts/gpu_check.sh --quick               # any machine (CPU): tiny steps, a few minutes
    scripts/gpu_check.sh [--out FILE] [--precision auto] [--no-xla] [--strategy mirrored]
                         [--families vit bert ...] [--steps N] [--work DIR]

What it does, all through zoo's own training entry point (`zoo.train`, the code of
`zoo train`) and harness (`zoo.harness.runner.run`, the code of `zoo bench run`):

1. Measures the matmul peak of one device (FLOP/s): a chain of large square matmuls
   (8192^2 on a GPU, 1024^2 on a CPU) in float32 (TensorFloat-32 where TensorFlow enables it)
   and in the compute dtype the precision resolves to (float16 under mixed_float16, bfloat16
   under mixed_bfloat16); the best of several timed calls.
2. Trains one model of every family (`zoo.models.catalog.families()`; a family with no job
   here fails the check) for a few hundred steps (`--quick`: 6) on the data the quickstart
   uses, which ships with zoo (scikit-learn's 8x8 digits, the Tatoeba en-es sample, and a text
   file written from that sample for the language model): small variants on a GPU, tiny ones
   with `--quick`. Each run uses `--precision auto` (mixed_float16 with loss scaling on a GPU
   with tensor cores, mixed_bfloat16 on a TPU, float32 on a CPU), XLA (`jit_compile`; a family
   whose XLA step fails is retried without it, and the report says why) and, where GPUs are
   visible, `MirroredStrategy` over all of them. It checks that every logged loss is finite,
   and reports throughput (examples/s and, for token models, tokens/s: the median of the
   logging windows after the first, which holds the tracing and compilation) and MFU: the
   training FLOP/s (3x the forward FLOPs of one batch through the task's objective, counted by
   TensorFlow's profiler, times examples/s) over the measured peak of the compute dtype times
   the number of GPUs in the strategy.
3. Accuracy: short real runs of two recipes (the shipped `vit_tiny_patch2_8.digits`, and
   BERT-tiny telling English from Spanish on the Tatoeba sample, from scratch), each trained
   in the chosen precision and in float32 with the same recipe, strategy and XLA, then scored
   on its benchmark: the chosen precision's main metric must reach float32's 95% interval (not
   below its low end). Where the precision resolves to float32 there is nothing to compare and
   the second run is left out. With `--quick` the runs are too short for the verdict to count.

The JSON report (default `benchmarks/performance/<UTC date>-gpu-check.json`, or
`...-gpu-check-cpu.json` on a machine without a GPU) holds the machine, versions and command,
the peaks, one row per family and the accuracy checks. Exit status 0 when every family
trained with finite losses (and, without `--quick`, every accuracy check passed); 1 otherwise.
Commit the report of a GPU run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Examples flop through the backward pass about twice as much as the forward one.
TRAIN_FLOPS_PER_FORWARD = 3


@dataclasses.dataclass(frozen=True)
class Job:
    """One family's training run: the recipe's fields (`zoo.training.Recipe`) besides the
    model and batch size, which are `(on a GPU, with --quick)` pairs. `text_file`: the run
    reads a plain-text file written from the Tatoeba sample (`dataset = "files"`)."""

    family: str
    model: tuple
    batch_size: tuple
    recipe: dict
    text_file: bool = False


_TATOEBA_TOKENIZER = {"vocabulary_size": 2000, "lowercase": True}
#: One job per family, on the data that ships with zoo (no download).
JOBS = (
    Job("vit", ("vit_tiny_patch2_8", "vit_tiny_patch2_8"), (512, 16),
        dict(task="image_classification", dataset="digits", optimizer="adamw",
             learning_rate=0.002, weight_decay=0.05, label_smoothing=0.1)),
    Job("lenet", ("lenet5_8", "lenet5_8"), (512, 16),
        dict(task="image_classification", dataset="digits", optimizer="adam",
             learning_rate=0.002)),
    Job("vae", ("vae_small", "vae_tiny"), (256, 16),
        dict(task="image_generation", dataset="digits", binarize="stochastic", optimizer="adam",
             learning_rate=0.003)),
    Job("bert", ("bert_small", "bert_tiny"), (256, 16),
        dict(task="masked_lm", dataset="tatoeba-langid-sample", tokenizer=_TATOEBA_TOKENIZER,
             max_length=32, max_predictions=5, optimizer="adamw", learning_rate=0.001,
             weight_decay=0.01)),
    Job("transformer", ("transformer_small", "transformer_tiny"), (256, 16),
        dict(task="translation", dataset="tatoeba-en-es-sample",
             tokenizer={"vocabulary_size": 3000, "lowercase": False}, max_length=32,
             optimizer="adam", learning_rate=0.001, beta_2=0.98, label_smoothing=0.1)),
    Job("gpt", ("gpt_char_small", "gpt_tiny"), (128, 16),
        dict(task="language_modeling", dataset="files", tokenizer={"kind": "characters"},
             max_length=64, optimizer="adamw", learning_rate=0.001, weight_decay=0.01),
        text_file=True),
    Job("hub", ("hub_bert_classifier", "hub_bert_classifier"), (128, 8),
        dict(task="text_classification", dataset="tatoeba-langid-sample",
             model_overrides={"encoder_handle": "zoo:bert_mini.mlm-sst2-trec/encoder",
                              "preprocessor_handle": "zoo:bert_mini.mlm-sst2-trec/preprocessor"},
             optimizer="adamw", learning_rate=0.0001, weight_decay=0.01)),
)


@dataclasses.dataclass(frozen=True)
class AccuracyCheck:
    """A recipe (a shipped entry's name, or the fields of one) trained in two precisions and
    scored on `benchmark`. `quick_steps`: its steps with `--quick` (else its own)."""

    name: str
    recipe: object
    benchmark: str
    quick_steps: int = 10


ACCURACY = (
    AccuracyCheck("vit_tiny_patch2_8.digits", "vit_tiny_patch2_8.digits", "digits"),
    AccuracyCheck("bert_tiny.tatoeba-langid-sample", dict(
        model="bert_tiny", task="text_classification", dataset="tatoeba-langid-sample",
        benchmark="tatoeba-langid-sample", tokenizer=_TATOEBA_TOKENIZER, max_length=32,
        batch_size=64, steps=400, optimizer="adamw", learning_rate=0.001, weight_decay=0.01,
        schedule="linear", warmup_steps=40), "tatoeba-langid-sample"),
)


def _quiet(*_args, **_kwargs):
    pass


# --- The machine's limit ---------------------------------------------------------------------


def matmul_peak(dtype: str, n: int, chain: int = 8, repeats: int = 5, device=None) -> float:
    """FLOP/s of a chain of `chain` products of `[n, n]` matrices of `dtype` on `device` (the
    best of `repeats` timed calls, after one warm-up call that traces and compiles). Each
    product feeds the next (scaled by 1/sqrt(n), so float16 stays finite), so no two can be
    merged or skipped; the result is fetched to the host to end each timing."""
    import tensorflow as tf

    with tf.device(device or "/cpu:0"):
        a = tf.cast(tf.random.normal((n, n), seed=1), dtype)
        b = tf.cast(tf.random.normal((n, n), seed=2) / math.sqrt(n), dtype)

        @tf.function
        def product_chain(a, b):
            c = a
            for _ in range(chain):
                c = tf.matmul(c, b)
            return tf.reduce_sum(tf.cast(c[:1, :1], tf.float32))

        product_chain(a, b).numpy()
        best = math.inf
        for _ in range(repeats):
            started = time.perf_counter()
            product_chain(a, b).numpy()
            best = min(best, time.perf_counter() - started)
    return 2 * n ** 3 * chain / best


def compute_dtype(policy: str) -> str:
    """The dtype a Keras policy computes in: "mixed_float16" -> "float16"."""
    import keras

    return keras.DTypePolicy(policy).compute_dtype


# --- One family ------------------------------------------------------------------------------


def write_text_file(folder: Path) -> Path:
    """A plain-text file of the Tatoeba sample's training pairs ("English<TAB>Spanish" lines,
    about 240,000 characters) for the language model to read."""
    from zoo import datasets

    pairs = datasets.load("tatoeba-en-es-sample", "train")
    path = folder / "tatoeba-en-es.txt"
    path.write_text("".join(f"{en}\t{es}\n" for en, es in zip(pairs.inputs, pairs.targets)),
                    encoding="utf-8")
    return path


def family_recipe(job: Job, quick: bool, steps: int, precision: str, xla: bool, folder: Path):
    """The `zoo.training.Recipe` of `job`: logged `LOG_WINDOWS` times, saved once (at the end)."""
    from zoo.training.recipes import Recipe

    fields = dict(job.recipe)
    if job.text_file:
        fields["files"] = {"kind": "text", "path": str(write_text_file(folder))}
    return Recipe(entry=f"gpu-check.{job.family}", model=job.model[quick],
                  batch_size=job.batch_size[quick], steps=steps, precision=precision,
                  jit_compile=xla, log_every=max(1, steps // LOG_WINDOWS),
                  checkpoint_every=steps, seed=0, **fields)


#: Logging windows per run: the first holds tracing and compilation, the rest time the steps.
LOG_WINDOWS = 3


def train_logged(recipe, out: Path, strategy: str, log):
    """`zoo.train(recipe)` into `out`; when its XLA-compiled step fails (not a non-finite
    loss, which is a finding), the same recipe again without XLA. Returns `(result, run
    folder, recipe trained, XLA error or None)`."""
    import zoo
    from zoo.training.errors import TrainingError

    try:
        return zoo.train(recipe, out=out, strategy=strategy, deterministic=False,
                         log=log), out, recipe, None
    except TrainingError:
        raise
    except Exception as error:  # noqa: BLE001 -- any failure of the compiled step
        if not recipe.jit_compile:
            raise
        reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300]}"
        print(f"  XLA failed ({reason}); training again without XLA", flush=True)
        plain = recipe.replace(jit_compile=False)
        out = out.with_name(out.name + "-no-xla")
        return zoo.train(plain, out=out, strategy=strategy, deterministic=False,
                         log=log), out, plain, reason


def read_history(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.jsonl", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def steady_speed(history: list[dict], key: str) -> float | None:
    """The median of `key` over the logging windows after the first (which holds tracing and
    compilation); the first alone when there is no other; None where no row has it."""
    rows = history[1:] or history
    values = [row[key] for row in rows if row.get(key) is not None]
    return statistics.median(values) if values else None


#: The operations that hold nearly all of a model's FLOPs; the count needs their shapes.
HEAVY_OPS = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum", "Conv2D",
             "DepthwiseConv2dNative", "Conv2DBackpropInput")


def tokens_per_example(x) -> int | None:
    """The token positions (padding included) of each example of a batch `x`: the length of
    an integer `[batch, length]` tensor, or the sum of those under a dict's `*token_ids` keys
    (BERT's `token_ids`; the Transformer's encoder and decoder ids); None for images and raw
    strings."""
    import tensorflow as tf

    def length(tensor):
        is_ids = isinstance(tensor, tf.Tensor) and tensor.dtype.is_integer
        return int(tensor.shape[1]) if is_ids and tensor.shape.rank == 2 else None

    if isinstance(x, dict):
        lengths = [length(v) for k, v in x.items() if k.endswith("token_ids")]
        lengths = [n for n in lengths if n is not None]
        return sum(lengths) if lengths else None
    return length(x)


def forward_flops(recipe, run_dir: Path) -> tuple[float, int | None]:
    """FLOPs of the forward pass of the task's objective over one training batch of
    `recipe` (the trained model in `run_dir`, the batch from `zoo.training.inputs.pipeline`),
    per example, as TensorFlow's profiler counts them on the traced graph; and that batch's
    `tokens_per_example`.

    Raises:
        ValueError: a matrix product's shape is known only at run time (a TF Hub
            preprocessor's output), so the count would leave out most of the work.
    """
    import tensorflow as tf

    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")  # the v1 profiler's deprecation and graph-export warnings
    try:
        return _forward_flops(recipe, run_dir)
    finally:
        logger.setLevel(level)


def _forward_flops(recipe, run_dir: Path) -> tuple[float, int | None]:
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    from zoo import tasks
    from zoo.models import catalog
    from zoo.text import tokenizers
    from zoo.training import inputs, sources
    from zoo.training.train import load_trained

    model = load_trained(run_dir, safe_mode=False)  # the run this script just made
    examples = sources.load(sources.resolve(recipe), None, _quiet).examples
    tokenizer = (tokenizers.load(run_dir / "tokenizer") if (run_dir / "tokenizer").is_dir()
                 else None)
    dataset = inputs.pipeline(recipe.task, examples, recipe.batch_size, recipe.seed, 0,
                              tokenizer=tokenizer, max_length=recipe.max_length,
                              max_predictions=recipe.max_predictions, binarize=recipe.binarize,
                              raw_text=catalog.takes_raw_text(recipe.model, recipe.task))
    x, y, w = next(iter(dataset))
    objective = (catalog.objective_override(recipe.model, recipe.task)
                 or tasks.get(recipe.task).objective)

    def forward(x, y, w):
        loss, _ = objective(model, x, y, w, training=False)
        return loss

    spec = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), (x, y, w))
    concrete = tf.function(forward).get_concrete_function(*spec)
    graph = convert_variables_to_constants_v2(concrete).graph
    unknown = [op.name for op in graph.get_operations() if op.type in HEAVY_OPS
               and not all(t.shape.is_fully_defined() for t in op.inputs)]
    if unknown:
        raise ValueError(f"{len(unknown)} of the forward graph's matrix products (such as "
                         f"{unknown[0]}) have shapes known only at run time (a SavedModel's "
                         "preprocessing), which TensorFlow's profiler does not count")
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    flops = tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops
    return flops / recipe.batch_size, tokens_per_example(x)


def finite_history(history: list[dict]) -> bool:
    """Every number of every logged row is finite (losses, their terms, the learning rate)."""
    return all(math.isfinite(v) for row in history for v in row.values()
               if isinstance(v, (int, float)) and not isinstance(v, bool))


def run_family(job: Job, args, work: Path, peaks: dict, devices: int) -> dict:
    """Trains `job`'s model and returns its report row."""
    from zoo.training.errors import TrainingError

    folder = work / job.family
    folder.mkdir(parents=True, exist_ok=True)
    recipe = family_recipe(job, args.quick, args.steps, args.precision, args.xla, folder)
    row = {"family": job.family, "model": recipe.model, "task": recipe.task,
           "data": recipe.data_description if not job.text_file else
           "tatoeba-en-es-sample/train as text", "steps": recipe.steps,
           "global_batch_size": recipe.batch_size, "precision_requested": recipe.precision,
           "jit_compile_requested": recipe.jit_compile}
    started = time.perf_counter()
    try:
        result, run_dir, trained, xla_error = train_logged(recipe, folder / "run",
                                                           args.strategy, _quiet)
    except TrainingError as error:  # a loss that became inf or NaN, among others
        return dict(row, finite=False, error=str(error), seconds=time.perf_counter() - started)
    except Exception as error:  # noqa: BLE001 -- reported, and the check fails
        return dict(row, finite=None, error=f"{type(error).__name__}: {error}",
                    seconds=time.perf_counter() - started)
    seconds = time.perf_counter() - started
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    history = read_history(run_dir)
    policy = info["precision"]
    row.update(precision=policy, jit_compile=trained.jit_compile, xla_error=xla_error,
               strategy=info["strategy"]["class"], replicas=info["strategy"]["replicas"],
               finite=finite_history(history), first_loss=history[0]["loss"],
               last_loss=history[-1]["loss"], losses=[r["loss"] for r in history],
               seconds=round(seconds, 1), training_seconds=info.get("training_seconds"),
               examples_per_second=steady_speed(history, "examples_per_second"),
               tokens_per_second=steady_speed(history, "tokens_per_second"))
    try:
        per_example, tokens = forward_flops(trained, run_dir)
    except Exception as error:  # noqa: BLE001 -- the speed stands without the MFU
        row.update(forward_flops_per_example=None, mfu=None,
                   flops_error=f"{type(error).__name__}: {str(error).splitlines()[0][:300]}")
        return row
    if row["tokens_per_second"] is None and tokens and row["examples_per_second"]:
        row.update(tokens_per_second=tokens * row["examples_per_second"],
                   tokens_per_second_from="token positions of one batch x examples/s")
    peak = peaks.get(compute_dtype(policy))
    achieved = TRAIN_FLOPS_PER_FORWARD * per_example * (row["examples_per_second"] or 0.0)
    row.update(forward_flops_per_example=per_example, train_flops_per_second=achieved,
               peak_flops_per_second=peak * devices if peak else None,
               mfu=achieved / (peak * devices) if peak else None)
    return row


# --- Accuracy --------------------------------------------------------------------------------


def _check_recipe(check: AccuracyCheck, quick: bool, precision: str, xla: bool):
    from zoo.training import recipes
    from zoo.training.recipes import Recipe

    recipe = (recipes.get(check.recipe) if isinstance(check.recipe, str) else
              Recipe(entry=f"gpu-check.{check.name}", **check.recipe))
    steps = check.quick_steps if quick else recipe.steps
    return recipe.replace(steps=steps, precision=precision, jit_compile=xla,
                          log_every=max(1, steps // LOG_WINDOWS), checkpoint_every=steps)


def run_accuracy(check: AccuracyCheck, args, work: Path, policy: str) -> dict:
    """Trains `check`'s recipe in `args.precision` and (unless that is float32 here) in
    float32, scores each on the benchmark, and says whether the first reaches the float32
    run's 95% interval."""
    from zoo.harness import runner

    precisions = [args.precision] + (["float32"] if policy != "float32" else [])
    out = {"name": check.name, "benchmark": check.benchmark, "runs": {}}
    for precision in precisions:
        recipe = _check_recipe(check, args.quick, precision, args.xla)
        folder = work / "accuracy" / check.name / precision
        started = time.perf_counter()
        try:
            result, run_dir, trained, xla_error = train_logged(recipe, folder / "run",
                                                               args.strategy, _quiet)
            record, _ = runner.run(recipe.model, check.benchmark, weights=run_dir,
                                   results_dir=folder / "results", progress=False,
                                   command=["scripts/gpu_check.py"])
        except Exception as error:  # noqa: BLE001 -- reported, and the check fails
            out["runs"][precision] = {"error": f"{type(error).__name__}: {error}"}
            out["passed"] = False
            return out
        info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        main = record["main_metric"]
        out["runs"][precision] = {
            "precision": info["precision"], "jit_compile": trained.jit_compile,
            "xla_error": xla_error, "steps": trained.steps, "metric": main["name"],
            "value": main["value"], "low": main["low"], "high": main["high"],
            "higher_is_better": main["higher_is_better"],
            "finite": finite_history(read_history(run_dir)),
            "seconds": round(time.perf_counter() - started, 1)}
    runs = out["runs"]
    if len(runs) == 1:
        out.update(compared=False, passed=runs[args.precision]["finite"],
                   reason=f"precision {args.precision} is float32 here: nothing to compare")
        return out
    mine, reference = runs[args.precision], runs["float32"]
    reached = (mine["value"] >= reference["low"] if reference["higher_is_better"]
               else mine["value"] <= reference["high"])
    out.update(compared=True, reached_float32_interval=reached,
               within_float32_interval=reference["low"] <= mine["value"] <= reference["high"],
               passed=bool(reached and mine["finite"] and reference["finite"]))
    return out


# --- The report ------------------------------------------------------------------------------


def _machine(gpus) -> dict:
    import tensorflow as tf

    from zoo.provenance import collect

    found = collect()
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append({"name": details.get("device_name"),
                      "compute_capability": details.get("compute_capability")})
    return {"hardware": found["hardware"], "gpus": names, "python": found["python"],
            "platform": found["platform"], "packages": found["packages"], "git": found["git"],
            "zoo_version": found["zoo_version"],
            "tensor_float_32": tf.config.experimental.tensor_float_32_execution_enabled()}


def default_out(has_gpu: bool) -> Path:
    date = time.strftime("%Y-%m-%d", time.gmtime())
    name = f"{date}-gpu-check.json" if has_gpu else f"{date}-gpu-check-cpu.json"
    return ROOT / "benchmarks" / "performance" / name


def _number(value, spec):
    return "-" if value is None else format(value, spec)


def print_rows(rows: list[dict]) -> None:
    print(f"\n{'family':<12}{'model':<21}{'precision':<15}{'XLA':<5}{'x':>3}{'loss first->last':>19}"
          f"{'examples/s':>12}{'tokens/s':>12}{'GFLOP/ex':>10}{'TFLOP/s':>9}{'MFU':>8}")
    for r in rows:
        if r.get("error"):
            print(f"{r['family']:<12}{r['model']:<21}FAILED: {r['error'][:200]}")
            continue
        losses = f"{r['first_loss']:.3f}->{r['last_loss']:.3f}"
        gflops = (None if r.get("forward_flops_per_example") is None
                  else TRAIN_FLOPS_PER_FORWARD * r["forward_flops_per_example"] / 1e9)
        tflops = (None if r.get("train_flops_per_second") is None
                  else r["train_flops_per_second"] / 1e12)
        print(f"{r['family']:<12}{r['model']:<21}{r['precision']:<15}"
              f"{'yes' if r['jit_compile'] else 'no':<5}{r['replicas']:>3}{losses:>19}"
              f"{_number(r['examples_per_second'], ',.0f'):>12}"
              f"{_number(r['tokens_per_second'], ',.0f'):>12}{_number(gflops, '.3f'):>10}"
              f"{_number(tflops, '.2f'):>9}{_number(r.get('mfu'), '.1%'):>8}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny models and 6 steps a family, 10 per accuracy run (for a CPU)")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps of each family (default 300; --quick: 6)")
    parser.add_argument("--precision", default="auto",
                        help="auto (default), float32, mixed_float16 or mixed_bfloat16")
    parser.add_argument("--no-xla", dest="xla", action="store_false",
                        help="train without XLA (by default XLA, and without it where it fails)")
    parser.add_argument("--strategy", default=None,
                        help="a zoo strategy name (default: mirrored over every GPU when there "
                             "is one, else default)")
    parser.add_argument("--families", nargs="+", default=None,
                        help="only these families (default: every family; leaving one out "
                             "is reported)")
    parser.add_argument("--no-accuracy", dest="accuracy", action="store_false",
                        help="skip the accuracy checks")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON report (default benchmarks/performance/<date>-gpu-check"
                             "[-cpu].json)")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    import tensorflow as tf

    from zoo.models import catalog
    from zoo.training import precision as precision_lib
    from zoo.training import strategies

    if args.precision not in precision_lib.CHOICES:
        parser.error(f"--precision must be one of {', '.join(precision_lib.CHOICES)}")
    if args.steps is None:
        args.steps = 6 if args.quick else 300
    if args.steps < LOG_WINDOWS:
        parser.error(f"--steps must be at least {LOG_WINDOWS}")
    gpus = tf.config.list_physical_devices("GPU")
    if args.strategy is None:
        args.strategy = "mirrored" if gpus else "default"
    try:
        strategy = strategies.make(args.strategy)
    except strategies.StrategyError as error:
        parser.error(str(error))
    families = sorted(catalog.families())
    jobs = {job.family: job for job in JOBS}
    chosen = args.families or families
    unknown = sorted(set(chosen) - set(jobs))
    if unknown:
        parser.error(f"no job for famil{'y' if len(unknown) == 1 else 'ies'} "
                     f"{', '.join(unknown)} (families with one: {', '.join(sorted(jobs))})")
    policy = precision_lib.resolve(args.precision, strategy)
    devices = max(1, len(gpus))  # a CPU's peak is measured over all its cores at once

    n = 8192 if gpus else 1024
    device = "/gpu:0" if gpus else "/cpu:0"
    print(f"[gpu-check] {len(gpus)} GPU(s); strategy {args.strategy} "
          f"x{strategy.num_replicas_in_sync}; precision {args.precision} -> {policy}; "
          f"XLA {'on' if args.xla else 'off'}", flush=True)
    peaks = {}
    for dtype in dict.fromkeys(["float32", compute_dtype(policy)]):
        peaks[dtype] = matmul_peak(dtype, n, device=device)
        print(f"[gpu-check] matmul peak {dtype} ({n}^2, on {device}): "
              f"{peaks[dtype] / 1e12:,.2f} TFLOP/s", flush=True)

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as temporary:
        work = args.work or Path(temporary)
        rows = []
        for family in chosen:
            print(f"[gpu-check] training {family} ({args.steps} steps)", flush=True)
            rows.append(run_family(jobs[family], args, work, peaks, devices))
        print_rows(rows)
        accuracy = []
        if args.accuracy:
            for check in ACCURACY:
                print(f"[gpu-check] accuracy: {check.name} on {check.benchmark}", flush=True)
                accuracy.append(run_accuracy(check, args, work, policy))
                print(f"  {json.dumps(accuracy[-1], default=str)}", flush=True)

    missing = sorted(set(families) - set(chosen))
    trained = all(row.get("finite") is True for row in rows)
    accurate = all(check["passed"] for check in accuracy)
    report = {
        "command": " ".join(["scripts/gpu_check.sh", *(argv if argv is not None else
                                                       sys.argv[1:])]),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": _machine(gpus), "quick": args.quick, "strategy": args.strategy,
        "replicas": int(strategy.num_replicas_in_sync), "devices_in_peak": devices,
        "precision_requested": args.precision, "precision": policy, "xla_requested": args.xla,
        "matmul_peak_flops_per_second": peaks, "matmul_size": n,
        "train_flops_per_forward_flop": TRAIN_FLOPS_PER_FORWARD,
        "families": rows, "families_left_out": missing, "accuracy": accuracy,
        "all_losses_finite": trained, "accuracy_passed": accurate,
        "passed": trained and (accurate or args.quick),
        "seconds": round(time.perf_counter() - started, 1),
    }
    out = args.out or default_out(bool(gpus))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n",
                   encoding="utf-8")
    verdict = "passed" if report["passed"] else "FAILED"
    print(f"[gpu-check] {verdict} in {report['seconds']:,.0f} s "
          f"(losses finite: {trained}; accuracy: {accurate}"
          f"{', not counted with --quick' if args.quick else ''}); report: {out}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
