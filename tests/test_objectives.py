"""Training objectives: the label-smoothed cross-entropy is the textbook one."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.training import objectives


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_smoothed_cross_entropy_matches_keras_in_value_and_gradient(smoothing):
    rng = np.random.default_rng(0)
    logits = tf.Variable(rng.normal(size=(4, 7, 50)).astype("float32") * 3)
    labels = rng.integers(0, 50, (4, 7))
    reference = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=smoothing, reduction=None)
    with tf.GradientTape(persistent=True) as tape:
        ours = objectives._smoothed_cross_entropy(tf.constant(labels), logits, smoothing)
        theirs = reference(tf.one_hot(labels, 50), logits)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tape.gradient(ours, logits).numpy(),
                               tape.gradient(theirs, logits).numpy(), rtol=1e-4, atol=1e-6)
