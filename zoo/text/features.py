"""Token ids as the models take them, from raw strings, in-graph (usable in `tf.data.map`).

One implementation shared by training, the harness and the quickstart.

>>> import tensorflow as tf
>>> from zoo.text import WordPieceTokenizer, features
>>> tokenizer = WordPieceTokenizer.train(["the cat sat", "the dog ran"] * 5, vocabulary_size=40)
>>> x = features.bert_inputs(tokenizer, tf.constant(["the cat"]), 6)
>>> x["token_ids"].numpy().tolist()[0][0] == tokenizer.cls_id, int(x["padding_mask"].numpy().sum())
(True, 4)
"""

from __future__ import annotations

import tensorflow as tf


def _pad(ids, max_length, pad_to_multiple):
    """Pads a ragged batch to `max_length`, or (with `pad_to_multiple`) only to its longest row
    rounded up to that multiple, which saves the compute spent on padding in training."""
    if not pad_to_multiple or max_length is None:
        return ids.to_tensor(shape=None if max_length is None else [None, max_length])
    longest = tf.cast(tf.reduce_max(ids.row_lengths()), tf.int32)
    length = tf.minimum(max_length, -(-longest // pad_to_multiple) * pad_to_multiple)
    dense = ids.to_tensor()
    return tf.pad(dense, [[0, 0], [0, length - tf.shape(dense)[1]]])


def bert_inputs(tokenizer, texts, max_length: int, pad_to_multiple: int | None = None) -> dict:
    """`[CLS] text [SEP]`, truncated and padded to `max_length` (or, with `pad_to_multiple`,
    to the batch's longest row rounded up), as the BERT models take them.

    `padding_mask` is 1 on each row's real tokens (its length before padding) and 0 on the
    padding, as Transformers' `attention_mask`: a "[PAD]" written in the text is a token
    the model attends to, though its id is the padding id."""
    ids = tf.cast(tokenizer.tokenize(tf.convert_to_tensor(texts))[:, : max_length - 2], tf.int32)
    n = ids.nrows()
    ids = tf.concat([tf.fill([n, 1], tokenizer.cls_id), ids, tf.fill([n, 1], tokenizer.sep_id)], 1)
    lengths = ids.row_lengths()
    ids = _pad(ids, max_length, pad_to_multiple)
    mask = tf.sequence_mask(lengths, tf.shape(ids)[1], dtype=tf.int32)
    return {"token_ids": ids, "segment_ids": tf.zeros_like(ids), "padding_mask": mask}


def sequence_ids(tokenizer, texts, max_length: int | None, add_start: bool = False,
                 add_end: bool = True, pad_to_multiple: int | None = None):
    """Token ids with `[START]` before and/or `[END]` after, padded (to `max_length` if given,
    or with `pad_to_multiple` to the batch's longest row rounded up)."""
    ids = tf.cast(tokenizer.tokenize(tf.convert_to_tensor(texts)), tf.int32)
    keep = None if max_length is None else max_length - int(add_start) - int(add_end)
    if keep is not None:
        ids = ids[:, :keep]
    n = ids.nrows()
    parts = ([tf.fill([n, 1], tokenizer.start_id)] if add_start else []) + [ids] + (
        [tf.fill([n, 1], tokenizer.end_id)] if add_end else [])
    return _pad(tf.concat(parts, axis=1), max_length, pad_to_multiple)


def seq2seq_inputs(tokenizer, sources, targets, max_length: int,
                   pad_to_multiple: int | None = None):
    """Teacher forcing: `({encoder_token_ids, decoder_token_ids}, target ids)`.

    The encoder reads `source [END]`; the decoder reads `[START] target` and predicts
    `target [END]`; all padded to `max_length`.
    """
    pad = {"pad_to_multiple": pad_to_multiple}
    x = {
        "encoder_token_ids": sequence_ids(tokenizer, sources, max_length, **pad),
        "decoder_token_ids": sequence_ids(tokenizer, targets, max_length, add_start=True,
                                          add_end=False, **pad),
    }
    return x, sequence_ids(tokenizer, targets, max_length, **pad)
