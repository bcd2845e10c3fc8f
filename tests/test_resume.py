"""A run stopped after a checkpoint and started again ends with the weights of the
uninterrupted run, bit for bit, with dropout, masking, augmentation and the VAE's noise on;
and a step is the same for any replica count, with every gradient transformation
(clipping by norm, global norm or value, loss scaling) applied to the global batch's gradient.

The real SIGKILL of a `zoo train` process is in test_distribute.py; these stop a run in the
same process right after a checkpoint (the steps after it are lost, as in a kill) and resume it
from a model and optimizer rebuilt from that checkpoint."""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import SHARED_DATA

import zoo
from zoo import tasks
from zoo.models import seeding
from zoo.training import Recipe, TrainingError, loop, strategies
from zoo.training.train import train

ONE, TWO = ["/cpu:0"], ["/cpu:0", "/cpu:1"]

# One tiny recipe per family, each with its randomness on: dropout everywhere, image
# augmentation, BERT's masking, the VAE's reparameterisation noise and stochastic binarisation.
TEXT = dict(max_length=16, tokenizer={"vocabulary_size": 300})
FAMILIES = {
    "vit": dict(model="vit_tiny_patch2_8", task="image_classification", dataset="digits",
                augment="flip+shift", model_overrides={"dropout": 0.1, "num_layers": 2}),
    "bert_classifier": dict(model="bert_tiny", task="text_classification",
                            dataset="tatoeba-langid-sample", **TEXT,
                            model_overrides={"dropout": 0.1, "classifier_dropout": 0.1}),
    "bert_masked_lm": dict(model="bert_tiny", task="masked_lm", dataset="tatoeba-langid-sample",
                           max_predictions=3, **TEXT, model_overrides={"dropout": 0.1}),
    "transformer": dict(model="transformer_tiny", task="translation",
                        dataset="tatoeba-en-es-sample", label_smoothing=0.1,
                        **dict(TEXT, tokenizer={"vocabulary_size": 300, "lowercase": False}),
                        model_overrides={"dropout": 0.1}),
    "vae": dict(model="vae_tiny", task="image_generation", dataset="digits",
                binarize="stochastic"),
    "gpt": dict(model="gpt_tiny", task="language_modeling", dataset="tinyshakespeare",
                max_length=16, tokenizer={"kind": "characters"},
                model_overrides={"dropout": 0.1, "num_layers": 1}),
}
#: The training options of families whose data is a file (read from the shared data folder).
OPTIONS = {"gpt": {"data_dir": SHARED_DATA}}


def family_recipe(family, **changes):
    base = dict(entry=f"t.{family}", steps=6, batch_size=16, learning_rate=2e-3, log_every=1,
                checkpoint_every=2)
    return Recipe(**{**base, **FAMILIES[family], **changes})


class Stop(Exception):
    """Stands for the kill: raised from the log line of `step`, after it ran, unsaved."""


def stop_at(step):
    def log(line):
        if f"step {step}/" in line:
            raise Stop(line)

    return log


def history(run_dir):
    rows = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    timing = ("seconds", "examples_per_second", "tokens_per_second")
    return [{k: v for k, v in r.items() if k not in timing} for r in rows]


# Tokenizers trained once per dataset and reused (a run folder's `tokenizer/` is loaded, not
# trained again, as when a killed run resumes): training one takes most of a tiny run's time.
_TOKENIZERS = {}


def reuse_tokenizer(recipe, run_dir):
    """Copies a tokenizer trained before into `run_dir`; returns a function that records
    `run_dir`'s after its run (the first of its kind)."""
    if not tasks.get(recipe.task).TOKENIZED:
        return lambda: None
    key = (recipe.dataset, recipe.task == "translation", json.dumps(recipe.tokenizer))
    if key in _TOKENIZERS:
        shutil.copytree(_TOKENIZERS[key], run_dir / "tokenizer")
    return lambda: _TOKENIZERS.setdefault(key, run_dir / "tokenizer")


def assert_resumes_bit_for_bit(recipe, tmp_path, **options):
    remember = reuse_tokenizer(recipe, tmp_path / "whole")
    whole = train(recipe, out=tmp_path / "whole", log=lambda *_: None, **options)
    remember()
    reuse_tokenizer(recipe, tmp_path / "cut")
    with pytest.raises(Stop):
        train(recipe, out=tmp_path / "cut", log=stop_at(5), **options)
    resumed = train(recipe, out=tmp_path / "cut", log=lambda *_: None, **options)
    assert resumed["resumed_from"] == 4  # steps 5's work was lost with the "kill"
    assert history(tmp_path / "cut") == history(tmp_path / "whole")
    assert resumed["weights_sha256"] == whole["weights_sha256"]


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.slow
def test_a_stopped_run_resumes_to_the_same_weights_with_dropout_and_noise(family, tmp_path):
    assert_resumes_bit_for_bit(family_recipe(family), tmp_path, **OPTIONS.get(family, {}))


