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

# Below this probability, -log(p) from the softmax loses precision (float32 subnormals): a
# batch holding such a label takes TensorFlow's log-softmax cross-entropy instead.
_SMALLEST_PROBABILITY = 1e-30


def _cross_entropy_terms(labels, logits):
    """`(CE, logsumexp)` of each row of float32 `logits` `[n, classes]` against int `labels`
    `[n]`, from one softmax: CE = -log p[label], logsumexp = CE + logits[label]; the gradient
    is `p * (dCE + dlogsumexp)` less `dCE` at the label, also from that softmax.

    Why not `tf.nn.sparse_softmax_cross_entropy_with_logits`: on CPU it makes several passes
    over the logits; over Transformer-tiny's 8,000-way output (1,024 tokens) its forward and
    backward took 28-32 ms against 12-14 ms for this (same loss, gradients within 2e-12)."""
    rows = tf.range(tf.shape(labels)[0])
    at_label = tf.stack([rows, labels], axis=1)

    @tf.custom_gradient
    def terms(z):
        p = tf.nn.softmax(z)
        p_label = tf.gather_nd(p, at_label)
        z_label = tf.gather_nd(z, at_label)

        def from_softmax():
            return -tf.math.log(p_label)

        def exact():
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z)

        ce = tf.cond(tf.reduce_all(p_label >= _SMALLEST_PROBABILITY), from_softmax, exact)

        def grad(d_ce, d_lse):
            return tf.tensor_scatter_nd_sub(p * (d_ce + d_lse)[:, None], at_label, d_ce)

        return (ce, ce + z_label), grad

    return terms(logits)


def sparse_cross_entropy(labels, logits, label_smoothing=0.0):
    """Cross-entropy of `logits` `[..., classes]` (cast to float32) against int `labels`
    `[...]`, one value per label; with `label_smoothing` e, against `(1 - e) * one_hot(labels)
    + e / classes`, computed as `(1 - e) * CE(labels) + e * (logsumexp(z) - mean(z))` without
    building the `[..., classes]` targets.

    >>> import numpy as np
    >>> z = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]], "float32")
    >>> np.round(sparse_cross_entropy(np.array([0, 2]), z).numpy(), 4)
    array([0.1698, 1.0986], dtype=float32)
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.int32)
    shape = tf.shape(labels)
    classes = tf.shape(logits)[-1]
    ce, lse = _cross_entropy_terms(tf.reshape(labels, [-1]), tf.reshape(logits, [-1, classes]))
    ce = tf.reshape(ce, shape)
    if not label_smoothing:
        return ce
    uniform = tf.reshape(lse, shape) - tf.reduce_mean(logits, -1)
    return (1.0 - label_smoothing) * ce + label_smoothing * uniform


def _correct(labels, logits):
    return tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                            tf.cast(labels, tf.int32)), tf.float32)


def classification(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    logits = model(x, training=training)
    y = tf.cast(y, tf.int32)
    return sparse_cross_entropy(y, logits, label_smoothing), {"accuracy": _correct(y, logits)}


def _token_mean(values, weights):
    return tf.reduce_sum(values * weights, -1) / tf.maximum(tf.reduce_sum(weights, -1), 1.0)


def masked_lm(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    """Mean cross-entropy over each sequence's masked tokens (weights mark real predictions)."""
    logits = model(x, training=training)
    y = tf.cast(y, tf.int32)
    weights = tf.cast(sample_weight, tf.float32)
    per_token = sparse_cross_entropy(y, logits, label_smoothing)
    return _token_mean(per_token, weights), {"accuracy": _token_mean(_correct(y, logits), weights)}


def translation(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    """Teacher-forced mean cross-entropy over each target's real tokens (not padding)."""
    logits = model(x, training=training)
    y = tf.cast(y, tf.int32)
    weights = tf.cast(tf.not_equal(y, model.pad_id), tf.float32)
    per_token = sparse_cross_entropy(y, logits, label_smoothing)
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
