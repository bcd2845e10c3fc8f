"""Transformer encoder and decoder blocks, shared by the Transformer, BERT, ViT and GPT.

Every block supports post-LN (the original Transformer and BERT) and pre-LN
(`normalize_first=True`, as in ViT, GPT-2 and most modern seq2seq models).
"""

import keras
from keras import ops

from zoo.layers.attention import MultiHeadAttention
from zoo.layers.feed_forward import FeedForward
from zoo.layers.normalization import LayerNorm


def padding_to_attention_mask(padding_mask, query_length=None):
    """`[batch, k_len]` padding mask -> `[batch, 1 or q_len, k_len]` attention mask."""
    mask = ops.expand_dims(ops.cast(padding_mask, "bool"), axis=1)
    return mask


def causal_attention_mask(query_length, key_length=None, offset=0):
    """`[1, q_len, k_len]` mask: query `i` (at absolute position `offset + i`) sees keys `<= offset + i`."""
    key_length = query_length if key_length is None else key_length
    rows = ops.arange(query_length)[:, None] + offset
    cols = ops.arange(key_length)[None, :]
    return ops.expand_dims(rows >= cols, axis=0)


class _Block(keras.layers.Layer):
    """Shared argument handling of the two blocks."""

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-5,
        normalize_first=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg, value in (("num_heads", num_heads), ("intermediate_dim", intermediate_dim)):
            if int(value) <= 0:
                raise ValueError(f"{arg} must be positive, got {value}.")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        self.num_heads = int(num_heads)
        self.intermediate_dim = int(intermediate_dim)
        self.dropout = float(dropout)
        self.activation = activation
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.normalize_first = bool(normalize_first)

    def _norm(self, name):
        return LayerNorm(
            epsilon=self.layer_norm_epsilon, name=name, dtype=self.dtype_policy
        )

    def _attention_sublayer(self, name, query_shape, value_shape=None):
        """`(MultiHeadAttention named name, its LayerNorm named name + "_norm")`, built."""
        attention = MultiHeadAttention(
            self.num_heads, dropout=self.dropout, name=name, dtype=self.dtype_policy
        )
        attention.build(query_shape, value_shape)
        norm = self._norm(f"{name}_norm")
        norm.build(query_shape)
        return attention, norm

    def _feed_forward_sublayer(self, input_shape):
        """`(FeedForward "feed_forward", its LayerNorm "feed_forward_norm")`, built; also
        builds the blocks' residual dropout."""
        feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            dropout=self.dropout,
            name="feed_forward",
            dtype=self.dtype_policy,
        )
        feed_forward.build(input_shape)
        norm = self._norm("feed_forward_norm")
        norm.build(input_shape)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        return feed_forward, norm

    def _residual(self, x, sublayer_fn, norm, training, first=None):
        """`x + f(norm(x))` (pre-LN) or `norm(x + f(x))` (post-LN), with dropout on f. With
        `first`, at the first `first` positions only: f reads every position and returns
        those, and the residual is `x[:, :first]`."""
        kept = x if first is None else x[:, :first]
        if self.normalize_first:
            return kept + self.dropout_layer(sublayer_fn(norm(x)), training=training)
        return norm(kept + self.dropout_layer(sublayer_fn(x), training=training))

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "activation": self.activation,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "normalize_first": self.normalize_first,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class TransformerEncoderBlock(_Block):
    """Self-attention and feed-forward, each with a residual and a layer norm.

    Args:
        num_heads: int. Attention heads; must divide the input width.
        intermediate_dim: int. Feed-forward width.
        dropout: float. Dropout on attention probabilities and sublayer outputs.
        activation: str. Feed-forward activation.
        layer_norm_epsilon: float.
        normalize_first: bool. Pre-LN when True, post-LN when False.

    Call arguments:
        x: `[batch, length, dim]`.
        padding_mask: bool `[batch, length]`, True at real tokens.
        query_tokens: int or None. Compute the outputs of the first `query_tokens`
            positions only (their attention still reads every position): a classifier that
            reads the first token of the last block then skips the other positions' query
            and output projections and feed-forward network, with the same result.

    Example:

    >>> import numpy as np
    >>> block = TransformerEncoderBlock(num_heads=2, intermediate_dim=16)
    >>> x = np.random.default_rng(0).normal(size=(1, 4, 8)).astype("float32")
    >>> tuple(block(x).shape), tuple(block(x, query_tokens=1).shape)
    ((1, 4, 8), (1, 1, 8))
    >>> np.allclose(block(x)[:, :1], block(x, query_tokens=1), atol=1e-5)
    True
    """

    def build(self, x_shape):
        input_shape = x_shape
        self.attention, self.attention_norm = self._attention_sublayer("self_attention",
                                                                       input_shape)
        self.feed_forward, self.feed_forward_norm = self._feed_forward_sublayer(input_shape)

    def call(self, x, padding_mask=None, training=None, query_tokens=None):
        mask = None if padding_mask is None else padding_to_attention_mask(padding_mask)
        n = None if query_tokens is None else int(query_tokens)

        def attend(h):  # the first n positions' queries (all without n) over every position
            return self.attention(h if n is None else h[:, :n], h, attention_mask=mask,
                                  training=training)

        x = self._residual(x, attend, self.attention_norm, training, first=n)
        return self._residual(
            x,
            lambda h: self.feed_forward(h, training=training),
            self.feed_forward_norm,
            training,
        )

    def compute_output_spec(self, x, padding_mask=None, training=None, query_tokens=None):
        shape = tuple(x.shape)
        if query_tokens is not None:
            shape = (shape[0], int(query_tokens), *shape[2:])
        return keras.KerasTensor(shape, dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="zoo")
