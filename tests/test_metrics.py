"""Headline values are scikit-learn's and sacrebleu's own; intervals and paired tests behave."""

import numpy as np
import pytest
import sacrebleu
from sklearn.metrics import accuracy_score, f1_score, recall_score

from zoo import metrics
from zoo.metrics import bootstrap


def noisy_predictions(n=3000, classes=6, accuracy=0.7, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return y, np.where(rng.random(n) < accuracy, y, rng.integers(0, classes, n))


def test_classification_values_are_scikit_learns():
    y, p = noisy_predictions()
    labels = list(range(7))  # one class never occurs: the full label set still counts
    found, samples, report = metrics.classification(y, p, labels=labels)
    assert found["accuracy"]["value"] == accuracy_score(y, p)
    assert found["macro_recall"]["value"] == recall_score(y, p, labels=labels, average="macro",
                                                         zero_division=0)
    assert found["macro_f1"]["value"] == f1_score(y, p, labels=labels, average="macro",
                                                 zero_division=0)
    assert found["macro_f1"]["labels"] == labels and found["macro_f1"]["zero_division"] == 0
    assert np.array(report["confusion_matrix"]).shape == (7, 7)
    assert set(report["per_class"]) >= {"0", "6", "macro avg"}


def test_resampled_scores_equal_scikit_learn_on_each_resample():
    y, p = noisy_predictions(n=400)
    idx = bootstrap.indices(len(y), resamples=20, seed=3)
    _, samples, _ = metrics.classification(y, p, labels=list(range(6)), idx=idx)
    for r in range(20):
        i = idx[r]
        assert samples["accuracy"][r] == pytest.approx(accuracy_score(y[i], p[i]))
        assert samples["macro_recall"][r] == pytest.approx(
            recall_score(y[i], p[i], labels=list(range(6)), average="macro", zero_division=0))
        assert samples["macro_f1"][r] == pytest.approx(
            f1_score(y[i], p[i], labels=list(range(6)), average="macro", zero_division=0))


def test_interval_contains_the_value_and_narrows_with_more_data():
    small = metrics.classification(*noisy_predictions(n=200), labels=list(range(6)))[0]
    large = metrics.classification(*noisy_predictions(n=5000), labels=list(range(6)))[0]
    for found in (small, large):
        for metric in found.values():
            assert metric["low"] <= metric["value"] <= metric["high"]
    width = lambda m: m["accuracy"]["high"] - m["accuracy"]["low"]  # noqa: E731
    assert width(large) < width(small) / 3
    # ~95% normal-approximation width for a proportion near 0.75
    assert width(large) == pytest.approx(2 * 1.96 * np.sqrt(0.75 * 0.25 / 5000), rel=0.25)


def test_translation_values_are_sacrebleus():
    hyps = ["the cat sat on the mat", "a dog runs", "hello world", "it is raining today"] * 30
    refs = ["the cat sat on a mat", "the dog runs", "hello , world", "it rains today"] * 30
    found, samples, sentence = metrics.translation(hyps, refs, {"tokenize": "13a"})
    assert found["bleu"]["value"] == sacrebleu.corpus_bleu(hyps, [refs], tokenize="13a").score
    assert found["chrf"]["value"] == sacrebleu.corpus_chrf(hyps, [refs]).score
    assert "tok:13a" in found["bleu"]["signature"] and "nrefs:1" in found["bleu"]["signature"]
    assert sentence[0] == pytest.approx(
        sacrebleu.sentence_bleu(hyps[0], [refs[0]], tokenize="13a").score)
    assert found["bleu"]["low"] <= found["bleu"]["value"] <= found["bleu"]["high"]
    i = bootstrap.indices(len(hyps))[5]
    again = sacrebleu.corpus_bleu([hyps[j] for j in i], [[refs[j] for j in i]]).score
    assert samples["bleu"][5] == pytest.approx(again, abs=1e-9)


def test_indices_depend_only_on_size_and_seed():
    a = bootstrap.indices(100, 50, 1)
    np.testing.assert_array_equal(a, bootstrap.indices(100, 50, 1))
    assert not np.array_equal(a, bootstrap.indices(100, 50, 2))
    assert a.min() >= 0 and a.max() < 100


def test_resample_sums_equal_summing_each_resample():
    rng = np.random.default_rng(3)
    stats = rng.normal(size=(500, 4))
    idx = bootstrap.indices(500, 50, 1)
    expected = np.stack([stats[row].sum(axis=0) for row in idx])
    np.testing.assert_allclose(bootstrap.resample_sums(stats, idx), expected, rtol=1e-10)
    np.testing.assert_allclose(bootstrap.resample_means(stats[:, 0], idx),
                               [stats[row, 0].mean() for row in idx], rtol=1e-10)
    assert (bootstrap.counts(idx).sum(axis=1) == 500).all()


def test_paired_test_tells_real_differences_from_noise():
    y, p_good = noisy_predictions(n=2000, accuracy=0.80, seed=1)
    rng = np.random.default_rng(9)
    p_bad = np.where(rng.random(2000) < 0.1, (p_good + 1) % 6, p_good)  # ~8 points worse
    # Noise: 10 right answers turn wrong and 8 wrong ones turn right (0.1 points apart).
    p_same = p_good.copy()
    right, wrong = np.flatnonzero(p_good == y), np.flatnonzero(p_good != y)
    p_same[rng.choice(right, 10, replace=False)] += 1
    p_same %= 6
    fixed = rng.choice(wrong, 8, replace=False)
    p_same[fixed] = y[fixed]
    idx = bootstrap.indices(2000)

    def scored(p):
        found, samples, _ = metrics.classification(y, p, labels=list(range(6)), idx=idx)
        return samples["accuracy"], found["accuracy"]["value"]

    (sa, va), (sb, vb), (sc, vc) = scored(p_good), scored(p_bad), scored(p_same)
    real = bootstrap.paired_test(sa, sb, va, vb)
    assert real["significant"] and real["better"] == "a" and real["low"] > 0
    noise = bootstrap.paired_test(sa, sc, va, vc)
    assert not noise["significant"] and noise["p_value"] > 0.05
    assert bootstrap.paired_test(sa, sa, va, va)["p_value"] == 1.0
