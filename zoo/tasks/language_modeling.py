"""Language modelling: a text -> how well a causal language model predicts it, token by token.

A corpus is `Examples` whose `inputs` are documents (strings; Tiny Shakespeare: one per split)
and whose `targets` are None; its token stream is the documents' tokens, concatenated. A model
of this kind maps int32 token ids `[batch, length]` to the logits of each position's next
token `[batch, length, vocabulary]`, and may have `log_probs(token_ids)` -> float32
`[batch, length - 1]` (log p(token t+1 | tokens <= t); else they come from its logits) and
`generate(token_ids, padding_mask, *, max_new_tokens, temperature, top_k, top_p, seed)` ->
int32 `[batch, max_new_tokens]` (left-padded prompts; for the samples a result page shows).
zoo's GPT family is such a model.

Training batches are windows of `max_length + 1` consecutive tokens of the stream at offsets
drawn with `tf.random.stateless_uniform(seed=[seed, step])`, a pure function of the seed and
the step (a resumed run reads the batches an uninterrupted one would): `x` the window's first
`max_length` tokens, `y` its last `max_length` (each position's next token), weights one; the
objective is the mean next-token cross-entropy.

Scoring (`units`, `predict`, `score`): the text's token stream is cut into consecutive
segments of the benchmark's `segment_length` tokens, one prediction row each (index, start,
tokens predicted, the characters they stand for, summed negative log-likelihood in nats): the
unit the bootstrap draws, and the same rows for every model with the same tokenization, so
that two models' scores compare pairwise. Each token is predicted with at least half a
context of the tokens before it: with `c` = min(the benchmark's `context_length`, the
model's `max_sequence_length`), the stream is read in windows of `c` tokens whose last
`c // 2` tokens are scored, each window's first `c - c // 2` tokens its context (the previous
window's last ones); the first window scores all its tokens but the very first, which has no
prediction. Scores: nats per character (total NLL / characters predicted; the main metric),
bits per character, perplexity (exp of nats per token) and nats per token, each with a 95%
percentile-bootstrap interval over segments (ratios of resampled sums). With a character
tokenizer characters are tokens; a word piece stands for its letters (and the space before a
word), an approximation: WordPiece normalises the text it reads.

>>> from zoo import tasks
>>> kind = tasks.get("language_modeling")
>>> kind.METRICS[0], sorted(kind.BENCHMARK_PREPROCESSING), kind.FILE_KINDS
('nats_per_char', ['context_length', 'segment_length'], ('text',))
"""

from __future__ import annotations

import numpy as np

from zoo import metrics, schema
from zoo.tasks import EvaluationError, _dims, _evaluation, _losses, _streams

NAME = "language_modeling"
TOKENIZED = True
CLASSIFYING = False
METRICS = ("nats_per_char", "bits_per_char", "perplexity", "nats_per_token")
LOWER_IS_BETTER = frozenset(METRICS)
DATASET_KINDS = ("language_modeling",)
FILE_KINDS = ("text",)
RECIPE_FIELDS = {"tokenizer": "tokenizer", "max_length": "max_length",
                 "label_smoothing": "label_smoothing",
                 "validation": "validation (held-out scores during training)"}
#: A benchmark's reading of the text, and the values of one that leaves them out.
READING = {"context_length": 256, "segment_length": 128}
BENCHMARK_PREPROCESSING = {
    "context_length": schema.Field(schema.Int(min=2, max=2 ** 16)),
    "segment_length": schema.Field(schema.Int(min=1, max=2 ** 20)),
}
#: The samples a result page shows: `prompts`, each continued greedily and by sampling
#: (`temperature`, `top_k`, `top_p`) from `seed`, for `max_new_tokens` tokens.
SAMPLES = {"prompts": ("\n",), "max_new_tokens": 200, "temperature": 0.8, "top_k": 200,
           "top_p": None, "seed": 0}
