"""Scores computed with scikit-learn and sacrebleu, each with a bootstrap interval
(`zoo.metrics.bootstrap`). A layer below the task kinds (`zoo.tasks`), whose `score` uses them.

Each scorer returns headline metrics as `{"value", "low", "high", ...settings}`
plus the per-resample values (kept in memory for paired tests, not stored).
Headline values are exactly scikit-learn's and sacrebleu's; the resamples use
the same formulas on per-example sufficient statistics, for speed.
"""

from __future__ import annotations

import numpy as np

from zoo.metrics import bootstrap


def _metric(value, samples, **settings):
    low, high = bootstrap.interval(value, samples)
    return {"value": float(value), "low": low, "high": high, **settings}


# --- Classification ------------------------------------------------------------------


def _confusion_counts(y_true, y_pred, num_labels, idx):
    """Per-resample true positives, predicted counts and true counts: `[R, num_labels]` each."""
    true_onehot = np.eye(num_labels)[y_true]
    pred_onehot = np.eye(num_labels)[y_pred]
    stats = np.concatenate([true_onehot * pred_onehot, pred_onehot, true_onehot], axis=1)
    sums = bootstrap.resample_sums(stats, idx)
    return sums[:, :num_labels], sums[:, num_labels : 2 * num_labels], sums[:, 2 * num_labels :]


def _macro_from_counts(tp, predicted, actual, zero_division):
    """Macro recall and F1 over every label, as scikit-learn computes them."""
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(actual > 0, tp / actual, zero_division)
        denom = predicted + actual
        f1 = np.where(denom > 0, 2 * tp / denom, zero_division)
    return recall.mean(axis=-1), f1.mean(axis=-1)


def classification(y_true, y_pred, labels, label_names=None, zero_division=0.0, idx=None):
    """Accuracy, macro recall and macro F1 over the benchmark's full label set.

    Args:
        y_true, y_pred: int arrays of label indices into `labels`.
        labels: list of int. The full label set (`labels=` for scikit-learn),
            so a class the model never predicts still counts.
        zero_division: float. Value for a class with no true or predicted examples.
        idx: bootstrap indices (`bootstrap.indices(len(y_true))` by default).

    Returns:
        `(metrics, samples, report)`: metrics with intervals, their bootstrap
        samples, and a per-class report with the confusion matrix.
    """
    from sklearn.metrics import (
        accuracy_score,
        classification_report,
        confusion_matrix,
        f1_score,
        recall_score,
    )

    y_true = np.asarray(y_true, np.int64)
    y_pred = np.asarray(y_pred, np.int64)
    labels = list(labels)
    if idx is None:
        idx = bootstrap.indices(len(y_true))
    settings = {"labels": labels, "zero_division": zero_division}
    values = {
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_recall": recall_score(y_true, y_pred, labels=labels, average="macro",
                                     zero_division=zero_division),
        "macro_f1": f1_score(y_true, y_pred, labels=labels, average="macro",
                             zero_division=zero_division),
    }
    position = {label: i for i, label in enumerate(labels)}
    t = np.array([position[v] for v in y_true])
    p = np.array([position.get(v, -1) for v in y_pred])
    # A prediction outside the label set is wrong for every class: give it its own column.
    extra = int((p < 0).any())
    p = np.where(p < 0, len(labels), p)
    tp, predicted, actual = _confusion_counts(t, p, len(labels) + extra, idx)
    recall, f1 = _macro_from_counts(tp[:, : len(labels)], predicted[:, : len(labels)],
                                    actual[:, : len(labels)], zero_division)
    samples = {
        "accuracy": bootstrap.resample_means(y_true == y_pred, idx),
        "macro_recall": recall,
        "macro_f1": f1,
    }
    metrics = {
        "accuracy": _metric(values["accuracy"], samples["accuracy"]),
        "macro_recall": _metric(values["macro_recall"], samples["macro_recall"], average="macro", **settings),
        "macro_f1": _metric(values["macro_f1"], samples["macro_f1"], average="macro", **settings),
    }
    names = [str(n) for n in (label_names or labels)]
    report = {
        "per_class": classification_report(
            y_true, y_pred, labels=labels, target_names=names, zero_division=zero_division,
            output_dict=True,
        ),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "label_names": names,
    }
    return metrics, samples, report


# --- Translation -----------------------------------------------------------------------


