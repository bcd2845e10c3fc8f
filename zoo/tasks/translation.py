"""Translation: source strings -> target strings (an encoder-decoder over one shared WordPiece
vocabulary).

Training batches are teacher-forced `({encoder_token_ids, decoder_token_ids}, target ids,
ones)`, padded to each batch's longest sequence rounded up to a multiple of 8;
`batching = "by_length"` draws batches of pairs of similar length (`zoo.tasks._streams`).
Predictions are beam-search translations (the benchmark's `[decoding]`); scores are corpus
BLEU and chrF (sacrebleu, the benchmark's `[bleu]` settings) with bootstrap intervals.

>>> from zoo import tasks
>>> kind = tasks.get("translation")
>>> kind.TOKENIZED, kind.METRICS, sorted(kind.BENCHMARK_FIELDS)
(True, ('bleu', 'chrf'), ['bleu', 'decoding'])
"""

from __future__ import annotations

import numpy as np

from zoo import metrics, schema
from zoo.tasks import _dims, _evaluation, _losses, _streams

NAME = "translation"
TOKENIZED = True
CLASSIFYING = False
METRICS = ("bleu", "chrf")
LOWER_IS_BETTER = frozenset()
DATASET_KINDS = ("translation",)
FILE_KINDS = ("translation",)
RECIPE_FIELDS = {"tokenizer": "tokenizer", "max_length": "max_length",
                 "label_smoothing": "label_smoothing",
                 "batching": 'batching = "by_length"',
                 "validation": "validation (BLEU on a held-out split)"}
BENCHMARK_PREPROCESSING = {"max_length": _dims.MAX_LENGTH}
def _sacrebleu_tokenizers():
    from sacrebleu.metrics import bleu

    return tuple(bleu._TOKENIZERS)


#: The benchmark tables only translation reads, and their schema.
BENCHMARK_FIELDS = {
    "bleu": schema.Field(schema.Table({
        "tokenize": schema.Field(schema.Str(choices=_sacrebleu_tokenizers)),
        "lowercase": schema.Field(schema.Bool()),
        "smooth_method": schema.Field(schema.Str(choices=("none", "floor", "add-k", "exp"))),
        "smooth_value": schema.Field(schema.Float(min=0)),
        "max_ngram_order": schema.Field(schema.Int(min=1, max=100)),
    })),
    "decoding": schema.Field(schema.Table({
        "beam_width": schema.Field(schema.Int(min=1, max=1024)),
        "length_penalty": schema.Field(schema.Float(min=0)),
        "max_length": schema.Field(schema.Int(min=1, max=2 ** 16)),
    })),
}
#: Decoding settings of a benchmark that leaves them out.
DECODING = {"beam_width": 4, "length_penalty": 0.6, "max_length": 64}


def model_dims(examples, *, tokenizer=None, max_length=None, label_names=None):
    """`(defaults, fixed)`: the longest sequence as a default; the tokenizer's vocabulary size
    and its padding, start and end ids, fixed (nothing without a tokenizer)."""
    defaults, fixed = _dims.token_dims(tokenizer, max_length)
    if tokenizer is not None:
        fixed.update(pad_id=tokenizer.pad_id, start_id=tokenizer.start_id,
                     end_id=tokenizer.end_id)
    return defaults, fixed


def tokenizer_texts(examples) -> list:
    """The texts a new tokenizer learns from: sources and targets (one shared vocabulary)."""
    return list(examples.inputs) + list(examples.targets)


def lengths(tokenizer, sources, targets, chunk: int = 8192):
    """The longer side of each pair in word pieces (what `batching = "by_length"` sorts on)."""
    import tensorflow as tf

    out = []
    for start in range(0, len(sources), chunk):
        a = tokenizer.tokenize(tf.constant(sources[start:start + chunk])).row_lengths()
        b = tokenizer.tokenize(tf.constant(targets[start:start + chunk])).row_lengths()
        out.append(tf.maximum(a, b).numpy())
    return np.concatenate(out) if out else np.zeros(0, "int64")


