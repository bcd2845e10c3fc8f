import numpy as np
import pytest
from keras import ops

from zoo.layers import (
    CausalSelfAttentionBlock,
    FeedForward,
    MultiHeadAttention,
    SinusoidalPositionEmbedding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)


def test_cached_attention_equals_full_causal_attention():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 16)).astype("float32")
    layer = MultiHeadAttention(num_heads=4)
    causal = np.tril(np.ones((5, 5), bool))[None]
    full = ops.convert_to_numpy(layer(x, attention_mask=causal))
    cache = np.zeros((2, 2, 5, 4, 4), "float32")
    steps = []
    for t in range(5):
        mask = (np.arange(5) <= t)[None, None, :]
        out, cache = layer(x[:, t : t + 1], attention_mask=mask, cache=cache, cache_update_index=t)
        steps.append(ops.convert_to_numpy(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_padding_never_changes_real_positions(normalize_first):
    rng = np.random.default_rng(1)
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=32, normalize_first=normalize_first)
    real = rng.normal(size=(1, 4, 8)).astype("float32")
    padded = np.concatenate([real, rng.normal(size=(1, 3, 8)).astype("float32") * 100], axis=1)
    mask = np.array([[1, 1, 1, 1, 0, 0, 0]])
    a = ops.convert_to_numpy(block(real))
    b = ops.convert_to_numpy(block(padded, padding_mask=mask))
    np.testing.assert_allclose(b[:, :4], a, atol=1e-5)


def test_decoder_block_is_causal():
    rng = np.random.default_rng(2)
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    enc = rng.normal(size=(1, 6, 8)).astype("float32")
    x = rng.normal(size=(1, 5, 8)).astype("float32")
    y = x.copy()
    y[:, 3:] = rng.normal(size=(1, 2, 8))
    a, b = (ops.convert_to_numpy(block(v, enc)) for v in (x, y))
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-6)
    assert not np.allclose(a[:, 3:], b[:, 3:])


def test_sinusoidal_encoding_matches_the_paper_formula():
    dim, length = 8, 6
    table = ops.convert_to_numpy(SinusoidalPositionEmbedding().positions(length, dim))
    pos = np.arange(length)[:, None]
    i = np.arange(dim // 2)[None, :]
    angle = pos / 10000 ** (2 * i / dim)
    np.testing.assert_allclose(table[:, 0::2], np.sin(angle), atol=1e-5)
    np.testing.assert_allclose(table[:, 1::2], np.cos(angle), atol=1e-5)
    shifted = ops.convert_to_numpy(SinusoidalPositionEmbedding().positions(2, dim, start_index=3))
    np.testing.assert_allclose(shifted, table[3:5], atol=1e-5)


def test_blocks_are_shared_by_all_transformer_families():
    import zoo

    def block_types(model):
        return {type(layer) for layer in _walk(model)}

    expected = {TransformerEncoderBlock}
    assert expected <= block_types(zoo.build("bert_tiny", vocabulary_size=50))
    assert expected <= block_types(zoo.build("vit_tiny_patch2_8"))
    types = block_types(zoo.build("transformer_tiny", vocabulary_size=50))
    assert {TransformerEncoderBlock, TransformerDecoderBlock} <= types
    gpt = block_types(zoo.build("gpt_tiny"))
    assert {CausalSelfAttentionBlock, MultiHeadAttention, FeedForward} <= gpt


@pytest.mark.parametrize("normalize_first", [False, True])
def test_causal_block_is_causal_and_its_cache_gives_the_same_outputs(normalize_first):
    """Position t reads positions <= t (and no padded one); a prompt written into the cache at
    once, then one position at a time, gives the outputs of the whole sequence."""
    rng = np.random.default_rng(5)
    block = CausalSelfAttentionBlock(num_heads=2, intermediate_dim=32,
                                     normalize_first=normalize_first)
    x = rng.normal(size=(2, 6, 8)).astype("float32")
    full = ops.convert_to_numpy(block(x))
    changed = x.copy()
    changed[:, 4:] = rng.normal(size=(2, 2, 8))
    after = ops.convert_to_numpy(block(changed))
    np.testing.assert_allclose(after[:, :4], full[:, :4], atol=1e-6)
    assert not np.allclose(after[:, 4:], full[:, 4:])
    cache = np.zeros((2, 2, 6, 2, 4), "float32")
    first, cache = block(x[:, :3], self_attention_cache=cache, cache_update_index=0)
    steps = [ops.convert_to_numpy(first)]
    for t in range(3, 6):
        out, cache = block(x[:, t:t + 1], self_attention_cache=cache, cache_update_index=t)
        steps.append(ops.convert_to_numpy(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
    # Left padding: garbage at padded positions changes nothing after them.
    mask = np.array([[False, False, True, True, True, True]] * 2)
    noisy = x.copy()
    noisy[:, :2] *= 100
    a = ops.convert_to_numpy(block(x, padding_mask=mask))
    b = ops.convert_to_numpy(block(noisy, padding_mask=mask))
    np.testing.assert_allclose(a[:, 2:], b[:, 2:], atol=1e-5)
    np.testing.assert_allclose(a[:, 2:], ops.convert_to_numpy(block(x[:, 2:])), atol=1e-5)


def test_feed_forward_with_the_tanh_gelu_equals_keras_dense_layers():
    """"gelu_approximate" (no Keras name): the same on zoo's fast path and on Keras' path."""
    import keras

    from zoo.layers import projection

    x = np.random.default_rng(6).normal(size=(2, 3, 8)).astype("float32")
    ffn = FeedForward(16, activation="gelu_approximate")
    fast = ops.convert_to_numpy(ffn(x))
    expected = ffn.outer(keras.activations.gelu(ffn.inner(x), approximate=True))
    np.testing.assert_allclose(fast, ops.convert_to_numpy(expected), atol=1e-5)
    with projection.keras_path():
        np.testing.assert_allclose(ops.convert_to_numpy(ffn(x)), fast, atol=1e-6)


def _walk(layer):
    yield layer
    for sub in getattr(layer, "_layers", []):
        yield from _walk(sub)


def _norm_and_grads(layer, x, upstream):
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, "float32") * upstream)
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [ops.convert_to_numpy(ops.cast(t, "float32")) for t in (y, *grads)]


@pytest.mark.parametrize("shape", [(3, 5, 16), (4, 8)])
def test_layer_norm_values_and_gradients_equal_keras(shape):
    """The closed-form backward pass gives what Keras' autodiff gives, for x, gamma and beta."""
    import keras

    from zoo.layers import LayerNorm

    rng = np.random.default_rng(3)
    x = (rng.normal(size=shape) * 3 + 1).astype("float32")
    upstream = rng.normal(size=shape).astype("float32")
    ours, theirs = LayerNorm(epsilon=1e-5), keras.layers.LayerNormalization(epsilon=1e-5)
    for layer in (ours, theirs):
        layer.build(shape)
    gamma, beta = rng.normal(size=shape[-1:]), rng.normal(size=shape[-1:])
    for layer in (ours, theirs):
        layer.set_weights([gamma, beta])
    for a, b in zip(_norm_and_grads(ours, x, upstream), _norm_and_grads(theirs, x, upstream)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_layer_norm_under_mixed_precision_and_its_fallbacks():
    import keras

    from zoo.layers import LayerNorm

    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 8)).astype("float32")
    upstream = rng.normal(size=(2, 3, 8)).astype("float32")
    ours = LayerNorm(dtype="mixed_bfloat16")
    theirs = keras.layers.LayerNormalization(dtype="mixed_bfloat16")
    a, b = _norm_and_grads(ours, x, upstream), _norm_and_grads(theirs, x, upstream)
    assert ops.convert_to_numpy(ours(x)).dtype.name == "bfloat16"
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=2e-2, atol=2e-2)
    # Not the last axis alone, or no beta: Keras' own computation.
    for kwargs in ({"axis": [1, 2]}, {"center": False}):
        ours, theirs = LayerNorm(**kwargs), keras.layers.LayerNormalization(**kwargs)
        np.testing.assert_allclose(ops.convert_to_numpy(ours(x)),
                                   ops.convert_to_numpy(theirs(x)), atol=1e-6)


