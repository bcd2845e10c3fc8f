"""Mixed precision: every family trains under mixed_bfloat16 and mixed_float16 through the real
loop (and the VAE through `fit`), the KL term stays in float32, a model keeps its dtype policy
through saving and a fresh process, and the harness scores a model in the precision it was
trained in and records it."""

import json
import pickle
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import (
    MODEL_CASES,
    as_numpy,
    assert_outputs_equal,
    build_case,
    case_id,
    example_inputs,
    run_in_fresh_python,
)

import zoo
from zoo import datasets, records
from zoo.harness import runner
from zoo.models.vae.vae import kl_divergence
from zoo.training import Recipe
from zoo.training.train import train

QUIET = {"log": lambda *_: None}
MIXED = ("mixed_bfloat16", "mixed_float16")

# One tiny recipe per family and head, with dropout, so that each trains two real steps.
TINY = {
    "vit": dict(model="vit_tiny_patch2_8", task="image_classification", dataset="digits",
                model_overrides={"num_layers": 1, "dropout": 0.1}),
    "bert_classifier": dict(model="bert_tiny", task="text_classification",
                            dataset="tatoeba-langid-sample", max_length=16,
                            model_overrides={"num_layers": 1}),
    "bert_masked_lm": dict(model="bert_tiny", task="masked_lm", dataset="tatoeba-langid-sample",
                           max_length=16, max_predictions=4, model_overrides={"num_layers": 1}),
    "transformer": dict(model="transformer_tiny", task="translation",
                        dataset="tatoeba-en-es-sample", max_length=16,
                        model_overrides={"num_encoder_layers": 1, "num_decoder_layers": 1}),
    "vae": dict(model="vae_tiny", task="image_generation", dataset="digits",
                binarize="stochastic"),
    "vae_gaussian": dict(model="vae_tiny", task="image_generation", dataset="digits",
                         model_overrides={"likelihood": "gaussian"}),
    "autoencoder": dict(model="ae_tiny", task="image_generation", dataset="digits"),
}


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    """One small tokenizer for every text recipe, placed in each run folder as a resumed run
    finds its own (training one per run would take most of each run's time)."""
    from zoo import datasets
    from zoo.text import WordPieceTokenizer

    pairs = datasets.load("tatoeba-en-es-sample", "train")
    texts = list(pairs.inputs[:500]) + list(pairs.targets[:500])
    folder = tmp_path_factory.mktemp("tokenizer") / "tokenizer"
    WordPieceTokenizer.train(texts, vocabulary_size=300, lowercase=True).save(folder)
    return folder


def _checkpointed_trainable_variables(checkpoint):
    """The model's trainable variables in a checkpoint of `zoo.training.loop` (tracked
    through the optimizer), by name."""
    pattern = re.compile(r"optimizer/_trainable_variables/\d+/\.ATTRIBUTES/VARIABLE_VALUE")
    return {name: tf.train.load_variable(checkpoint, name)
            for name, _ in tf.train.list_variables(checkpoint) if pattern.fullmatch(name)}


@pytest.mark.parametrize("policy", MIXED)
@pytest.mark.parametrize("family", sorted(TINY))
@pytest.mark.slow
def test_every_family_trains_under_mixed_precision(family, policy, tokenizer_dir, tmp_path):
    import shutil

    recipe = Recipe(entry=f"t.{family}", steps=2, batch_size=8, log_every=1, checkpoint_every=1,
                    precision=policy, **TINY[family])
    if recipe.task in ("text_classification", "masked_lm", "translation"):
        shutil.copytree(tokenizer_dir, tmp_path / "tokenizer")
    result = train(recipe, out=tmp_path, **QUIET)

    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [row["step"] for row in history] == [1, 2]
    for row in history:
        assert all(np.isfinite(v) for k, v in row.items() if isinstance(v, float)), row
    assert np.isfinite(result["final"]["loss"])
    assert json.loads((tmp_path / "run.json").read_text())["precision"] == policy
    # The second step changed the weights, or (float16) found its scaled gradients overflow
    # and halved the loss scale instead, as dynamic loss scaling does in its first steps.
    state = tf.train.get_checkpoint_state(str(tmp_path / "checkpoints"))
    paths = state.all_model_checkpoint_paths[-2:]
    first, second = (_checkpointed_trainable_variables(p) for p in paths)
    assert first and first.keys() == second.keys()
    assert all(np.all(np.isfinite(v)) for v in second.values())
    changed = any(not np.array_equal(first[k], second[k]) for k in first)
    names = [name for name, _ in tf.train.list_variables(paths[-1])]
    assert ("optimizer/dynamic_scale/.ATTRIBUTES/VARIABLE_VALUE" in names) == (
        policy == "mixed_float16")  # float16 trains with loss scaling, bfloat16 without
    if policy == "mixed_float16":
        scales = [tf.train.load_variable(p, "optimizer/dynamic_scale/.ATTRIBUTES/VARIABLE_VALUE")
                  for p in paths]
        assert changed == (scales[1] == scales[0]) and (changed or scales[1] == scales[0] / 2)
    else:
        assert changed
    # The saved model keeps the policy it trained in; its variables are float32.
    model = zoo.load_model(tmp_path / "model.keras")
    assert model.dtype_policy.name == policy
    assert {v.dtype for v in model.weights if "float" in str(v.dtype)} == {"float32"}