class TransformerDecoderBlock(_Block):
    """Causal self-attention, cross-attention over the encoder, and feed-forward.

    Arguments are those of `TransformerEncoderBlock`.

    Call arguments:
        x: `[batch, length, dim]` decoder states.
        encoder_outputs: `[batch, src_length, dim]`.
        decoder_padding_mask: bool `[batch, length]`.
        encoder_padding_mask: bool `[batch, src_length]`.
        self_attention_cache: `[batch, 2, max_len, heads, head_dim]`; with
            `cache_update_index`, `x` holds the tokens at that position and the
            call returns `(x, updated_cache)`.
        cross_attention_cache: precomputed encoder keys and values
            (`block.cross_attention.project_key_value(encoder_outputs)`).

    Example:

    >>> import numpy as np
    >>> block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    >>> tuple(block(np.zeros((1, 4, 8), "float32"), np.zeros((1, 5, 8), "float32")).shape)
    (1, 4, 8)
    """

    def build(self, x_shape, encoder_outputs_shape=None):
        input_shape = x_shape
        encoder_shape = encoder_outputs_shape or x_shape
        self.self_attention, self.self_attention_norm = self._attention_sublayer(
            "self_attention", input_shape)
        self.cross_attention, self.cross_attention_norm = self._attention_sublayer(
            "cross_attention", input_shape, encoder_shape)
        self.feed_forward, self.feed_forward_norm = self._feed_forward_sublayer(input_shape)

    def call(
        self,
        x,
        encoder_outputs=None,
        decoder_padding_mask=None,
        encoder_padding_mask=None,
        self_attention_cache=None,
        cache_update_index=None,
        cross_attention_cache=None,
        training=None,
    ):
        length = ops.shape(x)[1]
        if self_attention_cache is not None:
            # Incremental decoding: queries at `cache_update_index`, keys over the cache.
            max_len = ops.shape(self_attention_cache)[2]
            self_mask = causal_attention_mask(length, max_len, offset=cache_update_index)
        else:
            self_mask = causal_attention_mask(length)
            if decoder_padding_mask is not None:
                self_mask = ops.logical_and(
                    self_mask, padding_to_attention_mask(decoder_padding_mask)
                )
        cross_mask = None
        if encoder_padding_mask is not None:
            cross_mask = padding_to_attention_mask(encoder_padding_mask)

        new_cache = []

        def self_attend(h):
            if self_attention_cache is None:
                return self.self_attention(h, attention_mask=self_mask, training=training)
            out, cache = self.self_attention(
                h,
                attention_mask=self_mask,
                cache=self_attention_cache,
                cache_update_index=cache_update_index,
                training=training,
            )
            new_cache.append(cache)
            return out

        def cross_attend(h):
            return self.cross_attention(
                h,
                encoder_outputs,
                attention_mask=cross_mask,
                cache=cross_attention_cache,
                training=training,
            )

        x = self._residual(x, self_attend, self.self_attention_norm, training)
        x = self._residual(x, cross_attend, self.cross_attention_norm, training)
        x = self._residual(
            x, lambda h: self.feed_forward(h, training=training), self.feed_forward_norm, training
        )
        if self_attention_cache is not None:
            return x, new_cache[0]
        return x


