"""BERT's masked-LM input procedure, in-graph and stateless, for `tf.data` pipelines.

Every draw is a stateless random op seeded by the caller's `seed`, so the same ids and seed
always give the same masks: a training run seeds each batch with (run seed, batch position)
and a run resumed from a checkpoint masks its batches exactly as the uninterrupted run did.
"""

import tensorflow as tf


def _seed(seed):
    """`seed` as an int64 `[2]` tensor, or a ValueError saying what it must be."""
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank != 1 or seed.shape[0] not in (2, None):
        raise ValueError(
            f"seed must be two integers, e.g. (run seed, batch position), got shape {seed.shape}.")
    return seed


def mask_tokens(
    token_ids,
    *,
    vocabulary_size,
    mask_id,
    unselectable_ids,
    seed,
    max_predictions=20,
    selection_rate=0.15,
    mask_token_rate=0.8,
    random_token_rate=0.1,
):
    """Chooses tokens to predict and corrupts them as BERT does.

    Of the selectable tokens of each sequence (every id not in `unselectable_ids`, which should
    hold the padding and special tokens), `ceil(selection_rate * count)` are selected uniformly
    at random, at most `max_predictions`. Of those, `mask_token_rate` become `mask_id`,
    `random_token_rate` a random token from `[0, vocabulary_size)`, and the rest stay as they
    are (the procedure of tensorflow-text's `mask_language_model`). Runs in a graph (inside
    `tf.data.Dataset.map` or a `tf.function`) with stateless random ops only: the result is a
    function of `token_ids` and `seed`.

    Args:
        token_ids: int `[batch, length]` (padded) or a ragged `[batch, None]`.
        vocabulary_size: int. Random replacements are drawn from `[0, vocabulary_size)`.
        mask_id: int. The `[MASK]` token.
        unselectable_ids: list of int. Never selected (padding, `[CLS]`, `[SEP]`, ...).
        seed: two ints or an int `[2]` tensor, e.g. `(run seed, position of the batch in
            training)`: a new seed for each batch gives new masks.
        max_predictions: int. Width of the returned position/label tensors.

    Returns:
        A dict: `token_ids` (int32, same shape as the input, corrupted), `mask_positions`
        (ascending; 0 where there is no prediction), `mask_ids` (the original tokens) and
        `mask_weights` (1.0 for a real prediction, 0.0 for padding), each
        `[batch, max_predictions]`.

    Raises:
        ValueError: `max_predictions` is not positive, the rates are outside [0, 1] or add up
            to more than 1, or `seed` is not two integers.

    Example:

    >>> import tensorflow as tf
    >>> out = mask_tokens(tf.constant([[4, 10, 11, 12, 5, 0]]), vocabulary_size=20,
    ...                   mask_id=6, unselectable_ids=[0, 4, 5], max_predictions=3, seed=(0, 0))
    >>> out["mask_positions"].shape.as_list(), out["mask_weights"].numpy().tolist()
    ([1, 3], [[1.0, 0.0, 0.0]])
    """
    if max_predictions <= 0:
        raise ValueError(f"max_predictions must be positive, got {max_predictions}.")
    rates = {"selection_rate": selection_rate, "mask_token_rate": mask_token_rate,
             "random_token_rate": random_token_rate}
    for name, rate in rates.items():
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {rate}.")
    if mask_token_rate + random_token_rate > 1.0:
        raise ValueError(f"mask_token_rate + random_token_rate must be <= 1, got "
                         f"{mask_token_rate} + {random_token_rate}.")
    select_seed, kind_seed, token_seed = tf.unstack(
        tf.random.experimental.stateless_split(_seed(seed), num=3))
    ragged_input = isinstance(token_ids, tf.RaggedTensor)
    if ragged_input:
        ids = tf.cast(token_ids.to_tensor(), tf.int32)
        inside = tf.sequence_mask(token_ids.row_lengths(), tf.shape(ids)[1])
    else:
        ids = tf.cast(token_ids, tf.int32)
        inside = tf.ones_like(ids, tf.bool)
    unselectable = tf.constant(list(unselectable_ids), tf.int32)
    special = tf.reduce_any(ids[..., None] == unselectable, axis=-1)
    selectable = inside & ~special
    count = tf.reduce_sum(tf.cast(selectable, tf.float32), axis=1)
    chosen = tf.cast(tf.minimum(tf.math.ceil(count * selection_rate), max_predictions), tf.int32)

    # The `chosen` selectable positions with the smallest random scores, in ascending order;
    # `length` marks an empty slot until the end.
    batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
    width = tf.minimum(max_predictions, length)
    scores = tf.random.stateless_uniform(tf.shape(ids), seed=select_seed)
    _, lowest = tf.math.top_k(tf.where(selectable, -scores, -2.0), k=width)
    real = tf.range(width)[None, :] < chosen[:, None]
    positions = tf.sort(tf.where(real, lowest, length), axis=1)
    positions = tf.pad(positions, [[0, 0], [0, max_predictions - width]], constant_values=length)
    weights = positions < length
    positions = tf.where(weights, positions, 0)
    original = tf.where(weights, tf.gather(ids, positions, batch_dims=1), 0)

    kind = tf.random.stateless_uniform([batch, max_predictions], seed=kind_seed)
    random_tokens = tf.random.stateless_uniform(
        [batch, max_predictions], seed=token_seed, minval=0, maxval=vocabulary_size,
        dtype=tf.int32)
    values = tf.where(kind < mask_token_rate, mask_id,
                      tf.where(kind < mask_token_rate + random_token_rate, random_tokens, original))
    where = tf.where(weights)  # [predictions, 2]: (row, slot)
    rows = tf.cast(where[:, 0], tf.int32)
    masked = tf.tensor_scatter_nd_update(
        ids, tf.stack([rows, tf.gather_nd(positions, where)], axis=1), tf.gather_nd(values, where))
    if ragged_input:
        masked = tf.RaggedTensor.from_tensor(masked, lengths=token_ids.row_lengths())
    return {
        "token_ids": masked,
        "mask_positions": positions,
        "mask_ids": original,
        "mask_weights": tf.cast(weights, tf.float32),
    }
