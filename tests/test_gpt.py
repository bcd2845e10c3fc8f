"""The GPT family: causality, left padding, cached generation equal to uncached (greedy and
seeded sampling), top-k and top-p, save/load, training on real text, two devices."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import SHARED_DATA
from helpers import unknown_token_writer

import zoo
from zoo.models.gpt.generation import generate_text
from zoo.models.gpt.gpt import GPTCausalLM, left_pad

PROMPTS = [[5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15, 16]]


def _model(**overrides):
    """gpt_tiny with weights scaled up, so that its logits are far apart (a fresh model's are
    nearly uniform, which would make ties and the sampling tests weak)."""
    model = zoo.build("gpt_tiny", **{"num_layers": 2, "max_sequence_length": 64, **overrides})
    rng = np.random.default_rng(0)
    for variable in model.weights:
        if len(variable.shape) == 2:  # kernels and embeddings, not norms or biases
            variable.assign(rng.normal(0.0, 0.25, variable.shape).astype("float32"))
    return model


def _logits(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return _model()


def test_outputs_at_a_position_do_not_depend_on_later_tokens(model):
    rng = np.random.default_rng(1)
    x = rng.integers(1, 256, size=(2, 12)).astype("int32")
    changed = x.copy()
    changed[:, 7:] = rng.integers(1, 256, size=(2, 5))
    a, b = _logits(model, x), _logits(model, changed)
    np.testing.assert_allclose(a[:, :7], b[:, :7], atol=1e-5)
    assert np.abs(a[:, 7:] - b[:, 7:]).max() > 1e-2
    # The same through the padding-mask path (as left-padded prompts are read).
    mask = np.ones_like(x, bool)
    a = _logits(model, {"token_ids": x, "padding_mask": mask})
    b = _logits(model, {"token_ids": changed, "padding_mask": mask})
    np.testing.assert_allclose(a[:, :7], b[:, :7], atol=1e-5)


def test_left_padding_does_not_change_what_follows(model):
    """A padded row's logits, log-probabilities and generated tokens are those of the row
    alone: padding is never attended to and positions count from the first real token."""
    rows = [list(range(20, 27)), [30, 31, 32]]
    ids, mask = left_pad(rows)
    batch = _logits(model, {"token_ids": ids, "padding_mask": mask})
    scores = model.log_probs(ids, mask).numpy()
    greedy = model.generate(ids, mask, max_new_tokens=6).numpy()
    for i, row in enumerate(rows):
        alone = _logits(model, np.array([row], "int32"))[0]
        np.testing.assert_allclose(batch[i, -len(row):], alone, atol=1e-4)
        np.testing.assert_allclose(scores[i, -len(row) + 1:],
                                   model.log_probs([row]).numpy()[0], atol=1e-4)
        np.testing.assert_array_equal(greedy[i],
                                      model.generate([row], max_new_tokens=6).numpy()[0])
    assert np.all(scores[1, :4] == 0.0)  # nothing is predicted at or from padding
    # Garbage under the padding changes nothing either.
    noisy = ids.copy()
    noisy[1, :4] = [200, 201, 202, 203]
    np.testing.assert_allclose(
        _logits(model, {"token_ids": noisy, "padding_mask": mask})[1, 4:], batch[1, 4:],
        atol=1e-5)


def test_log_probs_are_the_softmax_of_the_logits_of_the_next_token(model):
    x = np.random.default_rng(2).integers(1, 256, size=(2, 9)).astype("int32")
    logits = _logits(model, x).astype("float64")
    log_softmax = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(
        -1, keepdims=True)) - logits.max(-1, keepdims=True)
    expected = np.take_along_axis(log_softmax[:, :-1], x[:, 1:, None], axis=-1)[..., 0]
    np.testing.assert_allclose(model.log_probs(x).numpy(), expected, atol=1e-4)


SAMPLING = {
    "greedy": {},
    "temperature": {"temperature": 0.8, "seed": 7},
    "top_k": {"temperature": 1.0, "top_k": 5, "seed": 3},
    "top_p": {"temperature": 1.2, "top_p": 0.7, "seed": 11},
    "top_k_top_p": {"temperature": 1.0, "top_k": 20, "top_p": 0.9, "seed": 5},
}


@pytest.mark.parametrize("options", sorted(SAMPLING))
def test_cached_generation_gives_exactly_the_tokens_of_uncached_generation(model, options):
    kwargs = SAMPLING[options]
    cached = model.generate(PROMPTS, max_new_tokens=24, **kwargs).numpy()
    uncached = model.generate(PROMPTS, max_new_tokens=24, use_cache=False, **kwargs).numpy()
    np.testing.assert_array_equal(cached, uncached)
    assert cached.shape == (3, 24) and cached.dtype == np.int32
    assert not np.any(cached == model.pad_id)  # padding is never generated
    if kwargs:  # sampling: the same seed, the same tokens; another seed, others
        again = model.generate(PROMPTS, max_new_tokens=24, **kwargs).numpy()
        np.testing.assert_array_equal(again, cached)
        other = model.generate(PROMPTS, max_new_tokens=24, **{**kwargs, "seed": 1234}).numpy()
        assert np.any(other != cached)


def test_a_one_token_prompt_and_a_prompt_that_fills_the_context(model):
    one = model.generate([[42]], max_new_tokens=5).numpy()
    np.testing.assert_array_equal(one, model.generate([[42]], max_new_tokens=5,
                                                      use_cache=False).numpy())
    full = model.generate([list(range(1, 61))], max_new_tokens=4).numpy()  # 60 + 4 = 64
    np.testing.assert_array_equal(full, model.generate([list(range(1, 61))], max_new_tokens=4,
                                                       use_cache=False).numpy())


def _steps_logits(model, prompt, new):
    """The logits each generated token was drawn from (recomputed without the cache)."""
    sequence = np.concatenate([np.array(prompt, "int32"), new]).reshape(1, -1)
    return _logits(model, sequence)[0, len(prompt) - 1:-1]


@pytest.mark.parametrize("filter_", ["top_k", "top_p"])
def test_top_k_and_top_p_sample_only_from_their_sets(model, filter_):
    prompt = [5, 6, 7]
    batch = [prompt] * 32  # 32 rows, each its own draws
    kwargs = {"top_k": 4} if filter_ == "top_k" else {"top_p": 0.6}
    new = model.generate(batch, max_new_tokens=6, temperature=1.5, seed=0, **kwargs).numpy()
    drawn_outside_the_top = 0
    for row in new:
        for logits, token in zip(_steps_logits(model, prompt, row), row):
            logits = logits / 1.5
            logits[model.pad_id] = -np.inf
            order = np.argsort(-logits)
            if filter_ == "top_k":
                allowed = set(order[:4])
            else:
                probs = np.exp(logits[order] - logits[order[0]])
                probs /= probs.sum()
                before = np.cumsum(probs) - probs
                allowed = set(order[before < 0.6])
            assert token in allowed
            drawn_outside_the_top += token != order[0]
    assert drawn_outside_the_top > 0  # it samples: not only the most likely token


@pytest.mark.parametrize("temperature", [1e-40, 1e-45, 5e-324])
def test_a_temperature_near_zero_samples_the_most_likely_token(model, temperature):
    """logits / 1e-40 overflowed to inf (and 5e-324 is 0 in float32): NaN logits, from which
    the draw was an id past the vocabulary, and the loop failed on its embedding lookup."""
    greedy = model.generate(PROMPTS, max_new_tokens=8).numpy()
    for kwargs in ({}, {"top_k": 3}, {"top_p": 0.9}):
        for use_cache in (True, False):
            np.testing.assert_array_equal(model.generate(
                PROMPTS, max_new_tokens=8, temperature=temperature, seed=0, use_cache=use_cache,
                **kwargs).numpy(), greedy)


def test_a_stop_id_ends_its_row_and_padding_follows(model):
    free = model.generate(PROMPTS, max_new_tokens=12).numpy()
    stop = int(free[0, 3])
    stopped = model.generate(PROMPTS, max_new_tokens=12, stop_ids=[stop, 255]).numpy()
    for row_free, row in zip(free, stopped):
        hits = np.flatnonzero(np.isin(row_free, [stop, 255]))
        end = hits[0] + 1 if hits.size else len(row)
        np.testing.assert_array_equal(row[:end], row_free[:end])
        assert np.all(row[end:] == model.pad_id)
    assert np.all(stopped[0, 4:] == model.pad_id)


def test_generation_is_traced_once_per_choice_of_options(model):
    """Other prompt lengths, batch sizes, numbers of new tokens, seeds and temperatures run the
    same graph: no retracing (and no per-step tracing)."""
    function = model.generation_function(sample=True, top_k=False, top_p=False)
    model.generate([[1, 2, 3]], max_new_tokens=3, temperature=1.0, seed=1)
    count = function.experimental_get_tracing_count()
    model.generate(PROMPTS, max_new_tokens=9, temperature=0.5, seed=2)
    model.generate([[4, 5]], max_new_tokens=2, temperature=2.0, seed=3, stop_ids=[9])
    assert function.experimental_get_tracing_count() == count == 1


@pytest.mark.parametrize("call, message", [
    (lambda m: m.generate(np.array([[1, 2, 0]]), np.array([[1, 1, 0]]), max_new_tokens=2),
     "padded on the LEFT"),
    (lambda m: m.generate([[1, 2, 300]], max_new_tokens=2), "token id 300 is outside"),
    (lambda m: m.generate([[1] * 60], max_new_tokens=5),
     r"The prompt's 60 tokens \(the longest of the batch\) and max_new_tokens=5 make 65, more "
     r"than the model's max_sequence_length=64 positions: ask for at most max_new_tokens=4, or "
     r"keep the last 59 tokens of the prompt\."),
    (lambda m: m.generate([[1] * 70], max_new_tokens=1),
     r"The prompt's 70 tokens .* max_sequence_length=64 positions: keep the last 63 tokens"),
    (lambda m: m.generate([[1]], max_new_tokens=100),
     r"make 101, .*: ask for at most max_new_tokens=63\.$"),
    (lambda m: m.generate([[1, 2]], max_new_tokens=2, temperature=1.0, seed=2**70),
     r"seed must fit in 64 bits \(-2\*\*63 <= seed < 2\*\*63\), got 1180591620717411303424"),
    (lambda m: m.generate([[1, 2]], max_new_tokens=2, top_k=3), "set temperature > 0"),
    (lambda m: m.generate([[1, 2]], max_new_tokens=2, temperature=1.0, top_p=1.5),
     r"top_p must be a number in \(0, 1\]"),
    (lambda m: m.generate([[1, 2]], max_new_tokens=2, temperature=-1.0), "temperature must"),
    (lambda m: m.generate([[1, 2], []], max_new_tokens=2), "Sequence 1 of the batch is empty"),
    (lambda m: m.generate([[1, 2]], max_new_tokens=0), "max_new_tokens must be a positive"),
    (lambda m: m.generate([[1, 2]], max_new_tokens=2, stop_ids=[256]), "stop_ids"),
    (lambda m: m.log_probs(np.array([[1, 2]]), np.array([[0, 0]])), "Row 0 .* all padding"),
    (lambda m: m.log_probs(np.ones((1, 66), "int32")), "65 tokens are more than"),
    (lambda m: m({"token_ids": np.array([[1]]), "mask": np.array([[1]])}), "'padding_mask'"),
])
def test_bad_input_is_refused_with_a_reason(model, call, message):
    with pytest.raises(ValueError, match=message):
        call(model)


def test_numpy_scalars_are_options_like_python_numbers(model):
    """max_new_tokens, top_k, temperature and top_p read from NumPy (`np.int64(3)`,
    `np.float32(0.8)`) were refused as "not a positive integer" / "not a number"."""
    python = model.generate(PROMPTS, max_new_tokens=5, temperature=0.75, top_k=7, top_p=0.5,
                            seed=4).numpy()
    numpy = model.generate(PROMPTS, max_new_tokens=np.int64(5), temperature=np.float32(0.75),
                           top_k=np.int32(7), top_p=np.float32(0.5), seed=np.int64(4)).numpy()
    np.testing.assert_array_equal(numpy, python)
    with pytest.raises(ValueError, match="max_new_tokens must be a positive integer"):
        model.generate(PROMPTS, max_new_tokens=np.float64(5.0))


def test_generate_text_refuses_a_prompt_that_is_not_a_string(model):
    tokenizer = _Characters("abc")
    small = _model(vocabulary_size=tokenizer.vocabulary_size)
    with pytest.raises(ValueError, match="prompts must be strings; prompt 1 is a int: 5"):
        generate_text(small, tokenizer, ["ab", 5], max_new_tokens=2)


def test_a_stop_string_ends_a_row_only_at_a_token_that_reads_back_as_itself():
    """A stop the vocabulary lacks is the unknown token, which any unknown character becomes:
    the rows ended at the first unknown token generated while the text, which reads it as
    U+FFFD, was not cut there; the continuation came back short."""
    from zoo.text import CharacterTokenizer

    tokenizer = CharacterTokenizer.train(["abc"])
    model = unknown_token_writer(tokenizer)  # greedy decoding writes <unk> at every step
    unknown = "\ufffd" * 5
    assert generate_text(model, tokenizer, ["ab"], max_new_tokens=5) == [unknown]
    assert generate_text(model, tokenizer, ["ab"], max_new_tokens=5, stop="\U0001f600") == [
        unknown]
    # A stop that is what the unknown token reads as is cut (and ends the row).
    assert generate_text(model, tokenizer, ["ab"], max_new_tokens=5, stop="\ufffd") == [""]


def test_config_round_trips_and_refuses_impossible_values():
    model = zoo.build("gpt_tiny", tie_embeddings=False, num_layers=1)
    rebuilt = GPTCausalLM.from_config(model.get_config())
    assert rebuilt.get_config() == model.get_config()
    assert rebuilt.count_params() == model.count_params() == 445_952 - 198_272 + 256 * 128
    lines = []
    model.summary(print_fn=lambda line, **_: lines.append(line))  # built at construction
    text = "".join(lines)
    assert "(CausalSelfAttentionBlock)" in text and "Total params: 280,448" in text
    with pytest.raises(ValueError, match="pad_id=300 is outside the vocabulary of 256"):
        zoo.build("gpt_tiny", pad_id=300)
    with pytest.raises(ValueError, match="hidden_dim=128 must be divisible by num_heads=3"):
        zoo.build("gpt_tiny", num_heads=3)


def test_save_and_load_give_identical_logits_and_generations(model, tmp_path):
    ids, mask = left_pad(PROMPTS)
    model.save(tmp_path / "gpt.keras")
    loaded = zoo.load_model(tmp_path / "gpt.keras")
    assert type(loaded) is GPTCausalLM and loaded.get_config() == model.get_config()
    x = {"token_ids": ids, "padding_mask": mask}
    np.testing.assert_array_equal(_logits(loaded, x), _logits(model, x))
    for kwargs in ({}, SAMPLING["top_k_top_p"]):
        np.testing.assert_array_equal(
            loaded.generate(ids, mask, max_new_tokens=10, **kwargs).numpy(),
            model.generate(ids, mask, max_new_tokens=10, **kwargs).numpy())


class _Characters:
    """A raw character tokenizer for the test (id 0 is padding)."""

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.ids = {c: i + 1 for i, c in enumerate(self.chars)}
        self.vocabulary_size, self.pad_id = len(self.chars) + 1, 0

    def encode(self, text):
        return np.array([self.ids[c] for c in text], "int32")

    def tokenize(self, texts):
        return tf.ragged.constant([self.encode(t).tolist() for t in texts], dtype=tf.int32,
                                  ragged_rank=1)

    def detokenize(self, ids):
        return tf.constant(["".join(self.chars[i - 1] for i in row if i > 0)
                            for row in ids.to_list()])


def _shakespeare():
    path = os.path.join(SHARED_DATA, "tinyshakespeare", "input.txt")
    if not os.path.isfile(path):
        pytest.skip(f"{path} is not there (see tests/conftest.py: SHARED_DATA)")
    with open(path, encoding="utf-8") as f:
        return f.read()


def _windows(stream, rng, count, length):
    starts = rng.integers(0, len(stream) - length - 1, size=count)
    windows = np.stack([stream[s:s + length + 1] for s in starts])
    return windows[:, :-1], windows[:, 1:]


def test_a_few_training_steps_lower_the_loss_on_real_text():
    text = _shakespeare()
    tokenizer = _Characters(text)
    stream = tokenizer.encode(text[:200_000])
    rng = np.random.default_rng(0)
    x, y = _windows(stream, rng, 40 * 16, 32)
    val_x, val_y = _windows(stream, rng, 64, 32)
    model = zoo.build("gpt_tiny", vocabulary_size=tokenizer.vocabulary_size,
                      max_sequence_length=32)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    first = model.evaluate(val_x, val_y, verbose=0)
    assert abs(first - np.log(tokenizer.vocabulary_size)) < 0.3  # a fresh model: ~uniform
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert model.evaluate(val_x, val_y, verbose=0) < 0.8 * first
    texts = generate_text(model, tokenizer, ["ROMEO:\n", "First"], max_new_tokens=12,
                          temperature=0.8, seed=0, stop="\n\n")
    assert len(texts) == 2 and all(isinstance(t, str) and "\n\n" not in t for t in texts)


def test_generate_text_cuts_at_the_stop_string(model):
    tokenizer = _Characters("abcdefghij\n")
    small = _model(vocabulary_size=tokenizer.vocabulary_size)
    free = generate_text(small, tokenizer, ["abc", "j"], max_new_tokens=20)
    assert all(len(t) == 20 for t in free)
    stop = free[0][5]
    cut = generate_text(small, tokenizer, ["abc", "j"], max_new_tokens=20, stop=stop)
    assert cut == [t.split(stop, 1)[0] for t in free]
    with pytest.raises(ValueError, match="gives no token"):
        generate_text(small, tokenizer, ["abc", ""], max_new_tokens=2)


def test_gpt2_small_is_gpt2s_layout():
    """124,439,808: embeddings, 12 blocks and the final norm; tied output (the build itself is
    checked in test_param_counts)."""
    config = zoo.describe("gpt2_small")["config"]
    d, f, v, n = config["hidden_dim"], config["intermediate_dim"], 50257, 1024
    block = 4 * (d * d + d) + (d * f + f) + (f * d + d) + 2 * 2 * d
    assert v * d + n * d + 12 * block + 2 * d == 124_439_808
    assert zoo.describe("gpt2_small")["params"] == 124_439_808
