"""`zoo train` / `zoo.train`: a recipe in, a run folder out.

The run folder holds everything the harness and a reader need: `model.keras` (final weights),
`tokenizer/` (text tasks), `recipe.json` (the resolved recipe), `run.json` (entry, training data,
seed, strategy, replicas, precision, XLA, versions, git commit, training time, status),
`history.jsonl`, TensorBoard `logs/` and `checkpoints/`. Starting the same command again
resumes an interrupted run; a finished run is left as it is.

>>> import zoo
>>> result = zoo.train("vit_tiny_patch2_8.digits", out=getfixture("tmp_path") / "run",
...                    steps=3, log=lambda *_: None)
>>> result["steps"], (result["run_dir"] / "model.keras").is_file()
(3, True)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from zoo import atomic, entries, provenance, safety, tasks
from zoo.models import catalog
from zoo.training import inputs, parent, sources, strategies
from zoo.training import precision as precision_lib
from zoo.training import recipes as recipes_lib
from zoo.training.errors import TrainingError

# TensorFlow and Keras load when a run starts (`import zoo` stays light): `keras`,
# `tensorflow`, `zoo.text` (tokenizers), `zoo.training.loop` and `zoo.training.schedules` are
# imported inside the steps that use them.


def weights_digest(model) -> str:
    """sha256 over every weight's bytes, in order: equal digests mean equal weights."""
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(array.tobytes())
    return digest.hexdigest()


def locate_entry(entry: str) -> Path:
    """The folder of a trained entry: a run folder (`model.keras`) in `$ZOO_RUNS_DIR/<entry>`
    or `runs/<entry>`, then the entry published with zoo (`zoo.entries`: `model.json` and
    `weights.npz`, no `model.keras`). `load_trained` loads either.

    Raises:
        TrainingError: no such folder holds a trained model (naming the places looked at).
    """
    candidates = []
    if os.environ.get("ZOO_RUNS_DIR"):
        candidates.append(Path(os.environ["ZOO_RUNS_DIR"]) / entry)
    candidates.append(Path("runs") / entry)
    try:
        candidates.append(entries.folder(entry))
    except KeyError:  # not published
        pass
    for folder in candidates:
        if (folder / "model.keras").is_file() or entries.is_entry_folder(folder):
            return folder
    raise TrainingError(
        f"No trained entry '{entry}' (looked for a run folder's model.keras or a published "
        f"entry's model.json and weights.npz in {', '.join(str(c) for c in candidates)}). "
        f"Train it first: zoo train {entry}"
    )


def load_trained(folder, safe_mode=True):
    """The model in a folder `locate_entry` found: a run folder's `model.keras`, or a published
    entry's config and weights (float32 variables, whatever precision the entry stores)."""
    folder = Path(folder)
    if entries.is_entry_folder(folder):
        return entries.load_folder(folder, safe_mode=safe_mode)
    return catalog.load_model(folder / "model.keras", safe_mode=safe_mode)


def _tokenizer(recipe, examples, run_dir, chief, init_dir):
    """The run's tokenizer (`zoo.text.tokenizers`): the run folder's (a resumed run), the
    `init_from` run's (its files checked by `zoo.safety`), else one of the recipe's
    `[tokenizer] kind` (default WordPiece) trained on the task's texts with the recipe's other
    `tokenizer` settings; the chief saves it into the run folder. A converted `init_from`
    checkpoint without a zoo tokenizer is refused (`zoo.training.parent.need_tokenizer`)."""
    from zoo.text import tokenizers

    saved = run_dir / "tokenizer"
    if saved.is_dir():
        return tokenizers.load(saved)
    if init_dir is not None:
        parent.need_tokenizer(recipe, init_dir)
    if init_dir is not None and (init_dir / "tokenizer").is_dir():
        safety.check_own_files(init_dir, ["tokenizer"])  # it is copied into the run
        tokenizer = tokenizers.load(init_dir / "tokenizer")
    else:
        texts = tasks.get(recipe.task).tokenizer_texts(examples)
        tokenizer = tokenizers.train(texts, **recipe.tokenizer)
    if chief:
        tokenizer.save(saved)
    return tokenizer


