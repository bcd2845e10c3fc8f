"""BERT's masked-LM input procedure, in-graph (tensorflow-text), for `tf.data` pipelines."""

import tensorflow as tf
import tensorflow_text as tf_text


def mask_tokens(
    token_ids,
    *,
    vocabulary_size,
    mask_id,
    unselectable_ids,
    max_predictions=20,
    selection_rate=0.15,
    mask_token_rate=0.8,
    random_token_rate=0.1,
):
    """Chooses tokens to predict and corrupts them as BERT does.

    Of the selectable tokens (every id not in `unselectable_ids`, which should
    hold the padding and special tokens), `selection_rate` are selected, at
    most `max_predictions` per sequence. Of those, `mask_token_rate` become
    `mask_id`, `random_token_rate` a random token, and the rest stay as they
    are. Uses tensorflow-text's `mask_language_model`, so it runs in a graph
    (inside `tf.data.Dataset.map` or a `tf.function`).

    Args:
        token_ids: int `[batch, length]` (padded) or a ragged `[batch, None]`.
        vocabulary_size: int. Random replacements are drawn from `[0, vocabulary_size)`.
        mask_id: int. The `[MASK]` token.
        unselectable_ids: list of int. Never selected (padding, `[CLS]`, `[SEP]`, ...).
        max_predictions: int. Width of the returned position/label tensors.

    Returns:
        A dict: `token_ids` (same shape as the input, corrupted),
        `mask_positions`, `mask_ids` (the original tokens) and `mask_weights`
        (1.0 for a real prediction, 0.0 for padding), each `[batch, max_predictions]`.

    Example:

    >>> import tensorflow as tf
    >>> out = mask_tokens(tf.constant([[4, 10, 11, 12, 5, 0]]), vocabulary_size=20,
    ...                   mask_id=6, unselectable_ids=[0, 4, 5], max_predictions=3)
    >>> out["mask_positions"].shape.as_list(), out["mask_weights"].shape.as_list()
    ([1, 3], [1, 3])
    """
    if max_predictions <= 0:
        raise ValueError(f"max_predictions must be positive, got {max_predictions}.")
    ragged_input = isinstance(token_ids, tf.RaggedTensor)
    ids = token_ids if ragged_input else tf.RaggedTensor.from_tensor(token_ids)
    ids = tf.cast(ids, tf.int32)
    selector = tf_text.RandomItemSelector(
        max_selections_per_batch=max_predictions,
        selection_rate=selection_rate,
        unselectable_ids=list(unselectable_ids),
    )
    chooser = tf_text.MaskValuesChooser(
        vocabulary_size, mask_id, mask_token_rate=mask_token_rate,
        random_token_rate=random_token_rate,
    )
    masked, positions, original = tf_text.mask_language_model(ids, selector, chooser)
    if not ragged_input:
        masked = masked.to_tensor(shape=tf.shape(token_ids))
    shape = [None, max_predictions]
    return {
        "token_ids": masked,
        "mask_positions": tf.cast(positions.to_tensor(shape=shape), tf.int32),
        "mask_ids": tf.cast(original.to_tensor(shape=shape), tf.int32),
        "mask_weights": tf.ones_like(positions, tf.float32).to_tensor(shape=shape),
    }
