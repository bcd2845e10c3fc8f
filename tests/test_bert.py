import math

import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.text.masking import mask_tokens

PAD, CLS, SEP, MASK = 0, 4, 5, 6


def bert_inputs(ids):
    ids = np.asarray(ids, "int32")
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": (ids > 0).astype("int32")}


def test_padding_does_not_change_real_positions():
    bert = zoo.build("bert_tiny", vocabulary_size=50, dropout=0.0)
    short = bert(bert_inputs([[CLS, 10, 11, 12, SEP]]))
    long = bert(bert_inputs([[CLS, 10, 11, 12, SEP, 0, 0, 0]]))
    np.testing.assert_allclose(long["sequence_output"][:, :5], short["sequence_output"], atol=1e-5)
    np.testing.assert_allclose(long["pooled_output"], short["pooled_output"], atol=1e-5)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_pooled_output_reads_the_last_blocks_first_token(normalize_first):
    """The pooled output runs the last block at the first token only; it equals the pooler over
    the sequence output's first token, and a classifier's traced forward pass leaves out the
    rest of the last block (fewer matmul FLOPs than the same model's sequence output)."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    bert = zoo.build("bert_tiny", vocabulary_size=50, dropout=0.0,
                     normalize_first=normalize_first)
    x = bert_inputs([[CLS, 10, 11, 12, SEP, 0], [CLS, 13, SEP, 0, 0, 0]])
    out = bert(x)
    np.testing.assert_allclose(out["pooled_output"],
                               bert.get_layer("pooler")(out["sequence_output"][:, 0]), atol=1e-5)

    def flops(output):
        spec = {k: tf.TensorSpec([2, 6], tf.int32) for k in x}
        fn = tf.function(lambda v: bert(v)[output]).get_concrete_function(spec)
        graph = convert_variables_to_constants_v2(fn).graph
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops

    assert flops("pooled_output") < 0.75 * flops("sequence_output")


def test_segments_change_the_output():
    bert = zoo.build("bert_tiny", vocabulary_size=50, dropout=0.0)
    x = bert_inputs([[CLS, 10, SEP, 11, SEP]])
    y = dict(x, segment_ids=np.array([[0, 0, 0, 1, 1]], "int32"))
    assert not np.allclose(bert(x)["pooled_output"], bert(y)["pooled_output"])


def test_masked_lm_head_is_tied_to_the_token_embeddings():
    mlm = zoo.build("bert_tiny", task="masked_lm", vocabulary_size=50)
    backbone = mlm.backbone.count_params()
    hidden = 128
    head = hidden * hidden + hidden + 2 * hidden + 50  # transform, norm, output bias: no new matrix
    assert mlm.count_params() == backbone + head
    x = dict(bert_inputs([[CLS, 10, 11, SEP]]), mask_positions=np.array([[1, 2]], "int32"))
    before = mlm(x).numpy()
    emb = mlm.backbone.token_embedding.embeddings
    emb.assign(emb.numpy() * 2.0)
    assert not np.allclose(mlm(x).numpy(), before)


def test_masking_follows_bert_proportions_and_never_touches_specials():
    rng = np.random.default_rng(0)
    ids = rng.integers(7, 1000, size=(3000, 48)).astype("int32")
    ids[:, 0] = CLS
    ids[:, 30] = SEP
    ids[:, 31:] = PAD
    out = mask_tokens(
        tf.constant(ids), vocabulary_size=1000, mask_id=MASK,
        unselectable_ids=[PAD, CLS, SEP], max_predictions=8, seed=(0, 0),
    )
    weights = out["mask_weights"].numpy() > 0
    positions = out["mask_positions"].numpy()
    corrupted = out["token_ids"].numpy()
    original = out["mask_ids"].numpy()
    # 29 selectable tokens a row: 15% of them, rounded up.
    assert (weights.sum(axis=1) == math.ceil(0.15 * 29)).all()
    chosen = positions[weights]
    assert not np.isin(chosen, [0, 30]).any() and (chosen < 30).all()
    np.testing.assert_array_equal(original[weights], np.take_along_axis(ids, positions, 1)[weights])
    new = np.take_along_axis(corrupted, positions, 1)[weights]
    assert (new == MASK).mean() == pytest.approx(0.8, abs=0.02)
    assert (new == original[weights]).mean() == pytest.approx(0.1, abs=0.02)
    # Nothing outside the chosen positions changes.
    untouched = np.ones_like(ids, bool)
    np.put_along_axis(untouched, positions, ~weights, axis=1)
    untouched[np.arange(len(ids))[:, None].repeat(8, 1)[weights], chosen] = False
    np.testing.assert_array_equal(corrupted[untouched], ids[untouched])


def _masking_batch(rows=3000):
    rng = np.random.default_rng(0)
    ids = rng.integers(7, 1000, size=(rows, 48)).astype("int32")
    ids[:, 0], ids[:, 30], ids[:, 31:] = CLS, SEP, PAD
    return ids


def test_masking_is_a_function_of_the_ids_and_the_seed():
    """Stateless: the same ids and seed give the same masks on every call, in any process
    (a resumed run masks its batches as the uninterrupted run did); another seed, others."""
    ids = tf.constant(_masking_batch(64))
    options = dict(vocabulary_size=1000, mask_id=MASK, unselectable_ids=[PAD, CLS, SEP],
                   max_predictions=8)
    first = mask_tokens(ids, seed=(3, 7), **options)
    again = tf.function(lambda: mask_tokens(ids, seed=tf.constant([3, 7]), **options))()
    other = mask_tokens(ids, seed=(3, 8), **options)
    for key in first:
        np.testing.assert_array_equal(first[key].numpy(), again[key].numpy(), err_msg=key)
    assert not np.array_equal(first["mask_positions"].numpy(), other["mask_positions"].numpy())
    # Fixed numbers: the masks do not depend on TensorFlow's global seed or op counters.
    tf.random.set_seed(99)
    tf.random.uniform([3])
    np.testing.assert_array_equal(mask_tokens(ids, seed=(3, 7), **options)["token_ids"].numpy(),
                                  first["token_ids"].numpy())
    with pytest.raises(ValueError, match="seed must be two integers"):
        mask_tokens(ids, seed=(1, 2, 3), **options)


def test_masking_selects_every_selectable_position_alike_and_takes_ragged_input():
    ids = _masking_batch()
    out = mask_tokens(tf.constant(ids), vocabulary_size=1000, mask_id=MASK,
                      unselectable_ids=[PAD, CLS, SEP], max_predictions=8, seed=(0, 1))
    positions = out["mask_positions"].numpy()[out["mask_weights"].numpy() > 0]
    counts = np.bincount(positions, minlength=48)
    expected = len(ids) * math.ceil(0.15 * 29) / 29  # positions 1..29
    assert counts[[0, *range(30, 48)]].sum() == 0
    assert np.all(np.abs(counts[1:30] / expected - 1) < 0.15), counts[1:30]
    assert (np.diff(out["mask_positions"].numpy()[:, :5], axis=1) > 0).all()  # ascending
    # Ragged rows: the same selection over the real tokens, back as ragged rows.
    ragged = tf.ragged.constant([[CLS, 10, 11, 12, 13, SEP], [CLS, 10, SEP]])
    masked = mask_tokens(ragged, vocabulary_size=20, mask_id=MASK, unselectable_ids=[CLS, SEP],
                         max_predictions=3, seed=(0, 0))
    assert isinstance(masked["token_ids"], tf.RaggedTensor)
    assert masked["token_ids"].row_lengths().numpy().tolist() == [6, 3]
    assert masked["mask_weights"].numpy().sum(axis=1).tolist() == [1, 1]
    assert set(masked["mask_positions"].numpy()[:, 0]) <= {1, 2, 3, 4}


def test_masking_runs_inside_a_tf_data_pipeline():
    ids = np.full((16, 12), 9, "int32")
    ids[:, 0] = CLS
    ds = tf.data.Dataset.from_tensor_slices(ids).batch(4).enumerate().map(
        lambda i, t: mask_tokens(t, vocabulary_size=20, mask_id=MASK, unselectable_ids=[PAD, CLS],
                                 max_predictions=3, seed=tf.stack([tf.constant(0, tf.int64), i]))
    )
    batch = next(iter(ds))
    assert batch["token_ids"].shape == (4, 12)
    assert batch["mask_positions"].shape == (4, 3)
    assert (batch["mask_weights"].numpy().sum(axis=1) == 2).all()  # ceil(0.15 * 11)


def test_classifier_starts_from_pretrained_encoder_weights():
    mlm = zoo.build("bert_tiny", task="masked_lm", vocabulary_size=50)
    clf = zoo.build("bert_tiny", task="classifier", num_classes=3, vocabulary_size=50, dropout=0.0)
    clf.backbone.set_weights(mlm.backbone.get_weights())
    for a, b in zip(mlm.backbone.weights, clf.backbone.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert clf(bert_inputs([[CLS, 10, SEP]])).shape == (1, 3)
