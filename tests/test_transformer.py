import functools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo

VOCAB = 12


def reversal_task(n, rng):
    """Sources of 2-7 tokens; targets are the source reversed, then the end token."""
    src = np.zeros((n, 9), "int32")
    tgt = np.zeros((n, 10), "int32")
    for i, length in enumerate(rng.integers(2, 8, size=n)):
        tokens = rng.integers(3, VOCAB, size=length)
        src[i, :length] = tokens
        tgt[i, : length + 1] = list(tokens[::-1]) + [2]
    dec = np.concatenate([np.ones((n, 1), "int32"), tgt[:, :-1]], 1)
    dec[tgt == 0] = 0
    return {"encoder_token_ids": src, "decoder_token_ids": dec}, tgt


@functools.cache
def _trained_weights(key):
    """A random model decodes one token over and over; a briefly trained one decodes
    sequences that differ per source and end at varied lengths, which the tests need."""
    model = zoo.build("transformer_tiny", vocabulary_size=VOCAB, dropout=0.0, **json.loads(key))
    x, y = reversal_task(3072, np.random.default_rng(0))
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    history = model.fit(x, y, batch_size=64, epochs=3, verbose=0).history["loss"]
    assert history[-1] < history[0] / 3, history  # it learns
    return model.get_weights()


def make_model(**overrides):
    model = zoo.build("transformer_tiny", vocabulary_size=VOCAB, dropout=0.0, **overrides)
    model.set_weights(_trained_weights(json.dumps(overrides, sort_keys=True)))
    return model


def sources():
    rng = np.random.default_rng(1)
    src = rng.integers(3, VOCAB, size=(6, 9)).astype("int32")
    src[1, 6:] = 0
    src[4, 3:] = 0
    return src


VARIANTS = [
    {},
    {"normalize_first": False},
    {"position_embedding": "learned", "share_embeddings": False, "tie_output_embeddings": False,
     "target_vocabulary_size": VOCAB + 3},
]


@pytest.mark.parametrize("overrides", VARIANTS)
@pytest.mark.slow
def test_padding_does_not_change_real_positions(overrides):
    model = make_model(**overrides)
    src = np.array([[5, 6, 7, 8, 2]], "int32")
    tgt = np.array([[1, 9, 4, 3]], "int32")
    base = model({"encoder_token_ids": src, "decoder_token_ids": tgt}).numpy()
    padded = model({
        "encoder_token_ids": np.pad(src, [[0, 0], [0, 4]]),
        "decoder_token_ids": np.pad(tgt, [[0, 0], [0, 3]]),
    }).numpy()
    np.testing.assert_allclose(padded[:, :4], base, atol=1e-4)


@pytest.mark.parametrize("overrides", VARIANTS)
@pytest.mark.slow
def test_decoder_output_at_t_ignores_later_tokens(overrides):
    model = make_model(**overrides)
    src = sources()[:2]
    tgt = np.array([[1, 5, 6, 7, 8, 9], [1, 3, 4, 5, 6, 7]], "int32")
    changed = tgt.copy()
    changed[:, 3:] = [[10, 11, 3], [9, 9, 9]]
    a = model({"encoder_token_ids": src, "decoder_token_ids": tgt}).numpy()
    b = model({"encoder_token_ids": src, "decoder_token_ids": changed}).numpy()
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-5)
    assert not np.allclose(a[:, 3:], b[:, 3:], atol=1e-3)


@pytest.mark.parametrize("overrides", VARIANTS)
@pytest.mark.slow
def test_beam_width_1_is_greedy_and_cache_changes_nothing(overrides):
    model = make_model(**overrides)
    src = sources()
    greedy = model.generate(src, max_length=10).numpy()
    assert len({tuple(row) for row in greedy}) > 1, "decodes should differ between rows"
    np.testing.assert_array_equal(model.generate(src, max_length=10, beam_width=1).numpy(), greedy)
    np.testing.assert_array_equal(model.generate(src, max_length=10, use_cache=False).numpy(), greedy)
    np.testing.assert_array_equal(model.generate(src, max_length=10, jit_compile=False).numpy(),
                                  greedy)  # the default compiles the cached search with XLA
    beam = model.generate(src, max_length=10, beam_width=4).numpy()
    np.testing.assert_array_equal(
        model.generate(src, max_length=10, beam_width=4, use_cache=False).numpy(), beam
    )
    np.testing.assert_array_equal(
        model.generate(src, max_length=10, beam_width=4, jit_compile=False).numpy(), beam
    )


