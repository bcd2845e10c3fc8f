"""Text classification: strings -> class logits (a BERT classifier over WordPiece ids, or a
model with its own preprocessor that takes the strings themselves).

Training batches are `(BERT inputs, class indices, ones)`, each batch padded to its longest
sequence rounded up to a multiple of 8 (not to `max_length`); with `raw_text=True` the strings
themselves. Predictions and scores are those of image classification, with the text kept in
each row.

>>> import numpy as np
>>> from zoo import tasks
>>> from zoo.datasets import Examples
>>> from zoo.text import WordPieceTokenizer
>>> tokenizer = WordPieceTokenizer.train(["a cat", "a dog"] * 5, vocabulary_size=30)
>>> examples = Examples(["a cat", "a dog"], np.array([0, 1]), label_names=("cat", "dog"))
>>> defaults, fixed = tasks.get("text_classification").model_dims(
...     examples, tokenizer=tokenizer, max_length=16)
>>> defaults, fixed == {"vocabulary_size": tokenizer.vocabulary_size}
({'num_classes': 2, 'max_sequence_length': 16}, True)
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import _classification, _dims, _evaluation, _losses, _streams

NAME = "text_classification"
TOKENIZED = True
CLASSIFYING = True
INPUTS = "strings"  # what `predict` feeds a model that takes strings (`zoo.tasks.inputs`)
METRICS = _classification.METRICS
LOWER_IS_BETTER = frozenset()
DATASET_KINDS = ("text_classification",)
FILE_KINDS = ("text_classification",)
RECIPE_FIELDS = {"tokenizer": "tokenizer", "max_length": "max_length",
                 "label_smoothing": "label_smoothing"}
BENCHMARK_PREPROCESSING = {"max_length": _dims.MAX_LENGTH}
BENCHMARK_FIELDS = {}


def model_dims(examples, *, tokenizer=None, max_length=None, label_names=None):
    """`(defaults, fixed)`: the number of classes and (with a tokenizer) the longest sequence
    as defaults; the tokenizer's vocabulary size, fixed."""
    defaults, fixed = _dims.token_dims(tokenizer, max_length)
    return {**_dims.num_classes(examples, label_names), **defaults}, fixed


def tokenizer_texts(examples) -> list:
    """The texts a new tokenizer learns from: the examples' texts."""
    return list(examples.inputs)


def training_pipeline(examples, batch_size, seed, start_step, *, tokenizer=None, max_length=128,
                      raw_text=False, per_worker_order=False, **settings):
    """Endless `(inputs, class indices, ones)` batches (see `zoo.tasks._streams`): BERT inputs
    of at most `max_length` tokens, or (`raw_text=True`, a model with its own preprocessor)
    the strings. Other settings do not apply.

    Raises:
        ValueError: no tokenizer (and not `raw_text`), or fewer examples than one batch.
    """
    import tensorflow as tf

    from zoo.text import features

    if not raw_text:
        _streams.need_tokenizer(tokenizer, NAME)
    texts = tf.constant(list(examples.inputs))
    labels = tf.constant(np.asarray(examples.targets, "int32"))

    def transform(idx, positions, seed):
        x = tf.gather(texts, idx)
        if not raw_text:
            x = features.bert_inputs(tokenizer, x, max_length, pad_to_multiple=8)
        return x, tf.gather(labels, idx), _streams.ones(idx)

    return _streams.batches(len(examples), batch_size, seed, start_step, transform,
                            per_worker_order=per_worker_order)


objective = _losses.classification


def validator(recipe, tokenizer, data_dir=None):
    """None: text classification has no validation during training."""
    return None


def predict(model, tokenizer, examples, spec, batch_size, start=0, columns=None):
    """A row per example from `start`: index, target, prediction, confidence and the text.
    The texts are tokenized to the benchmark's `preprocessing.max_length` (at most the model's
    `max_sequence_length`), unless the model takes strings (`takes_strings`).

    Raises:
        EvaluationError: no tokenizer for a model that needs one, or another number of classes
            than the benchmark.
    """
    from zoo.text import features

    _classification.check_classes(model, spec, columns)
    texts = np.array(examples.inputs, dtype=object)
    if getattr(model, "takes_strings", False):  # a TF Hub preprocessor inside the model
        to_inputs = None
    else:
        _evaluation.need_tokenizer(tokenizer, spec)
        max_length = int(spec.preprocessing.get("max_length", 128))
        max_length = min(max_length, model.get_config().get("max_sequence_length", max_length))

        def to_inputs(t):
            return features.bert_inputs(tokenizer, t, max_length)

    for begin, logits in _evaluation.ahead(_evaluation.logits(model, columns),
                                           _evaluation.stream(texts, batch_size, start,
                                                              to_inputs)):
        rows = _classification.rows(logits, examples.targets[begin:begin + len(logits)], begin)
        for row in rows:
            yield dict(row, text=examples.inputs[row["index"]])


score = _classification.score



def expected_input(config):
    return "strings (raw text)"


def examples(definition, rows, report):
    """The leaderboard's examples: the first misclassified texts."""
    return _classification.misclassified(definition, rows, text=True)
