"""Language modelling: the character tokenizer, Tiny Shakespeare, the training windows, the
scoring of a text (against a direct computation), a user's own text as a benchmark, and a
run trained and benchmarked through `zoo train` / `zoo bench run`."""

import dataclasses
import json
import re
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import SHARED_DATA

import zoo
from zoo import datasets, tasks
from zoo.datasets import DatasetError, Examples, catalog, sources
from zoo.harness import benchmarks, compare, runner
from zoo.metrics import bootstrap
from zoo.text import CharacterTokenizer, WordPieceTokenizer, tokenizers
from zoo.training import inputs, recipes
from zoo.training.errors import RecipeError
from zoo.training.recipes import Recipe
from zoo.training.train import load_trained

DATA = Path(SHARED_DATA)
needs_data = pytest.mark.skipif(not (DATA / "tinyshakespeare").is_dir(),
                                reason="needs ../shared/data/tinyshakespeare")
KIND = tasks.get("language_modeling")
TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
        "\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n") * 3


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)


# --- The character tokenizer -----------------------------------------------------------------


def test_characters_round_trip_exactly_and_unknown_ones_read_as_one_replacement(tmp_path):
    tokenizer = tokenizers.train([TEXT, "¿Qué tal?\tÉté"], kind="characters")
    assert tokenizer.vocabulary[:2] == ["<pad>", "<unk>"]
    assert tokenizer.vocabulary[2:] == sorted(set(TEXT + "¿Qué tal?\tÉté"))
    texts = [TEXT, "¿Qué tal?\tÉté", ""]
    ids = tokenizer.tokenize(texts)
    assert ids.dtype == tf.int32 and ids.row_lengths().numpy().tolist() == [len(t) for t in texts]
    assert [t.decode() for t in tokenizer.detokenize(ids).numpy()] == texts  # case, \n, \t kept
    stream = tokenizer.encode(TEXT)
    assert stream.dtype == np.int32 and tokenizer.decode(stream) == TEXT
    # An unknown character: one <unk>, one U+FFFD back (positions keep lining up).
    unknown = tokenizer.encode("Zeus✓?")
    assert (unknown == tokenizer.unk_id).tolist() == [True, False, False, False, True, False]
    assert tokenizer.decode(unknown) == "\ufffdeus\ufffd?"
    # Padding is dropped; ids outside the vocabulary read as unknown.
    padded = tf.constant([[tokenizer.encode("Al")[0], tokenizer.encode("Al")[1], 0, 0]])
    assert tokenizer.detokenize(padded).numpy().tolist() == [b"Al"]
    assert tokenizer.decode([10_000, -4]) == "\ufffd\ufffd"
    # In a graph (a tf.data map, a tf.function), as a SavedModel would run it.
    mapped = tf.data.Dataset.from_tensor_slices(["Speak", "me"]).map(tokenizer.tokenize)
    assert [x.numpy().tolist() for x in mapped] == [tokenizer.encode("Speak").tolist(),
                                                    tokenizer.encode("me").tolist()]
    round_trip = tf.function(lambda s: tokenizer.detokenize(tokenizer.tokenize(s)))
    assert round_trip(tf.constant(["hear me"])).numpy().tolist() == [b"hear me"]
    # Saved with its class; `tokenizers.load` reads either kind back, as it was.
    tokenizer.save(tmp_path / "chars")
    assert json.loads((tmp_path / "chars" / "tokenizer.json").read_text())["class"] == \
        "CharacterTokenizer"
    again = tokenizers.load(tmp_path / "chars")
    assert isinstance(again, CharacterTokenizer) and again.get_config() == tokenizer.get_config()
    assert type(again)(**again.get_config()).encode(TEXT).tolist() == stream.tolist()
    words = tokenizers.train([TEXT] * 2, vocabulary_size=60)
    words.save(tmp_path / "words")
    assert isinstance(tokenizers.load(tmp_path / "words"), WordPieceTokenizer)


