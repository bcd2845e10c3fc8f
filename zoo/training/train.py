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

import hashlib
import json
import os
import time
from pathlib import Path

from zoo import atomic
from zoo.training import recipes as recipes_lib
from zoo.training.errors import TrainingError

TOKENIZED = ("text_classification", "masked_lm", "translation")
CLASSIFYING = ("image_classification", "text_classification")


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
    from zoo import entries

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
    import zoo
    from zoo import entries

    folder = Path(folder)
    if entries.is_entry_folder(folder):
        return entries.load_folder(folder, safe_mode=safe_mode)
    return zoo.load_model(folder / "model.keras", safe_mode=safe_mode)


def _load_examples(recipe, data_dir, log):
    from zoo import datasets

    examples = datasets.load(recipe.dataset, recipe.split, data_dir=data_dir)
    if not recipe.extra_training_data:
        return examples
    import dataclasses

    texts = list(examples.inputs)
    for dataset, split in recipe.extra_training_data:
        texts += list(datasets.load(dataset, split, data_dir=data_dir).inputs)
    log(f"[train] corpus: {len(texts):,} texts from {len(recipe.training_data)} sources")
    return dataclasses.replace(examples, inputs=texts, targets=None)


def _tokenizer(recipe, examples, run_dir, chief, init_dir):
    from zoo.text import WordPieceTokenizer

    saved = run_dir / "tokenizer"
    if saved.is_dir():
        return WordPieceTokenizer.load(saved)
    if init_dir is not None and (init_dir / "tokenizer").is_dir():
        from zoo import safety

        safety.check_own_files(init_dir, ["tokenizer"])  # it is copied into the run
        tokenizer = WordPieceTokenizer.load(init_dir / "tokenizer")
    else:
        texts = list(examples.inputs)
        if recipe.task == "translation":
            texts += list(examples.targets)
        settings = {"vocabulary_size": 8000, "lowercase": True, **recipe.tokenizer}
        tokenizer = WordPieceTokenizer.train(texts, **settings)
    if chief:
        tokenizer.save(saved)
    return tokenizer


def _model_builder(recipe, examples, tokenizer, init_dir, safe_mode=True):
    import zoo

    overrides = dict(recipe.model_overrides)
    task = recipes_lib.model_task(recipe.model, recipe.task)  # the recipe checked they fit
    if recipe.task in ("image_classification", "image_generation"):
        height, width, channels = examples.inputs.shape[1:]
        overrides.setdefault("image_size", height if height == width else [height, width])
        overrides.setdefault("num_channels", int(channels))
    if recipe.task in ("image_classification", "text_classification"):
        overrides.setdefault("num_classes", len(examples.label_names))
    if tokenizer is not None:
        overrides["vocabulary_size"] = tokenizer.vocabulary_size
        overrides.setdefault("max_sequence_length", recipe.max_length)
    if recipe.task == "translation":
        overrides.update(pad_id=tokenizer.pad_id, start_id=tokenizer.start_id,
                         end_id=tokenizer.end_id)

    def build():
        try:
            model = zoo.build(recipe.model, task=task, **overrides)
        except ValueError as error:  # the constructor's checks (e.g. num_heads divides hidden_dim)
            if type(error) is not ValueError:  # zoo's own errors (a hub handle, unsafe code)
                raise
            raise recipes_lib.RecipeError(
                f"Recipe '{recipe.entry}': model_overrides do not build {recipe.model}: "
                f"{error}") from None
        if init_dir is not None:
            source = load_trained(init_dir, safe_mode=safe_mode)
            if not hasattr(model, "backbone") or not hasattr(source, "backbone"):
                raise recipes_lib.RecipeError(
                    f"init_from '{recipe.init_from}': only a BERT backbone can start another model.")
            try:
                model.backbone.set_weights(source.backbone.get_weights())
            except ValueError as error:
                raise recipes_lib.RecipeError(
                    f"init_from '{recipe.init_from}' has a different backbone ({error}); use the "
                    "same model variant and tokenizer.") from None
        return model

    return build


