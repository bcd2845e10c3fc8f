"""Keras' own features still work on zoo models: int8 quantization, LoRA, dtype policies.

zoo's attention and feed-forward layers project with their Dense layers' weights on a fast
path (zoo/layers/projection.py); these tests pin that any Dense the fast path cannot stand for
(quantized, with LoRA) is called as Keras calls it, and that plain models keep the fast path.
"""

import contextlib
import gc
import math
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import example_inputs
from keras import ops

import zoo
from zoo.layers import FeedForward, MultiHeadAttention, projection

# The trained entries: their logits have the ranges a user sees (a random model's are tiny).
ENTRIES = {"vit": "vit_tiny_patch2_8.digits", "bert_classifier": "bert_mini.sst2",
           "transformer": "transformer_small.spa-eng"}
TINY = {"vit": ("vit_tiny_patch2_8", {"num_layers": 2}),
        "bert_classifier": ("bert_tiny", {"task": "classifier", "vocabulary_size": 60,
                                          "max_sequence_length": 32, "num_classes": 3}),
        "transformer": ("transformer_tiny", {"vocabulary_size": 40}),
        "gpt": ("gpt_tiny", {"num_layers": 1})}
FAMILIES = sorted(ENTRIES)  # with a trained entry (int8 is measured on trained logits)
TINY_FAMILIES = sorted(TINY)


def _logits(model, x):
    return np.asarray(ops.convert_to_numpy(model(x)), "float32")


def _dense_layers(model):
    """Every Dense inside `model`, the ones inside zoo's attention and feed-forward included."""
    return [layer for layer in model._flatten_layers() if type(layer) is keras.layers.Dense]


def _projected(model):
    """The Dense layers zoo's attention and feed-forward layers project with."""
    return [dense for layer in model._flatten_layers()
            if isinstance(layer, MultiHeadAttention | FeedForward)
            for dense in layer._flatten_layers(include_self=False)
            if type(dense) is keras.layers.Dense]


@contextlib.contextmanager
def _quantizing():
    """Keras runs gc.collect() for each layer it quantizes: over a test process's heap, a
    second or more each. Frozen, the heap built so far is not walked again."""
    gc.freeze()
    try:
        with warnings.catch_warnings():  # zoo's LayerNorm and embeddings are not quantizable
            warnings.simplefilter("ignore")
            yield
    finally:
        gc.unfreeze()


def _quantize(model):
    with _quantizing():
        model.quantize("int8")
    assert all(d.quantization_mode == "int8" for d in _dense_layers(model))


def _with_lora(model, rank=2):
    for dense in _dense_layers(model):
        dense.enable_lora(rank)
    return model


# --- int8 quantization --------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_int8_quantized_logits_stay_close_to_float_and_equal_keras_dense_path(family):
    """Tolerance: 3% of the largest float logit. int8 (symmetric, one scale per output unit for
    the kernel and per row for the inputs) rounds each factor of a matmul to within half a step,
    1/254 of its largest magnitude (0.4%); summed over a dozen matmuls in sequence, partly
    cancelling, the published ViT, BERT and Transformer move by 1.4%, 1.4% and 1.6% here.
    Reading the int8 kernel as if it were float moved them by 50-130% (up to 15 logits)."""
    model = zoo.entries.load(ENTRIES[family])
    x = example_inputs(model, batch=8)
    before = _logits(model, x)
    _quantize(model)
    after = _logits(model, x)
    with projection.keras_path():
        reference = _logits(model, x)
    np.testing.assert_allclose(after, reference, rtol=0, atol=1e-5)
    assert np.abs(after - before).max() <= 0.03 * np.abs(before).max()


def test_int8_under_mixed_bfloat16_stays_close_to_bfloat16_logits():
    """The published ViT built under mixed_bfloat16, then quantized: within 5% of its bfloat16
    logits (int8's 3%, see above, plus bfloat16's own 8-bit mantissa: 0.4% per rounding)."""
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = zoo.entries.load(ENTRIES["vit"])
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.get_layer("encoder_block_0").compute_dtype == "bfloat16"
    x = example_inputs(model, batch=8)
    before = _logits(model, x)
    _quantize(model)
    after = _logits(model, x)
    with projection.keras_path():
        reference = _logits(model, x)
    np.testing.assert_allclose(after, reference, rtol=0, atol=1e-5)
    assert np.abs(after - before).max() <= 0.05 * np.abs(before).max()