def test_a_broken_or_unknown_tokenizer_file_is_refused_naming_it(tmp_path):
    folder = tmp_path / "t"
    CharacterTokenizer.train(["abc"]).save(folder)
    settings = json.loads((folder / "tokenizer.json").read_text())
    (folder / "tokenizer.json").write_text(json.dumps(dict(settings, **{"class": "CharTokenizer"})))
    with pytest.raises(ValueError, match=r"tokenizer.json names the tokenizer class "
                                         r"'CharTokenizer'.*Did you mean: 'CharacterTokenizer'"):
        tokenizers.load(folder)
    (folder / "tokenizer.json").write_text(json.dumps(dict(settings, vocabulary_size=3, vocabulary=[
        "<pad>", "<unk>", "ab"])))
    with pytest.raises(ValueError, match="tokenizer.json: .*must be one character, got 'ab'"):
        tokenizers.load(folder)
    with pytest.raises(FileNotFoundError, match="tokenizer.json is missing"):
        tokenizers.load(tmp_path / "nothing")
    with pytest.raises(ValueError, match="Unknown tokenizer kind 'charaters'. Did you mean: "
                                         "'characters'"):
        tokenizers.train(["abc"], kind="charaters")
    with pytest.raises(ValueError, match="vocabulary_size is not a setting of a characters "
                                         "tokenizer"):
        tokenizers.train(["abc"], kind="characters", vocabulary_size=50)
    with pytest.raises(ValueError, match="texts hold no characters"):
        CharacterTokenizer.train(["", ""])


RECIPE = dict(entry="m.tiny", model="gpt_tiny", task="language_modeling",
              dataset="tinyshakespeare", steps=3)


@pytest.mark.parametrize("tokenizer, message", [
    ({"kind": "charaters"}, "tokenizer.kind must be one of wordpiece, characters, got "
                            "'charaters' (Did you mean: 'characters'"),
    ({"kind": "characters", "vocabulary_size": 100},
     "tokenizer.vocabulary_size is not a setting of a characters tokenizer"),
])
def test_a_recipe_picks_its_tokenizer_kind_and_a_typo_gets_the_closest(tokenizer, message):
    assert Recipe(**RECIPE, tokenizer={"kind": "characters"}).tokenizer == {"kind": "characters"}
    with pytest.raises(RecipeError, match=message.replace("(", r"\(")):
        Recipe(**RECIPE, tokenizer=tokenizer)


def test_a_learning_rate_floor_is_for_a_decaying_schedule_and_below_the_peak():
    Recipe(**RECIPE, schedule="cosine", min_learning_rate=1e-4)
    with pytest.raises(RecipeError, match="min_learning_rate is the rate a decaying schedule "
                                          r"\(cosine or linear\) ends at, not constant"):
        Recipe(**RECIPE, min_learning_rate=1e-4)
    with pytest.raises(RecipeError, match=r"min_learning_rate \(0.01\) must not exceed "):
        Recipe(**RECIPE, schedule="cosine", min_learning_rate=0.01)


# --- Tiny Shakespeare ----------------------------------------------------------------------


