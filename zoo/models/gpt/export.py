"""GPT's export part (declared in `family.py`): `generator`, a causal language model with its
tokenizer in the graph.

- `__call__(prompts, max_new_tokens=D, temperature=0.0, top_k=0, top_p=1.0, seed=0, stop="")`
  -> the generated text of each prompt (the continuation only, as
  `zoo.models.gpt.generation.generate_text` gives it): the prompts are tokenized, padded on the
  left, continued by the model's cached generation loop and the new tokens detokenized, all in
  the graph. Greedy by default; `temperature > 0` samples (stateless: the same seed gives the
  same text), `top_k > 0` and `top_p < 1` filter what is sampled, `stop` (when not "") ends a
  row where it is one token and cuts the text before it. `D` is the recipe's
  `[decoding] max_new_tokens`, else half the model's context.
- `log_probs(texts)` -> `{"log_probs": float32 [batch, n - 1], "token_ids": int32 [batch, n],
  "padding_mask": bool [batch, n]}`: each text's tokens padded on the right to the longest
  (`n`, at least 2) and `log p(token t+1 | tokens <= t)` in nats, 0 where token t or t+1 is
  padding (the first token of a text is not predicted).
- `tokenize(texts)` -> ragged int32 ids; `detokenize(ids)` (int32 `[batch, length]`,
  padding dropped) -> strings.
- Signatures: `serving_default` (every input of `__call__` named, -> `{"text"}`) and
  `log_probs` (`texts` -> the dict above).

Inputs the model cannot take fail with `InvalidArgumentError` naming the problem: a prompt
without a token, prompts plus `max_new_tokens` longer than the context, an option out of range.
"""

from __future__ import annotations

from zoo.models.savedmodel import attach_tokenizer, attach_variables, new_root

#: The exported generator's defaults; a recipe's `[decoding]` table overrides them
#: (`max_new_tokens` None: half the model's context).
DECODING = {"max_new_tokens": None}


def default_max_new_tokens(model, recipe) -> int:
    """The `max_new_tokens` a call leaves out: the recipe's `[decoding] max_new_tokens`, else
    half the model's context (at least 1).

    Raises:
        ValueError: a recipe value that is not an int in [1, max_sequence_length - 1].
    """
    value = {**DECODING, **(recipe or {}).get("decoding", {})}["max_new_tokens"]
    if value is None:
        return max(1, model.max_sequence_length // 2)
    if isinstance(value, bool) or not isinstance(value, int) or not (
            1 <= value < model.max_sequence_length):
        raise ValueError(f"The recipe's [decoding] max_new_tokens must be an int from 1 to "
                         f"{model.max_sequence_length - 1} (the model's context less one "
                         f"prompt token), got {value!r}.")
    return value


def generator(model, context):
    """The `generator` part of a `GPTCausalLM` and its tokenizer (see the module docstring)."""
    import tensorflow as tf

    tokenizer = context.tokenizer
    root = new_root()
    reads = attach_variables(root, model, context.weights)
    attach_tokenizer(root, tokenizer)
    default_new = default_max_new_tokens(model, context.recipe)
    text_spec = tf.TensorSpec([None], tf.string, name="texts")

    @tf.function(input_signature=[text_spec])
    def tokenize(texts):
        return tf.cast(tokenizer.tokenize(texts), tf.int32)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="token_ids")])
    def detokenize(token_ids):
        return tokenizer.detokenize(token_ids)

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="prompts"),
        tf.TensorSpec([], tf.int32, name="max_new_tokens"),
        tf.TensorSpec([], tf.float32, name="temperature"),
        tf.TensorSpec([], tf.int32, name="top_k"),
        tf.TensorSpec([], tf.float32, name="top_p"),
        tf.TensorSpec([], tf.int64, name="seed"),
        tf.TensorSpec([], tf.string, name="stop")])
    def call(prompts, max_new_tokens=default_new, temperature=0.0, top_k=0, top_p=1.0, seed=0,
             stop=""):
        options = (max_new_tokens, temperature, top_k, top_p, seed)

        def generate():
            with reads():
                return _generate_text(model, tokenizer, tokenize(prompts), options, stop)

        return tf.cond(tf.size(prompts) > 0, generate, lambda: tf.zeros([0], tf.string))

    @tf.function(input_signature=[text_spec])
    def log_probs(texts):
        token_ids, padding_mask = _right_padded(model, tokenize(texts))
        with reads():
            scores = model._log_probs.python_function(token_ids, padding_mask)
        return {"log_probs": scores, "token_ids": token_ids, "padding_mask": padding_mask}

    @tf.function(input_signature=call.input_signature)
    def serve(prompts, max_new_tokens, temperature, top_k, top_p, seed, stop):
        return {"text": call(prompts, max_new_tokens, temperature, top_k, top_p, seed, stop)}

    root.__call__ = call
    root.log_probs = log_probs
    root.tokenize = tokenize
    root.detokenize = detokenize
    return root, {"serving_default": serve, "log_probs": log_probs}


def _left_padded(model, ids):
    """Ragged int32 ids `[batch, None]` as `(token_ids, padding_mask)` padded on the LEFT to
    the longest row (`zoo.models.gpt.gpt.left_pad` in the graph)."""
    import tensorflow as tf

    lengths = tf.cast(ids.row_lengths(), tf.int32)
    width = tf.reduce_max(tf.concat([lengths, [0]], axis=0))
    dense = ids.to_tensor(default_value=model.pad_id)
    shift = tf.range(width)[None, :] - (width - lengths)[:, None]  # source column per column
    padding_mask = shift >= 0
    token_ids = tf.where(padding_mask, tf.gather(dense, tf.maximum(shift, 0), batch_dims=1),
                         model.pad_id)
    return token_ids, padding_mask


