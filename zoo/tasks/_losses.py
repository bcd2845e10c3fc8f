"""Per-example losses the task kinds' objectives share, written once for every strategy.

An objective maps `(model, x, y, sample_weight, training)` to `(loss, logs)`: `loss` is one
value per example ([batch]); `logs` holds other per-example values to average (accuracy, the
VAE's reconstruction and KL terms). The training loop averages over the *global* batch
(`tf.nn.compute_average_loss`), so the loss is right for any number of replicas.

>>> import numpy as np, zoo
>>> from zoo.tasks import _losses
>>> model = zoo.build("vit_tiny_patch2_8")
>>> loss, logs = _losses.classification(
...     model, np.zeros((2, 8, 8, 1), "float32"), np.array([1, 2]), np.ones(2, "float32"))
>>> tuple(loss.shape), sorted(logs)
((2,), ['accuracy'])

TensorFlow is imported inside the functions: `import zoo.tasks` stays light.
"""

from __future__ import annotations

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
    import tensorflow as tf

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
    import tensorflow as tf

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


def correct(labels, logits):
    """1.0 where the largest logit is at the label, else 0.0 (float32, one per label)."""
    import tensorflow as tf

    return tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                            tf.cast(labels, tf.int32)), tf.float32)


def token_mean(values, weights):
    """The weighted mean of `values` `[batch, tokens]` over each row's tokens: `[batch]`."""
    import tensorflow as tf

    return tf.reduce_sum(values * weights, -1) / tf.maximum(tf.reduce_sum(weights, -1), 1.0)


def classification(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    """Cross-entropy of each example's logits against its class, and its accuracy."""
    import tensorflow as tf

    logits = model(x, training=training)
    y = tf.cast(y, tf.int32)
    return sparse_cross_entropy(y, logits, label_smoothing), {"accuracy": correct(y, logits)}


def per_token(model, x, y, weights, training=True, label_smoothing=0.0):
    """Mean cross-entropy and accuracy over each sequence's tokens, weighted by `weights`
    (a function of the int32 targets `[batch, tokens]` -> float32 `[batch, tokens]`: which
    tokens count)."""
    import tensorflow as tf

    logits = model(x, training=training)
    y = tf.cast(y, tf.int32)
    weights = weights(y)
    loss = sparse_cross_entropy(y, logits, label_smoothing)
    return token_mean(loss, weights), {"accuracy": token_mean(correct(y, logits), weights)}
