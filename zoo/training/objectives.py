"""Per-example training losses, one per task, written once for every strategy.

An objective maps `(model, x, y, sample_weight, training)` to `(loss, logs)`: `loss` is one
value per example ([batch]); `logs` holds other per-example values to average (accuracy, the
VAE's reconstruction and KL terms). The loop averages over the *global* batch
(`tf.nn.compute_average_loss`), so the loss is right for any number of replicas.

>>> import numpy as np, zoo
>>> from zoo.training import objectives
>>> model = zoo.build("vit_tiny_patch2_8")
>>> loss, logs = objectives.get("image_classification")(
...     model, np.zeros((2, 8, 8, 1), "float32"), np.array([1, 2]), np.ones(2, "float32"))
>>> tuple(loss.shape), sorted(logs)
((2,), ['accuracy'])
"""

from __future__ import annotations

import tensorflow as tf


def _smoothed_cross_entropy(labels, logits, label_smoothing):
    """Cross-entropy against `(1 - e) * one_hot(labels) + e / classes`, without building the
    `[..., classes]` targets: it equals `(1 - e) * CE(labels) + e * (logsumexp(z) - mean(z))`,
    which is cheaper over a large vocabulary."""
    logits = tf.cast(logits, tf.float32)
    sparse = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    if not label_smoothing:
        return sparse
    uniform = tf.reduce_logsumexp(logits, -1) - tf.reduce_mean(logits, -1)
    return (1.0 - label_smoothing) * sparse + label_smoothing * uniform


def _correct(labels, logits):
    return tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                            tf.cast(labels, tf.int32)), tf.float32)


def classification(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    logits = model(x, training=training)
    y = tf.cast(y, tf.int32)
    return _smoothed_cross_entropy(y, logits, label_smoothing), {"accuracy": _correct(y, logits)}


def _token_mean(values, weights):
    return tf.reduce_sum(values * weights, -1) / tf.maximum(tf.reduce_sum(weights, -1), 1.0)


def masked_lm(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    """Mean cross-entropy over each sequence's masked tokens (weights mark real predictions)."""
    logits = model(x, training=training)
    y = tf.cast(y, tf.int32)
    weights = tf.cast(sample_weight, tf.float32)
    per_token = _smoothed_cross_entropy(y, logits, label_smoothing)
    return _token_mean(per_token, weights), {"accuracy": _token_mean(_correct(y, logits), weights)}


def translation(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    """Teacher-forced mean cross-entropy over each target's real tokens (not padding)."""
    logits = model(x, training=training)
    y = tf.cast(y, tf.int32)
    weights = tf.cast(tf.not_equal(y, model.pad_id), tf.float32)
    per_token = _smoothed_cross_entropy(y, logits, label_smoothing)
    return _token_mean(per_token, weights), {"accuracy": _token_mean(_correct(y, logits), weights)}


def image_generation(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    """Negative ELBO per image (nats): reconstruction + KL; the autoencoder has no KL."""
    from zoo.models.vae.vae import kl_divergence

    outputs = model(x, training=training)
    reconstruction = model.reconstruction_nats(x, outputs["reconstruction_logits"])
    logs = {"reconstruction": reconstruction}
    loss = reconstruction
    if "z_log_var" in outputs:
        kl = kl_divergence(outputs["z_mean"], outputs["z_log_var"])
        logs["kl"] = kl
        loss = loss + kl
    return loss, logs


OBJECTIVES = {
    "image_classification": classification,
    "text_classification": classification,
    "masked_lm": masked_lm,
    "translation": translation,
    "image_generation": image_generation,
}


def get(task: str):
    return OBJECTIVES[task]
