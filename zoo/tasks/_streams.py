"""The training batches every task kind shares: an endless, deterministic `tf.data` pipeline.

Epoch `e` visits the examples in the order `stateless_shuffle(range(n), seed=[seed, e])`, so
the batch at any step is a pure function of the seed and the step: a run resumed at step `s`
sees exactly the batches an uninterrupted run would have seen from `s` on (`lengths`: batches
of examples of similar length, just as reproducibly: `length_batched_stream`). A kind's
`transform(idx, positions, seed)` turns a batch of example indices into `(x, y, sample_weight)`;
its random ops (binarization, augmentation, masking) are stateless ops seeded by the seed and
`positions[0]`, the batch's position in training, so they are functions of (seed, step) too.

TensorFlow is imported inside the functions: `import zoo.tasks` stays light.
"""

from __future__ import annotations

import numpy as np

_EPOCHS = 1 << 40  # endless: the loop stops at its step budget
# `lengths` batching sorts pools of this many batches by length before cutting them into
# batches: batches of like lengths, still drawn from a random stretch of the epoch.
POOL_BATCHES = 64


def index_stream(n: int, batch_size: int, seed, start_step: int):
    """`(indices, positions)` batches over endless seeded epochs, from `start_step` on;
    `positions` counts examples from the start of training (epoch * n + rank in the epoch)."""
    import tensorflow as tf

    consumed = start_step * batch_size
    first_epoch, offset = divmod(consumed, n)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices((order, e * n + tf.range(n, dtype=tf.int64)))

    indices = tf.data.Dataset.range(first_epoch, _EPOCHS).flat_map(epoch).skip(offset)
    return indices.batch(batch_size, drop_remainder=True)


def length_batched_stream(lengths, batch_size: int, seed, start_step: int):
    """`(indices, positions)` batches of examples of similar `lengths` (translation pairs:
    the longer side in word pieces). Epoch `e` shuffles the examples with `[seed, e]`, drops
    the `n % batch_size` left over (different ones each epoch), sorts each pool of
    `POOL_BATCHES` batches by length, cuts it into batches and visits the epoch's batches in
    an order shuffled with `[seed + 5, e]`. Every batch holds `batch_size` examples, so a step
    is a step as with random batches; padding shrinks to about the batch's own length."""
    import tensorflow as tf

    n = int(lengths.shape[0])
    per_epoch = n // batch_size
    used = per_epoch * batch_size
    first_epoch, skip = divmod(start_step, per_epoch)
    lengths = tf.constant(lengths, tf.int64)
    pool_of = tf.range(used, dtype=tf.int64) // (POOL_BATCHES * batch_size)
    ranks = tf.reshape(tf.range(used, dtype=tf.int64), [per_epoch, batch_size])

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), e]))[:used]
        key = pool_of * (tf.reduce_max(lengths) + 1) + tf.gather(lengths, order)
        batches = tf.reshape(tf.gather(order, tf.argsort(key, stable=True)),
                             [per_epoch, batch_size])
        visit = tf.random.experimental.stateless_shuffle(
            tf.range(per_epoch), seed=tf.stack([tf.cast(seed, tf.int64) + 5, e]))
        return tf.data.Dataset.from_tensor_slices(
            (tf.gather(batches, visit), e * n + tf.gather(ranks, visit)))

    return tf.data.Dataset.range(first_epoch, _EPOCHS).flat_map(epoch).skip(skip)


def batches(n: int, batch_size: int, seed, start_step: int, transform, *, lengths=None,
            per_worker_order: bool = False):
    """The endless pipeline of `transform(idx, positions, seed)` over `n` examples' batches
    of `batch_size` indices (int64 `[batch]`), from `start_step` on, with `seed` an int64
    scalar tensor.

    `lengths` (int `[n]`): batches of similar lengths (`length_batched_stream`) instead of
    random ones. `per_worker_order=True` (parameter-server training, where every worker runs
    the pipeline for itself) adds a per-process random offset to the seed, so that workers
    read different batches; such a run's batches are then not a function of the seed alone.

    Raises:
        ValueError: fewer than `batch_size` examples.
    """
    import tensorflow as tf

    if n < batch_size:
        raise ValueError(f"The training set has {n} examples, fewer than one batch of "
                         f"{batch_size}; lower batch_size.")
    seed = _seed(seed, per_worker_order)
    if lengths is not None:
        stream = length_batched_stream(lengths, batch_size, seed, start_step)
    else:
        stream = index_stream(n, batch_size, seed, start_step)
    return _finished(stream.map(lambda idx, positions: transform(idx, positions, seed),
                                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))


def by_step(seed, start_step: int, transform, *, per_worker_order: bool = False):
    """The endless pipeline of `transform(step, seed)` for the steps `start_step`,
    `start_step + 1`, ... (int64 scalars; `seed` as in `batches`): for a kind that draws each
    batch itself from the step (language modelling's windows of a token stream), so that the
    batch at any step is a pure function of the seed and the step. `per_worker_order` as in
    `batches`."""
    import tensorflow as tf

    seed = _seed(seed, per_worker_order)
    steps = tf.data.Dataset.range(start_step, _EPOCHS)
    return _finished(steps.map(lambda step: transform(step, seed),
                               num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))


def _seed(seed, per_worker_order: bool):
    """The pipeline's seed as an int64 scalar tensor; with `per_worker_order` (see
    `batches`), plus a per-process random offset."""
    import tensorflow as tf

    seed = tf.constant(seed, tf.int64)
    if per_worker_order:
        seed = seed + tf.cast(tf.math.floormod(tf.timestamp() * 1e6, 2.0 ** 40), tf.int64)
    return seed


def _finished(data):
    """`data` deterministic, sharded by data under a distribution strategy, prefetched."""
    import tensorflow as tf

    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.with_options(options).prefetch(tf.data.AUTOTUNE)


def ones(idx):
    """Sample weights of one for a batch of indices: float32 `[batch]`."""
    import tensorflow as tf

    return tf.ones(tf.shape(idx), tf.float32)


def class_indices(examples):
    """The examples' int32 targets as a constant (zeros when there are none: a corpus)."""
    import tensorflow as tf

    targets = examples.targets if examples.targets is not None else np.zeros(len(examples))
    return tf.constant(np.asarray(targets, "int32"))


def need_tokenizer(tokenizer, kind: str):
    """Raises ValueError when a tokenized kind's pipeline has no tokenizer."""
    if tokenizer is None:
        raise ValueError(f"A {kind} pipeline needs a tokenizer.")