BENCHMARK_FIELDS = {
    "samples": schema.Field(schema.Table({
        "prompts": schema.Field(schema.List(
            schema.Str(pattern=r"(?s).+", empty=True, what="a non-empty string"),
            min_length=1, max_length=16)),
        "max_new_tokens": schema.Field(schema.Int(min=1, max=4096)),
        "temperature": schema.Field(schema.Float(min=0, min_exclusive=True)),
        "top_k": schema.Field(schema.Int(min=1, max=2 ** 24)),
        "top_p": schema.Field(schema.Float(min=0, max=1, min_exclusive=True)),
        "seed": schema.Field(schema.Int(min=0, max=2 ** 31 - 1)),
    })),
}
#: Validation windows of a recipe's `validation` table that leaves `examples` out.
VALIDATION_WINDOWS = 64


def model_dims(examples, *, tokenizer=None, max_length=None, label_names=None):
    """`(defaults, fixed)`: the context (`max_sequence_length`) is the recipe's `max_length`
    unless it says otherwise; the tokenizer's vocabulary size and padding id, fixed (nothing
    without a tokenizer)."""
    defaults, fixed = _dims.token_dims(tokenizer, max_length)
    if tokenizer is not None:
        fixed["pad_id"] = tokenizer.pad_id
    return defaults, fixed


def tokenizer_texts(examples) -> list:
    """The texts a new tokenizer learns from: the corpus's documents."""
    return list(examples.inputs)


def token_stream(tokenizer, texts) -> np.ndarray:
    """The int32 ids of `texts` (documents), concatenated: `[tokens]`; every token, by the
    tokenizer's `encode` (a WordPiece tokenizer's `sequence_length` cuts each sequence a model
    reads, not the text)."""
    import tensorflow as tf

    parts = []
    for text in texts:
        encode = getattr(tokenizer, "encode", None)
        ids = encode(text) if encode is not None else tokenizer.tokenize(tf.constant(text))
        parts.append(np.asarray(ids, "int32").reshape(-1))
    return np.concatenate(parts) if parts else np.zeros(0, "int32")


def training_pipeline(examples, batch_size, seed, start_step, *, tokenizer=None, max_length=128,
                      per_worker_order=False, **settings):
    """Endless `(ids [batch, max_length], next ids [batch, max_length], ones [batch])`
    batches of windows of the token stream at offsets drawn from `[seed, step]` (see the
    module). Other settings do not apply.

    Raises:
        ValueError: no tokenizer, or a stream shorter than one window of `max_length + 1`.
    """
    import tensorflow as tf

    _streams.need_tokenizer(tokenizer, NAME)
    stream = token_stream(tokenizer, examples.inputs)
    if len(stream) < max_length + 1:
        raise ValueError(f"The training text has {len(stream):,} tokens, fewer than one window "
                         f"of max_length + 1 = {max_length + 1}; lower max_length.")
    ids = tf.constant(stream)
    starts = len(stream) - max_length  # offsets 0 .. starts - 1 fit a whole window
    span = tf.range(max_length + 1, dtype=tf.int64)

    def transform(step, seed):
        offsets = tf.random.stateless_uniform([batch_size], seed=tf.stack([seed, step]),
                                              minval=0, maxval=starts, dtype=tf.int64)
        windows = tf.gather(ids, offsets[:, None] + span[None, :])
        return windows[:, :-1], windows[:, 1:], tf.ones([batch_size], tf.float32)

    return _streams.by_step(seed, start_step, transform, per_worker_order=per_worker_order)