@pytest.mark.slow
def test_a_stopped_xla_run_resumes_to_the_same_weights(tmp_path):
    """Dropout inside the XLA-compiled gradient function reads the states set outside it."""
    assert_resumes_bit_for_bit(family_recipe("vit", jit_compile=True), tmp_path)


@pytest.mark.slow
def test_a_stopped_mirrored_run_resumes_to_the_same_weights(tmp_path):
    """Each replica's copy of a dropout seed state is set from (seed, step) too."""
    assert_resumes_bit_for_bit(family_recipe("bert_masked_lm"), tmp_path, strategy="mirrored",
                               devices=TWO)


def test_each_replica_draws_its_own_dropout_masks_from_seed_and_step():
    strategy = strategies.make("mirrored", devices=TWO)
    with strategy.scope():
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dropout(0.5)])
    generators = seeding.seed_generators(model)

    @tf.function
    def masks(seed, step):
        def replica():
            loop._reseed(generators, seed, step, 2)
            return model(tf.ones([1, 64]), training=True)

        return strategy.experimental_local_results(strategy.run(replica))

    first, second = (np.concatenate([m.numpy() for m in masks(0, tf.constant(s, tf.int64))])
                     for s in (7, 7))
    np.testing.assert_array_equal(first, second)  # a function of (seed, step) alone
    assert not np.array_equal(first[0], first[1])  # replicas differ
    later = np.concatenate([m.numpy() for m in masks(0, tf.constant(8, tf.int64))])
    assert not np.array_equal(first, later)


@pytest.mark.slow
def test_clipnorm_recipe_steps_alike_on_one_device_and_mirrored(tmp_path):
    """The issue's case: Transformer-tiny, SGD at 0.5 with clipnorm 0.05 (a global norm),
    three steps: the clip must act on the summed gradient (6.0221 against 5.9651 before)."""
    recipe = family_recipe("transformer", steps=3, optimizer="sgd", learning_rate=0.5,
                           clipnorm=0.05, label_smoothing=0.0, model_overrides={"dropout": 0.0})
    reuse_tokenizer(recipe, tmp_path / "one")
    reuse_tokenizer(recipe, tmp_path / "two")
    one = train(recipe, out=tmp_path / "one", strategy="one_device", devices=ONE,
                log=lambda *_: None)
    two = train(recipe, out=tmp_path / "two", strategy="mirrored", devices=TWO,
                log=lambda *_: None)
    assert two["replicas"] == 2
    assert two["final"]["loss"] == pytest.approx(one["final"]["loss"], abs=2e-5)


# --- The loop itself, with Keras optimizers the recipes do not make ------------------------

def small_model():
    return keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8, activation="relu",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=1)),
        keras.layers.Dense(3, kernel_initializer=keras.initializers.GlorotUniform(seed=2)),
    ])