@needs_data
def test_tiny_shakespeare_is_split_by_position_as_nanogpt_does():
    train = datasets.load("tinyshakespeare", "train", data_dir=DATA)
    val = datasets.load("tinyshakespeare", "val", data_dir=DATA)
    assert (len(train.inputs), len(val.inputs)) == (1, 1) and train.targets is None
    assert (len(train.inputs[0]), len(val.inputs[0])) == (1_003_854, 111_540)
    text = (DATA / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    assert len(text) == 1_115_394 and train.inputs[0] + val.inputs[0] == text
    assert train.files == [("tinyshakespeare/input.txt", catalog.TINYSHAKESPEARE_FILE.sha256)]
    assert datasets.info("tinyshakespeare").task == "language_modeling"
    assert datasets.remote_files("tinyshakespeare") == [catalog.TINYSHAKESPEARE_FILE]


@needs_data
def test_tiny_shakespeare_downloads_from_its_url_with_its_sha256_checked(server, monkeypatch):
    root, url, hits = server
    shutil.copy(DATA / "tinyshakespeare" / "input.txt", root / "input.txt")
    (root / "other.txt").write_text("not Shakespeare\n")
    monkeypatch.setattr(catalog, "TINYSHAKESPEARE_FILE", dataclasses.replace(
        catalog.TINYSHAKESPEARE_FILE, url=url + "other.txt"))
    with pytest.raises(DatasetError, match="has sha256 .* expected 86c4e6aa.*nothing was saved"):
        datasets.load("tinyshakespeare", "val", progress=False)
    monkeypatch.setattr(catalog, "TINYSHAKESPEARE_FILE", dataclasses.replace(
        catalog.TINYSHAKESPEARE_FILE, url=url + "input.txt"))
    val = datasets.load("tinyshakespeare", "val", progress=False)
    assert len(val.inputs[0]) == 111_540
    cached = sources.cache_dir() / "tinyshakespeare" / "input.txt"
    assert sources.sha256_of(cached) == catalog.TINYSHAKESPEARE_FILE.sha256
    datasets.load("tinyshakespeare", "train", progress=False)  # from the cache, not the server
    assert hits == {"/other.txt": 1, "/input.txt": 1}


def test_a_plain_text_file_is_one_document(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_bytes("\ufeffTo be,\r\nor not.\n".encode())
    examples = datasets.load_files("text", path=str(path))
    assert examples.inputs == ["To be,\nor not.\n"] and examples.targets is None
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(datasets.DataFormatError, match="empty.txt.*at least one character"):
        datasets.load_files("text", path=str(tmp_path / "empty.txt"))
    with pytest.raises(DatasetError, match="Unknown file kind 'txt'. Did you mean: 'text'"):
        datasets.load_files("txt", path=str(path))


def test_a_text_saved_with_windows_or_old_mac_line_endings_is_the_same_text(tmp_path):
    """Line endings are read as Python's text mode (and nanoGPT) reads them: "\\r\\n" kept
    "\\r" as a character of its own, so the same text saved on Windows was another token
    stream (an unknown character a line to a model trained on "\\n" text, a score of its
    own) and another example, which the test-data check did not match."""
    paths = {}
    for name, ending in (("unix", "\n"), ("windows", "\r\n"), ("mac", "\r")):
        paths[name] = tmp_path / f"{name}.txt"
        paths[name].write_bytes(TEXT.replace("\n", ending).encode())
    read = {name: datasets.load_files("text", path=str(path)) for name, path in paths.items()}
    assert read["windows"].inputs == read["mac"].inputs == read["unix"].inputs == [TEXT]
    np.testing.assert_array_equal(read["windows"].digests(), read["unix"].digests())
    tokenizer = tokenizers.train(read["windows"].inputs, kind="characters")
    assert "\r" not in tokenizer.vocabulary
    spec = _spec()
    np.testing.assert_array_equal(KIND.units(spec, read["windows"], tokenizer).inputs,
                                  KIND.units(spec, read["unix"], tokenizer).inputs)


def test_a_word_piece_tokenizers_sequence_length_does_not_cut_the_text():
    """`sequence_length` cuts each sequence a model reads; the token stream of a language
    model's text (training windows, validation, the scored text) was cut to it: a recipe with
    `[tokenizer] sequence_length = 128` trained on, and was scored on, its text's first 128
    tokens."""
    whole = WordPieceTokenizer.train([TEXT], vocabulary_size=200)
    cut = WordPieceTokenizer(whole.vocabulary, sequence_length=8)
    stream = KIND.token_stream(whole, [TEXT, TEXT[:40]])
    assert len(stream) > 40
    np.testing.assert_array_equal(KIND.token_stream(cut, [TEXT, TEXT[:40]]), stream)
    spec = _spec(segment_length=16)
    np.testing.assert_array_equal(KIND.units(spec, Examples([TEXT], None), cut).inputs,
                                  KIND.units(spec, Examples([TEXT], None), whole).inputs)


# --- Training windows ------------------------------------------------------------------------


def _batches(tokenizer, seed, start, count, batch_size=4, max_length=16):
    data = inputs.pipeline("language_modeling", Examples([TEXT], None), batch_size, seed, start,
                           tokenizer=tokenizer, max_length=max_length)
    return [tuple(t.numpy() for t in batch) for batch in data.take(count)]


def test_training_windows_are_a_function_of_the_seed_and_the_step():
    tokenizer = CharacterTokenizer.train([TEXT])
    stream = tokenizer.encode(TEXT)
    whole = _batches(tokenizer, seed=3, start=0, count=6)
    resumed = _batches(tokenizer, seed=3, start=4, count=2)
    for a, b in zip(whole[4:], resumed):  # a resumed run reads what an uninterrupted one would
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(_batches(tokenizer, seed=4, start=0, count=1)[0][0], whole[0][0])
    text = tokenizer.decode(stream)
    for x, y, w in whole:
        assert x.shape == y.shape == (4, 16) and x.dtype == y.dtype == np.int32
        assert np.array_equal(x[:, 1:], y[:, :-1]) and w.tolist() == [1.0] * 4  # next tokens
        for row_x, row_y in zip(x, y):  # each window is a stretch of the stream
            assert tokenizer.decode(np.append(row_x, row_y[-1:])) in text
    with pytest.raises(ValueError, match="fewer than one window of max_length \\+ 1 = 1001"):
        _batches(tokenizer, seed=0, start=0, count=1, max_length=1000)


# --- Scoring ---------------------------------------------------------------------------------


class CausalConv(keras.Model):
    """A stand-in language model: next-token logits from the current and the two previous
    tokens (a causal convolution), so that any window with two tokens of context gives a
    token the log-probability the whole text would."""

    def __init__(self, vocabulary_size, max_sequence_length=64, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.max_sequence_length = vocabulary_size, max_sequence_length
        self.embed = keras.layers.Embedding(vocabulary_size, 8)
        self.conv = keras.layers.Conv1D(16, 3, padding="causal", activation="tanh")
        self.out = keras.layers.Dense(vocabulary_size)

    def call(self, ids, training=None):
        return self.out(self.conv(self.embed(ids)))

    def generate(self, token_ids, padding_mask=None, *, max_new_tokens, temperature=0.0,
                 top_k=None, top_p=None, seed=None):
        ids, new = np.asarray(token_ids), []
        rng = np.random.default_rng(seed)
        for _ in range(max_new_tokens):
            logits = np.asarray(self(ids))[:, -1].astype("float64")
            logits[:, 0] = -np.inf  # never padding
            if temperature:
                p = np.exp((logits - logits.max(1, keepdims=True)) / temperature)
                step = [rng.choice(len(row), p=row / row.sum()) for row in p]
            else:
                step = logits.argmax(1)
            new.append(step)
            ids = np.concatenate([ids, np.asarray(step, "int32")[:, None]], 1)
        return np.stack(new, 1).astype("int32")


def _spec(context_length=16, segment_length=10, **extra):
    return benchmarks.BenchmarkSpec(
        id="lm", version=1, task="language_modeling", description="", dataset="files",
        split="test", main_metric="nats_per_char", metrics=KIND.METRICS,
        preprocessing={"context_length": context_length, "segment_length": segment_length},
        **extra)


def _direct_nll(model, ids):
    """-log p(token t | all tokens before it), t >= 1, in float64 numpy from the logits."""
    logits = np.asarray(model(ids[None]))[0].astype("float64")[:-1]
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return -log_p[np.arange(len(ids) - 1), ids[1:]]


def test_scoring_equals_a_direct_computation_of_the_negative_log_likelihood():
    tokenizer = CharacterTokenizer.train([TEXT])
    model = CausalConv(tokenizer.vocabulary_size)
    spec = _spec()
    units = KIND.units(spec, Examples([TEXT[:150], TEXT[150:]], None), tokenizer)
    stream = tokenizer.encode(TEXT)
    assert units.inputs.shape == (-(-len(stream) // 10), 10)
    rows = list(KIND.predict(model, tokenizer, units, spec, batch_size=3))
    nll = _direct_nll(model, stream)  # predictions of tokens 1 .. n-1
    assert [r["index"] for r in rows] == list(range(len(units)))
    last = len(stream) % 10 or 10
    assert [r["tokens"] for r in rows] == [9] + [10] * (len(rows) - 2) + [last]
    assert sum(r["characters"] for r in rows) == len(TEXT) - 1
    for row in rows:
        low, high = max(row["start"], 1), row["start"] + 10
        assert row["nll"] == pytest.approx(nll[low - 1:high - 1].sum(), abs=2e-5)
    idx = spec.resample_indices(len(rows))
    found, samples, report = KIND.score(spec, units, rows, idx)
    total = sum(r["nll"] for r in rows)
    assert found["nats_per_char"]["value"] == pytest.approx(nll.sum() / (len(TEXT) - 1), 1e-6)
    assert found["nats_per_char"]["value"] == total / (len(TEXT) - 1)
    assert found["bits_per_char"]["value"] == pytest.approx(total / (len(TEXT) - 1) / np.log(2))
    assert found["perplexity"]["value"] == pytest.approx(np.exp(total / (len(stream) - 1)))
    for name, metric in found.items():  # the 95% interval holds the point
        assert metric["low"] < metric["value"] < metric["high"], name
        assert len(samples[name]) == bootstrap.DEFAULT_RESAMPLES
    assert report == {}  # no model given: no samples
    # Resumed after 4 rows: the rows an uninterrupted run gives from there, to the last bit.
    assert list(KIND.predict(model, tokenizer, units, spec, 3, start=4)) == rows[4:]
    # Too little text to predict anything is refused, not scored as a NaN.
    one = _spec(segment_length=1)
    with pytest.raises(tasks.EvaluationError, match="1 token\\(s\\) to read .*at least two"):
        list(KIND.predict(model, tokenizer, KIND.units(one, Examples([TEXT], None),
                                                       tokenizer).take(1), one, 3))
    with pytest.raises(tasks.EvaluationError, match="'lm': No predicted token"):
        KIND.score(one, None, [{"nll": 0.0, "tokens": 0, "characters": 0}], bootstrap.indices(1))


def test_every_token_is_predicted_once_with_at_least_half_a_context_before_it():
    for tokens, c in ((100, 16), (100, 17), (33, 16), (16, 16), (5, 2), (7, 3)):
        s, seen = c // 2, []
        for j, a in KIND.window_starts(tokens, c, 1):
            assert 0 <= a and a + c <= tokens
            for t in range(max(j * s, 1), min((j + 1) * s, tokens)):
                assert a < t < a + c and (t - a >= c - s or a == 0)
                seen.append(t)
        assert seen == list(range(1, tokens))


@pytest.fixture(scope="module")
def gpt():
    """gpt_tiny sized for Tiny Shakespeare's characters (fresh weights; the real model)."""
    tokenizer = CharacterTokenizer.train([TEXT])
    keras.utils.set_random_seed(0)
    model = zoo.build("gpt_tiny", vocabulary_size=tokenizer.vocabulary_size,
                      max_sequence_length=32)
    return model, tokenizer


def test_a_gpt_reading_the_whole_text_at_once_scores_its_own_log_probabilities(gpt):
    model, tokenizer = gpt
    text = TEXT[:32]
    stream = tokenizer.encode(text)
    spec = _spec(context_length=256, segment_length=8)  # c = the model's 32 = the text
    rows = list(KIND.predict(model, tokenizer, KIND.units(spec, Examples([text], None),
                                                          tokenizer), spec, 4))
    log_probs = np.asarray(model.log_probs(stream[None]))[0]
    assert sum(r["nll"] for r in rows) == pytest.approx(-log_probs.sum(), abs=1e-4)
    assert rows[1]["nll"] == pytest.approx(-log_probs[7:15].sum(), abs=1e-4)
    # A shorter context reads the same text in windows: close to it, and not the same.
    short = _spec(context_length=8, segment_length=8)
    windowed = list(KIND.predict(model, tokenizer, KIND.units(short, Examples([text], None),
                                                              tokenizer), short, 4))
    assert windowed[0] == rows[0]  # the first window sees what the whole text shows it
    assert [r["nll"] for r in windowed[1:]] != [r["nll"] for r in rows[1:]]


def test_samples_continue_fixed_prompts_greedily_and_by_seeded_sampling(gpt):
    model, tokenizer = gpt
    spec = _spec(samples={"prompts": ("All:\n", "Speak"), "max_new_tokens": 40,
                          "temperature": 1.0, "top_k": 10, "seed": 5})
    samples = KIND.generated_samples(model, tokenizer, spec)
    assert [(s["prompt"], s["decoding"][:7]) for s in samples] == [
        ("All:\n", "greedy"), ("Speak", "greedy"), ("All:\n", "sampled"), ("Speak", "sampled")]
    assert all(len(s["text"]) == 40 for s in samples)  # past the 32-token context: it slides
    assert KIND.generated_samples(model, tokenizer, spec) == samples  # fixed seeds
    assert tasks.seeds(KIND, spec) == {"samples": 5}
    shown = tasks.examples(KIND, {}, [], {"samples": samples})
    assert shown["rows"][0] == ["All:\n", "greedy", samples[0]["text"]]
    assert [kind for _, kind in shown["columns"]] == ["lines", "text", "lines"]


def test_a_prompt_a_word_piece_tokenizer_reads_as_no_tokens_is_left_out_and_named():
    """WordPiece drops whitespace, so the default prompt "\n" is no tokens: the samples leave
    it out (the model still scores; the page names the prompt) instead of failing the whole
    run at its end with the model's "Row 0 of the batch is all padding"; asked directly to
    continue it, `continue_texts` refuses naming it."""
    tokenizer = tokenizers.train([TEXT], kind="wordpiece", vocabulary_size=200)
    keras.utils.set_random_seed(0)
    model = zoo.build("gpt_tiny", vocabulary_size=tokenizer.vocabulary_size,
                      max_sequence_length=16, pad_id=tokenizer.pad_id)
    spec = _spec(samples={"prompts": ("\n", "speak", " \t"), "max_new_tokens": 3})
    units = KIND.units(spec, Examples([TEXT], None), tokenizer)
    rows = list(KIND.predict(model, tokenizer, units, spec, 4))
    found, _, report = KIND.score(spec, units, rows, spec.resample_indices(len(rows)),
                                  model=model, tokenizer=tokenizer)
    assert found["nats_per_char"]["value"] > 0
    assert [(s["prompt"], s["decoding"][:7]) for s in report["samples"]] == [
        ("speak", "greedy"), ("speak", "sampled")]
    assert report["samples_left_out"] == ["\n", " \t"]
    shown = tasks.examples(KIND, {}, [], report)
    assert "Left out: the prompt(s) '\\n', ' \\t', which the model's tokenizer reads as no " \
           "tokens" in shown["note"]
    with pytest.raises(ValueError, match=r"The prompt '\\n' is no tokens to the model's "
                                         r"tokenizer \(WordPieceTokenizer\)"):
        KIND.continue_texts(model, tokenizer, ["\n"], max_new_tokens=2)
    # Every prompt no tokens: no samples, and the page says why.
    only_space = _spec(samples={"prompts": ("\n",)})
    assert KIND.generated_samples(model, tokenizer, only_space) == []
    assert "reads as no tokens" in tasks.examples(
        KIND, {}, [], {"samples": [], "samples_left_out": ["\n"]})["empty"]


# --- Through zoo train and zoo bench run ----------------------------------------------------


TINY = {"num_layers": 1, "num_heads": 2, "hidden_dim": 32, "intermediate_dim": 64}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """gpt_char_small.tinyshakespeare's recipe, made tiny (3 steps of batches of 4 for a
    one-block model 32 wide), trained into a run folder by `zoo.train`."""
    if not (DATA / "tinyshakespeare").is_dir():
        pytest.skip("needs ../shared/data/tinyshakespeare")
    folder = tmp_path_factory.mktemp("lm")
    recipe = recipes.get("gpt_char_small.tinyshakespeare").replace(
        steps=3, batch_size=4, model_overrides=TINY,
        validation={"split": "val", "examples": 4, "every": 2})
    result = zoo.train(recipe, out=folder / "run", data_dir=DATA, log=lambda *_: None)
    return folder, result


def test_a_trained_run_keeps_its_character_tokenizer_and_validation_loss(trained):
    folder, result = trained
    run = folder / "run"
    assert isinstance(tokenizers.load(run / "tokenizer"), CharacterTokenizer)
    assert tokenizers.load(run / "tokenizer").vocabulary_size == 67  # 65 characters + 2
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert history[-1]["step"] == 3 and history[-1]["val_loss"] > 0
    model = load_trained(run)
    assert model.vocabulary_size == 67 and model.max_sequence_length == 64


def test_a_published_entry_reads_its_character_tokenizer_wherever_it_is_loaded(
        trained, tmp_path, monkeypatch):
    """Entries, export and the harness each loaded a WordPiece tokenizer by its class."""
    from zoo.hub import export

    folder, _ = trained
    # Under a name of its own: zoo ships gpt_char_small.tinyshakespeare, and an entry name
    # must be unique on the search path.
    run = shutil.copytree(folder / "run", tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "entry": "gpt_char_tiny.tinyshakespeare"}))
    entry = zoo.entries.publish(run, tmp_path / "entries")
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(tmp_path / "entries"))
    name = entry.name
    assert isinstance(zoo.entries.load_tokenizer(name), CharacterTokenizer)
    assert isinstance(export.entry_source(name)[1], CharacterTokenizer)
    assert zoo.entries.expected_input(name) == ("strings (prompts to continue; up to 64 tokens "
                                                "of context)")
    record, _ = runner.run("gpt_char_small", "tinyshakespeare-char", weights=entry, limit=2,
                           data_dir=DATA, results_dir=tmp_path / "results", progress=False)
    assert record["model"]["entry"] == name == "gpt_char_tiny.tinyshakespeare"


def test_a_trained_run_is_benchmarked_and_its_record_shows_samples(trained, tmp_path):
    folder, _ = trained
    record, path = runner.run("gpt_char_small", "tinyshakespeare-char",
                              weights=folder / "run", limit=30, data_dir=DATA,
                              results_dir=tmp_path / "results", progress=False)
    assert record["benchmark"]["examples"] == {"total": 872, "evaluated": 30, "limit": 30}
    assert record["main_metric"]["name"] == "nats_per_char"
    assert record["main_metric"]["higher_is_better"] is False
    metric = record["metrics"]["nats_per_char"]
    assert metric["low"] <= metric["value"] <= metric["high"] and metric["unit"] == \
        "nats per character"
    assert 2.0 < metric["value"] < 5.0  # three steps from random: near ln(67) = 4.2
    assert record["seeds"]["samples"] == 0
    samples = record["report"]["samples"]
    assert [s["prompt"] for s in samples] == ["\n", "ROMEO:\n", "First Citizen:\n"] * 2
    rows = zoo.records.read_predictions(path)
    assert len(rows) == 30 and rows[0]["tokens"] == 127 and rows[1]["start"] == 128
    # The paired test reads the predictions alone.
    assert compare.compare(path, path)["delta"] == 0.0
    # The leaderboard: a board where less is better, an entry page with the samples.
    from zoo.leaderboard import site

    site.build(tmp_path / "results", tmp_path / "site", warn=lambda m: None)
    page = next((tmp_path / "site" / "entries").glob("*.html")).read_text()
    assert "Generated samples" in page and "<td class=lines>ROMEO:\n</td>" in page
    index = (tmp_path / "site" / "index.html").read_text()
    assert "nats_per_char (lower is better)" in index
    assert "tinyshakespeare-char.html" in index


def test_a_users_own_text_is_a_benchmark_without_code(trained, tmp_path, monkeypatch):
    folder, _ = trained
    _mine(tmp_path, monkeypatch)
    record, _ = runner.run("gpt_char_small", "mine", weights=folder / "run",
                           results_dir=tmp_path / "results", progress=False)
    assert record["benchmark"]["examples"]["total"] == -(-len(TEXT) // 50)
    assert sorted(record["metrics"]) == ["nats_per_char", "perplexity"]
    assert [s["prompt"] for s in record["report"]["samples"]] == ["KING", "KING"]


def test_a_text_too_short_for_the_recipe_is_one_line_and_leaves_no_half_made_run(
        tmp_path, capsys):
    """It was a traceback (a ValueError from the training pipeline or the validator), and the
    run folder it left (run.json, recipe, the tokenizer of the short text) refused the
    corrected recipe as "a run of a different recipe", or gave a rerun of the same recipe
    over a longer text the short text's vocabulary."""
    from zoo import cli

    def recipe(positions=""):
        (tmp_path / "mine.toml").write_text(
            'entry = "mine"\ndescription = "d"\nmodel = "gpt_tiny"\n'
            'task = "language_modeling"\ndataset = "files"\n'
            'tokenizer = { kind = "characters" }\nmax_length = 32\nbatch_size = 2\nsteps = 1\n'
            'learning_rate = 0.001\nmodel_overrides = { num_layers = 1, hidden_dim = 32, '
            f'num_heads = 2, intermediate_dim = 64{positions} }}\n'
            'validation = { files = { kind = "text", path = "val.txt" }, examples = 2, '
            'every = 1 }\n[files]\nkind = "text"\npath = "train.txt"\n')

    run = tmp_path / "run"
    command = ["train", str(tmp_path / "mine.toml"), "--out", str(run)]
    for short, positions, message in (
            ("train.txt", "", "The training text has 5 tokens, fewer than one window of "
                              "max_length \\+ 1 = 33; lower max_length"),
            ("val.txt", "", "The validation text has 5 tokens, fewer than one window of "
                            "max_length \\+ 1 = 33"),
            # Fewer positions than the windows: it failed inside the traced training step.
            (None, ", max_sequence_length = 16", "gpt_tiny reads at most "
                                                 "max_sequence_length=16 tokens, fewer than the "
                                                 "recipe's max_length=32 it trains on")):
        recipe(positions)
        for name in ("train.txt", "val.txt"):
            (tmp_path / name).write_text(TEXT, encoding="utf-8")
        if short is not None:
            (tmp_path / short).write_text("Speak", encoding="utf-8")
        capsys.readouterr()
        assert cli.main(command) == 2
        error = capsys.readouterr().err
        assert "Traceback" not in error
        assert re.fullmatch(f"zoo train: error: Recipe 'mine': {message}.*",
                            error.splitlines()[-1]), error
        assert not run.exists()
    recipe()
    (tmp_path / "val.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "train.txt").write_text(TEXT + "¿Qué?", encoding="utf-8")
    assert cli.main(command) == 0
    assert "é" in tokenizers.load(run / "tokenizer").vocabulary


def test_the_board_ranks_fewer_nats_first_and_shows_a_worse_runs_excess_with_a_plus(
        trained, tmp_path, monkeypatch, capsys):
    """"vs leader" showed the paired test's delta, the leader's score minus the run's: a run
    0.5 nats per character worse than the leader read "-0.5", which on a board where less is
    better says it is better (and on one where more is better a worse run read "+"). `zoo
    bench compare` said "significant" without saying which was better."""
    import math

    from zoo import cli
    from zoo.leaderboard import site

    folder, _ = trained
    _mine(tmp_path, monkeypatch)
    _, path = runner.run("gpt_char_small", "mine", weights=folder / "run",
                         results_dir=tmp_path / "results", progress=False)
    record = json.loads(path.read_text())
    record["flags"]["dirty"] = False  # the suite may run from a dirty tree: stands for clean
    path.write_text(json.dumps(record))
    # A second run, worse: every segment's negative log-likelihood half as large again.
    worse = json.loads(json.dumps(record))
    worse["run_id"], worse["predictions_file"] = "worse", "worse.predictions.jsonl"
    worse["model"]["entry"] = "worse.mine"
    for metric in (worse["main_metric"], *worse["metrics"].values()):
        scale = (lambda v: math.exp(1.5 * math.log(v))) if metric.get("unit") == "per token" \
            else (lambda v: 1.5 * v)
        for key in ("value", "low", "high"):
            metric[key] = scale(metric[key])
    (path.parent / "worse.json").write_text(json.dumps(worse))
    rows = zoo.records.read_predictions(path)
    (path.parent / "worse.predictions.jsonl").write_text("".join(
        json.dumps({**r, "nll": 1.5 * r["nll"]}) + "\n" for r in rows))
    site.build(tmp_path / "results", tmp_path / "site", warn=lambda m: None)
    page = (tmp_path / "site" / "benchmarks" / "mine.html").read_text()
    excess = 0.5 * record["main_metric"]["value"]  # this run's score minus the leader's
    assert page.index(">gpt_char_small.tinyshakespeare<") < page.index(">worse.mine<")
    assert excess > 0 and f"{-excess:+.4f}" not in page
    assert re.search(rf"\+{excess:.4f}(</span>)? \(p=0\.000\)", page)
    capsys.readouterr()
    assert cli.main(["bench", "compare", str(path.parent / "worse.json"), str(path)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("p = 0.0000: significant, B is better")


def _mine(tmp_path, monkeypatch):
    """A benchmark "mine" over the user's own text (`TEXT` in verse.txt), on the path."""
    (tmp_path / "mine.toml").write_text(
        'id = "mine"\nversion = 1\ntask = "language_modeling"\n'
        'description = "my own verse"\ndataset = "files"\nsplit = "test"\n'
        'metrics = ["nats_per_char", "perplexity"]\nmain_metric = "nats_per_char"\n'
        '[files]\nkind = "text"\npath = "verse.txt"\n'
        '[preprocessing]\ncontext_length = 32\nsegment_length = 50\n'
        '[samples]\nprompts = ["KING"]\nmax_new_tokens = 8\n')
    (tmp_path / "verse.txt").write_text(TEXT, encoding="utf-8")
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))


@needs_data
def test_a_model_trained_on_the_scored_text_is_flagged_though_it_came_from_a_file(tmp_path):
    """The test-data check compares the benchmark's text, not the segments it is scored in
    (which are token ids: they match no training document)."""
    text = (DATA / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    (tmp_path / "val.txt").write_text(text[1_003_854:], encoding="utf-8")
    recipe = recipes.get("gpt_char_small.tinyshakespeare").replace(
        dataset="files", files={"kind": "text", "path": str(tmp_path / "val.txt")}, steps=1,
        batch_size=2, model_overrides=TINY, validation={})
    zoo.train(recipe, out=tmp_path / "run", log=lambda *_: None)
    record, _ = runner.run("gpt_char_small", "tinyshakespeare-char", weights=tmp_path / "run",
                           limit=2, data_dir=DATA, results_dir=tmp_path / "results",
                           progress=False)
    assert record["flags"]["test_data_in_training"] is True
    assert record["contamination"]["examples_in_training"] == 1  # the one text


@pytest.mark.slow
@needs_data
def test_zoo_train_and_zoo_bench_run_from_the_command_line(tmp_path):
    from zoo import cli

    run = tmp_path / "run"
    assert cli.main(["train", "gpt_char_small.tinyshakespeare", "--steps", "3", "--out",
                     str(run), "--data-dir", str(DATA)]) == 0
    assert cli.main(["bench", "run", "--model", "gpt_char_small", "--weights", str(run),
                     "--benchmark", "tinyshakespeare-char", "--limit", "20", "--data-dir",
                     str(DATA), "--results", str(tmp_path / "results")]) == 0
    record = json.loads(next((tmp_path / "results" / "tinyshakespeare-char").glob(
        "*[0-9a-f].json")).read_text())
    assert record["benchmark"]["examples"]["evaluated"] == 20
