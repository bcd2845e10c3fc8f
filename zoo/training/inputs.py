"""Task preprocessing: a recipe's examples as an endless, deterministic `tf.data` pipeline.

The pipeline yields `(x, y, sample_weight)` global batches. Epoch `e` visits the examples in
the order `stateless_shuffle(range(n), seed=[seed, e])`, so the batch at any step is a pure
function of the seed and the step: a run resumed at step `s` sees exactly the batches an
uninterrupted run would have seen from `s` on (with `batching = "by_length"`, translation
batches hold pairs of similar length, just as reproducibly: `_length_batched_stream`). Text
batches are padded to their longest sequence (rounded up to a multiple of 8), not to
`max_length`. Stochastic binarization, augmentation and BERT's masking are stateless random
ops seeded by the seed and the batch's position in that order too, so they are functions of
(seed, step) as well. (Dropout and other noise drawn inside the model are seeded per step by
the training loop: `zoo.training.loop`.)

>>> import numpy as np
>>> from zoo.datasets import Examples
>>> from zoo.training import inputs
>>> examples = Examples(np.zeros((10, 8, 8, 1), "float32"), np.arange(10) % 3)
>>> data = inputs.pipeline("image_classification", examples, batch_size=4, seed=0, start_step=0)
>>> x, y, w = next(iter(data))
>>> tuple(x.shape), tuple(y.shape), tuple(w.shape)
((4, 8, 8, 1), (4,), (4,))
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from zoo.text import features
from zoo.training.recipes import BATCHINGS

_EPOCHS = 1 << 40  # endless: the loop stops at its step budget


def _index_stream(n: int, batch_size: int, seed: int, start_step: int):
    """`(indices, positions)` batches over endless seeded epochs, from `start_step` on;
    `positions` counts examples from the start of training (epoch * n + rank in the epoch)."""
    consumed = start_step * batch_size
    first_epoch, offset = divmod(consumed, n)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices((order, e * n + tf.range(n, dtype=tf.int64)))

    indices = tf.data.Dataset.range(first_epoch, _EPOCHS).flat_map(epoch).skip(offset)
    return indices.batch(batch_size, drop_remainder=True)


# `batching = "by_length"` sorts pools of this many batches by length before cutting them into
# batches: batches of like lengths, still drawn from a random stretch of the epoch.
POOL_BATCHES = 64


def _length_batched_stream(lengths, batch_size: int, seed, start_step: int):
    """`(indices, positions)` batches of examples of similar `lengths` (translation pairs:
    the longer side in word pieces). Epoch `e` shuffles the examples with `[seed, e]`, drops
    the `n % batch_size` left over (different ones each epoch), sorts each pool of
    `POOL_BATCHES` batches by length, cuts it into batches and visits the epoch's batches in
    an order shuffled with `[seed + 5, e]`. Every batch holds `batch_size` examples, so a step
    is a step as with random batches; padding shrinks to about the batch's own length."""
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


def translation_lengths(tokenizer, sources, targets, chunk: int = 8192):
    """The longer side of each pair in word pieces (what `batching = "by_length"` sorts on)."""
    out = []
    for start in range(0, len(sources), chunk):
        a = tokenizer.tokenize(tf.constant(sources[start:start + chunk])).row_lengths()
        b = tokenizer.tokenize(tf.constant(targets[start:start + chunk])).row_lengths()
        out.append(tf.maximum(a, b).numpy())
    return np.concatenate(out) if out else np.zeros(0, "int64")


def _binarize(images, seed, positions):
    noise = tf.random.stateless_uniform(tf.shape(images), seed=tf.stack([seed + 1, positions[0]]))
    return tf.cast(noise < images, images.dtype)


def _shift(images, seed, positions, max_shift):
    """Moves each image by a random whole number of pixels in [-max_shift, max_shift] along
    each axis (zero fill), seeded by the batch's position in training."""
    n = tf.shape(images)[0]
    offsets = tf.random.stateless_uniform([n, 2], seed=tf.stack([seed + 2, positions[0]]),
                                          minval=-max_shift, maxval=max_shift + 1, dtype=tf.int32)
    offsets = tf.cast(offsets, tf.float32)
    ones, zeros = tf.ones([n], tf.float32), tf.zeros([n], tf.float32)
    transforms = tf.stack([ones, zeros, offsets[:, 0], zeros, ones, offsets[:, 1], zeros, zeros],
                          axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="NEAREST", fill_mode="CONSTANT")


def _flip(images, seed, positions):
    """Mirrors each image left to right with probability 1/2, seeded by the batch's position
    in training."""
    coin = tf.random.stateless_uniform(tf.shape(images)[:1],
                                       seed=tf.stack([seed + 3, positions[0]]))
    return tf.where((coin < 0.5)[:, None, None, None], tf.reverse(images, axis=[2]), images)