def _right_padded(model, ids):
    """Ragged int32 ids as `(token_ids, padding_mask)` padded on the right, at least two
    columns wide; InvalidArgumentError for a text longer than the model reads."""
    import tensorflow as tf

    lengths = tf.cast(ids.row_lengths(), tf.int32)
    width = tf.reduce_max(tf.concat([lengths, [2]], axis=0))
    limit = model.max_sequence_length + 1
    check = tf.debugging.assert_less_equal(
        width, limit, message=f"A text is longer than the {limit} tokens this model scores at "
                              f"once (its context of {model.max_sequence_length} and the token "
                              "after it); score long texts in windows")
    with tf.control_dependencies([check]):
        dense = ids.to_tensor(default_value=model.pad_id)
    token_ids = tf.pad(dense, [[0, 0], [0, width - tf.shape(dense)[1]]],
                       constant_values=model.pad_id)
    return token_ids, tf.sequence_mask(lengths, width)


def _checked_options(model, lengths, max_new_tokens, temperature, top_k, top_p):
    """Assertions on a call's options (each naming the problem and what is accepted)."""
    import tensorflow as tf

    longest = tf.reduce_max(tf.concat([lengths, [0]], axis=0))
    context = model.max_sequence_length
    greedy = tf.equal(temperature, 0.0)
    return [
        tf.debugging.assert_positive(lengths, message="Every prompt needs at least one token; "
                                                      "a prompt is empty"),
        tf.debugging.assert_positive(max_new_tokens, message="max_new_tokens must be >= 1"),
        tf.debugging.assert_less_equal(
            longest + max_new_tokens, context,
            message=f"The tokens of the longest prompt and max_new_tokens must fit the "
                    f"context of the model, {context} tokens; shorten the prompt or ask for "
                    "fewer tokens"),
        tf.debugging.Assert(tf.math.is_finite(temperature) & (temperature >= 0.0),
                            ["temperature must be a number >= 0 (0: greedy), got",
                             temperature]),
        tf.debugging.assert_non_negative(top_k, message="top_k must be >= 0 (0: no top-k)"),
        tf.debugging.Assert((top_p > 0.0) & (top_p <= 1.0),
                            ["top_p must be in (0, 1] (1: no nucleus filter), got", top_p]),
        tf.debugging.Assert(~greedy | ((top_k == 0) & (top_p == 1.0)),
                            ["top_k and top_p filter what is sampled; greedy decoding "
                             "(temperature=0) samples nothing: set temperature > 0."]),
    ]


def _generate_text(model, tokenizer, ids, options, stop):
    """Generated strings `[batch]` for ragged prompt ids, as `generate_text` makes them: the
    loop the options pick (greedy, or sampling with or without each filter), the new tokens up
    to the first padding detokenized, cut before `stop`."""
    import tensorflow as tf

    max_new_tokens, temperature, top_k, top_p, seed = options
    token_ids, padding_mask = _left_padded(model, ids)
    checks = _checked_options(model, tf.cast(ids.row_lengths(), tf.int32), max_new_tokens,
                              temperature, top_k, top_p)
    stop_tokens = tf.cast(tokenizer.tokenize(tf.reshape(stop, [1]))[0], tf.int32)
    # A stop string that is one token reading back as itself ends a row (as `generate_text`'s
    # `_stop_ids`: an unknown or lowercased stop would end rows at other text); any other
    # stop only cuts the text.
    reads_back = tf.reshape(tokenizer.detokenize(
        tf.RaggedTensor.from_tensor(stop_tokens[None, :])), [-1])[0]
    ends_row = tf.logical_and(tf.size(stop_tokens) == 1, tf.equal(reads_back, stop))
    stop_ids = stop_tokens[:tf.where(ends_row, 1, 0)]
    arguments = (token_ids, padding_mask, max_new_tokens,
                 tf.where(temperature > 0.0, temperature, 1.0),
                 tf.clip_by_value(top_k, 1, model.vocabulary_size), top_p, seed, stop_ids)

    def branch(sample, use_top_k, use_top_p):
        loop = model.generation_function(sample=sample, top_k=use_top_k, top_p=use_top_p)
        return lambda: loop.python_function(*arguments)  # traced here, reading `reads()`

    sample = temperature > 0.0
    index = tf.where(sample, 1 + tf.cast(top_k > 0, tf.int32) + 2 * tf.cast(top_p < 1.0,
                                                                            tf.int32), 0)
    with tf.control_dependencies(checks):
        new = tf.switch_case(index, [branch(False, False, False), branch(True, False, False),
                                     branch(True, True, False), branch(True, False, True),
                                     branch(True, True, True)])
    kept = tf.math.cumsum(tf.cast(tf.equal(new, model.pad_id), tf.int32), axis=1) == 0
    text = tokenizer.detokenize(tf.ragged.boolean_mask(new, kept))

    def cut():
        return tf.strings.split(text, sep=stop, maxsplit=1).to_tensor(
            default_value="", shape=[None, 1])[:, 0]

    return tf.cond(tf.equal(stop, ""), lambda: text, cut)