def _bleu_validator(recipe, tokenizer, data_dir):
    validation = recipe.validation
    if recipe.task != "translation" or not validation:
        return None
    import sacrebleu

    from zoo import datasets
    from zoo.text import features

    examples = datasets.load(recipe.dataset, validation.get("split", "val"), data_dir=data_dir)
    n = int(validation.get("examples", 500))
    sources, references = list(examples.inputs[:n]), list(examples.targets[:n])
    ids = features.sequence_ids(tokenizer, sources, recipe.max_length)

    def validate(model):
        out = model.generate(ids, max_length=recipe.max_length - 1, beam_width=1)
        hypotheses = [t.decode("utf-8") for t in tokenizer.detokenize(out).numpy()]
        return {"bleu": round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 3)}

    return validate


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
    if not isinstance(recipe, recipes_lib.Recipe):
        recipe = recipes_lib.get(recipe)  # a misspelt name fails here, before TensorFlow loads

    import keras
    import tensorflow as tf

    import zoo
    from zoo import provenance
    from zoo.training import inputs, loop, objectives, schedules, strategies
    from zoo.training import precision as precision_lib

    changes = {k: v for k, v in {"steps": steps, "precision": precision,
                                 "jit_compile": jit_compile, "seed": seed}.items()
               if v is not None}
    recipe = recipe.replace(**changes) if changes else recipe
    try:
        chosen = strategies.make(strategy, devices=devices)  # fails before any work if it cannot
    except strategies.ServeTask as task:  # a parameter-server cluster's worker or ps
        strategies.serve(task, log=log)  # until stopped
        return {"entry": recipe.entry, "served": f"{task.job} {task.index}"}
    chief = strategies.is_chief(chosen)
    run_dir = Path(out) if out is not None else Path("runs") / recipe.entry
    status_path = run_dir / "run.json"
    if status_path.is_file():
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

    keras.utils.set_random_seed(recipe.seed)
    from tensorflow.python.framework import config as tf_config

    was_deterministic = tf_config.is_op_determinism_enabled()
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    policy = precision_lib.resolve(recipe.precision, chosen)
    keras.config.set_dtype_policy(policy)
    try:
        examples = _load_examples(recipe, data_dir, log)
        init_dir = locate_entry(recipe.init_from) if recipe.init_from else None
        if chief:
            run_dir.mkdir(parents=True, exist_ok=True)
        raw_text = zoo.describe(recipe.model)["family"] == "hub"  # its preprocessor tokenizes
        tokenizer = (_tokenizer(recipe, examples, run_dir, chief, init_dir)
                     if recipe.task in TOKENIZED and not raw_text else None)
        info = {
            "entry": recipe.entry, "status": "running", "recipe": recipe.to_dict(),
            "training_data": recipe.training_data, "seed": recipe.seed,
            # The class names, in output order: the harness refuses a benchmark with others.
            "labels": (list(examples.label_names) if recipe.task in CLASSIFYING
                       and examples.label_names is not None else None),
            "strategy": {"name": strategy, **strategies.describe(chosen)},
            "precision": policy, "precision_requested": recipe.precision,
            "jit_compile": recipe.jit_compile,
            "deterministic": deterministic, "init_from": recipe.init_from,
            "examples": len(examples), "global_batch_size": recipe.batch_size,
            "provenance": provenance.collect(command),
        }
        if chief:
            atomic.write_json(run_dir / "recipe.json", recipe.to_dict())
            atomic.write_json(status_path, info)

        def build_optimizer():
            optimizer = schedules.optimizer(recipe)
            if policy == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            return optimizer

        parameter_server = strategies.is_parameter_server(chosen)

        def make_dataset(start_step):
            # A fresh tokenizer each call: under parameter_server this runs on every worker,
            # which cannot use a lookup table made in the chief's process.
            own = None if tokenizer is None else type(tokenizer)(**tokenizer.get_config())
            return inputs.pipeline(
                recipe.task, examples, recipe.batch_size, recipe.seed, start_step,
                tokenizer=own, max_length=recipe.max_length,
                max_predictions=recipe.max_predictions, binarize=recipe.binarize,
                augment=recipe.augment, raw_text=raw_text, per_worker_order=parameter_server,
                batching=recipe.batching)

        validate = _bleu_validator(recipe, tokenizer, data_dir) if chief else None
        log(f"[train] {recipe.entry}: {recipe.model} on {recipe.dataset}/{recipe.split} "
            f"({len(examples):,} examples), {recipe.steps:,} steps of {recipe.batch_size}, "
            f"{info['strategy']['class']} x{chosen.num_replicas_in_sync}, {policy}")
        result = loop.run(
            chosen, _model_builder(recipe, examples, tokenizer, init_dir, safe_mode),
            build_optimizer, objectives.get(recipe.task), make_dataset,
            steps=recipe.steps, global_batch_size=recipe.batch_size, run_dir=run_dir,
            checkpoint_every=recipe.checkpoint_every, log_every=recipe.log_every,
            jit_compile=recipe.jit_compile, label_smoothing=recipe.label_smoothing,
            validate=validate, validate_every=recipe.validation.get("every"), seed=recipe.seed,
            log=log)
    finally:
        keras.config.set_dtype_policy("float32")
        if not was_deterministic:  # leave the caller's process as it was (XLA decoding)
            tf_config.disable_op_determinism()
    digest = weights_digest(result.model)
    if chief:
        final = run_dir / "model.keras"
        tmp = run_dir / ".model.tmp.keras"
        result.model.save(tmp)
        os.replace(tmp, final)
        info.update(status="complete", training_seconds=round(result.seconds, 1),
                    steps=result.steps, weights_sha256=digest,
                    model_sha256=provenance.sha256_file(final),
                    final=result.history[-1] if result.history else None,
                    finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        atomic.write_json(status_path, info)
    log(f"[train] done: {result.steps:,} steps in {result.seconds:,.1f} s; weights sha256 "
        f"{digest[:16]}{'; wrote ' + str(run_dir) if chief else ''}")
    return {"entry": recipe.entry, "run_dir": run_dir, "steps": result.steps,
            "resumed_from": result.resumed_from, "seconds": result.seconds,
            "replicas": int(chosen.num_replicas_in_sync), "weights_sha256": digest,
            "final": result.history[-1] if result.history else None, "chief": chief}

