"""Token ids as the tokenizers' `detokenize` takes them: one shape check for every kind."""

from __future__ import annotations

import tensorflow as tf


def id_rows(ids, dtype=tf.int32) -> tuple[tf.RaggedTensor, bool]:
    """`ids` as a ragged `[batch, None]` tensor of `dtype`, and whether it was one sequence.

    Args:
        ids: `[batch, length]` or `[length]`: a tensor, a ragged tensor, or nested lists (rows
            of different lengths allowed).

    Raises:
        ValueError: ids of another rank, naming it.

    >>> rows, single = id_rows([[5, 6], [7]])
    >>> rows.to_list(), single
    ([[5, 6], [7]], False)
    >>> id_rows([5, 6])[0].to_list(), id_rows([5, 6])[1]
    ([[5, 6]], True)
    """
    if not isinstance(ids, tf.Tensor | tf.RaggedTensor):
        try:
            ids = tf.convert_to_tensor(ids)
        except (ValueError, TypeError):  # rows of different lengths
            ids = tf.ragged.constant(ids, dtype=tf.int32)
    rank = ids.shape.rank
    if rank not in (1, 2):
        raise ValueError(
            f"detokenize takes ids of shape [batch, length] or [length], got rank {rank}.")
    single = rank == 1
    if single:
        ids = ids[tf.newaxis]
    if not isinstance(ids, tf.RaggedTensor):
        ids = tf.RaggedTensor.from_tensor(ids)
    return tf.cast(ids, dtype), single
