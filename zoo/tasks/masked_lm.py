"""Masked-LM pretraining: BERT's objective over a text corpus (`examples.inputs`; targets, if
any, are not used). There is no benchmark of it: it makes an encoder to fine-tune.

Training batches are BERT inputs with `mask_positions`, where BERT's masking (`zoo.text.
masking`, seeded by the seed and the batch's position in training) chose at most
`max_predictions` tokens of each sequence, the original ids of those tokens as targets, and
weights marking the real predictions.

>>> from zoo import tasks
>>> kind = tasks.get("masked_lm")
>>> kind.TOKENIZED, kind.METRICS, kind.DATASET_KINDS
(True, (), ())
"""

from __future__ import annotations

from zoo.tasks import EvaluationError, _dims, _losses, _streams

NAME = "masked_lm"
TOKENIZED = True
CLASSIFYING = False
METRICS = ()
LOWER_IS_BETTER = frozenset()
DATASET_KINDS = ()  # no benchmark: a pretraining task
FILE_KINDS = ()
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


def tokenizer_texts(examples) -> list:
    """The texts a new tokenizer learns from: the corpus."""
    return list(examples.inputs)


def training_pipeline(examples, batch_size, seed, start_step, *, tokenizer=None, max_length=128,
                      max_predictions=20, per_worker_order=False, **settings):
    """Endless masked batches (see `zoo.tasks._streams`) of at most `max_length` tokens, with
    at most `max_predictions` predictions each. Other settings do not apply.

    Raises:
        ValueError: no tokenizer, or fewer examples than one batch.
    """
    import tensorflow as tf

    from zoo.text import features
    from zoo.text.masking import mask_tokens

    _streams.need_tokenizer(tokenizer, NAME)
    texts = tf.constant(list(examples.inputs))

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

    return _streams.batches(len(examples), batch_size, seed, start_step, transform,
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
