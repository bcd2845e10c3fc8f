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


def bert_inputs(tokenizer, texts, max_length: int) -> dict:
    """`[CLS] text [SEP]`, truncated and padded to `max_length`, as the BERT models take them."""
    ids = tf.cast(tokenizer.tokenize(tf.convert_to_tensor(texts))[:, : max_length - 2], tf.int32)
    n = ids.nrows()
    ids = tf.concat([tf.fill([n, 1], tokenizer.cls_id), ids, tf.fill([n, 1], tokenizer.sep_id)], 1)
    ids = ids.to_tensor(shape=[None, max_length])
    return {"token_ids": ids, "segment_ids": tf.zeros_like(ids),
            "padding_mask": tf.cast(ids != tokenizer.pad_id, tf.int32)}


def sequence_ids(tokenizer, texts, max_length: int | None, add_start: bool = False,
                 add_end: bool = True):
    """Token ids with `[START]` before and/or `[END]` after, padded (to `max_length` if given)."""
    ids = tf.cast(tokenizer.tokenize(tf.convert_to_tensor(texts)), tf.int32)
    keep = None if max_length is None else max_length - int(add_start) - int(add_end)
    if keep is not None:
        ids = ids[:, :keep]
    n = ids.nrows()
    parts = ([tf.fill([n, 1], tokenizer.start_id)] if add_start else []) + [ids] + (
        [tf.fill([n, 1], tokenizer.end_id)] if add_end else [])
    ids = tf.concat(parts, axis=1)
    return ids.to_tensor(shape=None if max_length is None else [None, max_length])


def seq2seq_inputs(tokenizer, sources, targets, max_length: int):
    """Teacher forcing: `({encoder_token_ids, decoder_token_ids}, target ids)`.

    The encoder reads `source [END]`; the decoder reads `[START] target` and predicts
    `target [END]`; all padded to `max_length`.
    """
    x = {
        "encoder_token_ids": sequence_ids(tokenizer, sources, max_length),
        "decoder_token_ids": sequence_ids(tokenizer, targets, max_length, add_start=True,
                                          add_end=False),
    }
    return x, sequence_ids(tokenizer, targets, max_length)