def batches(large=1.0):
    """Global batches of 8; the last 4 examples of each (the second replica's) scaled by
    `large`, so that under float16 only that replica's partial gradient overflows."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    x[np.arange(64) % 8 >= 4] *= large
    y = (np.arange(64) % 3).astype("int32")

    def make_dataset(start):
        data = tf.data.Dataset.from_tensor_slices((x, y, np.ones(64, "float32")))
        return data.batch(8, drop_remainder=True).repeat().skip(start)

    return make_dataset


def run_loop(run_dir, devices, build_optimizer, steps, large=1.0, policy="float32",
             log=lambda *_: None):
    strategy = strategies.make("one_device" if len(devices) == 1 else "mirrored",
                               devices=devices)
    config = loop.LoopConfig(steps=steps, global_batch_size=8, run_dir=run_dir, log_every=1,
                             checkpoint_every=2)
    keras.config.set_dtype_policy(policy)
    try:
        return loop.run(strategy, small_model, build_optimizer,
                        tasks.get("image_classification").objective, batches(large), config,
                        log=log)
    finally:
        keras.config.set_dtype_policy("float32")


def test_the_history_gives_tokens_per_second_when_the_model_reads_token_ids(tmp_path):
    """Tokens per example come from the batches' shape (an integer `[batch, length]` input),
    not from what the task or model is called: 12 here; images have none."""
    ids = np.random.default_rng(0).integers(1, 50, size=(64, 12)).astype("int32")

    def make_dataset(start):
        data = tf.data.Dataset.from_tensor_slices((ids, ids, np.ones(64, "float32")))
        return data.batch(8, drop_remainder=True).repeat().skip(start)

    config = loop.LoopConfig(steps=2, global_batch_size=8, run_dir=tmp_path / "lm", log_every=1)
    result = loop.run(strategies.make("one_device", devices=ONE),
                      lambda: zoo.build("gpt_tiny", vocabulary_size=50, max_sequence_length=12),
                      lambda: keras.optimizers.SGD(0.01),
                      tasks.get("language_modeling").objective, make_dataset, config,
                      log=lambda *_: None)
    for row in result.history:
        assert row["tokens_per_second"] == pytest.approx(12 * row["examples_per_second"],
                                                         rel=0.01)
    images = run_loop(tmp_path / "images", ONE, lambda: keras.optimizers.SGD(0.01), 2)
    assert all("tokens_per_second" not in row for row in images.history)


def loss_scaled():
    return keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.01))


TRANSFORMS = {
    "clipnorm": (lambda: keras.optimizers.SGD(0.5, clipnorm=0.05), {}),
    "global_clipnorm": (lambda: keras.optimizers.SGD(0.5, global_clipnorm=0.05), {}),
    "clipvalue": (lambda: keras.optimizers.SGD(0.5, clipvalue=0.01), {}),
    # The second replica's partial gradient overflows float16 (the first's does not): the
    # whole step must be skipped, as on one device, not applied as inf.
    "loss_scale": (loss_scaled, {"large": 30.0, "policy": "mixed_float16"}),
}


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_gradient_transformations_see_the_global_batch(transform, tmp_path):
    build_optimizer, options = TRANSFORMS[transform]
    one = run_loop(tmp_path / "one", ONE, build_optimizer, 6, **options)
    two = run_loop(tmp_path / "two", TWO, build_optimizer, 6, **options)
    losses = [[row["loss"] for row in r.history] for r in (one, two)]
    # float16 partial sums differ in rounding between one batch of 8 and two of 4.
    tolerance = 1e-3 if transform == "loss_scale" else 1e-5
    np.testing.assert_allclose(losses[1], losses[0], rtol=tolerance)
    for a, b in zip(one.model.get_weights(), two.model.get_weights()):
        np.testing.assert_allclose(b, a, rtol=tolerance, atol=tolerance)


def accumulating():
    return keras.optimizers.SGD(0.1, gradient_accumulation_steps=3)


def saved(checkpoint, name):
    return int(tf.train.load_variable(checkpoint, f"optimizer/{name}/.ATTRIBUTES/VARIABLE_VALUE"))


COUNTERS = {
    # A LossScaleOptimizer does not count the steps it skips (float16 overflow here).
    "loss_scale_skips": (loss_scaled, {"large": 30.0, "policy": "mixed_float16"},
                         lambda checkpoint: saved(checkpoint, "inner_optimizer/_iterations")),
    # Accumulating over 3 steps, `iterations` counts updates (`_iterations // 3`); the
    # checkpoint at step 4 also holds a partial sum.
    "accumulation": (accumulating, {}, lambda checkpoint: saved(checkpoint, "_iterations") // 3),
}


@pytest.mark.parametrize("counter", sorted(COUNTERS))
def test_the_loop_resumes_after_the_checkpoints_step_not_the_optimizers_count(counter, tmp_path):
    build_optimizer, options, optimizer_count = COUNTERS[counter]
    whole = run_loop(tmp_path / "whole", ONE, build_optimizer, 6, **options)
    with pytest.raises(Stop):
        run_loop(tmp_path / "cut", ONE, build_optimizer, 6, log=stop_at(5), **options)
    latest = tf.train.latest_checkpoint(str(tmp_path / "cut" / "checkpoints"))
    assert latest.endswith("-4") and optimizer_count(latest) < 4  # behind the loop's count
    resumed = run_loop(tmp_path / "cut", ONE, build_optimizer, 6, **options)
    assert resumed.resumed_from == 4
    assert [r["step"] for r in resumed.history] == list(range(1, 7))
    for a, b in zip(whole.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_gradient_accumulation_over_replicas_is_refused_with_a_reason(tmp_path):
    with pytest.raises(TrainingError, match="gradient_accumulation_steps=3.*several replicas"):
        run_loop(tmp_path / "two", TWO, accumulating, 2)


def test_a_loop_config_round_trips_through_json_and_names_bad_fields(tmp_path):
    config = loop.LoopConfig(steps=6, global_batch_size=8, run_dir=tmp_path / "run",
                             validate_every=3, jit_compile=True, seed=7)
    assert config.run_dir == str(tmp_path / "run")
    assert loop.LoopConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(TrainingError, match=r"unknown field 'stpes' \(Did you mean: 'steps'\?\)"):
        loop.LoopConfig.from_dict({**config.to_dict(), "stpes": 6}, "loop.json")
    with pytest.raises(TrainingError, match="LoopConfig: log_every must be a positive integer"):
        loop.LoopConfig(steps=6, global_batch_size=8, run_dir="r", log_every=0)