def _model_builder(recipe, examples, tokenizer, init_dir, safe_mode=True):
    """`build()`: the recipe's model for its task kind, sized by its data (the kind's
    `model_dims`: defaults a recipe's model_overrides may change, and what the tokenizer
    fixes), started from `init_dir` when the recipe names one (whose token embeddings then
    fix the vocabulary size: `zoo.training.parent.dims`)."""
    dims = tasks.get(recipe.task).model_dims(examples, tokenizer=tokenizer,
                                             max_length=recipe.max_length,
                                             label_names=examples.label_names)

    def build():
        source = load_trained(init_dir, safe_mode=safe_mode) if init_dir is not None else None
        part = catalog.family_of(recipe.model).transfer
        sized = dims if source is None or part is None else parent.dims(
            recipe, dims, parent.transferred(source, part), tokenizer)
        try:
            model = catalog.build_for_task(recipe.model, recipe.task, sized,
                                           recipe.model_overrides)
        except ValueError as error:  # the constructor's checks (e.g. num_heads divides hidden_dim)
            if type(error) is not ValueError:  # zoo's own errors (a hub handle, unsafe code)
                raise
            raise recipes_lib.RecipeError(
                f"Recipe '{recipe.entry}': model_overrides do not build {recipe.model}: "
                f"{error}") from None
        _check_positions(recipe, model)
        if source is not None:
            _start_from(recipe, model, source)
        return model

    return build


def _check_positions(recipe, model) -> None:
    """RecipeError when the model has fewer positions (`max_sequence_length`, which defaults
    to the recipe's `max_length`) than the sequences of `max_length` tokens it is trained on:
    it failed at the first step, a traceback from inside the traced training step."""
    limit = getattr(model, "max_sequence_length", None)
    if limit is None and hasattr(model, "get_config"):
        limit = model.get_config().get("max_sequence_length")
    if isinstance(limit, int) and recipe.max_length is not None and limit < recipe.max_length:
        raise recipes_lib.RecipeError(
            f"Recipe '{recipe.entry}': {recipe.model} reads at most max_sequence_length={limit} "
            f"tokens, fewer than the recipe's max_length={recipe.max_length} it trains on: "
            "lower max_length, or raise max_sequence_length in model_overrides (left out, it "
            "is max_length).")


def _start_from(recipe, model, source):
    """`init_from`: copies the weights of the part a family shares between its heads (its
    `transfer`, e.g. BERT's backbone) from the trained `source` (or `source` itself when it is
    that part alone: a converted checkpoint's backbone, `zoo convert`) into `model`. RecipeError when
    the family shares none, the source has no such part, or the two parts differ (each setting
    named: `zoo.training.parent.check_same`)."""
    family = catalog.family_of(recipe.model)
    part = family.transfer
    if part is None:
        able = [name for name, fam in catalog.families().items() if fam.transfer]
        raise recipes_lib.RecipeError(
            f"init_from '{recipe.init_from}': {recipe.model} is a {family.name} model, which "
            f"cannot start from a trained model; only {' or '.join(able) or 'no'} models can.")
    if hasattr(source, part):
        trained = getattr(source, part)
    elif type(source) is type(getattr(model, part, None)):  # the part alone (a converted
        trained = source                                     # checkpoint's backbone)
    else:
        raise recipes_lib.RecipeError(
            f"init_from '{recipe.init_from}' is a {type(source).__name__}, which has no {part} "
            f"to start {recipe.model} from; use an entry of the {family.name} family.")
    parent.check_same(recipe, part, trained, getattr(model, part))
    try:
        getattr(model, part).set_weights(trained.get_weights())
    except ValueError as error:
        raise recipes_lib.RecipeError(
            f"init_from '{recipe.init_from}' has a different {part} ({error}); use the "
            "same model variant and tokenizer.") from None


@dataclass
class _Data:
    """What a run reads: its examples, the tokenizer a text task reads them with (None: the
    task reads no text, or the model preprocesses raw strings itself: `raw_text`) and the run
    folder of the trained model it starts from (`init_from`; None: from scratch)."""

    examples: object
    tokenizer: object
    raw_text: bool
    init_dir: Path | None
    sources: list = dataclasses.field(default_factory=list)  # run.json's training_data


