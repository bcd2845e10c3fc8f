"""The Transformer encoder-decoder (Vaswani et al., 2017, https://arxiv.org/abs/1706.03762)."""

import math

import keras
import tensorflow as tf
from keras import ops

from zoo.layers import (
    LayerNorm,
    OutputBias,
    PositionEmbedding,
    ReversibleEmbedding,
    SinusoidalPositionEmbedding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from zoo.models.dtype_policy import builds_in_policy, config_value
from zoo.models.transformer import decoding
from zoo.models.validation import (
    check_choice,
    check_divisible,
    check_non_negative,
    check_positive,
    check_rate,
)


def _op_determinism_enabled():
    try:
        from tensorflow.python.framework.config import is_op_determinism_enabled
    except ImportError:  # a TensorFlow without it: assume the safe answer
        return True
    return is_op_determinism_enabled()


@keras.saving.register_keras_serializable(package="zoo")
class TransformerSeq2Seq(keras.Model):
    """Encoder-decoder for translation, with greedy and beam-search decoding.

    Inputs are a dict of `encoder_token_ids` `[batch, src_len]` and
    `decoder_token_ids` `[batch, tgt_len]` (the target shifted right, starting
    with `start_id`); `pad_id` marks padding in both (except at the decoder's position 0,
    which always holds the start token: Marian starts from its pad id). The output is float32
    logits `[batch, tgt_len, target_vocabulary_size]` for teacher forcing.
    `generate` decodes with a key/value cache inside one `tf.function`.

    Args:
        vocabulary_size: int. Source vocabulary (shared with the target when
            `target_vocabulary_size` is None).
        target_vocabulary_size: int or None.
        share_embeddings: bool. One embedding matrix for source and target
            (needs one vocabulary).
        tie_output_embeddings: bool. The output projection is the transposed
            target embedding; otherwise a separate dense layer with bias.
        output_bias: bool. With tied output embeddings, add a bias of the target
            vocabulary's size to the logits (Marian's `final_logits_bias`; kept fixed in
            training, as Marian does: `zoo.layers.OutputBias`). Default False.
        num_encoder_layers: int.
        num_decoder_layers: int.
        hidden_dim: int. Divisible by `num_heads`.
        num_heads: int.
        intermediate_dim: int. Feed-forward width.
        dropout: float.
        max_sequence_length: int. Longest source or target sequence.
        position_embedding: "sinusoidal" or "learned".
        sinusoidal_layout: "interleaved" (zoo's: sin and cos of each frequency side by
            side) or "concatenated" (Marian's: every sin, then every cos); see
            `zoo.layers.SinusoidalPositionEmbedding`. Default "interleaved".
        scale_embeddings: bool. Multiply token embeddings by `sqrt(hidden_dim)` (the paper's
            and zoo's default, Marian's `scale_embedding`).
        normalize_first: bool. Pre-LN blocks (with a final layer norm) when
            True, the paper's post-LN when False.
        layer_norm_epsilon: float.
        activation: str. Feed-forward activation.
        pad_id, start_id, end_id: int. Special token ids. `start_id` may equal
            `pad_id` (Marian's decoders start from the pad token).

    Example:

    >>> import numpy as np, zoo
    >>> model = zoo.build("transformer_tiny", vocabulary_size=50)
    >>> src = np.array([[5, 6, 7, 2, 0]])
    >>> logits = model({"encoder_token_ids": src, "decoder_token_ids": np.array([[1, 9, 8]])})
    >>> tuple(logits.shape)
    (1, 3, 50)
    >>> tuple(model.generate(src, max_length=6, beam_width=3).shape)
    (1, 6)
    """

    @builds_in_policy
    def __init__(
        self,
        vocabulary_size=37000,
        target_vocabulary_size=None,
        share_embeddings=True,
        tie_output_embeddings=True,
        num_encoder_layers=6,
        num_decoder_layers=6,
        hidden_dim=512,
        num_heads=8,
        intermediate_dim=2048,
        dropout=0.1,
        max_sequence_length=256,
        position_embedding="sinusoidal",
        normalize_first=False,
        layer_norm_epsilon=1e-6,
        activation="relu",
        pad_id=0,
        start_id=1,
        end_id=2,
        output_bias=False,
        sinusoidal_layout="interleaved",
        scale_embeddings=True,
        **kwargs,
    ):
        check_positive(
            vocabulary_size=vocabulary_size,
            num_encoder_layers=num_encoder_layers,
            num_decoder_layers=num_decoder_layers,
            hidden_dim=hidden_dim,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            max_sequence_length=max_sequence_length,
        )
        if target_vocabulary_size is not None:
            check_positive(target_vocabulary_size=target_vocabulary_size)
        check_non_negative(pad_id=pad_id, start_id=start_id, end_id=end_id)
        check_rate(dropout=dropout)
        check_choice("position_embedding", position_embedding, {"sinusoidal", "learned"})
        check_choice("sinusoidal_layout", sinusoidal_layout, set(SinusoidalPositionEmbedding.LAYOUTS))
        if output_bias and not tie_output_embeddings:
            raise ValueError(
                "output_bias=True adds a bias to the tied output projection; with "
                "tie_output_embeddings=False the output projection has a bias of its own. Set "
                "output_bias=False."
            )
        if sinusoidal_layout == "concatenated" and hidden_dim % 2:
            raise ValueError(
                f"sinusoidal_layout='concatenated' needs an even hidden_dim, got {hidden_dim}."
            )
        check_divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        target_vocab = target_vocabulary_size or vocabulary_size
        if share_embeddings and target_vocab != vocabulary_size:
            raise ValueError(
                f"share_embeddings=True needs one vocabulary, but vocabulary_size={vocabulary_size} "
                f"and target_vocabulary_size={target_vocabulary_size}; set share_embeddings=False "
                "or use one vocabulary."
            )
        for name, value in (("pad_id", pad_id), ("start_id", start_id), ("end_id", end_id)):
            if value >= target_vocab:
                raise ValueError(f"{name}={value} is outside the target vocabulary of {target_vocab}.")

        # === Layers ===
        init = keras.initializers.RandomNormal(stddev=hidden_dim**-0.5)
        self.source_embedding = ReversibleEmbedding(
            vocabulary_size, hidden_dim, embeddings_initializer=init,
            name="shared_embedding" if share_embeddings else "source_embedding",
        )
        self.target_embedding = (
            self.source_embedding
            if share_embeddings
            else ReversibleEmbedding(
                target_vocab, hidden_dim, embeddings_initializer=init, name="target_embedding"
            )
        )
        if position_embedding == "learned":
            self.encoder_positions = PositionEmbedding(max_sequence_length, name="encoder_positions")
            self.decoder_positions = PositionEmbedding(max_sequence_length, name="decoder_positions")
        else:
            self.encoder_positions = SinusoidalPositionEmbedding(
                layout=sinusoidal_layout, name="positions")
            self.decoder_positions = self.encoder_positions
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        block_args = dict(
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
            normalize_first=normalize_first,
        )
        self.encoder_blocks = [
            TransformerEncoderBlock(**block_args, name=f"encoder_block_{i}")
            for i in range(num_encoder_layers)
        ]
        self.decoder_blocks = [
            TransformerDecoderBlock(**block_args, name=f"decoder_block_{i}")
            for i in range(num_decoder_layers)
        ]
        self.encoder_norm = self.decoder_norm = None
        if normalize_first:
            self.encoder_norm = LayerNorm(
                epsilon=layer_norm_epsilon, name="encoder_norm"
            )
            self.decoder_norm = LayerNorm(
                epsilon=layer_norm_epsilon, name="decoder_norm"
            )
        self.output_projection = None
        if not tie_output_embeddings:
            self.output_projection = keras.layers.Dense(target_vocab, name="output_projection")
        self.output_bias_layer = OutputBias(target_vocab, name="output_bias") if output_bias else None

        # === Config (needed by the helpers below) ===
        self.vocabulary_size = vocabulary_size
        self.target_vocabulary_size = target_vocabulary_size
        self.share_embeddings = share_embeddings
        self.tie_output_embeddings = tie_output_embeddings
        self.num_encoder_layers = num_encoder_layers
        self.num_decoder_layers = num_decoder_layers
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.position_embedding = position_embedding
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.activation = activation
        self.pad_id = pad_id
        self.start_id = start_id
        self.end_id = end_id
        self.output_bias = bool(output_bias)
        self.sinusoidal_layout = sinusoidal_layout
        self.scale_embeddings = bool(scale_embeddings)

        # === Functional model ===
        encoder_ids = keras.Input(shape=(None,), dtype="int32", name="encoder_token_ids")
        decoder_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_token_ids")
        encoder_outputs, encoder_mask = self._encode(encoder_ids)
        decoder_mask = ops.not_equal(decoder_ids, pad_id)
        if start_id == pad_id:  # position 0 holds the start token, never padding
            first = ops.equal(ops.cumsum(ops.ones_like(decoder_ids), axis=1), 1)
            decoder_mask = ops.logical_or(decoder_mask, first)
        states = self._decode(decoder_ids, encoder_outputs, encoder_mask, decoder_mask)
        logits = self._logits(states)
        super().__init__(
            inputs={"encoder_token_ids": encoder_ids, "decoder_token_ids": decoder_ids},
            outputs=logits,
            **kwargs,
        )

    # --- The shared pieces of training and decoding -------------------------

    def _embed(self, token_ids, embedding, positions, start_index=0, training=None):
        x = embedding(token_ids)
        if self.scale_embeddings:
            x = x * ops.cast(math.sqrt(self.hidden_dim), x.dtype)
        x = positions(x, start_index=start_index)
        return self.embedding_dropout(x, training=training)

    def _encode(self, token_ids, training=None):
        mask = ops.not_equal(token_ids, self.pad_id)
        x = self._embed(token_ids, self.source_embedding, self.encoder_positions, training=training)
        for block in self.encoder_blocks:
            x = block(x, padding_mask=mask, training=training)
        if self.encoder_norm is not None:
            x = self.encoder_norm(x)
        return x, mask

    def _decode(self, token_ids, encoder_outputs, encoder_mask, decoder_mask=None, training=None):
        x = self._embed(token_ids, self.target_embedding, self.decoder_positions, training=training)
        for block in self.decoder_blocks:
            x = block(
                x,
                encoder_outputs,
                decoder_padding_mask=decoder_mask,
                encoder_padding_mask=encoder_mask,
                training=training,
            )
        return x

    def _logits(self, states):
        if self.decoder_norm is not None:
            states = self.decoder_norm(states)
        if self.output_projection is not None:
            logits = self.output_projection(states)
        else:
            logits = self.target_embedding(states, reverse=True)
        if self.output_bias_layer is not None:
            logits = self.output_bias_layer(logits)
        return ops.cast(logits, "float32")

    # --- Decoding -----------------------------------------------------------

    def generate(self, source_token_ids, max_length=None, beam_width=1, length_penalty=0.6,
                 use_cache=True, jit_compile=None):
        """Translates a batch of source token ids.

        Args:
            source_token_ids: int `[batch, src_len]`, padded with `pad_id`.
            max_length: int. Most target tokens to produce (default: the
                model's `max_sequence_length - 1`).
            beam_width: int. 1 is greedy search.
            length_penalty: float. GNMT's alpha; 0 ranks by log-probability.
            use_cache: bool. Reuse each layer's keys and values (one decoder
                step per token) instead of re-running the prefix.
            jit_compile: bool. Compile the search loop with XLA. The default
                (None) compiles the cached search, whose shapes are static (on
                a 2-core CPU it gives the same tokens about 2-4x faster; see
                `scripts/bench_performance.py`), unless op determinism is on.

        Returns:
            int32 `[batch, max_length]`: the tokens after the start token,
            the end token included, then `pad_id`. The pad and start tokens
            are never produced.
        """
        if max_length is None:
            max_length = self.max_sequence_length - 1
        check_positive(max_length=max_length, beam_width=beam_width)
        if max_length >= self.max_sequence_length and self.position_embedding == "learned":
            raise ValueError(
                f"max_length={max_length} needs more than the model's "
                f"max_sequence_length={self.max_sequence_length} learned positions."
            )
        source = tf.convert_to_tensor(source_token_ids)
        if source.shape.rank != 2 or not source.dtype.is_integer:
            raise ValueError(
                "source_token_ids must be an integer matrix [batch, length], got "
                f"{source.dtype.name} of shape {source.shape}."
            )
        if jit_compile is None:
            jit_compile = use_cache and not _op_determinism_enabled()
        if jit_compile and not use_cache:
            raise ValueError(
                "jit_compile=True needs use_cache=True: without the cache the decoded prefix "
                "grows every step, a shape XLA cannot compile."
            )
        search = self._generate_compiled if jit_compile else self._generate
        return search(
            tf.cast(source, tf.int32), int(max_length), int(beam_width), float(length_penalty),
            bool(use_cache),
        )

    @tf.function(reduce_retracing=True, jit_compile=True)
    def _generate_compiled(self, source, max_length, beam_width, length_penalty, use_cache):
        return self._search(source, max_length, beam_width, length_penalty, use_cache)

    @tf.function(reduce_retracing=True)
    def _generate(self, source, max_length, beam_width, length_penalty, use_cache):
        return self._search(source, max_length, beam_width, length_penalty, use_cache)

    def _search(self, source, max_length, beam_width, length_penalty, use_cache):
        batch_size = tf.shape(source)[0]
        encoder_outputs, encoder_mask = self._encode(source, training=False)
        state = {}
        if use_cache:
            state = self._initial_cache(encoder_outputs, max_length)
        constants = {"encoder_outputs": encoder_outputs, "encoder_mask": encoder_mask}
        if beam_width > 1:
            state = decoding.tile_beams(state, beam_width)
            constants = decoding.tile_beams(constants, beam_width)
        step = self._cached_step if use_cache else self._uncached_step
        # The pad and start tokens are never produced.
        vocab = self.target_vocabulary_size or self.vocabulary_size
        banned = tf.reduce_any(
            tf.equal(tf.range(vocab)[:, None], [[self.pad_id, self.start_id]]), axis=1
        )

        def step_fn(tokens, index, state):
            logits, state = step(tokens, index, state, **constants)
            return tf.where(banned[None, :], tf.constant(-1e9, logits.dtype), logits), state

        search_args = dict(
            batch_size=batch_size,
            max_length=max_length,
            start_id=self.start_id,
            end_id=self.end_id,
            pad_id=self.pad_id,
        )
        if beam_width == 1:
            return decoding.greedy_search(step_fn, state, **search_args)
        return decoding.beam_search(
            step_fn, state, beam_width=beam_width, length_penalty=length_penalty, **search_args
        )

    def _initial_cache(self, encoder_outputs, max_length):
        batch_size = tf.shape(encoder_outputs)[0]
        head_dim = self.hidden_dim // self.num_heads
        empty = tf.zeros(
            [batch_size, 2, max_length, self.num_heads, head_dim], dtype=encoder_outputs.dtype
        )
        return {
            "self": [empty for _ in self.decoder_blocks],
            "cross": [
                block.cross_attention.project_key_value(encoder_outputs)
                for block in self.decoder_blocks
            ],
        }

    def _cached_step(self, tokens, index, state, encoder_outputs, encoder_mask):
        x = self._embed(
            tf.slice(tokens, [0, index], [-1, 1]), self.target_embedding, self.decoder_positions,
            start_index=index, training=False,
        )
        new_self = []
        for block, self_cache, cross_cache in zip(self.decoder_blocks, state["self"], state["cross"]):
            x, self_cache = block(
                x,
                encoder_outputs,
                encoder_padding_mask=encoder_mask,
                self_attention_cache=self_cache,
                cache_update_index=index,
                cross_attention_cache=cross_cache,
                training=False,
            )
            new_self.append(self_cache)
        return self._logits(x)[:, 0], {"self": new_self, "cross": state["cross"]}

    def _uncached_step(self, tokens, index, state, encoder_outputs, encoder_mask):
        states = self._decode(tokens[:, : index + 1], encoder_outputs, encoder_mask, training=False)
        return self._logits(states[:, -1:])[:, 0], state

    # --- Config -------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": config_value(self),
            "vocabulary_size": self.vocabulary_size,
            "target_vocabulary_size": self.target_vocabulary_size,
            "share_embeddings": self.share_embeddings,
            "tie_output_embeddings": self.tie_output_embeddings,
            "num_encoder_layers": self.num_encoder_layers,
            "num_decoder_layers": self.num_decoder_layers,
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "max_sequence_length": self.max_sequence_length,
            "position_embedding": self.position_embedding,
            "normalize_first": self.normalize_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "activation": self.activation,
            "pad_id": self.pad_id,
            "start_id": self.start_id,
            "end_id": self.end_id,
            "output_bias": self.output_bias,
            "sinusoidal_layout": self.sinusoidal_layout,
            "scale_embeddings": self.scale_embeddings,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