@pytest.mark.parametrize("policy", MIXED)
@pytest.mark.parametrize("name", ["vae_tiny", "ae_tiny"])
def test_vae_and_autoencoder_fit_under_mixed_precision(name, policy):
    from sklearn.datasets import load_digits

    images = (load_digits().images[:64, ..., None] / 16.0).astype("float32")
    keras.config.set_dtype_policy(policy)  # as Keras' mixed-precision guide sets it
    model = zoo.build(name, image_size=8)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    assert model.dtype_policy.name == policy
    if policy == "mixed_float16":  # Keras adds loss scaling for a float16 model
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.fit(images, batch_size=32, epochs=1, verbose=0).history
    assert all(np.isfinite(values[-1]) for values in logs.values()), logs
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
    if name == "vae_tiny":
        assert "kl_loss" in logs


def test_kl_and_sampling_are_computed_in_float32():
    # exp(12) overflows float16 (largest 65504): a log-variance of 12 over 8 latent dims.
    z_mean = np.zeros((2, 8), "float16")
    z_log_var = np.full((2, 8), 12.0, "float16")
    kl = np.asarray(kl_divergence(z_mean, z_log_var))
    assert kl.dtype == np.float32
    np.testing.assert_allclose(kl, -0.5 * 8 * (1 + 12 - np.exp(12.0)), rtol=1e-6)
    model = zoo.build("vae_tiny", image_size=8, dtype="mixed_float16")
    z = model.reparameterize(z_mean, z_log_var)
    assert z.dtype == "float32" and np.all(np.isfinite(z))
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    assert np.all(np.isfinite(model.negative_elbo(x)))
    assert [t.dtype for t in model.encode(x)] == ["float32", "float32"]


def _layer_dtypes(model):
    """Each layer's policy, compute and variable dtype, in order (names of unnamed layers
    differ between processes)."""
    return [(type(layer).__name__, layer.dtype_policy.name, layer.compute_dtype,
             layer.variable_dtype) for layer in model._flatten_layers()]


@pytest.mark.parametrize("case", MODEL_CASES, ids=case_id)
def test_build_takes_the_dtype_policy_and_keeps_it_in_the_config(case):
    name, task, overrides = case
    model = zoo.build(name, task=task, dtype="mixed_bfloat16", **overrides)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left alone
    assert model.dtype_policy.name == "mixed_bfloat16"
    assert "bfloat16" in {layer.compute_dtype for layer in model._flatten_layers()
                          if layer.weights}
    assert {v.dtype for v in model.weights if "float" in str(v.dtype)} == {"float32"}
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = type(model).from_config(config)
    assert _layer_dtypes(rebuilt) == _layer_dtypes(model)
    # Built under a global policy, as `zoo train` builds, the model keeps that policy.
    keras.config.set_dtype_policy("mixed_float16")
    under_global = build_case(case)
    keras.config.set_dtype_policy("float32")
    assert type(under_global).from_config(under_global.get_config()).dtype_policy.name == (
        "mixed_float16")