def train(recipe, out=None, strategy="auto", devices=None, data_dir=None, steps=None,
          precision=None, jit_compile=None, seed=None, deterministic=True, log=print,
          command=None, safe_mode=True):
    """Trains a recipe (an entry name, a `.toml` path or a `Recipe`) into a run folder.

    Args:
        recipe: e.g. "vit_tiny_patch4_28.mnist" (see `zoo recipes`).
        out: the run folder (default `runs/<entry>`); starting again with the same folder
            resumes from its newest checkpoint.
        strategy: "auto", "default", "one_device", "mirrored", "multi_worker_mirrored",
            "parameter_server" or "tpu".
        devices: devices for one_device / mirrored, e.g. ["/cpu:0", "/cpu:1"].
        steps, precision, jit_compile, seed: override the recipe's values.
        deterministic: enable TensorFlow's op determinism (same seed, same result).
        safe_mode: load the `init_from` model in Keras' safe mode (`zoo.safety`); False lets
            code in it run (`--unsafe-allow-code`).

    Returns:
        a dict: entry, run_dir, steps, resumed_from, seconds, replicas, weights_sha256,
        final history row.
    """
    recipe = _resolve_recipe(recipe, steps=steps, precision=precision,
                             jit_compile=jit_compile, seed=seed)
    try:
        chosen = strategies.make(strategy, devices=devices)  # fails before any work if it cannot
    except strategies.ServeTask as task:  # a parameter-server cluster's worker or ps
        strategies.serve(task, log=log)  # until stopped
        return {"entry": recipe.entry, "served": f"{task.job} {task.index}"}
    chief = strategies.is_chief(chosen)
    run_dir = Path(out) if out is not None else Path("runs") / recipe.entry
    finished = _finished_run(recipe, run_dir, log)
    if finished is not None:
        return finished
    fresh = chief and not run_dir.exists()
    try:
        with _process_settings(recipe, chosen, deterministic) as policy:
            data = _load_data(recipe, run_dir, chief, data_dir, log)
            info = _run_info(recipe, strategy, chosen, policy, deterministic, data, command)
            if chief:
                _write_start(run_dir, recipe, info)
            result = _run_loop(recipe, chosen, policy, data, info, run_dir, data_dir, chief,
                               safe_mode, log)
    except Exception:
        if fresh:
            _discard_unstarted(run_dir)
        raise
    digest = weights_digest(result.model)
    if chief:
        _save(result, run_dir, info, digest)
    log(f"[train] done: {result.steps:,} steps in {result.seconds:,.1f} s; weights sha256 "
        f"{digest[:16]}{'; wrote ' + str(run_dir) if chief else ''}")
    return {"entry": recipe.entry, "run_dir": run_dir, "steps": result.steps,
            "resumed_from": result.resumed_from, "seconds": result.seconds,
            "replicas": int(chosen.num_replicas_in_sync), "weights_sha256": digest,
            "final": result.history[-1] if result.history else None, "chief": chief}


def _discard_unstarted(run_dir: Path) -> None:
    """Removes the run folder a failed `train` call made, when it holds no checkpoint: there
    is nothing to resume, and a half-made folder (its run.json, recipe and tokenizer) would
    refuse the corrected recipe as "a run of a different recipe", or hand a rerun of the same
    one the tokenizer of the data it failed on. A folder with a checkpoint is kept."""
    import shutil

    checkpoints = run_dir / "checkpoints"
    if checkpoints.is_dir() and any(checkpoints.iterdir()):
        return
    shutil.rmtree(run_dir, ignore_errors=True)


def _resolve_recipe(recipe, **changes) -> recipes_lib.Recipe:
    """The `Recipe` to train: `recipe` itself, or the one an entry name or `.toml` path names
    (a misspelt name fails here, before TensorFlow loads), with the given values that are not
    None (`steps`, `precision`, `jit_compile`, `seed`) in place of its own."""
    if not isinstance(recipe, recipes_lib.Recipe):
        recipe = recipes_lib.get(recipe)
    recipe = sources.resolve(recipe)  # a benchmark's training data: which it is
    changes = {key: value for key, value in changes.items() if value is not None}
    return recipe.replace(**changes) if changes else recipe