def pipeline(task, examples, batch_size, seed, start_step, tokenizer=None, max_length=128,
             max_predictions=20, binarize=None, augment=None, raw_text=False,
             per_worker_order=False, batching="random"):
    """The training pipeline for `task` over `examples` (a `zoo.datasets.Examples`).

    Yields `(x, y, sample_weight)`; the weights are ones except for masked-LM. For image
    classification `augment` joins with "+" any of: "shift", which moves each training image
    by up to 2 pixels along each axis, and "flip", which mirrors half of them left to right.
    `raw_text=True` yields the strings themselves (models with their own preprocessor, such as
    `zoo.hub.HubTextClassifier`).
    `batching="by_length"` (translation) draws batches of pairs of similar length (see
    `_length_batched_stream`) instead of random ones, which are mostly padding when lengths vary.
    `per_worker_order=True` (parameter-server training, where every worker runs this pipeline
    for itself) adds a per-process random offset to the seed, so that workers read different
    batches; such a run's batches are then not a function of the seed alone.
    """
    n = len(examples)
    if n < batch_size:
        raise ValueError(f"The training set has {n} examples, fewer than one batch of "
                         f"{batch_size}; lower batch_size.")
    seed = tf.constant(seed, tf.int64)
    if per_worker_order:
        seed = seed + tf.cast(tf.math.floormod(tf.timestamp() * 1e6, 2.0 ** 40), tf.int64)
    if batching not in BATCHINGS:
        raise ValueError(f"batching must be one of {', '.join(BATCHINGS)}, got {batching!r}.")
    if batching == "by_length" and task != "translation":
        raise ValueError(f"batching='by_length' is for translation, not {task}.")

    if task in ("image_classification", "image_generation"):
        images = tf.constant(np.asarray(examples.inputs, "float32"))
        labels = tf.constant(np.asarray(examples.targets if examples.targets is not None
                                        else np.zeros(n), "int32"))

        def transform(idx, positions):
            x = tf.gather(images, idx)
            ones = tf.ones(tf.shape(idx), tf.float32)
            if task == "image_generation":
                if binarize == "stochastic":
                    x = _binarize(x, seed, positions)
                return x, x, ones
            kinds = augment.split("+") if augment else []
            if "flip" in kinds:
                x = _flip(x, seed, positions)
            if "shift" in kinds:
                x = _shift(x, seed, positions, 2)
            return x, tf.gather(labels, idx), ones

    elif task == "text_classification" and raw_text:
        texts = tf.constant(list(examples.inputs))
        labels = tf.constant(np.asarray(examples.targets, "int32"))

        def transform(idx, positions):
            return (tf.gather(texts, idx), tf.gather(labels, idx),
                    tf.ones(tf.shape(idx), tf.float32))

    elif task in ("text_classification", "masked_lm"):
        if tokenizer is None:
            raise ValueError(f"A {task} pipeline needs a tokenizer.")
        texts = tf.constant(list(examples.inputs))
        labels = tf.constant(np.asarray(examples.targets if examples.targets is not None
                                        else np.zeros(n), "int32"))

        def transform(idx, positions):
            x = features.bert_inputs(tokenizer, tf.gather(texts, idx), max_length,
                                     pad_to_multiple=8)
            if task == "text_classification":
                return x, tf.gather(labels, idx), tf.ones(tf.shape(idx), tf.float32)
            from zoo.models.bert.masking import mask_tokens

            masked = mask_tokens(
                x["token_ids"], vocabulary_size=tokenizer.vocabulary_size,
                mask_id=tokenizer.mask_id, max_predictions=max_predictions,
                unselectable_ids=[tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id],
                seed=tf.stack([seed + 4, positions[0]]))
            x = dict(x, token_ids=masked["token_ids"], mask_positions=masked["mask_positions"])
            return x, masked["mask_ids"], tf.cast(masked["mask_weights"], tf.float32)

    elif task == "translation":
        if tokenizer is None:
            raise ValueError("A translation pipeline needs a tokenizer.")
        sources, targets = tf.constant(list(examples.inputs)), tf.constant(list(examples.targets))

        def transform(idx, positions):
            x, y = features.seq2seq_inputs(tokenizer, tf.gather(sources, idx),
                                           tf.gather(targets, idx), max_length, pad_to_multiple=8)
            return x, y, tf.ones(tf.shape(idx), tf.float32)

    else:
        raise ValueError(f"No training pipeline for task '{task}'.")

    if batching == "by_length":
        lengths = translation_lengths(tokenizer, list(examples.inputs), list(examples.targets))
        stream = _length_batched_stream(lengths, batch_size, seed, start_step)
    else:
        stream = _index_stream(n, batch_size, seed, start_step)
    data = stream.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.with_options(options).prefetch(tf.data.AUTOTUNE)
