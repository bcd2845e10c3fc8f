"""Masked-LM pretraining: BERT's objective over a text corpus (`examples.inputs`; targets, if
any, are not used). There is no benchmark of it: it makes an encoder to fine-tune.

The corpus is a dataset's texts, or the user's plain-text files (a recipe's `dataset =
"files"` with `[files] kind = "text"`, read as one document each). Its sequences are the
non-empty lines of its texts (`sequences`), as BERT's pretraining text holds a sentence a
line: a dataset's sentences are one line each, a text file is cut at its line breaks; each is
truncated to `max_length` tokens.

Training batches are BERT inputs with `mask_positions`, where BERT's masking (`zoo.text.
masking`, seeded by the seed and the batch's position in training) chose at most
`max_predictions` tokens of each sequence, the original ids of those tokens as targets, and
weights marking the real predictions.

>>> from zoo import tasks
>>> kind = tasks.get("masked_lm")
>>> kind.TOKENIZED, kind.METRICS, kind.DATASET_KINDS, kind.FILE_KINDS
(True, (), (), ('text',))
>>> sequences([" First line.\\n\\n  \\nSecond line.", "A sentence."])
[' First line.', 'Second line.', 'A sentence.']
"""

from __future__ import annotations

from zoo.tasks import EvaluationError, _dims, _losses, _streams

NAME = "masked_lm"
TOKENIZED = True
CLASSIFYING = False
METRICS = ()
LOWER_IS_BETTER = frozenset()
DATASET_KINDS = ()  # no benchmark: a pretraining task
FILE_KINDS = ("text",)  # a plain-text corpus: a sentence (or paragraph) a line
RECIPE_FIELDS = {"tokenizer": "tokenizer", "max_length": "max_length",
                 "label_smoothing": "label_smoothing",
                 "extra_training_data": "extra_training_data (more corpora)",
                 "max_predictions": "max_predictions"}
BENCHMARK_PREPROCESSING = {}
BENCHMARK_FIELDS = {}


def model_dims(examples, *, tokenizer=None, max_length=None, label_names=None):
    """`(defaults, fixed)`: the longest sequence as a default, the tokenizer's vocabulary
    size fixed (nothing without a tokenizer)."""
    return _dims.token_dims(tokenizer, max_length)


def sequences(texts) -> list:
    """The corpus's sequences: every line of `texts` that holds more than whitespace (a
    text of one line is one sequence)."""
    return [line for text in texts for line in str(text).splitlines() if line.strip()]


def tokenizer_texts(examples) -> list:
    """The texts a new tokenizer learns from: the corpus's sequences."""
    return sequences(examples.inputs)


def training_pipeline(examples, batch_size, seed, start_step, *, tokenizer=None, max_length=128,
                      max_predictions=20, per_worker_order=False, **settings):
    """Endless masked batches (see `zoo.tasks._streams`) of the corpus's sequences
    (`sequences`: its lines) at most `max_length` tokens each, with at most `max_predictions`
    predictions each. Other settings do not apply.

    Raises:
        ValueError: no tokenizer, or fewer sequences (lines) than one batch.
    """
    import tensorflow as tf

    from zoo.text import features
    from zoo.text.masking import mask_tokens

    _streams.need_tokenizer(tokenizer, NAME)
    lines = sequences(examples.inputs)
    if len(lines) < batch_size:
        raise ValueError(f"The corpus has {len(lines)} non-empty line(s), fewer than one batch "
                         f"of {batch_size}: masked-LM sequences are its lines (a sentence a "
                         "line); lower batch_size, or give a text of more lines.")
    texts = tf.constant(lines)

    def transform(idx, positions, seed):
        x = features.bert_inputs(tokenizer, tf.gather(texts, idx), max_length,
                                 pad_to_multiple=8)
        masked = mask_tokens(
            x["token_ids"], vocabulary_size=tokenizer.vocabulary_size,
            mask_id=tokenizer.mask_id, max_predictions=max_predictions,
            unselectable_ids=[tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id],
            seed=tf.stack([seed + 4, positions[0]]))
        x = dict(x, token_ids=masked["token_ids"], mask_positions=masked["mask_positions"])
        return x, masked["mask_ids"], tf.cast(masked["mask_weights"], tf.float32)

    return _streams.batches(len(lines), batch_size, seed, start_step, transform,
                            per_worker_order=per_worker_order)


def objective(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    """Mean cross-entropy over each sequence's masked tokens (weights mark real predictions)."""
    import tensorflow as tf

    weights = tf.cast(sample_weight, tf.float32)
    return _losses.per_token(model, x, y, lambda targets: weights, training, label_smoothing)


def validator(recipe, tokenizer, data_dir=None):
    """None: masked-LM pretraining has no validation during training."""
    return None


def _no_benchmark(spec):
    return EvaluationError(
        f"Benchmark '{spec.id}' is a masked-LM task, which zoo does not benchmark: evaluate "
        "the fine-tuned classifier on a text_classification benchmark instead.")


def predict(model, tokenizer, examples, spec, batch_size, start=0, **options):
    """Raises EvaluationError: masked-LM pretraining has no benchmark."""
    raise _no_benchmark(spec)
    yield  # a generator, as every kind's predict


def score(spec, examples, rows, idx, **context):
    """Raises EvaluationError: masked-LM pretraining has no benchmark."""
    raise _no_benchmark(spec)


def expected_input(config):
    return "strings (masked-LM pretraining: an encoder to fine-tune)"
