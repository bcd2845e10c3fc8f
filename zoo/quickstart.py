"""`zoo quickstart`: the product's own pipeline, end to end, on data that ships with zoo.

Every stage is the code the leaderboard depends on, run on embedded data (scikit-learn's 8x8
digits and the Tatoeba samples in `zoo/data/samples/`), so it needs no download:

1. recipes: one per model, written to `OUT/recipes/<entry>.toml` (`zoo train FILE` trains one);
2. training: `zoo.train` (the code of `zoo train`) trains each into `OUT/runs/<entry>/`;
3. evaluation: the harness (the code of `zoo bench run`) scores each run on its benchmark and
   writes the result records under `OUT/results/<benchmark>/`;
4. the leaderboard builder (the code of `zoo leaderboard build`) makes `OUT/site/index.html`
   from those records.

The models are the tiny variants and the steps few, so that the whole job takes a few minutes
on two CPU cores: the scores are above chance, with their 95% intervals, not leaderboard results.

>>> [job.recipe["entry"] for job in JOBS][:2]
['vit_tiny_patch2_8.digits.quickstart', 'vae_tiny.digits-vae.quickstart']
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

from zoo import atomic, records, textio

#: The file that marks a folder as the quickstart's own: it replaces runs, records and the site
#: there, and refuses any other non-empty folder.
MARKER = ".zoo-quickstart"
MARKER_TEXT = ("This folder is written by `zoo quickstart`, which replaces its recipes, runs, "
               "results and site on every run.\n")


class QuickstartError(ValueError):
    """An output folder the quickstart will not write into; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class Job:
    """One model of the quickstart: its recipe (as a recipe file holds it), the share of its
    steps spent warming up the learning rate, and what a model that learned nothing scores on
    its benchmark (`floor`, in words; None when the recipe has no benchmark)."""

    recipe: dict
    warmup: float = 0.0
    floor: str | None = None


_TATOEBA_TOKENIZER = {"vocabulary_size": 2000, "lowercase": True}
#: The models, in the order they train. Steps are the defaults; `--steps N` sets them all.
JOBS = (
    Job({"entry": "vit_tiny_patch2_8.digits.quickstart", "model": "vit_tiny_patch2_8",
         "description": "ViT-tiny on scikit-learn's 8x8 digits (the shipped recipe "
                        "vit_tiny_patch2_8.digits, shortened).",
         "task": "image_classification", "dataset": "digits", "benchmark": "digits",
         "batch_size": 64, "steps": 400, "optimizer": "adamw", "learning_rate": 0.002,
         "weight_decay": 0.05, "schedule": "cosine", "label_smoothing": 0.1},
        warmup=0.1, floor="accuracy 0.10 (ten classes)"),
    Job({"entry": "vae_tiny.digits-vae.quickstart", "model": "vae_tiny",
         "description": "Convolutional VAE-tiny on stochastically binarized 8x8 digits.",
         "task": "image_generation", "dataset": "digits", "benchmark": "digits-vae",
         "binarize": "stochastic", "batch_size": 32, "steps": 1500, "optimizer": "adam",
         "learning_rate": 0.003, "schedule": "cosine"},
        warmup=0.05, floor="negative_elbo 44.4 nats (every pixel 1 with probability 0.5)"),
    Job({"entry": "bert_tiny.mlm-tatoeba.quickstart", "model": "bert_tiny",
         "description": "BERT-tiny masked-LM pretraining on the English and Spanish training "
                        "sentences of the shipped Tatoeba sample.",
         "task": "masked_lm", "dataset": "tatoeba-langid-sample",
         "tokenizer": _TATOEBA_TOKENIZER, "max_length": 32, "max_predictions": 5,
         "batch_size": 64, "steps": 200, "optimizer": "adamw", "learning_rate": 0.001,
         "weight_decay": 0.01, "schedule": "linear"},
        warmup=0.1),
    Job({"entry": "bert_tiny.tatoeba-langid-sample.quickstart", "model": "bert_tiny",
         "description": "BERT-tiny from the masked-LM encoder above, fine-tuned to tell English "
                        "from Spanish.",
         "task": "text_classification", "dataset": "tatoeba-langid-sample",
         "benchmark": "tatoeba-langid-sample", "init_from": "bert_tiny.mlm-tatoeba.quickstart",
         "max_length": 32, "batch_size": 64, "steps": 200, "optimizer": "adamw",
         "learning_rate": 0.0005, "weight_decay": 0.01, "schedule": "linear"},
        warmup=0.1, floor="accuracy 0.50 (two classes, as many sentences each)"),
    Job({"entry": "transformer_tiny.tatoeba-en-es-sample.quickstart", "model": "transformer_tiny",
         "description": "Transformer-tiny, English to Spanish on the 4,000 pairs of the shipped "
                        "Tatoeba sample; batches of pairs of similar length.",
         "task": "translation", "dataset": "tatoeba-en-es-sample",
         "benchmark": "tatoeba-en-es-sample",
         "tokenizer": {"vocabulary_size": 3000, "lowercase": False}, "max_length": 32,
         "batch_size": 64, "batching": "by_length", "steps": 1000, "optimizer": "adam",
         "learning_rate": 0.002, "beta_2": 0.98, "schedule": "inverse_sqrt",
         "label_smoothing": 0.1},
        warmup=0.1, floor="bleu 0 (no word in common with the references)"),
)

