"""Training losses (`zoo.tasks._losses`): the label-smoothed cross-entropy is the textbook one."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.tasks import _losses as objectives


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_smoothed_cross_entropy_matches_keras_in_value_and_gradient(smoothing):
    rng = np.random.default_rng(0)
    logits = tf.Variable(rng.normal(size=(4, 7, 50)).astype("float32") * 3)
    labels = rng.integers(0, 50, (4, 7))
    reference = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=smoothing, reduction=None)
    with tf.GradientTape(persistent=True) as tape:
        ours = objectives.sparse_cross_entropy(tf.constant(labels), logits, smoothing)
        theirs = reference(tf.one_hot(labels, 50), logits)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tape.gradient(ours, logits).numpy(),
                               tape.gradient(theirs, logits).numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_stays_exact_where_the_softmax_underflows(smoothing):
    """A label with probability below float32's range (loss ~ 200 nats) takes the exact path:
    the value and gradient are TensorFlow's, in a tf.function as eagerly, for bfloat16 logits
    too."""
    logits = np.zeros((3, 5), "float32")
    logits[0, 1] = 200.0  # label 0 has probability e^-200
    logits[1] = [1.0, 2.0, 3.0, 4.0, 5.0]
    labels = tf.constant([0, 3, 2])
    reference = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=smoothing, reduction=None)
    for dtype in ("float32", "bfloat16"):
        z = tf.Variable(tf.cast(logits, dtype))
        with tf.GradientTape(persistent=True) as tape:
            ours = tf.function(objectives.sparse_cross_entropy)(labels, z, smoothing)
            theirs = reference(tf.one_hot(labels, 5), tf.cast(z, "float32"))
        assert ours.dtype == tf.float32
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)
        assert ours.numpy()[0] > 190
        np.testing.assert_allclose(tf.cast(tape.gradient(ours, z), "float32").numpy(),
                                   tf.cast(tape.gradient(theirs, z), "float32").numpy(),
                                   atol=1e-2 if dtype == "bfloat16" else 1e-6)
