"""Text in, text out: prompts continued by a `GPTCausalLM` through a tokenizer.

The tokenizer is any zoo tokenizer (`zoo.text`): `tokenize(texts)` -> ragged int32 ids,
`detokenize(ids)` -> strings, `pad_id`. Prompts are tokenized, padded on the left, continued by
the model's cached generation (`GPTCausalLM.generate`) and the new tokens turned back into
text.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from zoo.models.gpt.gpt import left_pad


def generate_text(model, tokenizer, prompts, *, max_new_tokens, temperature=0.0, top_k=None,
                  top_p=None, seed=None, stop=None):
    """The continuation of each prompt.

    Args:
        model: a `GPTCausalLM` trained with `tokenizer`.
        tokenizer: its tokenizer.
        prompts: list of str (each must give at least one token).
        max_new_tokens, temperature, top_k, top_p, seed: as `GPTCausalLM.generate`.
        stop: str or None. Each continuation is cut before the first `stop`; when `stop` is
            one token that reads back as `stop` (not the unknown token, not a lowercased
            word piece), generation of a row also ends there.

    Returns:
        list of str, one per prompt: the generated text only, without the prompt (and
        without `stop` and what follows it).

    Raises:
        ValueError: for a prompt that is not a string or gives no token (naming it), a bad
            option (see `GPTCausalLM.generate`; a prompt and `max_new_tokens` must fit the
            model's `max_sequence_length`), or a `stop` that is not a non-empty string.
    """
    if isinstance(prompts, str):
        raise ValueError("prompts must be a list of strings, got one string; wrap it: "
                         "[prompt].")
    prompts = list(prompts)
    odd = [(i, p) for i, p in enumerate(prompts) if not isinstance(p, str | bytes)]
    if odd:
        raise ValueError(f"prompts must be strings; prompt {odd[0][0]} is a "
                         f"{type(odd[0][1]).__name__}: {odd[0][1]!r}.")
    if stop is not None and (not isinstance(stop, str) or not stop):
        raise ValueError(f"stop must be a non-empty string or None, got {stop!r}.")
    rows = [list(ids) for ids in tokenizer.tokenize(prompts).to_list()] if prompts else []
    empty = [prompt for prompt, ids in zip(prompts, rows) if not ids]
    if empty:
        raise ValueError(f"The prompt {empty[0]!r} gives no token; every prompt needs at "
                         "least one.")
    if not rows:
        return []
    stop_ids = _stop_ids(tokenizer, stop)
    token_ids, padding_mask = left_pad(rows, model.pad_id)
    new = np.asarray(model.generate(
        token_ids, padding_mask, max_new_tokens=max_new_tokens, temperature=temperature,
        top_k=top_k, top_p=top_p, seed=seed, stop_ids=stop_ids))
    kept = []
    for row in new:
        ended = np.flatnonzero(row == model.pad_id)  # pad follows a stop id, and only then
        kept.append((row[: ended[0]] if ended.size else row).tolist())
    strings = np.asarray(tokenizer.detokenize(tf.ragged.constant(kept, dtype=tf.int32,
                                                                 ragged_rank=1)))
    texts = [value.decode("utf-8") if isinstance(value, bytes) else str(value)
             for value in strings.reshape(-1)]
    return [text.split(stop, 1)[0] if stop is not None else text for text in texts]


def _stop_ids(tokenizer, stop) -> tuple:
    """The ids that end a row for `stop`: its one token, when `stop` is one token that the
    tokenizer reads back as `stop` itself; else none (the text is only cut). A stop that is
    not in the vocabulary is the unknown token, which stands for any unknown character, and a
    word-piece tokenizer may lowercase it: ending a row there would end it at text that is
    not `stop`, which the cut then leaves in."""
    if stop is None:
        return ()
    tokens = tokenizer.tokenize([stop]).to_list()[0]
    if len(tokens) != 1:
        return ()
    read = np.asarray(tokenizer.detokenize(tf.ragged.constant([tokens], dtype=tf.int32,
                                                              ragged_rank=1))).reshape(-1)[0]
    read = read.decode("utf-8", "replace") if isinstance(read, bytes) else str(read)
    return tuple(tokens) if read == stop else ()