def _finished_run(recipe, run_dir: Path, log) -> dict | None:
    """What `train` returns when `run_dir` already holds the finished run of `recipe` (it is
    left as it is); None when there is nothing there yet or an unfinished run of the same
    recipe to resume.

    Raises:
        TrainingError: `run_dir` holds a run of another recipe.
    """
    status_path = run_dir / "run.json"
    if not status_path.is_file():
        return None
    status = json.loads(status_path.read_text(encoding="utf-8"))
    if status.get("recipe") is not None:  # from before a field was added: its default
        try:
            status["recipe"] = recipes_lib.Recipe.from_dict(status["recipe"]).to_dict()
        except recipes_lib.RecipeError:
            pass  # a recipe this version cannot read differs from any it can
    if status.get("status") == "complete" and status.get("recipe") == recipe.to_dict():
        log(f"[train] {run_dir} already holds the finished run of {recipe.entry}; "
            "nothing to do (use another --out to train again)")
        return {"entry": recipe.entry, "run_dir": run_dir, "steps": recipe.steps,
                "resumed_from": recipe.steps, "seconds": status.get("training_seconds"),
                "replicas": status.get("strategy", {}).get("replicas"),
                "weights_sha256": status.get("weights_sha256"), "already_complete": True}
    if status.get("recipe") not in (None, recipe.to_dict()):
        raise TrainingError(
            f"{run_dir} holds a run of a different recipe; resuming it would mix two runs. "
            "Choose another --out, or delete the folder to start over.")
    return None


@contextlib.contextmanager
def _process_settings(recipe, chosen, deterministic: bool):
    """Within: the process-wide settings the run trains under: Keras' random seed (the
    recipe's `seed`; it stays set after), TensorFlow's op determinism when `deterministic`,
    and the global dtype policy the recipe's precision resolves to on `chosen` (yielded: a
    policy name such as "mixed_bfloat16"). After, the policy is float32 again and op
    determinism is off again unless the caller had it on (XLA decoding needs it off)."""
    import keras
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    keras.utils.set_random_seed(recipe.seed)
    was_deterministic = tf_config.is_op_determinism_enabled()
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    try:
        policy = precision_lib.resolve(recipe.precision, chosen)
        keras.config.set_dtype_policy(policy)
        yield policy
    finally:
        keras.config.set_dtype_policy("float32")
        if not was_deterministic:
            tf_config.disable_op_determinism()


def _load_data(recipe, run_dir: Path, chief: bool, data_dir, log) -> _Data:
    """The run's examples (`recipe.training_data`), the run it starts from (`locate_entry`)
    and, for a task that reads tokens (`TOKENIZED`), its tokenizer: the run
    folder's (a resumed run), the starting run's, or one trained on the examples. The chief
    makes the run folder and saves the tokenizer into it."""
    read = sources.load(recipe, data_dir, log)  # every source, and what each held
    examples = read.examples
    init_dir = locate_entry(recipe.init_from) if recipe.init_from else None
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        sources.save_digests(run_dir, read.digests)  # for the harness's test-data check
    raw_text = catalog.takes_raw_text(recipe.model, recipe.task)  # its own preprocessor
    tokenizer = (_tokenizer(recipe, examples, run_dir, chief, init_dir)
                 if tasks.get(recipe.task).TOKENIZED and not raw_text else None)
    return _Data(examples, tokenizer, raw_text, init_dir, read.sources)


def _run_info(recipe, strategy: str, chosen, policy: str, deterministic: bool, data: _Data,
              command) -> dict:
    """The run's `run.json` while it runs (`status: running`): what it trains, on which data
    (each source with its files' and its examples' sha256: `zoo.training.sources`; for a
    classifier, its class names in output order: the harness refuses a benchmark with
    others), how (strategy, replicas, precision, XLA, determinism) and where
    (`zoo.provenance`)."""
    examples = data.examples
    return {
        "entry": recipe.entry, "status": "running", "recipe": recipe.to_dict(),
        "training_data": data.sources, "seed": recipe.seed,
        "labels": (list(examples.label_names) if tasks.get(recipe.task).CLASSIFYING
                   and examples.label_names is not None else None),
        "strategy": {"name": strategy, **strategies.describe(chosen)},
        "precision": policy, "precision_requested": recipe.precision,
        "jit_compile": recipe.jit_compile,
        "deterministic": deterministic, "init_from": recipe.init_from,
        "examples": len(examples), "global_batch_size": recipe.batch_size,
        "provenance": provenance.collect(command),
    }