def training_pipeline(examples, batch_size, seed, start_step, *, tokenizer=None, max_length=128,
                      batching="random", per_worker_order=False, **settings):
    """Endless teacher-forced batches (see `zoo.tasks._streams`) of at most `max_length`
    tokens a side; `batching="by_length"` batches pairs of similar length. Other settings do
    not apply.

    Raises:
        ValueError: no tokenizer, or fewer examples than one batch.
    """
    import tensorflow as tf

    from zoo.text import features

    _streams.need_tokenizer(tokenizer, NAME)
    sources, targets = tf.constant(list(examples.inputs)), tf.constant(list(examples.targets))

    def transform(idx, positions, seed):
        x, y = features.seq2seq_inputs(tokenizer, tf.gather(sources, idx),
                                       tf.gather(targets, idx), max_length, pad_to_multiple=8)
        return x, y, _streams.ones(idx)

    by_length = None
    if batching == "by_length":
        by_length = lengths(tokenizer, list(examples.inputs), list(examples.targets))
    return _streams.batches(len(examples), batch_size, seed, start_step, transform,
                            lengths=by_length, per_worker_order=per_worker_order)


def objective(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    """Teacher-forced mean cross-entropy over each target's real tokens (not padding)."""
    import tensorflow as tf

    def real(targets):
        return tf.cast(tf.not_equal(targets, model.pad_id), tf.float32)

    return _losses.per_token(model, x, y, real, training, label_smoothing)


def validator(recipe, tokenizer, data_dir=None):
    """With the recipe's `validation` table (`split`, default "val", or `files`, a table of
    held-out pairs as `[files]` names them; `examples`, default 500): a function `model ->
    {"bleu": corpus BLEU}` of greedy translations of those first examples, which the training
    loop calls every `validation.every` steps; else None."""
    validation = recipe.validation
    if not validation:
        return None
    import sacrebleu

    from zoo import datasets
    from zoo.datasets import catalog
    from zoo.text import features

    if "files" in validation:
        examples = catalog.load_table(validation["files"])
    else:
        examples = datasets.load(recipe.dataset, validation.get("split", "val"),
                                 data_dir=data_dir)
    n = int(validation.get("examples", 500))
    sources, references = list(examples.inputs[:n]), list(examples.targets[:n])
    ids = features.sequence_ids(tokenizer, sources, recipe.max_length)

    def validate(model):
        out = model.generate(ids, max_length=recipe.max_length - 1, beam_width=1)
        hypotheses = [t.decode("utf-8") for t in tokenizer.detokenize(out).numpy()]
        return {"bleu": round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 3)}

    return validate


def decoding(spec) -> dict:
    """The benchmark's decoding settings, with `DECODING` for those it leaves out."""
    return {**DECODING, **spec.decoding}


def predict(model, tokenizer, examples, spec, batch_size, start=0, **options):
    """A row per example from `start`: index, source, reference and the model's hypothesis
    (beam search with the benchmark's `decoding`).

    Raises:
        EvaluationError: no tokenizer.
    """
    from zoo.text import features

    _evaluation.need_tokenizer(tokenizer, spec)
    settings = decoding(spec)
    max_source = min(int(spec.preprocessing.get("max_length", 64)), model.max_sequence_length)
    max_target = min(int(settings["max_length"]), model.max_sequence_length - 1)

    def source_ids(texts):
        return features.sequence_ids(tokenizer, texts, max_source)

    def translate(ids):
        out = model.generate(ids, max_length=max_target, beam_width=int(settings["beam_width"]),
                             length_penalty=float(settings["length_penalty"]))
        return [t.decode("utf-8") for t in tokenizer.detokenize(out).numpy()]

    texts = np.array(examples.inputs, dtype=object)
    for begin, hypotheses in _evaluation.ahead(translate, _evaluation.stream(
            texts, batch_size, start, source_ids)):
        for i, text in enumerate(hypotheses):
            yield {"index": begin + i, "source": examples.inputs[begin + i],
                   "reference": examples.targets[begin + i], "hypothesis": text}


def score(spec, examples, rows, idx, **context):
    """Corpus BLEU and chrF with bootstrap intervals; each row gains its sentence BLEU."""
    found, samples, sentence = metrics.translation(
        [r["hypothesis"] for r in rows], [r["reference"] for r in rows], spec.bleu, idx=idx
    )
    for row, value in zip(rows, sentence):
        row["sentence_bleu"] = round(value, 4)
    return *_evaluation.only(found, samples, spec), {}


def expected_input(config):
    return "strings (source sentences)"


def examples(definition, rows, report):
    """The leaderboard's examples: the first 12 test sentences, translated."""
    return {"title": "Example translations", "empty": "None.",
            "note": "The first 12 test sentences.",
            "columns": [("source", "text"), ("translation", "text"), ("reference", "text"),
                        ("sentence BLEU", "number")],
            "rows": [[x.get("source"), x.get("hypothesis"), x.get("reference"),
                      x.get("sentence_bleu")] for x in rows[:12]]}