def test_build_refuses_an_unknown_dtype_policy():
    with pytest.raises(ValueError, match=r"dtype must be a floating-point Keras dtype policy "
                                         r".*got 'mixed_bfloat'\. Did you mean: 'mixed_bfloat16'"):
        zoo.build("vit_tiny_patch2_8", dtype="mixed_bfloat")
    with pytest.raises(ValueError, match="got 'int32'"):
        zoo.build("vit_tiny_patch2_8", dtype="int32")


@pytest.mark.slow
@pytest.mark.multiprocess
def test_models_saved_under_mixed_precision_reload_so_in_a_fresh_process(tmp_path):
    expected = []
    for i, case in enumerate(MODEL_CASES):
        keras.config.set_dtype_policy("mixed_bfloat16")  # as `zoo train` builds
        model = build_case(case)
        keras.config.set_dtype_policy("float32")
        x = example_inputs(model)
        model.save(tmp_path / f"{i}.keras")
        expected.append({"x": x, "y": as_numpy(model(x, training=False)),
                         "layers": _layer_dtypes(model),
                         "variables": [(v.shape, v.dtype) for v in model.weights]})
    (tmp_path / "expected.pkl").write_bytes(pickle.dumps(expected))
    run_in_fresh_python(f"""
        import pickle, keras, zoo
        folder = {str(tmp_path)!r}
        expected = pickle.load(open(folder + "/expected.pkl", "rb"))
        got = []
        for i, case in enumerate(expected):
            model = zoo.load_model(f"{{folder}}/{{i}}.keras")
            y = model(case["x"], training=False)
            y = ({{k: v.numpy() for k, v in y.items()}} if isinstance(y, dict) else y.numpy())
            got.append({{"y": y,
                        "policy": keras.config.dtype_policy().name,
                        "layers": [(type(l).__name__, l.dtype_policy.name, l.compute_dtype,
                                    l.variable_dtype) for l in model._flatten_layers()],
                        "variables": [(v.shape, v.dtype) for v in model.weights]}})
        pickle.dump(got, open(folder + "/got.pkl", "wb"))
    """)
    got = pickle.loads((tmp_path / "got.pkl").read_bytes())
    for case, want, have in zip(MODEL_CASES, expected, got):
        assert have["policy"] == "float32", "the fresh process keeps its default policy"
        assert have["layers"] == want["layers"], case_id(case)
        assert have["variables"] == want["variables"], case_id(case)
        assert_outputs_equal(have["y"], want["y"])  # bit for bit


def _trained_vit(out, precision):
    recipe = Recipe(entry="t.vit", steps=2, batch_size=8, precision=precision,
                    **TINY["vit"])
    return train(recipe, out=out, **QUIET)["run_dir"]


def _record(path):
    return records.read(path)


@pytest.mark.slow
def test_harness_scores_in_the_trained_precision_and_records_it(tmp_path):
    run_dir = _trained_vit(tmp_path / "run", "mixed_bfloat16")
    x = datasets.load("digits", "test").inputs[:40]
    bf16 = zoo.load_model(run_dir / "model.keras")
    want = np.argmax(bf16.predict(x, verbose=0), -1)
    record, path = runner.run("vit_tiny_patch2_8", "digits", weights=run_dir, limit=40,
                              results_dir=tmp_path / "r", progress=False)
    assert record["evaluation"]["precision"] == "mixed_bfloat16"
    rows = [json.loads(line) for line in records.predictions_path(path, record).read_text()
            .splitlines()]
    np.testing.assert_array_equal([r["prediction"] for r in rows], want)
    # An entry published before configs kept the policy (model.json without `dtype`) runs in
    # the precision its run.json says it trained in, whatever the process's global policy.
    folder = zoo.entries.publish(run_dir, dest_root=tmp_path / "entries")
    config = json.loads((folder / "model.json").read_text())
    assert config["config"].pop("dtype")["config"]["name"] == "mixed_bfloat16"
    (folder / "model.json").write_text(json.dumps(config))
    record, _ = runner.run("vit_tiny_patch2_8", "digits", weights=folder, limit=40,
                           results_dir=tmp_path / "r2", progress=False)
    assert record["evaluation"]["precision"] == "mixed_bfloat16"