def _write_start(run_dir: Path, recipe, info: dict) -> None:
    """Writes (atomically) the resolved `recipe.json` and the running `run.json`."""
    atomic.write_json(run_dir / "recipe.json", recipe.to_dict())
    atomic.write_json(run_dir / "run.json", info)


def _optimizer_factory(recipe, policy: str):
    """`build()`: the recipe's optimizer and schedule (`zoo.training.schedules`), wrapped in a
    `LossScaleOptimizer` under "mixed_float16"."""
    import keras

    from zoo.training import schedules

    def build_optimizer():
        optimizer = schedules.optimizer(recipe)
        if policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    return build_optimizer


def _dataset_factory(recipe, data: _Data, parameter_server: bool):
    """`make_dataset(start_step)`: the task kind's training batches from step `start_step` on
    (`zoo.training.inputs.pipeline`, a function of the recipe's seed and the position)."""

    def make_dataset(start_step):
        # A fresh tokenizer each call: under parameter_server this runs on every worker,
        # which cannot use a lookup table made in the chief's process.
        tokenizer = data.tokenizer
        own = None if tokenizer is None else type(tokenizer)(**tokenizer.get_config())
        with _recipe_errors(recipe):  # too little data for a batch or a window, and the like
            return inputs.pipeline(
                recipe.task, data.examples, recipe.batch_size, recipe.seed, start_step,
                tokenizer=own, max_length=recipe.max_length,
                max_predictions=recipe.max_predictions, binarize=recipe.binarize,
                augment=recipe.augment, raw_text=data.raw_text,
                per_worker_order=parameter_server, batching=recipe.batching)

    return make_dataset


@contextlib.contextmanager
def _recipe_errors(recipe):
    """Within: a plain `ValueError` (a task kind's check of the recipe against its data, such
    as "fewer than one batch of 64; lower batch_size") becomes a `RecipeError` naming the
    recipe, which the command line prints as one line; zoo's own ValueError subclasses pass."""
    try:
        yield
    except ValueError as error:
        if type(error) is not ValueError:
            raise
        raise recipes_lib.RecipeError(f"Recipe '{recipe.entry}': {error}") from None


def _run_loop(recipe, chosen, policy: str, data: _Data, info: dict, run_dir: Path, data_dir,
              chief: bool, safe_mode: bool, log):
    """Runs `zoo.training.loop.run` over the model, optimizer and dataset factories with the
    task kind's (or the family's own) objective and, on the chief, the kind's validator;
    returns its `LoopResult`."""
    from zoo.training import loop

    kind = tasks.get(recipe.task)
    with _recipe_errors(recipe):  # e.g. a validation text shorter than one window
        validate = kind.validator(recipe, data.tokenizer, data_dir) if chief else None
    log(f"[train] {recipe.entry}: {recipe.model} on {recipe.data_description} "
        f"({len(data.examples):,} examples), {recipe.steps:,} steps of {recipe.batch_size}, "
        f"{info['strategy']['class']} x{chosen.num_replicas_in_sync}, {policy}")
    return loop.run(
        chosen, _model_builder(recipe, data.examples, data.tokenizer, data.init_dir, safe_mode),
        _optimizer_factory(recipe, policy),
        catalog.objective_override(recipe.model, recipe.task) or kind.objective,
        _dataset_factory(recipe, data, strategies.is_parameter_server(chosen)),
        loop.LoopConfig.from_recipe(recipe, run_dir), validate=validate, log=log)


def _save(result, run_dir: Path, info: dict, digest: str) -> None:
    """Saves the final model (`model.keras`) and the finished `run.json` (`status:
    complete`, training seconds, steps, weights and file sha256, last history row, time),
    both atomically."""
    final = run_dir / "model.keras"
    with atomic.staged_file(final, suffix=".keras") as tmp:  # Keras saves to *.keras only
        result.model.save(tmp)
    info.update(status="complete", training_seconds=round(result.seconds, 1),
                steps=result.steps, weights_sha256=digest,
                model_sha256=provenance.sha256_file(final),
                final=result.history[-1] if result.history else None,
                finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    atomic.write_json(run_dir / "run.json", info)
