"""Training pipelines: a batch is a pure function of (seed, step), so resuming is exact."""

import numpy as np
import pytest

from zoo import datasets
from zoo.text import features
from zoo.training import inputs


def _batches(task, examples, start, count, **kwargs):
    data = inputs.pipeline(task, examples, batch_size=32, seed=3, start_step=start, **kwargs)
    return [tuple(np.asarray(t) if not isinstance(t, dict) else {k: np.asarray(v) for k, v in
                                                                t.items()} for t in batch)
            for batch, _ in zip(data, range(count))]


@pytest.mark.parametrize("augment, binarize, task", [
    (None, None, "image_classification"), ("flip+shift", None, "image_classification"),
    (None, "stochastic", "image_generation")])
def test_resuming_at_a_step_reads_the_same_batches(augment, binarize, task):
    digits = datasets.load("digits", "train")  # 1,437 images: step 50 is in the second epoch
    whole = _batches(task, digits, 0, 60, augment=augment, binarize=binarize)
    resumed = _batches(task, digits, 50, 10, augment=augment, binarize=binarize)
    for a, b in zip(whole[50:], resumed):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_epochs_visit_every_example_once_in_a_new_order():
    examples = datasets.Examples(np.arange(64, dtype="float32").reshape(64, 1, 1, 1),
                                 np.zeros(64, "int32"))
    batches = _batches("image_classification", examples, 0, 4)
    first = np.concatenate([b[0].ravel() for b in batches[:2]])
    second = np.concatenate([b[0].ravel() for b in batches[2:]])
    assert sorted(first) == sorted(second) == list(range(64))
    assert list(first) != list(second)


def test_shift_moves_each_image_differently_and_keeps_it_whole():
    images = np.zeros((32, 12, 12, 1), "float32")
    images[:, 5:7, 5:7] = 1.0
    examples = datasets.Examples(images, np.zeros(32, "int32"))
    x = _batches("image_classification", examples, 0, 1, augment="shift")[0][0]
    corners = {tuple(np.argwhere(img[..., 0] > 0).min(0)) for img in x}
    assert len(corners) > 5 and all(3 <= r <= 7 and 3 <= c <= 7 for r, c in corners)
    assert np.all(x.reshape(32, -1).sum(1) == 4)


def test_flip_mirrors_about_half_the_images_and_nothing_else():
    images = np.zeros((32, 6, 6, 1), "float32")
    images[:, 2, 0] = 1.0  # a dot at the left edge
    examples = datasets.Examples(images, np.zeros(32, "int32"))
    x = _batches("image_classification", examples, 0, 1, augment="flip")[0][0]
    mirrored = x[:, 2, 5, 0] == 1.0
    assert np.all(mirrored | (x[:, 2, 0, 0] == 1.0)) and np.all(x.reshape(32, -1).sum(1) == 1)
    assert 6 <= mirrored.sum() <= 26


def test_an_unknown_augmentation_is_named_with_the_choices():
    from zoo.training.recipes import Recipe, RecipeError

    with pytest.raises(RecipeError, match="augment must name.*flip, shift.*'rotate'"):
        Recipe(entry="x.y", model="vit_tiny_patch2_8", task="image_classification",
               dataset="digits", steps=10, augment="flip+rotate")


@pytest.mark.slow
def test_masked_lm_batches_never_mask_special_tokens():
    from zoo.text import WordPieceTokenizer

    texts = datasets.load("tatoeba-langid-sample", "train")
    tokenizer = WordPieceTokenizer.train(texts.inputs[:500], vocabulary_size=200)
    x, y, w = _batches("masked_lm", datasets.Examples(texts.inputs[:500], None), 0, 1,
                       tokenizer=tokenizer, max_length=16, max_predictions=3)[0]
    positions = x["mask_positions"][w > 0]
    assert positions.size and np.all(positions > 0)  # never [CLS] at position 0
    assert np.all(y[w > 0] > tokenizer.mask_id)  # the original tokens were ordinary ones