def translation(hypotheses, references, bleu_settings=None, idx=None):
    """Corpus BLEU and chrF (sacrebleu) with intervals, and sentence BLEU per example.

    Args:
        hypotheses, references: lists of detokenized strings (one reference each).
        bleu_settings: dict of `sacrebleu.BLEU` arguments (`tokenize`, `lowercase`, ...).

    Returns:
        `(metrics, samples, sentence_bleu)`.
    """
    from sacrebleu.metrics import BLEU, CHRF

    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references.")
    if idx is None:
        idx = bootstrap.indices(len(hypotheses))
    bleu = BLEU(**(bleu_settings or {}))
    chrf = CHRF()
    refs = [references]
    bleu_score = bleu.corpus_score(hypotheses, refs)
    chrf_score = chrf.corpus_score(hypotheses, refs)
    samples = {}
    for name, metric in (("bleu", bleu), ("chrf", chrf)):
        stats = np.array(metric._extract_corpus_statistics(hypotheses, refs), np.float64)
        sums = bootstrap.resample_sums(stats, idx)
        samples[name] = np.array(
            [metric._compute_score_from_stats([int(round(v)) for v in row]).score for row in sums]
        )
    sentence_metric = BLEU(**(bleu_settings or {}), effective_order=True)
    sentence = [
        sentence_metric.sentence_score(h, [r]).score for h, r in zip(hypotheses, references)
    ]
    metrics = {
        "bleu": _metric(bleu_score.score, samples["bleu"], signature=str(bleu.get_signature()),
                        settings=dict(bleu_settings or {})),
        "chrf": _metric(chrf_score.score, samples["chrf"], signature=str(chrf.get_signature())),
    }
    return metrics, samples, sentence


# --- Generative models --------------------------------------------------------------


def per_example_mean(name, values, idx=None, **settings):
    """Mean of per-example values (e.g. negative ELBO in nats) with its interval."""
    values = np.asarray(values, np.float64)
    if idx is None:
        idx = bootstrap.indices(len(values))
    samples = bootstrap.resample_means(values, idx)
    return {name: _metric(values.mean(), samples, **settings)}, {name: samples}


# --- Language models ----------------------------------------------------------------------


def language_modeling(nll, tokens, characters, idx=None):
    """Negative log-likelihood of a text, per character and per token, from per-segment sums
    (a segment: a stretch of the text's tokens), each with its interval; a resample draws
    segments and divides its sums (a ratio of sums, as the point is).

    Args:
        nll: each segment's summed negative log-likelihood of its tokens, in nats.
        tokens: each segment's number of predicted tokens.
        characters: each segment's number of characters those tokens stand for.
        idx: bootstrap indices over the segments (`bootstrap.indices(len(nll))` by default).

    Returns:
        `(metrics, samples)`: `nats_per_char` (total NLL / characters), `bits_per_char` (the
        same over ln 2), `nats_per_token` and `perplexity` (exp of nats per token).

    Raises:
        ValueError: no segments, or no characters (nothing was predicted).

    >>> found, _ = language_modeling([2.0, 4.0], [2, 2], [2, 2])
    >>> found["nats_per_char"]["value"], round(found["perplexity"]["value"], 4)
    (1.5, 4.4817)
    """
    stats = np.stack([np.asarray(v, np.float64) for v in (nll, tokens, characters)], axis=1)
    total = stats.sum(axis=0)
    if len(stats) == 0 or total[1] <= 0 or total[2] <= 0:
        raise ValueError("No predicted token: a language model's score needs at least one "
                         "segment with a token after the first.")
    if idx is None:
        idx = bootstrap.indices(len(stats))
    sums = bootstrap.resample_sums(stats, idx)
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample of empty segments only
        per_char, per_token = sums[:, 0] / sums[:, 2], sums[:, 0] / sums[:, 1]
    values = {
        "nats_per_char": (total[0] / total[2], per_char, "nats per character"),
        "bits_per_char": (total[0] / total[2] / np.log(2), per_char / np.log(2),
                          "bits per character"),
        "perplexity": (np.exp(total[0] / total[1]), np.exp(per_token), "per token"),
        "nats_per_token": (total[0] / total[1], per_token, "nats per token"),
    }
    found = {name: _metric(value, resampled, unit=unit)
             for name, (value, resampled, unit) in values.items()}
    return found, {name: resampled for name, (_, resampled, _) in values.items()}