@keras.saving.register_keras_serializable(package="zoo")
class CausalSelfAttentionBlock(_Block):
    """GPT's block: causal self-attention and feed-forward, each with a residual and a layer
    norm (pre-LN with `normalize_first=True`, as GPT-2); no cross-attention.

    Arguments are those of `TransformerEncoderBlock`.

    Call arguments:
        x: `[batch, length, dim]`.
        padding_mask: bool `[batch, key_length]`, False at padding (left padding of a prompt
            batch): no position attends to a padded one. `key_length` is `length`, or the
            cache's `max_len` with a cache.
        self_attention_cache: `[batch, 2, max_len, heads, head_dim]`. With
            `cache_update_index`, `x` holds the tokens at positions `cache_update_index ...
            cache_update_index + length - 1`; their keys and values are written into the cache
            there, they attend to every cached position up to their own, and the call returns
            `(x, updated_cache)`.
        cache_update_index: int or scalar int tensor.
        attention_mask: bool `[batch or 1, length, key_length]`, True where a position may
            attend: given, it replaces the causal and padding mask the block would build (a
            model builds it once for all its blocks).

    Example:

    >>> import numpy as np
    >>> block = CausalSelfAttentionBlock(num_heads=2, intermediate_dim=16, normalize_first=True)
    >>> x = np.random.default_rng(0).normal(size=(1, 4, 8)).astype("float32")
    >>> y = block(x)
    >>> np.allclose(block(x[:, :2]), y[:, :2], atol=1e-5)  # position t reads positions <= t
    True
    >>> cache = np.zeros((1, 2, 4, 2, 4), "float32")
    >>> y0, cache = block(x[:, :3], self_attention_cache=cache, cache_update_index=0)
    >>> y1, cache = block(x[:, 3:], self_attention_cache=cache, cache_update_index=3)
    >>> np.allclose(y1, y[:, 3:], atol=1e-5)
    True
    """

    def build(self, input_shape):  # `input_shape`, as `compute_output_shape` reads it
        self.self_attention, self.self_attention_norm = self._attention_sublayer(
            "self_attention", input_shape)
        self.feed_forward, self.feed_forward_norm = self._feed_forward_sublayer(input_shape)

    def call(
        self,
        x,
        padding_mask=None,
        self_attention_cache=None,
        cache_update_index=None,
        attention_mask=None,
        training=None,
    ):
        cached = self_attention_cache is not None and cache_update_index is not None
        if attention_mask is None:
            length = ops.shape(x)[1]
            if cached:
                attention_mask = causal_attention_mask(
                    length, ops.shape(self_attention_cache)[2], offset=cache_update_index)
            else:
                attention_mask = causal_attention_mask(length)
            if padding_mask is not None:
                attention_mask = ops.logical_and(
                    attention_mask, padding_to_attention_mask(padding_mask))
        new_cache = []

        def attend(h):
            if not cached:
                return self.self_attention(h, attention_mask=attention_mask, training=training)
            out, cache = self.self_attention(
                h, attention_mask=attention_mask, cache=self_attention_cache,
                cache_update_index=cache_update_index, training=training)
            new_cache.append(cache)
            return out

        x = self._residual(x, attend, self.self_attention_norm, training)
        x = self._residual(
            x, lambda h: self.feed_forward(h, training=training), self.feed_forward_norm, training
        )
        return (x, new_cache[0]) if cached else x