def objective(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    """Mean next-token cross-entropy over each window's tokens (and their accuracy)."""
    import tensorflow as tf

    return _losses.per_token(model, x, y, lambda targets: tf.ones_like(targets, tf.float32),
                             training, label_smoothing)


def validator(recipe, tokenizer, data_dir=None):
    """With the recipe's `validation` table (`split`, default "val", or `files`; `examples`,
    the number of windows, default `VALIDATION_WINDOWS`): a function `model -> {"loss":
    nats per token}` over windows of `max_length + 1` tokens spread evenly over that text (the
    same windows every time; each token predicted from the window's tokens before it, as in
    training), which the training loop calls every `validation.every` steps; else None.

    Raises:
        ValueError: a validation text shorter than one window.
    """
    validation = recipe.validation
    if not validation:
        return None
    from zoo import datasets
    from zoo.datasets import catalog

    if "files" in validation:  # held-out text of a recipe over the user's own files
        examples = catalog.load_table(validation["files"])
    else:
        examples = datasets.load(recipe.dataset, validation.get("split", "val"),
                                 data_dir=data_dir)
    stream = token_stream(tokenizer, examples.inputs)
    width = recipe.max_length + 1
    if len(stream) < width:
        raise ValueError(f"The validation text has {len(stream):,} tokens, fewer than one "
                         f"window of max_length + 1 = {width}.")
    n = int(validation.get("examples", VALIDATION_WINDOWS))
    offsets = np.linspace(0, len(stream) - width, n).round().astype("int64")
    windows = np.stack([stream[a:a + width] for a in offsets])
    batch = max(1, min(n, recipe.batch_size))

    def validate(model):
        total = 0.0
        for begin in range(0, n, batch):
            total += float(np.sum(_log_probs(model, windows[begin:begin + batch])))
        return {"loss": round(-total / (n * (width - 1)), 5)}

    return validate


# --- Benchmarks ---------------------------------------------------------------------------


def reading(spec) -> dict:
    """The benchmark's `context_length` and `segment_length`, with `READING` for those it
    leaves out."""
    return {key: int(spec.preprocessing.get(key, default)) for key, default in READING.items()}


def token_characters(tokenizer) -> np.ndarray:
    """How many characters of text each id stands for, int `[vocabulary_size]`: the
    tokenizer's own `token_characters()`, else (a word-piece vocabulary) each piece's letters
    without "##", plus one for the space before a piece that starts a word; special tokens
    none, the unknown one one."""
    own = getattr(tokenizer, "token_characters", None)
    if own is not None:
        return np.asarray(own(), "int64")
    counts = []
    for i, token in enumerate(tokenizer.vocabulary):
        if token in getattr(tokenizer, "SPECIAL_TOKENS", ()):
            counts.append(1 if i == getattr(tokenizer, "unk_id", None) else 0)
        elif token.startswith("##"):
            counts.append(len(token) - 2)
        else:
            counts.append(len(token) + 1)
    return np.asarray(counts, "int64")


def units(spec, examples, tokenizer):
    """The segments a benchmark's text is scored in (see the module): `Examples` whose
    `inputs` are int32 token ids `[segments, segment_length]` (the stream, the last row
    padded with -1) and `targets` the characters each token stands for (0 at padding).

    Raises:
        EvaluationError: no tokenizer, or a text of fewer than two tokens (nothing to
            predict).
    """
    from zoo.datasets import Examples

    _evaluation.need_tokenizer(tokenizer, spec)
    stream = token_stream(tokenizer, examples.inputs)
    if len(stream) < 2:
        raise EvaluationError(f"Benchmark '{spec.id}': the text has {len(stream)} token(s); a "
                              "language model is scored on at least two (the first has no "
                              "prediction).")
    length = reading(spec)["segment_length"]
    segments = -(-len(stream) // length)
    ids = np.full(segments * length, -1, "int32")
    ids[:len(stream)] = stream
    characters = np.zeros(segments * length, "int32")
    characters[:len(stream)] = token_characters(tokenizer)[stream]
    return Examples(ids.reshape(segments, length), characters.reshape(segments, length), None,
                    list(examples.files),
                    f"{examples.description}: {len(stream):,} tokens in {segments:,} segments "
                    f"of {length}")


def context(spec, model, tokens: int) -> int:
    """`c`: the tokens of one scoring window, min(the benchmark's `context_length`, the
    model's `max_sequence_length` when it has one, the stream's `tokens`)."""
    limit = getattr(model, "max_sequence_length", None)
    if limit is None:
        limit = model.get_config().get("max_sequence_length")
    c = reading(spec)["context_length"]
    return int(min(c, limit or c, tokens))


def _log_probs(model, ids):
    """log p(token t+1 | tokens <= t) of int32 `ids` `[batch, length]`: float64 numpy
    `[batch, length - 1]`, from the model's `log_probs`, else from its logits."""
    import tensorflow as tf

    ids = tf.constant(np.asarray(ids, "int32"))
    if hasattr(model, "log_probs"):
        return np.asarray(model.log_probs(ids), "float64")
    logits = tf.cast(model(ids, training=False), tf.float32)[:, :-1]
    picked = tf.gather(tf.nn.log_softmax(logits), ids[:, 1:, None], batch_dims=2)[..., 0]
    return np.asarray(picked, "float64")


def _scorer(model, batch_size):
    """`windows [n <= batch_size, c] -> log-probs [n, c - 1]`: the model's `log_probs` (its
    own compiled function), else its logits' in a `tf.function` traced once (a short last
    batch is padded with copies of its first window and cut back)."""
    import tensorflow as tf

    if hasattr(model, "log_probs"):
        def fn(ids):
            return model.log_probs(ids)
    else:
        def from_logits(ids):
            logits = tf.cast(model(ids, training=False), tf.float32)[:, :-1]
            return tf.gather(tf.nn.log_softmax(logits), ids[:, 1:, None], batch_dims=2)[..., 0]

        fn = tf.function(from_logits, reduce_retracing=True)

    def run(windows):
        n = len(windows)
        if n < batch_size:
            windows = np.concatenate([windows, np.repeat(windows[:1], batch_size - n, 0)])
        return np.asarray(fn(tf.constant(windows)), "float64")[:n]

    return run


def window_starts(tokens: int, c: int, first: int):
    """`(block, window start)` of each scoring window from the one that scores token
    `first` on: block `j` scores tokens `[j * s, (j + 1) * s)` (s = c // 2) from the window
    `[a, a + c)` with `a = clip(min((j + 1) * s, tokens) - c, 0, tokens - c)`, so every
    window has `c` tokens and a scored token has at least `c - s` before it in its window
    (all of them, near the start)."""
    s = c // 2
    for j in range(first // s, (tokens - 1) // s + 1):
        yield j, min(max(min((j + 1) * s, tokens) - c, 0), tokens - c)


def predict(model, tokenizer, examples, spec, batch_size, start=0, **options):
    """A row per segment of `units` from `start`: index, start (its first token's position
    in the stream), tokens (how many of its tokens are predicted: all but the stream's very
    first), characters (what those tokens stand for) and nll (their summed negative
    log-likelihood, nats, 6 decimals), scored in windows of `context` tokens (see the
    module), `batch_size` windows a batch.

    Raises:
        EvaluationError: fewer than two tokens (a `--limit` of one short segment), or NaN or
            infinite log-probabilities (naming the segment).
    """
    flat, per_token = examples.inputs.reshape(-1), examples.targets.reshape(-1)
    stream, characters = flat[flat >= 0], per_token[flat >= 0]
    tokens, length = len(stream), examples.inputs.shape[1]
    if tokens < 2:
        raise EvaluationError(f"Benchmark '{spec.id}': {tokens} token(s) to read (--limit "
                              f"{len(examples)} of {length}-token segments); a language model "
                              "is scored on at least two (the first has no prediction).")
    c = context(spec, model, tokens)
    s = c // 2
    nll = np.zeros(tokens)
    windows = list(window_starts(tokens, c, 1))
    # Batches of windows on one grid from the text's start, whatever `start` is: a window is
    # computed beside the same others in a resumed run as in an uninterrupted one (the same
    # numbers, to the last bit); a resumed run begins at the batch of its first row's tokens.
    needed = max(0, (start * length) // s - windows[0][0])  # its index in `windows`
    done, row = 0, start  # tokens before `done` are scored; the next row to yield

    def batches():
        for begin in range(needed // batch_size * batch_size, len(windows), batch_size):
            part = windows[begin:begin + batch_size]
            yield begin, np.stack([stream[a:a + c] for _, a in part])

    for begin, log_probs in _evaluation.ahead(_scorer(model, batch_size), batches()):
        for (j, a), values in zip(windows[begin:begin + len(log_probs)], log_probs):
            low, high = max(j * s, 1), min((j + 1) * s, tokens)
            if not np.isfinite(values[low - a - 1:high - a - 1]).all():
                raise EvaluationError(
                    f"The model's log-probabilities of segment {low // length} (index from 0) "
                    "are NaN or infinite: no score can be computed from them. Check the "
                    "model's weights (a diverged training run) and its precision.")
            nll[low:high] = -values[low - a - 1:high - a - 1]
            done = high
        while row * length < tokens and min((row + 1) * length, tokens) <= done:
            low, high = max(row * length, 1), min((row + 1) * length, tokens)
            yield {"index": row, "start": row * length, "tokens": high - low,
                   "characters": int(characters[low:high].sum()),
                   "nll": round(float(nll[low:high].sum()), 6)}
            row += 1


def seeds(spec) -> dict:
    """The seed the samples of a result page are drawn from: `[samples] seed` (default 0);
    scoring draws nothing."""
    return {"samples": int(spec.samples.get("seed", SAMPLES["seed"]))}


def score(spec, examples, rows, idx, model=None, tokenizer=None, **context):
    """Nats and bits per character, perplexity and nats per token with bootstrap intervals
    over the segments (`zoo.metrics.language_modeling`); with `model` and `tokenizer`, the
    benchmark's samples in the report (`samples`)."""
    try:
        found, samples = metrics.language_modeling(
            [r["nll"] for r in rows], [r["tokens"] for r in rows],
            [r["characters"] for r in rows], idx=idx)
    except ValueError as error:  # nothing predicted, or tokens standing for no character
        raise EvaluationError(f"Benchmark '{spec.id}': {error}") from None
    report = {}
    if model is not None and tokenizer is not None and hasattr(model, "generate"):
        report["samples"] = generated_samples(model, tokenizer, spec)
        left_out = untokenized_prompts(tokenizer, sample_prompts(spec))
        if left_out:
            report["samples_left_out"] = left_out
    return *_evaluation.only(found, samples, spec), report


# --- Samples ------------------------------------------------------------------------------


def _left_padded(rows, pad_id):
    """`(ids int32 [n, longest], mask bool [n, longest])` of id lists, padded on the left."""
    longest = max(len(r) for r in rows)
    ids = np.full((len(rows), longest), pad_id, "int32")
    mask = np.zeros((len(rows), longest), bool)
    for i, r in enumerate(rows):
        if len(r):
            ids[i, longest - len(r):] = r
            mask[i, longest - len(r):] = True
    return ids, mask


def _prompt_ids(tokenizer, prompt) -> list:
    """The token ids of one prompt (a list of ints; empty when the tokenizer reads it as no
    tokens, as WordPiece reads whitespace)."""
    return np.asarray(tokenizer.tokenize(prompt).numpy()).reshape(-1).tolist()


def sample_prompts(spec) -> list:
    """The benchmark's sample prompts (`[samples] prompts`, else `SAMPLES`')."""
    return list({**SAMPLES, **spec.samples}["prompts"])


def untokenized_prompts(tokenizer, prompts) -> list:
    """The prompts `tokenizer` reads as no tokens: nothing to continue (a word-piece
    tokenizer drops whitespace, so the default prompt "\\n" is one for it)."""
    return [p for p in prompts if not _prompt_ids(tokenizer, p)]


def continue_texts(model, tokenizer, prompts, *, max_new_tokens, temperature=0.0, top_k=None,
                   top_p=None, seed=0) -> list[str]:
    """Each prompt continued by `max_new_tokens` tokens of `model.generate` (greedy at
    temperature 0, else sampled from `seed`), as text (the continuation only). Past the
    model's context the window slides: its last half becomes the prompt of the next round
    (a longer prompt keeps its last half context), each round seeded with `seed + round`.
    `top_k` and `top_p` filter what is sampled (greedy decoding takes neither).

    Raises:
        ValueError: a prompt the tokenizer reads as no tokens (naming it): a causal model
            has nothing to continue (`untokenized_prompts` finds them beforehand).
    """
    limit = int(getattr(model, "max_sequence_length", 0)
                or model.get_config()["max_sequence_length"])
    keep = max(1, limit // 2)
    empty = untokenized_prompts(tokenizer, prompts)
    if empty:
        raise ValueError(f"The prompt {empty[0]!r} is no tokens to the model's tokenizer "
                         f"({type(tokenizer).__name__}): there is nothing to continue; give "
                         "a prompt with a character or word it reads.")
    rows = [_prompt_ids(tokenizer, p)[-keep:] for p in prompts]
    made = [[] for _ in prompts]
    round_ = 0
    while len(made[0]) < max_new_tokens:
        ids, mask = _left_padded(rows, tokenizer.pad_id)
        count = min(max_new_tokens - len(made[0]), limit - ids.shape[1])
        sampling = {"top_k": top_k, "top_p": top_p, "seed": seed + round_} if temperature else {}
        out = np.asarray(model.generate(ids, mask, max_new_tokens=count,
                                        temperature=temperature, **sampling))
        for i, new in enumerate(out.tolist()):
            made[i] += new
            rows[i] = (rows[i] + new)[-keep:]
        round_ += 1
    return [tokenizer.detokenize(np.asarray(m, "int32")).numpy().decode("utf-8", "replace")
            for m in made]


def generated_samples(model, tokenizer, spec) -> list[dict]:
    """The benchmark's `[samples]` (`SAMPLES` for what it leaves out): each prompt continued
    greedily, then sampled; `[{"prompt", "decoding", "text"}]`.

    A prompt the model's tokenizer reads as no tokens (`untokenized_prompts`: whitespace,
    such as the default "\\n", to a word-piece tokenizer) is left out, not refused: the
    samples illustrate a model that any tokenizer may score, and `score` records the prompts
    left out (`samples_left_out`), which the result page names."""
    settings = {**SAMPLES, **spec.samples}
    left_out = untokenized_prompts(tokenizer, settings["prompts"])
    prompts = [p for p in settings["prompts"] if p not in left_out]
    found = []
    if not prompts:
        return found
    for decoding, temperature in (("greedy", 0.0), ("sampled", settings["temperature"])):
        texts = continue_texts(
            model, tokenizer, prompts, max_new_tokens=int(settings["max_new_tokens"]),
            temperature=temperature, top_k=settings["top_k"], top_p=settings["top_p"],
            seed=seeds(spec)["samples"])
        what = decoding if not temperature else (
            f"sampled (temperature {temperature}, top-k {settings['top_k']}"
            f"{'' if settings['top_p'] is None else ', top-p ' + str(settings['top_p'])}, "
            f"seed {seeds(spec)['samples']})")
        found += [{"prompt": p, "decoding": what, "text": t} for p, t in zip(prompts, texts)]
    return found


def expected_input(config):
    length = config.get("max_sequence_length", "L")
    return f"strings (prompts to continue; up to {length} tokens of context)"


def examples(definition, rows, report):
    """The leaderboard's examples: the generated samples `score` keeps in the report, and the
    prompts left out because the model's tokenizer reads them as no tokens."""
    samples = (report or {}).get("samples") or []
    left_out = [str(p) for p in (report or {}).get("samples_left_out") or []]
    why = (" Left out: the prompt(s) " + ", ".join(repr(p) for p in left_out) + ", which the "
           "model's tokenizer reads as no tokens (nothing to continue)." if left_out else "")
    return {"title": "Generated samples", "empty": f"None stored.{why}",
            "note": "Each prompt of the benchmark continued by the model: greedily, then "
                    f"sampled from a fixed seed.{why}",
            "columns": [("prompt", "lines"), ("decoding", "text"), ("continuation", "lines")],
            "rows": [[s.get("prompt"), s.get("decoding"), s.get("text")] for s in samples]}
