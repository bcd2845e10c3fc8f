"""GPT: a decoder-only causal language model (Radford et al., 2018, 2019).

Token and learned position embeddings, `num_layers` pre-LN blocks of causal self-attention and
feed-forward (`zoo.layers.CausalSelfAttentionBlock`), a final layer norm and an output
projection tied to the token embedding (`tie_embeddings=False`: a separate one). With GPT-2
small's layout (`gpt2_small`) it has GPT-2's 124,439,808 parameters.

Prompts of a batch are padded on the LEFT (`left_pad`), so that every row's last prompt token
is in the last column and generation writes the same column for every row; a padding mask
(False at padding) keeps padded positions out of attention, and positions are counted from
each row's first real token, so padding changes nothing that follows it.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from zoo.layers import (
    CausalSelfAttentionBlock,
    LayerNorm,
    PositionEmbedding,
    ReversibleEmbedding,
    causal_attention_mask,
)
from zoo.layers.projection import project
from zoo.models.dtype_policy import builds_in_policy, config_value
from zoo.models.validation import (
    check_divisible,
    check_non_negative,
    check_positive,
    check_rate,
)

#: GPT-2's initialization: weights N(0, 0.02), the residual projections (attention output,
#: feed-forward output) N(0, 0.02 / sqrt(2 * num_layers)), biases zero.
_INIT_STDDEV = 0.02


def left_pad(sequences, pad_id=0):
    """A batch of token id lists of different lengths, padded on the left.

    Args:
        sequences: a list of sequences of ints, each with at least one token.
        pad_id: int. The id written at padding.

    Returns:
        `(token_ids, padding_mask)`: int32 `[batch, longest]` and bool `[batch, longest]`,
        False at padding.

    Raises:
        ValueError: for an empty batch or an empty sequence (naming its row).

    >>> ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    >>> ids.tolist(), mask.tolist()
    ([[5, 6, 7], [0, 0, 8]], [[True, True, True], [False, False, True]])
    """
    rows = [np.asarray(row, dtype=np.int64).reshape(-1) for row in sequences]
    if not rows:
        raise ValueError("left_pad needs at least one sequence, got none.")
    empty = [i for i, row in enumerate(rows) if row.size == 0]
    if empty:
        raise ValueError(f"Sequence {empty[0]} of the batch is empty; every prompt needs at "
                         "least one token.")
    width = max(row.size for row in rows)
    token_ids = np.full((len(rows), width), pad_id, dtype=np.int32)
    padding_mask = np.zeros((len(rows), width), dtype=bool)
    for i, row in enumerate(rows):
        token_ids[i, width - row.size:] = row
        padding_mask[i, width - row.size:] = True
    return token_ids, padding_mask


def _concrete(value):
    """`value` as a numpy array when it is known now (numpy, a list, an eager tensor); None
    for a symbolic tensor (inside a `tf.function`), whose values cannot be checked."""
    if tf.is_tensor(value):
        return None if tf.is_symbolic_tensor(value) else value.numpy()
    return np.asarray(value)


@keras.saving.register_keras_serializable(package="zoo")
class GPTCausalLM(keras.Model):
    """A decoder-only transformer that predicts the next token, with cached generation.

    `model(token_ids)` (int `[batch, length]`) or `model({"token_ids": ..., "padding_mask":
    ...})` (bool `[batch, length]`, False at left padding) returns float32 logits `[batch,
    length, vocabulary_size]` for the token after each position; position t reads positions
    <= t only. `generate` continues prompts inside one `tf.function` with a key/value cache;
    `log_probs` scores token sequences.

    Args:
        vocabulary_size: int.
        max_sequence_length: int. Learned positions: the longest sequence, prompt and
            generated tokens together.
        num_layers: int. Decoder blocks.
        num_heads: int. Divides `hidden_dim`.
        hidden_dim: int.
        intermediate_dim: int. Feed-forward width.
        dropout: float. Dropout on the embeddings, the attention probabilities and every
            sublayer's output (training only).
        activation: str. Feed-forward activation; "gelu_approximate" is GPT-2's tanh GELU.
        layer_norm_epsilon: float.
        tie_embeddings: bool. The output projection is the transposed token embedding (GPT-2);
            False: a separate `[hidden_dim, vocabulary_size]` projection without bias.
        pad_id: int. The id of padding: written after a stop token and never generated
            (unless it is a stop id).
        end_id: int or None. The end of text: `generate` ends a row after it unless given
            other `stop_ids` (a converted GPT-2's `<|endoftext|>`, as Transformers'
            `generate` stops at the config's `eos_token_id`). None: no row ends unless asked.

    Example:

    >>> import numpy as np, zoo
    >>> model = zoo.build("gpt_tiny")
    >>> tuple(model(np.array([[5, 6, 7]])).shape)
    (1, 3, 256)
    >>> ids, mask = left_pad([[5, 6, 7], [8]])
    >>> tuple(model.generate(ids, mask, max_new_tokens=4).shape)
    (2, 4)
    """

    @builds_in_policy
    def __init__(
        self,
        vocabulary_size=50257,
        max_sequence_length=1024,
        num_layers=12,
        num_heads=12,
        hidden_dim=768,
        intermediate_dim=3072,
        dropout=0.0,
        activation="gelu_approximate",
        layer_norm_epsilon=1e-5,
        tie_embeddings=True,
        pad_id=0,
        end_id=None,
        **kwargs,
    ):
        check_positive(
            vocabulary_size=vocabulary_size,
            max_sequence_length=max_sequence_length,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
        )
        check_non_negative(pad_id=pad_id)
        check_rate(dropout=dropout)
        check_divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        if pad_id >= vocabulary_size:
            raise ValueError(f"pad_id={pad_id} is outside the vocabulary of {vocabulary_size} "
                             "tokens; use an id below vocabulary_size.")
        if end_id is not None and (isinstance(end_id, bool) or not isinstance(end_id, int)
                                   or not 0 <= end_id < vocabulary_size):
            raise ValueError(f"end_id={end_id!r} is not a token id of the vocabulary of "
                             f"{vocabulary_size} tokens; use an int below vocabulary_size, or "
                             "None for no end of text.")
        super().__init__(**kwargs)

        # === Layers ===
        self.token_embedding = ReversibleEmbedding(
            vocabulary_size, hidden_dim, name="token_embedding",
            embeddings_initializer=keras.initializers.RandomNormal(stddev=_INIT_STDDEV),
        )
        self.position_embedding = PositionEmbedding(
            max_sequence_length, name="position_embedding",
            initializer=keras.initializers.RandomNormal(stddev=_INIT_STDDEV),
        )
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        self.blocks = [
            CausalSelfAttentionBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                normalize_first=True,
                name=f"block_{i}",
            )
            for i in range(num_layers)
        ]
        self.final_norm = LayerNorm(epsilon=layer_norm_epsilon, name="final_norm")
        self.output_projection = None
        if not tie_embeddings:
            self.output_projection = keras.layers.Dense(
                vocabulary_size, use_bias=False, name="output_projection",
                kernel_initializer=keras.initializers.RandomNormal(stddev=_INIT_STDDEV),
            )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.max_sequence_length = max_sequence_length
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.tie_embeddings = tie_embeddings
        self.pad_id = pad_id
        self.end_id = end_id

        self._build_layers()
        self._generation_functions = {}

    def _build_layers(self):
        """Creates every weight now (the model is built at construction, as the functional
        zoo models are), with GPT-2's initialization."""
        states = (None, None, self.hidden_dim)
        self.token_embedding.build((None, None))
        self.position_embedding.build(states)
        self.embedding_dropout.build(states)
        for block in self.blocks:
            block.build(states)
        self.final_norm.build(states)
        if self.output_projection is not None:
            self.output_projection.build((None, self.hidden_dim))
        residual = _INIT_STDDEV / math.sqrt(2 * self.num_layers)
        for block in self.blocks:
            attention, feed_forward = block.self_attention, block.feed_forward
            for dense, stddev in ((attention.query_dense, _INIT_STDDEV),
                                  (attention.key_dense, _INIT_STDDEV),
                                  (attention.value_dense, _INIT_STDDEV),
                                  (attention.output_dense, residual),
                                  (feed_forward.inner, _INIT_STDDEV),
                                  (feed_forward.outer, residual)):
                initializer = keras.initializers.RandomNormal(stddev=stddev)
                dense.kernel.assign(initializer(dense.kernel.shape, dense.kernel.dtype))
        self.built = True

    # --- The forward pass -------------------------------------------------------------------

    def call(self, inputs, training=None):
        token_ids, padding_mask = self._unpack(inputs)
        return self._logits(self._states(token_ids, padding_mask, training=training))

    def _unpack(self, inputs):
        """`(token_ids int32, padding_mask bool or None)` of the model's inputs."""
        if isinstance(inputs, dict):
            unknown = sorted(set(inputs) - {"token_ids", "padding_mask"})
            if unknown or "token_ids" not in inputs:
                raise ValueError(
                    f"{type(self).__name__} reads token ids, or a dict with 'token_ids' and an "
                    f"optional 'padding_mask'; got keys {sorted(inputs)}.")
            mask = inputs.get("padding_mask")
            return (ops.cast(inputs["token_ids"], "int32"),
                    None if mask is None else ops.cast(mask, "bool"))
        return ops.cast(inputs, "int32"), None

    def _check_length(self, length):
        if isinstance(length, int) and length > self.max_sequence_length:
            raise ValueError(
                f"{length} tokens are more than the model's max_sequence_length="
                f"{self.max_sequence_length} positions; shorten the input (or build the model "
                "with a larger max_sequence_length).")

    def _check_generation_length(self, prompt_length, max_new_tokens):
        """ValueError when a prompt of `prompt_length` tokens and `max_new_tokens` need more than
        `max_sequence_length` positions, naming both and what would fit."""
        limit, total = self.max_sequence_length, prompt_length + max_new_tokens
        if total <= limit:
            return
        fixes = []
        if prompt_length < limit:
            fixes.append(f"ask for at most max_new_tokens={limit - prompt_length}")
        if max_new_tokens < limit:
            fixes.append(f"keep the last {limit - max_new_tokens} tokens of the prompt")
        if not fixes:
            fixes.append(f"shorten the prompt to under {limit} tokens and ask for fewer new "
                         "tokens than the room left")
        raise ValueError(
            f"The prompt's {prompt_length} tokens (the longest of the batch) and "
            f"max_new_tokens={max_new_tokens} make {total}, more than the model's "
            f"max_sequence_length={limit} positions: {', or '.join(fixes)}.")

    def _embed(self, token_ids, positions=None, training=None):
        """Token plus position embeddings: positions `0..length-1` (None), or int `[batch,
        length]` positions of each token (counted from each row's first real token)."""
        x = self.token_embedding(token_ids)
        if positions is None:
            x = self.position_embedding(x)
        else:
            table = ops.cast(self.position_embedding.position_embeddings, x.dtype)
            x = x + ops.take(table, positions, axis=0)
        return self.embedding_dropout(x, training=training)

    def _states(self, token_ids, padding_mask=None, training=None, normalize=True):
        """Hidden states `[batch, length, hidden_dim]` after the blocks (and the final norm)."""
        length = ops.shape(token_ids)[1]
        self._check_length(token_ids.shape[1])
        mask = causal_attention_mask(length)  # one mask, built once, for every block
        positions = None
        if padding_mask is not None:
            positions = _positions(padding_mask)
            mask = ops.logical_and(mask, ops.expand_dims(padding_mask, 1))
        x = self._embed(token_ids, positions, training=training)
        for block in self.blocks:
            x = block(x, attention_mask=mask, training=training)
        return self.final_norm(x) if normalize else x

    def _logits(self, states):
        """float32 logits `[..., vocabulary_size]` of hidden states `[..., hidden_dim]`, as
        one two-dimensional matmul (see `zoo.layers.projection`)."""
        if self.output_projection is not None:
            return ops.cast(project(self.output_projection, states, self.compute_dtype),
                            "float32")
        lead = ops.shape(states)[:-1]
        flat = ops.reshape(states, (-1, self.hidden_dim))
        logits = self.token_embedding(flat, reverse=True)
        return ops.cast(ops.reshape(logits, (*lead, self.vocabulary_size)), "float32")

    # --- Scoring ----------------------------------------------------------------------------

    def log_probs(self, token_ids, padding_mask=None):
        """Log-probability of each token given the tokens before it.

        Args:
            token_ids: int `[batch, length]`, `length >= 2`, left-padded when rows differ.
            padding_mask: bool `[batch, length]`, False at padding (None: no padding).

        Returns:
            float32 `[batch, length - 1]`: `log p(token t+1 | tokens <= t)` in nats; 0 where
            token t or t+1 is padding (nothing is predicted there).

        Raises:
            ValueError: ids outside the vocabulary, a row of padding only, or more than
                `max_sequence_length + 1` tokens.
        """
        token_ids, padding_mask = self._checked_prompts(token_ids, padding_mask)
        if token_ids.shape[1] is not None:  # the last token is read by nothing
            self._check_length(int(token_ids.shape[1]) - 1)
        return self._log_probs(token_ids, padding_mask)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32),
                                  tf.TensorSpec([None, None], tf.bool)])
    def _log_probs(self, token_ids, padding_mask):
        logits = self._logits(self._states(token_ids[:, :-1], padding_mask[:, :-1],
                                           training=False))
        targets = token_ids[:, 1:]
        chosen = tf.gather(logits, targets, batch_dims=2)
        scores = chosen - tf.reduce_logsumexp(logits, axis=-1)
        return tf.where(padding_mask[:, :-1] & padding_mask[:, 1:], scores, 0.0)

    # --- Generation -------------------------------------------------------------------------

    def generate(self, token_ids, padding_mask=None, *, max_new_tokens, temperature=0.0,
                 top_k=None, top_p=None, seed=None, stop_ids=None, use_cache=True):
        """Continues a batch of prompts, inside one `tf.function` (one `tf.while_loop`).

        Args:
            token_ids: int `[batch, length]` prompts, LEFT-padded (`left_pad`), or a list of
                id lists of different lengths (padded here).
            padding_mask: bool `[batch, length]`, False at padding (None: none).
            max_new_tokens: int. Tokens to generate per row; the prompt and these must fit
                in `max_sequence_length`. (Every number option may be a NumPy scalar.)
            temperature: float. 0 is greedy (argmax); above 0, sampling from
                `softmax(logits / temperature)`.
            top_k: int or None. Sample among the `top_k` most likely tokens (a value above
                the vocabulary keeps them all; ties with the k-th are kept).
            top_p: float in (0, 1] or None. Nucleus sampling: among the most likely tokens
                whose probabilities, before each, sum to less than `top_p` (at least one).
            seed: int or None. Sampling is stateless, a function of `(seed, step)`: the same
                seed gives the same tokens, with or without the cache. None draws one.
            stop_ids: ints. A row stops after generating one of them (it is kept). None (the
                default): `[end_id]`, or none when `end_id` is None; `()`: none. When `pad_id`
                is one of them (a converted GPT-2, whose end of text is both), it may be
                generated: the row ends there, as Transformers' `generate` ends it.
            use_cache: bool. Keep each block's keys and values (one token per step); False
                recomputes the whole sequence each step (the reference the cache is tested
                against).

        Returns:
            int32 `[batch, max_new_tokens]`: the new tokens only; after a stop id, `pad_id`.
            `pad_id` is never generated unless it is a stop id.

        Raises:
            ValueError: for prompts that are not left-padded or hold ids outside the
                vocabulary, a sequence longer than `max_sequence_length`, or an option out of
                range (each naming the value and what is accepted).
        """
        if padding_mask is None and isinstance(token_ids, (list, tuple)):
            token_ids, padding_mask = left_pad(token_ids, self.pad_id)
        token_ids, padding_mask = self._checked_prompts(token_ids, padding_mask, left=True)
        max_new_tokens, top_k = _plain(max_new_tokens, int), _plain(top_k, int)
        temperature, top_p = _plain(temperature, float), _plain(top_p, float)
        check_positive(max_new_tokens=max_new_tokens)
        prompt_length = token_ids.shape[1]
        if prompt_length is not None:
            self._check_generation_length(int(prompt_length), max_new_tokens)
        sample = _sampling_options(temperature, top_k, top_p)
        if stop_ids is None:
            stop_ids = () if self.end_id is None else (self.end_id,)
        stop_ids = [int(i) for i in np.asarray(stop_ids, dtype=np.int64).reshape(-1)]
        bad = [i for i in stop_ids if not 0 <= i < self.vocabulary_size]
        if bad:
            raise ValueError(f"stop_ids {bad} are outside the vocabulary of "
                             f"{self.vocabulary_size} tokens.")
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31))
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int or None, got {seed!r}.")
        if not -2**63 <= int(seed) < 2**63:
            raise ValueError(f"seed must fit in 64 bits (-2**63 <= seed < 2**63), got {seed}.")
        function = self.generation_function(
            sample=sample, top_k=top_k is not None, top_p=top_p is not None,
            use_cache=use_cache)
        return function(
            token_ids, padding_mask, tf.constant(max_new_tokens, tf.int32),
            tf.constant(temperature if sample else 1.0, tf.float32),
            tf.constant(min(top_k or 1, self.vocabulary_size), tf.int32),
            tf.constant(top_p if top_p is not None else 1.0, tf.float32),
            tf.constant(seed, tf.int64), tf.constant(stop_ids, tf.int32, shape=[len(stop_ids)]),
        )

    def generation_function(self, *, sample, top_k, top_p, use_cache=True):
        """The `tf.function` that generates, for one choice of options (each traced once):
        `(token_ids int32 [b, n], padding_mask bool [b, n], max_new_tokens int32,
        temperature float32, top_k int32, top_p float32, seed int64, stop_ids int32 [s])` ->
        int32 `[b, max_new_tokens]` (see `generate`, which checks the arguments; an export
        calls it in its own graph).

        Args:
            sample: bool. Sample (else greedy, and temperature, top_k, top_p and seed are
                not read).
            top_k, top_p: bool. Whether each filter applies.
            use_cache: bool.
        """
        key = (bool(sample), bool(top_k), bool(top_p), bool(use_cache))
        if key not in self._generation_functions:
            def generate(token_ids, padding_mask, max_new_tokens, temperature, top_k_value,
                         top_p_value, seed, stop_ids):
                choose = _chooser(key[:3], temperature, top_k_value, top_p_value, seed,
                                  self.pad_id, stop_ids)
                return self._generation_loop(token_ids, padding_mask, max_new_tokens, stop_ids,
                                             choose, use_cache=key[3])

            self._generation_functions[key] = tf.function(generate, input_signature=[
                tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.bool),
                tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32),
                tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32),
                tf.TensorSpec([], tf.int64), tf.TensorSpec([None], tf.int32)])
        return self._generation_functions[key]

    def _generation_loop(self, token_ids, padding_mask, max_new_tokens, stop_ids, choose,
                         use_cache):
        """The loop: step `i` reads the token at column `n - 1 + i` of the prompt-and-output
        buffer (n: prompt length) and writes the chosen token after it."""
        batch, prompt_length = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
        total = prompt_length + max_new_tokens
        tokens = tf.concat([token_ids, tf.fill([batch, max_new_tokens], self.pad_id)], axis=1)
        mask = tf.concat([padding_mask, tf.ones([batch, max_new_tokens], tf.bool)], axis=1)
        positions = _positions(mask)
        keys = mask[:, None, :]  # [batch, 1, total]: which positions may be attended to
        caches = self._prefill(tokens, positions, keys, prompt_length, total) if use_cache \
            else []

        def body(step, tokens, finished, caches):
            index = prompt_length - 1 + step
            if use_cache:
                logits, caches = self._cached_logits(tokens, positions, keys, index, caches)
            else:
                states = self._states(tokens[:, :index + 1], mask[:, :index + 1],
                                      training=False, normalize=False)
                logits = self._logits(self.final_norm(states[:, -1:]))[:, 0]
            next_ids = tf.where(finished, self.pad_id, choose(logits, step))
            tokens = tf.tensor_scatter_nd_update(
                tokens, tf.stack([tf.range(batch), tf.fill([batch], index + 1)], axis=1),
                next_ids)
            stopped = tf.reduce_any(tf.equal(next_ids[:, None], stop_ids[None, :]), axis=1)
            return step + 1, tokens, finished | stopped, caches

        def cond(step, tokens, finished, caches):
            return tf.logical_not(tf.reduce_all(finished))

        _, tokens, _, _ = tf.while_loop(
            cond, body, (tf.constant(0), tokens, tf.zeros([batch], tf.bool), caches),
            maximum_iterations=max_new_tokens)
        return tokens[:, prompt_length:]

    def _prefill(self, tokens, positions, keys, prompt_length, total):
        """Every block's cache `[batch, 2, total, heads, head_dim]` holding the keys and
        values of the prompt but its last token (which the first step reads)."""
        head_dim = self.hidden_dim // self.num_heads
        dtype = self.blocks[0].compute_dtype
        empty = tf.zeros([tf.shape(tokens)[0], 2, total, self.num_heads, head_dim], dtype)
        known = prompt_length - 1
        x = self._embed(tokens[:, :known], positions[:, :known], training=False)
        mask = causal_attention_mask(known, total) & keys
        caches = []
        for block in self.blocks:
            x, cache = block(x, self_attention_cache=empty, cache_update_index=0,
                             attention_mask=mask, training=False)
            caches.append(cache)
        return caches

    def _cached_logits(self, tokens, positions, keys, index, caches):
        """Logits `[batch, vocabulary]` after the token at column `index`, which is written
        into every cache."""
        x = self._embed(tokens[:, index:index + 1], positions[:, index:index + 1],
                        training=False)
        mask = causal_attention_mask(1, tf.shape(tokens)[1], offset=index) & keys
        updated = []
        for block, cache in zip(self.blocks, caches):
            x, cache = block(x, self_attention_cache=cache, cache_update_index=index,
                             attention_mask=mask, training=False)
            updated.append(cache)
        return self._logits(self.final_norm(x))[:, 0], updated

    # --- Checks -----------------------------------------------------------------------------

    def _checked_prompts(self, token_ids, padding_mask, left=False):
        """`(int32 [b, n], bool [b, n])` tensors of a batch, its values checked when they are
        known (not inside a `tf.function`): ids in the vocabulary, every row with a token,
        and (`left`) padding on the left only."""
        ids = _concrete(token_ids)
        if ids is not None:
            if ids.ndim != 2 or ids.shape[1] == 0 or ids.dtype.kind not in "iu":
                raise ValueError("token_ids must be an integer matrix [batch, length] with "
                                 f"length >= 1, got {ids.dtype} of shape {ids.shape}.")
            outside = ids[(ids < 0) | (ids >= self.vocabulary_size)]
            if outside.size:
                raise ValueError(f"token id {int(outside[0])} is outside the vocabulary of "
                                 f"{self.vocabulary_size} tokens.")
            mask = np.ones(ids.shape, bool) if padding_mask is None else _concrete(padding_mask)
            if mask is not None:
                mask = mask.astype(bool)
                if mask.shape != ids.shape:
                    raise ValueError(f"padding_mask has shape {mask.shape}, token_ids "
                                     f"{ids.shape}: they must match.")
                empty = np.flatnonzero(~mask.any(axis=1))
                if empty.size:
                    raise ValueError(f"Row {int(empty[0])} of the batch is all padding; every "
                                     "row needs at least one token.")
                if left and (np.diff(mask.astype(np.int8), axis=1) < 0).any():
                    raise ValueError("Prompts must be padded on the LEFT (padding_mask False, "
                                     "then True to the end of each row); use "
                                     "zoo.models.gpt.gpt.left_pad.")
                padding_mask = mask
            token_ids = ids
        token_ids = tf.cast(tf.convert_to_tensor(token_ids), tf.int32)
        if padding_mask is None:
            padding_mask = tf.ones(tf.shape(token_ids), tf.bool)
        return token_ids, tf.cast(tf.convert_to_tensor(padding_mask), tf.bool)

    # --- Config -----------------------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": config_value(self),
            "vocabulary_size": self.vocabulary_size,
            "max_sequence_length": self.max_sequence_length,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "tie_embeddings": self.tie_embeddings,
            "pad_id": self.pad_id,
            "end_id": self.end_id,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _positions(padding_mask):
    """int32 `[batch, length]` position of each token counted from its row's first real token
    (0 at and before it)."""
    counts = ops.cumsum(ops.cast(padding_mask, "int32"), axis=1)
    return ops.maximum(counts - 1, 0)


