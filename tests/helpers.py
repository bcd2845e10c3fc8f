"""Shared checks that every model family runs (in the spirit of KerasHub's TestCase)."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np

import zoo

TINY_MODELS = {
    # name: (build kwargs, function making a batch of inputs)
    "transformer_tiny": {"vocabulary_size": 40},
    "bert_tiny": {"vocabulary_size": 60, "max_sequence_length": 32},
    "vit_tiny_patch4_28": {"num_layers": 2},
    "vit_tiny_patch2_8": {"num_layers": 2},
    "vae_tiny": {"image_size": 8},
    "ae_tiny": {"image_size": 8},
}


def example_inputs(model, batch=3, seed=0):
    """A batch of valid inputs for any zoo model, with some padding for text models."""
    rng = np.random.default_rng(seed)
    config = model.get_config()
    if hasattr(model, "generate"):
        vocab = config["vocabulary_size"]
        src = rng.integers(3, vocab, size=(batch, 7)).astype("int32")
        src[0, 5:] = 0
        target_vocab = config["target_vocabulary_size"] or vocab
        tgt = rng.integers(3, target_vocab, size=(batch, 6)).astype("int32")
        tgt[:, 0] = config["start_id"]
        tgt[1, 4:] = 0
        return {"encoder_token_ids": src, "decoder_token_ids": tgt}
    if "num_segments" in config:
        vocab = config["vocabulary_size"]
        ids = rng.integers(7, vocab, size=(batch, 9)).astype("int32")
        ids[:, 0] = 4
        ids[0, 6:] = 0
        x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": (ids > 0).astype("int32")}
        if "mask_positions" in [i.name for i in model.inputs]:
            x["mask_positions"] = np.array([[1, 2]] * batch, "int32")
        return x
    size = config["image_size"]
    h, w = (size, size) if isinstance(size, int) else size
    return rng.random((batch, h, w, config["num_channels"])).astype("float32")


def as_numpy(outputs):
    if isinstance(outputs, dict):
        return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}
    return keras.ops.convert_to_numpy(outputs)


def assert_outputs_equal(a, b, atol=0.0):
    a, b = as_numpy(a), as_numpy(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_allclose(a[key], b[key], atol=atol, rtol=0, err_msg=key)
    else:
        np.testing.assert_allclose(a, b, atol=atol, rtol=0)


def run_in_fresh_python(code, timeout=300):
    """Runs `code` in a new interpreter (no state shared with the test process)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def config_round_trip(model):
    """`from_config(json(get_config()))` rebuilds the same configuration."""
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = type(model).from_config(config)
    assert rebuilt.get_config() == model.get_config()
    assert rebuilt.count_params() == model.count_params()
    return rebuilt


def build_tiny(name, **extra):
    return zoo.build(name, **{**TINY_MODELS.get(name, {}), **extra})


# (name, task, build overrides): one case per model class in the zoo.
MODEL_CASES = [
    ("transformer_tiny", None, {"vocabulary_size": 40}),
    ("transformer_tiny", None, {"vocabulary_size": 40, "position_embedding": "learned",
                                "share_embeddings": False, "tie_output_embeddings": False,
                                "target_vocabulary_size": 30, "normalize_first": False}),
    ("bert_tiny", None, {"vocabulary_size": 60, "max_sequence_length": 32}),
    ("bert_tiny", "masked_lm", {"vocabulary_size": 60, "max_sequence_length": 32}),
    ("bert_tiny", "classifier", {"vocabulary_size": 60, "max_sequence_length": 32, "num_classes": 3}),
    ("vit_tiny_patch4_28", None, {"num_layers": 2}),
    ("vit_tiny_patch4_28", None, {"num_layers": 1, "pooling": "gap", "num_classes": 0}),
    ("vae_tiny", None, {"image_size": 8}),
    ("vae_tiny", None, {"image_size": 8, "likelihood": "gaussian"}),
    ("ae_tiny", None, {"image_size": 8}),
]


def case_id(case):
    name, task, overrides = case
    return "-".join([name, task or "default"] + [f"{k}={v}" for k, v in overrides.items() if k not in ("vocabulary_size", "max_sequence_length")])


def build_case(case):
    name, task, overrides = case
    return zoo.build(name, task=task, **overrides)


def training_batch(model, batch=8, seed=0):
    """`(x, y, loss)` to train `model` for a step; y and loss are None for models with their own loss."""
    x = example_inputs(model, batch=batch, seed=seed)
    sce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    if hasattr(model, "generate"):
        y = np.roll(x["decoder_token_ids"], -1, axis=1)
        y[:, -1] = model.end_id
        return x, y, sce
    if "mask_positions" in x:
        y = np.take_along_axis(x["token_ids"], x["mask_positions"], axis=1)
        return x, y, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if "num_classes" in model.get_config() and model.get_config()["num_classes"]:
        y = np.arange(batch) % model.get_config()["num_classes"]
        return x, y, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if hasattr(model, "reconstruction_nats"):
        return x, None, None
    return None  # feature extractors and backbones have no loss of their own