def test_quantized_attention_and_feed_forward_equal_their_dense_layers_called_by_keras():
    """The reference spelled out with Keras' own Dense calls (not zoo's projection)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 16)).astype("float32")
    ffn = FeedForward(32, activation="gelu")
    attention = MultiHeadAttention(num_heads=4)
    ffn(x), attention(x)
    with _quantizing():
        for dense in (ffn.inner, ffn.outer, attention.query_dense, attention.key_dense,
                      attention.value_dense, attention.output_dense):
            dense.quantize("int8")
    np.testing.assert_allclose(ffn(x), ffn.outer(ffn.inner(x)), rtol=0, atol=1e-5)

    def heads(dense):
        return np.reshape(dense(x), (2, 5, 4, 4))

    q = heads(attention.query_dense) / math.sqrt(4)
    scores = np.einsum("bqnh,bknh->bnqk", q, heads(attention.key_dense))
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    merged = np.einsum("bnqk,bknh->bqnh", probs, heads(attention.value_dense))
    expected = attention.output_dense(np.reshape(merged, (2, 5, 16)))
    np.testing.assert_allclose(attention(x), expected, rtol=0, atol=1e-5)


# --- LoRA ---------------------------------------------------------------------------------------
# On a float Dense, Keras' `kernel` already holds the LoRA update (W + alpha/rank * A @ B); on an
# int8 one (QLoRA-style: a frozen int8 model, a float update), only Keras' call adds it.

LORA_CASES = [pytest.param((family, quantized), id=f"{family}-{'int8' if quantized else 'float'}")
              for family in TINY_FAMILIES for quantized in (False, True)]


def _tiny(family, dtype=None, quantized=False):
    name, kwargs = TINY[family]
    model = zoo.build(name, dtype=dtype, **kwargs)
    x = example_inputs(model, batch=4)
    model(x)
    if quantized:
        _quantize(model)
    return model, x


@pytest.mark.parametrize("case", LORA_CASES)
def test_lora_weights_change_the_outputs_of_attention_and_feed_forward(case):
    """Non-zero LoRA weights in zoo's attention and feed-forward layers change the logits as in
    Keras' path; int8 with LoRA stays within 5% of float with the same LoRA weights (int8's 3%,
    see above, on a random model's smaller logits)."""
    family, quantized = case
    model, x = _tiny(family)
    floats = zoo.build(TINY[family][0], **TINY[family][1]) if quantized else None
    if quantized:
        floats(x)
        floats.set_weights(model.get_weights())
        _quantize(model)
    before = _logits(model, x)
    _with_lora(model)
    np.testing.assert_allclose(_logits(model, x), before, rtol=0, atol=1e-5)  # B starts at 0
    rng = np.random.default_rng(0)
    for dense in _projected(model):  # not the head: zoo's own layers must pass LoRA on
        dense.lora_kernel_b.assign(rng.normal(0, 0.2, dense.lora_kernel_b.shape))
    after = _logits(model, x)
    assert np.abs(after - before).max() > 1e-3
    with projection.keras_path():
        np.testing.assert_allclose(after, _logits(model, x), rtol=0, atol=1e-5)
    if quantized:
        _with_lora(floats)
        for dense, source in zip(_projected(floats), _projected(model)):
            dense.lora_kernel_a.assign(source.lora_kernel_a)
            dense.lora_kernel_b.assign(source.lora_kernel_b)
        expected = _logits(floats, x)
        assert np.abs(after - expected).max() <= 0.05 * np.abs(expected).max()


@pytest.mark.parametrize("case", LORA_CASES)
def test_training_with_lora_updates_only_the_lora_weights(case):
    family, quantized = case
    model, x = _tiny(family, quantized=quantized)
    before = _logits(model, x)
    _with_lora(model)
    for variable in model.weights:  # LoRA fine-tuning: the pretrained weights stay frozen
        variable.trainable = "/lora_kernel_" in variable.path
    frozen = {v.path: np.array(v) for v in model.weights if not v.trainable}
    lora = {v.path: np.array(v) for v in model.trainable_weights}
    assert len(lora) == 2 * len(_dense_layers(model))
    optimizer = keras.optimizers.SGD(0.5)
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = ops.mean(ops.square(model(x, training=True) - 1.0))
        grads = tape.gradient(loss, model.trainable_weights)
        assert all(g is not None for g in grads), [
            v.path for v, g in zip(model.trainable_weights, grads) if g is None]
        optimizer.apply(grads, model.trainable_weights)
    for v in model.weights:
        if v.path in frozen:
            np.testing.assert_array_equal(np.array(v), frozen[v.path], err_msg=v.path)
    moved = [v.path for v in model.trainable_weights if not np.array_equal(v, lora[v.path])]
    assert len(moved) == len(lora)  # A moves once B is no longer zero: the second step
    after = _logits(model, x)
    assert np.abs(after - before).max() > 1e-4
    with projection.keras_path():
        np.testing.assert_allclose(after, _logits(model, x), rtol=0, atol=1e-5)


# --- dtype policies ------------------------------------------------------------------------------


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_mixed_bfloat16_models_keep_the_fast_path_and_keras_features(family):
    """A plain mixed_bfloat16 model projects on the fast path (its speed), in bfloat16, as
    Keras' Dense would (to bfloat16's rounding: 2% of the largest logit, its 8-bit mantissa over
    a few layers); with LoRA it takes Keras' path and the update counts."""
    model, x = _tiny(family, dtype="mixed_bfloat16")
    dense = _projected(model)
    assert dense and all(d.compute_dtype == "bfloat16" for d in dense)
    assert all(projection.is_plain(d, "bfloat16") for d in dense)
    before = _logits(model, x)
    with projection.keras_path():
        reference = _logits(model, x)
    assert np.abs(before - reference).max() <= 0.02 * np.abs(reference).max()
    _with_lora(model)
    assert not any(projection.is_plain(d, "bfloat16") for d in dense)
    for d in dense:
        d.lora_kernel_b.assign(np.full(d.lora_kernel_b.shape, 0.2, "float32"))
    assert all(d.lora_kernel_b.dtype == "float32" for d in dense)  # the policy's variables
    after = _logits(model, x)
    assert np.abs(after - before).max() > 1e-2
    with projection.keras_path():
        np.testing.assert_allclose(after, _logits(model, x), rtol=0, atol=1e-6)