def _plain(value, kind):
    """A NumPy scalar (`np.int64(3)`, `np.float32(0.8)`) as the Python `kind` (int or float)
    the option checks take; anything else unchanged (a bad value is refused by its check)."""
    if isinstance(value, np.integer if kind is int else (np.integer, np.floating)):
        return kind(value)
    return value


def _sampling_options(temperature, top_k, top_p):
    """Whether the options sample (temperature > 0); ValueError naming a bad one."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
            math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a number >= 0 (0: greedy), got {temperature!r}.")
    if top_k is not None:
        check_positive(top_k=top_k)
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float))
                              or not 0.0 < top_p <= 1.0):
        raise ValueError(f"top_p must be a number in (0, 1], got {top_p!r}.")
    sample = temperature > 0
    if not sample and (top_k is not None or top_p is not None):
        raise ValueError("top_k and top_p filter what is sampled; greedy decoding "
                         "(temperature=0) samples nothing: set temperature > 0 (e.g. 1.0).")
    return sample


def _chooser(options, temperature, top_k, top_p, seed, pad_id, stop_ids):
    """`choose(logits [batch, vocabulary], step) -> int32 [batch]` for `options = (sample,
    use top_k, use top_p)`; `pad_id` is never chosen, unless it is one of `stop_ids` (int32
    `[s]`: then it ends the row like any stop id)."""
    sample, use_top_k, use_top_p = options
    pad_stops = tf.reduce_any(tf.equal(stop_ids, pad_id))

    def choose(logits, step):
        vocabulary = tf.shape(logits)[-1]
        banned = tf.logical_and(tf.equal(tf.range(vocabulary), pad_id),
                                tf.logical_not(pad_stops))[None, :]
        logits = tf.where(banned, -np.inf, logits)
        if not sample:
            return tf.argmax(logits, axis=-1, output_type=tf.int32)
        # Shifted so that the largest is 0 (softmax is unchanged) before the division, and the
        # temperature kept a normal float32: a tiny one (1e-40, or one float32 reads as 0)
        # made inf - inf = NaN logits, from which the draw was an id past the vocabulary.
        logits = logits - tf.reduce_max(logits, axis=-1, keepdims=True)
        logits = logits / tf.maximum(temperature, np.finfo(np.float32).tiny)
        if use_top_k:
            kth = tf.math.top_k(logits, k=top_k, sorted=True).values[:, -1:]
            logits = tf.where(logits < kth, -np.inf, logits)
        if use_top_p:
            ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
            before = tf.math.cumsum(tf.nn.softmax(ordered, axis=-1), axis=-1, exclusive=True)
            kept = tf.where(before < top_p, ordered, np.inf)
            logits = tf.where(logits < tf.reduce_min(kept, axis=-1, keepdims=True), -np.inf,
                              logits)
        drawn = tf.random.stateless_categorical(
            logits, 1, seed=tf.stack([seed, tf.cast(step, tf.int64)]), dtype=tf.int32)
        return drawn[:, 0]

    return choose
