"""Batched greedy and beam-search decoding over a step function.

A step function maps `(tokens, index, state)` to `(logits, state)`:
`tokens` is the `[batch, max_length + 1]` buffer whose column 0 holds the
start token and whose column `index` is the token to be read now; `logits`
`[batch, vocabulary]` score the token at `index + 1`; `state` is any nest of
batch-first tensors (a key/value cache) and is reordered with the beams.

Both searches run inside `tf.while_loop`, so they compile into one graph
under `tf.function`, and stop early once every sequence has ended. After the
end token a sequence is filled with the pad token. With `beam_width=1`, beam
search returns exactly the greedy tokens.
"""

import tensorflow as tf

_NEG = -1e9


def _set_column(tokens, column, values):
    width = tf.shape(tokens)[1]
    hit = tf.equal(tf.range(width), column)[None, :]
    return tf.where(hit, values[:, None], tokens)


def _keep_shapes(body):
    """Wraps a loop body so each loop variable keeps the static shape it entered with
    (TensorFlow loses e.g. a known batch size of 1 through reshapes and gathers)."""

    def wrapped(*loop_vars):
        new = body(*loop_vars)

        def restore(old, value):
            value.set_shape(old.shape)
            return value

        return tf.nest.map_structure(restore, tuple(loop_vars), tuple(new))

    return wrapped


def greedy_search(step_fn, state, batch_size, max_length, start_id, end_id, pad_id):
    """Returns `[batch, max_length]` int32 tokens (start token excluded)."""
    tokens = tf.fill([batch_size, max_length + 1], tf.constant(pad_id, tf.int32))
    tokens = _set_column(tokens, 0, tf.fill([batch_size], tf.constant(start_id, tf.int32)))
    finished = tf.zeros([batch_size], tf.bool)

    def cond(index, tokens, finished, state):
        return tf.logical_and(index < max_length, tf.logical_not(tf.reduce_all(finished)))

    def body(index, tokens, finished, state):
        logits, state = step_fn(tokens, index, state)
        next_ids = tf.cast(tf.argmax(logits, axis=-1), tf.int32)
        next_ids = tf.where(finished, pad_id, next_ids)
        tokens = _set_column(tokens, index + 1, next_ids)
        finished = tf.logical_or(finished, tf.equal(next_ids, end_id))
        return index + 1, tokens, finished, state

    _, tokens, _, _ = tf.while_loop(
        cond, _keep_shapes(body), (tf.constant(0), tokens, finished, state), maximum_iterations=max_length
    )
    return tokens[:, 1:]


def tile_beams(nest, beam_width):
    """Repeats each batch row `beam_width` times: `[b, ...]` -> `[b * beam_width, ...]`."""
    return tf.nest.map_structure(lambda t: tf.repeat(t, beam_width, axis=0), nest)


def length_penalty_factor(lengths, alpha):
    """GNMT's ((5 + length) / 6) ** alpha (Wu et al., 2016)."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, alpha)


def beam_search(
    step_fn,
    state,
    batch_size,
    max_length,
    start_id,
    end_id,
    pad_id,
    beam_width,
    length_penalty=0.6,
):
    """Returns the best `[batch, max_length]` int32 hypothesis of each row.

    `state` must already be tiled to `batch_size * beam_width` rows
    (`tile_beams`). Ended hypotheses stay in the beam with a fixed score;
    the final choice divides each log-probability by the length penalty.
    """
    k = beam_width
    rows = batch_size * k
    tokens = tf.fill([rows, max_length + 1], tf.constant(pad_id, tf.int32))
    tokens = _set_column(tokens, 0, tf.fill([rows], tf.constant(start_id, tf.int32)))
    # Only the first beam is live at the start, so the first step does not pick k copies.
    scores = tf.tile(tf.concat([[0.0], tf.fill([k - 1], _NEG)], 0)[None, :], [batch_size, 1])
    finished = tf.zeros([batch_size, k], tf.bool)
    lengths = tf.zeros([batch_size, k], tf.int32)

    def cond(index, tokens, scores, finished, lengths, state):
        return tf.logical_and(index < max_length, tf.logical_not(tf.reduce_all(finished)))

    def body(index, tokens, scores, finished, lengths, state):
        logits, state = step_fn(tokens, index, state)
        vocab = tf.shape(logits)[-1]
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
        log_probs = tf.reshape(log_probs, [batch_size, k, vocab])
        # An ended hypothesis may only continue with the pad token, at no cost.
        pad_only = tf.where(tf.equal(tf.range(vocab), pad_id), 0.0, _NEG)
        log_probs = tf.where(finished[..., None], pad_only[None, None, :], log_probs)
        candidates = tf.reshape(scores[..., None] + log_probs, [batch_size, k * vocab])
        scores, flat = tf.math.top_k(candidates, k=k)
        parent = flat // vocab
        next_ids = tf.cast(flat % vocab, tf.int32)
        gather = tf.reshape(parent + tf.range(batch_size)[:, None] * k, [-1])
        tokens = tf.gather(tokens, gather)
        state = tf.nest.map_structure(lambda t: tf.gather(t, gather), state)
        was_finished = tf.gather(tf.reshape(finished, [-1]), gather)
        lengths = tf.reshape(tf.gather(tf.reshape(lengths, [-1]), gather), [batch_size, k])
        lengths += tf.reshape(tf.cast(tf.logical_not(was_finished), tf.int32), [batch_size, k])
        tokens = _set_column(tokens, index + 1, tf.reshape(next_ids, [-1]))
        finished = tf.logical_or(
            tf.reshape(was_finished, [batch_size, k]), tf.equal(next_ids, end_id)
        )
        return index + 1, tokens, scores, finished, lengths, state

    _, tokens, scores, finished, lengths, _ = tf.while_loop(
        cond,
        _keep_shapes(body),
        (tf.constant(0), tokens, scores, finished, lengths, state),
        maximum_iterations=max_length,
    )
    normalized = scores / length_penalty_factor(lengths, length_penalty)
    best = tf.argmax(normalized, axis=-1, output_type=tf.int32)
    tokens = tf.reshape(tokens, [batch_size, k, max_length + 1])
    return tf.gather(tokens, best, batch_dims=1)[:, 1:]