#: Each model's own training steps.
DEFAULT_STEPS = tuple(job.recipe["steps"] for job in JOBS)


def recipe_for(job: Job, steps: int | None = None, seed: int = 0) -> dict:
    """The recipe of `job` as its file holds it, with `steps` (default: the job's own) and
    `seed`; the warm-up, logging and checkpoint intervals follow the steps (about ten progress
    lines per model; one checkpoint, at the end)."""
    recipe = dict(job.recipe, seed=seed)
    if steps is not None:
        recipe["steps"] = steps
    total = recipe["steps"]
    recipe.update(warmup_steps=int(total * job.warmup), log_every=max(1, total // 10),
                  checkpoint_every=total)
    return recipe


def toml_text(recipe: dict) -> str:
    """A recipe (a flat table: strings, numbers, booleans, lists, inline tables) as TOML.

    >>> print(toml_text({"entry": "a", "steps": 3, "tokenizer": {"lowercase": True}}), end="")
    entry = "a"
    steps = 3
    tokenizer = { lowercase = true }
    """
    return "".join(f"{key} = {textio.toml_value(value)}\n" for key, value in recipe.items())


def claim(out) -> Path:
    """`out` as the quickstart's folder (created, with its marker). Raises QuickstartError for
    a file, or a non-empty folder the quickstart did not write: it replaces what it wrote, so
    it never writes among other files."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise QuickstartError(f"--out {out} is a file; the quickstart writes a folder. Choose "
                              "another --out.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise QuickstartError(f"--out {out} is a folder of other files (it has no {MARKER} "
                              "file); the quickstart replaces its results there, so it writes "
                              "only into an empty or new folder, or one it wrote before. Choose "
                              "another --out.")
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / MARKER, MARKER_TEXT)
    return out


def _fresh_run_dir(run_dir: Path, recipe: dict) -> None:
    """Removes a run folder of this quickstart that holds another recipe's run (other
    `--steps` or `--seed`), so the training starts afresh; the same recipe's run is kept, and
    `zoo.train` resumes or skips it."""
    status = run_dir / "run.json"
    if not status.is_file():
        return
    try:
        same = json.loads(status.read_text(encoding="utf-8")).get("recipe") == recipe
    except (OSError, ValueError):
        same = False
    if not same:
        shutil.rmtree(run_dir)


def _minutes(seconds: float) -> str:
    """`2 min 5 s`, or `42 s` under a minute."""
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _train_all(recipes, out: Path, log) -> dict:
    """Trains every recipe with `zoo.train` into `out/runs/<entry>`; returns entry -> result.
    A recipe's `init_from` names an earlier run of this quickstart (`$ZOO_RUNS_DIR`)."""
    from zoo.training import recipes as recipes_lib
    from zoo.training.train import train

    runs = out / "runs"
    trained = {}
    with _runs_dir(runs):
        for number, recipe in enumerate(recipes, 1):
            path = out / "recipes" / f"{recipe['entry']}.toml"
            parsed = recipes_lib.parse(path)  # the file, as `zoo train FILE` reads it
            run_dir = runs / recipe["entry"]
            _fresh_run_dir(run_dir, parsed.to_dict())
            log(f"[quickstart] training {number}/{len(recipes)}: {recipe['model']} on "
                f"{recipe['dataset']} ({recipe['task']}), {recipe['steps']:,} steps -> {run_dir}")
            trained[recipe["entry"]] = train(parsed, out=run_dir, log=log,
                                             command=["zoo", "train", str(path), "--out",
                                                      str(run_dir)])
    return trained