@pytest.mark.slow
def test_greedy_matches_a_step_by_step_argmax_over_the_full_model():
    model = make_model()
    src = sources()[:3]
    out = model.generate(src, max_length=7).numpy()
    for row in range(3):
        prefix = [model.start_id]
        for _ in range(7):
            logits = model({"encoder_token_ids": src[row : row + 1],
                            "decoder_token_ids": np.array([prefix], "int32")}).numpy()
            logits[..., [model.pad_id, model.start_id]] = -np.inf
            prefix.append(int(logits[0, -1].argmax()))
            if prefix[-1] == model.end_id:
                break
        expected = prefix[1:] + [model.pad_id] * (8 - len(prefix))
        assert out[row].tolist() == expected


def test_after_the_end_token_only_padding_follows():
    model = make_model()
    out = model.generate(sources(), max_length=12, beam_width=3).numpy()
    ended = 0
    for row in out:
        hits = np.flatnonzero(row == model.end_id)
        if hits.size:
            ended += 1
            assert (row[hits[0] + 1 :] == model.pad_id).all()
    assert ended > 0


@pytest.mark.slow
def test_beam_search_scores_at_least_as_well_as_greedy():
    model = make_model()
    src = sources()

    def log_prob(tokens):
        """Sum of log-probabilities of `tokens` (up to the end token) under the model."""
        total = []
        for s, row in zip(src, tokens):
            end = np.flatnonzero(row == model.end_id)
            row = row[: end[0] + 1] if end.size else row
            dec = np.concatenate([[model.start_id], row[:-1]])[None].astype("int32")
            logits = model({"encoder_token_ids": s[None], "decoder_token_ids": dec}).numpy()[0]
            lp = tf.nn.log_softmax(logits).numpy()
            total.append(lp[np.arange(len(row)), row].sum())
        return np.array(total)

    greedy = model.generate(src, max_length=8).numpy()
    beam = model.generate(src, max_length=8, beam_width=5, length_penalty=0.0).numpy()
    assert (log_prob(beam) >= log_prob(greedy) - 1e-4).all()


def test_decoding_runs_as_one_tf_function():
    model = make_model()
    assert isinstance(type(model)._generate, tf.types.experimental.PolymorphicFunction)
    model.generate(sources(), max_length=5)
    concrete = model._generate.get_concrete_function(tf.constant(sources()), 5, 1, 0.6, True)
    ops = {op.type for op in concrete.graph.get_operations()}
    assert "While" in ops or "StatelessWhile" in ops


@pytest.mark.slow
def test_bad_generate_arguments_are_refused():
    model = make_model()
    with pytest.raises(ValueError, match="beam_width"):
        model.generate(sources(), beam_width=0)
    with pytest.raises(ValueError, match="integer matrix"):
        model.generate(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="needs use_cache=True"):
        model.generate(sources(), use_cache=False, jit_compile=True)
    learned = make_model(position_embedding="learned")
    with pytest.raises(ValueError, match="max_length"):
        learned.generate(sources(), max_length=500)


@pytest.mark.parametrize("beam_width", [1, 4])
@pytest.mark.slow
def test_each_row_decodes_as_it_would_alone(beam_width):
    model = make_model()
    src = sources()
    batch = model.generate(src, max_length=8, beam_width=beam_width).numpy()
    for row in (0, 4):  # a full row and a padded one; batch size 1 has static shapes
        alone = model.generate(src[row : row + 1], max_length=8, beam_width=beam_width).numpy()
        np.testing.assert_array_equal(alone[0], batch[row])