@pytest.mark.slow
def test_resuming_a_masked_lm_pipeline_draws_the_same_masks():
    """BERT's masking is seeded by (seed, batch position): a resumed run masks as the
    uninterrupted one did (tensorflow-text's stateful masking started over)."""
    from zoo.text import WordPieceTokenizer

    texts = datasets.load("tatoeba-langid-sample", "train")
    tokenizer = WordPieceTokenizer.train(texts.inputs[:500], vocabulary_size=200)
    examples = datasets.Examples(texts.inputs[:500], None)
    options = dict(tokenizer=tokenizer, max_length=16, max_predictions=3)
    whole = _batches("masked_lm", examples, 0, 24, **options)
    resumed = _batches("masked_lm", examples, 20, 4, **options)
    for (x, y, w), (rx, ry, rw) in zip(whole[20:], resumed):
        assert all(np.array_equal(x[k], rx[k]) for k in x)
        assert np.array_equal(y, ry) and np.array_equal(w, rw)


@pytest.fixture(scope="module")
def pairs():
    from zoo.text import WordPieceTokenizer

    data = datasets.load("tatoeba-en-es-sample", "train")
    tokenizer = WordPieceTokenizer.train(list(data.inputs) + list(data.targets),
                                         vocabulary_size=500, lowercase=False)
    return data, tokenizer


def _rows(ids):
    """Each padded row's ids without padding, as a tuple (identifies the pair)."""
    return [tuple(r[r > 0]) for r in ids]


@pytest.mark.slow
def test_length_batches_pad_less_visit_each_pair_at_most_once_and_resume_exactly(pairs):
    data, tokenizer = pairs
    n, per_epoch = len(data), len(data) // 32
    kwargs = dict(tokenizer=tokenizer, max_length=40)
    by_length = _batches("translation", data, 0, per_epoch + 3, batching="by_length", **kwargs)
    shuffled = _batches("translation", data, 0, per_epoch, **kwargs)

    def padded(batches):
        return np.mean([b[0]["encoder_token_ids"].shape[1] for b in batches])

    def used(batches):
        return np.mean([(b[0]["encoder_token_ids"] > 0).mean() for b in batches])

    # Real sentences of 2 to 30-odd pieces: sorted pools waste far less of each batch.
    assert padded(by_length[:per_epoch]) < 0.7 * padded(shuffled)
    assert used(by_length[:per_epoch]) > used(shuffled) + 0.2
    # One epoch: every batch full, no pair twice, the n % 32 left over dropped.
    rows = [r for b in by_length[:per_epoch] for r in _rows(b[0]["encoder_token_ids"])]
    sources = _rows(np.asarray(features.sequence_ids(tokenizer, list(data.inputs), 40)))
    assert len(rows) == per_epoch * 32 and n - len(rows) == n % 32
    counts = {}
    for r in sources:
        counts[r] = counts.get(r, 0) + 1
    for r in rows:  # a sentence appears no more often than it does in the data
        counts[r] -= 1
        assert counts[r] >= 0
    # The next epoch starts over in a new order; resuming mid-way reads the same batches.
    assert _rows(by_length[per_epoch][0]["encoder_token_ids"]) not in [
        _rows(b[0]["encoder_token_ids"]) for b in by_length[:1]]
    resumed = _batches("translation", data, per_epoch - 2, 5, batching="by_length", **kwargs)
    for a, b in zip(by_length[per_epoch - 2:], resumed):
        assert all(np.array_equal(a[0][k], b[0][k]) for k in a[0])
        assert np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="batching='by_length' is for translation, not "
                                         "image_classification"):
        _batches("image_classification", datasets.load("digits", "train"), 0, 1,
                 batching="by_length")


def test_a_recipe_says_which_batchings_exist_and_where_by_length_applies():
    from zoo.training.recipes import Recipe, RecipeError

    with pytest.raises(RecipeError, match="batching must be one of random, by_length, got "
                                          "'sorted'"):
        Recipe(entry="x.y", model="transformer_tiny", task="translation", dataset="d",
               steps=10, batching="sorted")
    with pytest.raises(RecipeError, match='batching = "by_length" is for translation'):
        Recipe(entry="x.y", model="vit_tiny_patch2_8", task="image_classification",
               dataset="digits", steps=10, batching="by_length")