@contextlib.contextmanager
def _runs_dir(folder: Path):
    """`$ZOO_RUNS_DIR` is `folder` within the block (where a recipe's `init_from` run is
    looked for first), and what it was after."""
    before = os.environ.get("ZOO_RUNS_DIR")
    os.environ["ZOO_RUNS_DIR"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("ZOO_RUNS_DIR", None)
        else:
            os.environ["ZOO_RUNS_DIR"] = before


def _evaluate_all(recipes, out: Path, log) -> dict:
    """Scores every run that has a benchmark with the harness; records go to `out/results`
    (emptied first: the site shows this quickstart's records only). Returns entry -> path."""
    from zoo.harness import runner

    results = out / "results"
    shutil.rmtree(results, ignore_errors=True)
    scored = [r for r in recipes if r.get("benchmark")]
    paths = {}
    for number, recipe in enumerate(scored, 1):
        run_dir = out / "runs" / recipe["entry"]
        log(f"[quickstart] evaluating {number}/{len(scored)}: {recipe['entry']} on benchmark "
            f"{recipe['benchmark']}")
        command = ["zoo", "bench", "run", "--model", recipe["model"], "--benchmark",
                   recipe["benchmark"], "--weights", str(run_dir), "--results", str(results)]
        _, paths[recipe["entry"]] = runner.run(recipe["model"], recipe["benchmark"],
                                               weights=run_dir, results_dir=results,
                                               command=command)
    return paths


def _build_site(out: Path, log) -> Path:
    from zoo.leaderboard import site

    log("[quickstart] building the leaderboard of these records")
    site.build(out / "results", out / "site",
               warn=lambda message: log(f"[quickstart] warning: {message}"))
    return out / "site" / "index.html"


def _score_line(record: dict) -> str:
    from zoo.metrics.bootstrap import format_interval

    main = record["main_metric"]
    return f"{main['name']} {format_interval(main['value'], main['low'], main['high'])}"


def run(steps=None, out="runs/quickstart", seed=0, log=print) -> dict:
    """Writes the recipes, trains them, scores the runs and builds their leaderboard in `out`.

    Args:
        steps: training steps of every model (exactly); None: each job's own.
        out: the quickstart's folder (new, empty, or written by an earlier quickstart).
        seed: every recipe's seed.
        log: called with each progress line.

    Returns:
        the summary also written to `out/summary.json`: for each model its recipe file, run
        folder, benchmark, main metric with its 95% interval and record file; the site's index.

    Raises:
        QuickstartError: `out` is a file or a folder of other files.
    """
    started, cpu = time.perf_counter(), time.process_time()
    out = claim(out)
    chosen = [recipe_for(job, steps, seed) for job in JOBS]
    floors = {job.recipe["entry"]: job.floor for job in JOBS}
    shutil.rmtree(out / "recipes", ignore_errors=True)
    for recipe in chosen:
        atomic.write_text(out / "recipes" / f"{recipe['entry']}.toml", toml_text(recipe))
    log(f"[quickstart] {len(chosen)} recipes -> {out / 'recipes'}; stages: train "
        f"{len(chosen)} models, evaluate {sum(bool(r.get('benchmark')) for r in chosen)} on their "
        "benchmarks, build their leaderboard")
    trained = _train_all(chosen, out, log)
    paths = _evaluate_all(chosen, out, log)
    index = _build_site(out, log)
    models = []
    for recipe in chosen:
        entry = recipe["entry"]
        row = {"entry": entry, "model": recipe["model"], "task": recipe["task"],
               "steps": trained[entry]["steps"], "recipe": str(out / "recipes" / f"{entry}.toml"),
               "run_dir": str(trained[entry]["run_dir"]), "benchmark": recipe.get("benchmark")}
        if entry in paths:
            record = records.read(paths[entry])
            row.update(record=str(paths[entry]), main_metric=record["main_metric"],
                       score=_score_line(record), floor=floors[entry])
        models.append(row)
    # Wall time depends on what else the machine runs; CPU time (all threads) bounds what a
    # quiet machine takes.
    summary = {"seed": seed, "seconds": round(time.perf_counter() - started, 1),
               "cpu_seconds": round(time.process_time() - cpu, 1), "models": models,
               "site": str(index)}
    atomic.write_json(out / "summary.json", summary)
    _print_summary(summary, log)
    return summary


def _print_summary(summary: dict, log) -> None:
    """Each run's main metric with its interval beside the floor, and where everything is."""
    log(f"\n[quickstart] done in {_minutes(summary['seconds'])} "
        f"({_minutes(summary['cpu_seconds'])} of CPU). Each run's main metric with its 95% "
        "interval, vs what a model that learned nothing scores:")
    for row in summary["models"]:
        if row.get("record"):
            log(f"  {row['model']} on {row['benchmark']}: {row['score']}  vs {row['floor']}\n"
                f"    record: {row['record']}")
        else:
            log(f"  {row['model']} ({row['task']}): trained, no benchmark; its run starts the "
                "next model")
        log(f"    run:    {row['run_dir']}  (recipe {row['recipe']})")
    log(f"  leaderboard of these runs: {summary['site']}  "
        f"(zoo leaderboard serve --dir {Path(summary['site']).parent})")
    log("  These are a few minutes of CPU training, not leaderboard results.")