def test_published_entries_score_as_published_in_float32_under_any_global_policy(tmp_path):
    """The published entries trained in float32 (their run.json) and were scored so: they
    score the same, bit for bit, in a process whose global policy is mixed."""
    from pathlib import Path

    published = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "digits"
    [want_path] = published.glob("*vit_tiny_patch2_8.digits*.json")
    want = _record(want_path)
    folder = zoo.entries.folder("vit_tiny_patch2_8.digits")
    assert json.loads((folder / "run.json").read_text())["precision"] == "float32"
    keras.config.set_dtype_policy("mixed_bfloat16")
    record, path = runner.run("vit_tiny_patch2_8", "digits", weights=folder,
                              results_dir=tmp_path, progress=False)
    assert record["evaluation"]["precision"] == "float32"
    assert record["main_metric"] == want["main_metric"]
    have_rows, want_rows = ([json.loads(line) for line in
                             records.predictions_path(p, r).read_text().splitlines()]
                            for p, r in ((path, record), (want_path, want)))
    assert [r["prediction"] for r in have_rows] == [r["prediction"] for r in want_rows]
    # Confidences as published, to the float32 rounding of later changes in the order of sums.
    np.testing.assert_allclose([r["confidence"] for r in have_rows],
                               [r["confidence"] for r in want_rows], atol=2e-6, rtol=0)


def _zoo_layers():
    from zoo import layers
    from zoo.models.bert.bert_tasks import Bias
    from zoo.models.vit.vit_classifier import ClassToken

    x = np.random.default_rng(0).random((2, 3, 8)).astype("float32")
    ids = np.array([[1, 2, 3], [4, 5, 0]])
    return {  # class: (constructor arguments, call arguments)
        layers.MultiHeadAttention: ({"num_heads": 2}, (x,)),
        layers.FeedForward: ({"intermediate_dim": 16, "activation": "gelu"}, (x,)),
        layers.TransformerEncoderBlock: ({"num_heads": 2, "intermediate_dim": 16}, (x,)),
        layers.TransformerDecoderBlock: ({"num_heads": 2, "intermediate_dim": 16}, (x, x)),
        layers.PositionEmbedding: ({"max_length": 8}, (x,)),
        layers.SinusoidalPositionEmbedding: ({}, (x,)),
        layers.ReversibleEmbedding: ({"input_dim": 10, "output_dim": 8}, (ids,)),
        layers.LayerNorm: ({}, (x,)),
        ClassToken: ({}, (x,)),
        Bias: ({}, (x,)),
    }


@pytest.mark.parametrize("cls", list(_zoo_layers()), ids=lambda cls: cls.__name__)
def test_every_zoo_layer_keeps_its_dtype_policy(cls):
    arguments, call_arguments = _zoo_layers()[cls]
    layer = cls(**arguments, dtype="mixed_bfloat16")
    layer(*call_arguments)
    # Its sublayers (made in build) compute in its policy too.
    assert {sub.dtype_policy.name for sub in layer._flatten_layers()} == {"mixed_bfloat16"}
    config = json.loads(json.dumps(layer.get_config()))
    assert cls.from_config(config).dtype_policy.name == "mixed_bfloat16"


def test_precision_names_have_one_home_each():
    """Two ideas, one list each: the Keras policies a run trains in (`precision`, with "auto")
    and how an entry or export stores its weights. Recipes, `run.json` and the command line
    take their choices from those lists."""
    import argparse

    from zoo import entries
    from zoo.cli import build_parser
    from zoo.models import dtype_policy
    from zoo.training import precision, recipes

    assert precision.CHOICES == ("auto", *dtype_policy.TRAINING_POLICIES)
    assert set(dtype_policy.TRAINING_POLICIES) < set(dtype_policy.NAMES)
    assert recipes.SCHEMA.fields["precision"].type.choices == precision.CHOICES
    assert [dtype_policy.recorded({"precision": p}) for p in ("auto", *precision.POLICIES)] == [
        None, *precision.POLICIES]
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction)).choices

    def choices(command, option):
        return next(a.choices for a in commands[command]._actions if option in a.option_strings)

    assert tuple(choices("train", "--precision")) == precision.CHOICES
    assert tuple(choices("publish", "--precision")) == entries.STORAGE_PRECISIONS