@pytest.mark.parametrize("approximate", [False, True], ids=["exact", "tanh"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_gelu_values_and_gradient_equal_keras(dtype, approximate):
    import keras
    import tensorflow as tf

    from zoo.layers.activations import gelu, gelu_approximate

    x = tf.cast(tf.linspace(-6.0, 6.0, 241), dtype)
    results = []
    ours = gelu_approximate if approximate else gelu
    for fn in (ours, lambda t: keras.activations.gelu(t, approximate=approximate)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        grad = tape.gradient(y, x)
        assert y.dtype == x.dtype and grad.dtype == x.dtype
        results.append([ops.convert_to_numpy(ops.cast(t, "float32")) for t in (y, grad)])
    # The tanh form's gradient: ours and Keras' are each within 4e-6 of float64's, not of
    # each other's to 1e-6.
    tolerance = (1e-5 if approximate else 1e-6) if dtype == "float32" else 2e-2
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_first_tokens_only_equal_the_whole_blocks_first_tokens(normalize_first):
    """`query_tokens=n` gives the first n positions of the whole block's output, gradients
    included, and still reads every (unpadded) position."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=32,
                                    normalize_first=normalize_first)
    x = tf.constant(rng.normal(size=(2, 6, 8)).astype("float32"))
    mask = np.array([[1] * 6, [1, 1, 1, 1, 0, 0]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        whole = block(x, padding_mask=mask)[:, :2]
        first = block(x, padding_mask=mask, query_tokens=2)
        whole_sum, first_sum = tf.reduce_sum(whole ** 2), tf.reduce_sum(first ** 2)
    assert tuple(first.shape) == (2, 2, 8)
    np.testing.assert_allclose(first, whole, atol=1e-5)
    for a, b in zip(tape.gradient(first_sum, [x, *block.trainable_weights]),
                    tape.gradient(whole_sum, [x, *block.trainable_weights])):
        np.testing.assert_allclose(a, b, atol=1e-4)
    changed = x.numpy().copy()
    changed[:, 3] += rng.normal(size=8)  # a later position: the first tokens attend to it
    assert not np.allclose(block(changed, padding_mask=mask, query_tokens=2), first)
