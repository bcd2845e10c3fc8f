"""GPT's TF Hub export: prompts -> generated text and texts -> per-token log-probabilities,
tokenizer and cached generation in the graph, equal to the zoo model's own `generate_text` and
`log_probs`; a trained run exported by `zoo export` gives the same in a process that never
imports zoo."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import SHARED_DATA
from helpers import unknown_token_writer

import zoo
from zoo.hub import HubLayer, export
from zoo.models.gpt.export import default_max_new_tokens
from zoo.models.gpt.generation import generate_text
from zoo.text import tokenizers

DATA = Path(SHARED_DATA)
PROMPTS = ["ROMEO:\nWhat", "To be, or", "Q"]
TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n") * 3
#: Decoding options, each as the export's `__call__` takes them and as `generate_text` does
#: (top_k 0 and top_p 1.0 mean "no filter" to the export).
SAMPLING = [
    ({"temperature": 0.8, "seed": 3}, {"temperature": 0.8, "seed": 3}),
    ({"temperature": 1.0, "top_k": 5, "seed": 4}, {"temperature": 1.0, "top_k": 5, "seed": 4}),
    ({"temperature": 1.2, "top_p": 0.8, "seed": 5}, {"temperature": 1.2, "top_p": 0.8, "seed": 5}),
    ({"temperature": 0.9, "top_k": 8, "top_p": 0.9, "seed": 6},
     {"temperature": 0.9, "top_k": 8, "top_p": 0.9, "seed": 6}),
]


def _model(tokenizer, length=40):
    """gpt_tiny for `tokenizer`, its matrices scaled up so that its logits are far apart (a
    fresh model's are nearly uniform: greedy ties and near-identical samples)."""
    keras.utils.set_random_seed(0)
    model = zoo.build("gpt_tiny", vocabulary_size=tokenizer.vocabulary_size,
                      max_sequence_length=length)
    rng = np.random.default_rng(0)
    for variable in model.weights:
        if len(variable.shape) == 2:
            variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))
    return model


def _texts(tensor):
    return [value.decode("utf-8") for value in np.asarray(tensor).reshape(-1)]


@pytest.fixture(scope="module")
def characters(tmp_path_factory):
    """A character-level gpt_tiny exported with its tokenizer, and the part loaded back."""
    tokenizer = tokenizers.train([TEXT], kind="characters")
    model = _model(tokenizer)
    folder = tmp_path_factory.mktemp("gpt-export")
    export.export_model(model, folder, tokenizer=tokenizer, recipe={"max_length": 40})
    return model, tokenizer, folder / "generator", tf.saved_model.load(str(folder / "generator"))


def test_the_generator_writes_what_generate_text_writes_greedy_sampled_and_stopped(characters):
    model, tokenizer, _, loaded = characters
    greedy = generate_text(model, tokenizer, PROMPTS, max_new_tokens=12)
    assert _texts(loaded(tf.constant(PROMPTS), max_new_tokens=12)) == greedy
    assert len(set(greedy[0])) > 1  # a real continuation, not one repeated token
    for ours, theirs in SAMPLING:
        sampled = generate_text(model, tokenizer, PROMPTS, max_new_tokens=12, **theirs)
        assert _texts(loaded(tf.constant(PROMPTS), max_new_tokens=12, **ours)) == sampled
        assert sampled != greedy
    # A stop string of one token ends the row; a longer one cuts the text.
    for stop in (greedy[0][3], greedy[1][2:4]):
        stopped = generate_text(model, tokenizer, PROMPTS, max_new_tokens=12, stop=stop)
        assert _texts(loaded(tf.constant(PROMPTS), max_new_tokens=12, stop=stop)) == stopped
        assert len(stopped[0]) <= 3 and stopped != greedy
    # The default length: half the context.
    assert [len(t) for t in _texts(loaded(tf.constant(["Q"])))] == [20]
    # The signature names every input and returns {"text"}.
    served = loaded.signatures["serving_default"](
        prompts=tf.constant(PROMPTS), max_new_tokens=tf.constant(12),
        temperature=tf.constant(0.0), top_k=tf.constant(0), top_p=tf.constant(1.0),
        seed=tf.constant(0, tf.int64), stop=tf.constant(""))
    assert _texts(served["text"]) == greedy


def test_log_probs_are_the_models_per_token_log_probabilities(characters):
    model, tokenizer, folder, loaded = characters
    texts = ["First Citizen:", "Speak", "Q", ""]
    out = loaded.log_probs(tf.constant(texts))
    ids = tokenizer.tokenize(texts).to_list()
    width = max(len(row) for row in ids)
    assert out["token_ids"].numpy().tolist() == [row + [0] * (width - len(row)) for row in ids]
    np.testing.assert_array_equal(out["padding_mask"], out["token_ids"].numpy() != 0)
    # The model refuses a row of padding only (""): the export scores nothing in it.
    expected = np.asarray(model.log_probs(out["token_ids"].numpy()[:3],
                                          out["padding_mask"].numpy()[:3]))
    np.testing.assert_allclose(out["log_probs"][:3], expected, atol=1e-5)
    first = np.asarray(model(np.array([ids[0]]))[0], "float64")  # the model's own softmax
    direct = [first[t] - np.log(np.exp(first[t]).sum()) for t in range(len(ids[0]) - 1)]
    direct = [row[token] for row, token in zip(direct, ids[0][1:])]
    np.testing.assert_allclose(out["log_probs"][0, :len(direct)], direct, atol=1e-4)
    assert not out["log_probs"].numpy()[2:].any()  # nothing is predicted for "Q" and ""
    signature = loaded.signatures["log_probs"](texts=tf.constant(texts))
    np.testing.assert_allclose(signature["log_probs"], out["log_probs"], atol=1e-6)
    # As a Keras layer (`zoo.hub.HubLayer`): strings in, strings out; a named output.
    assert _texts(HubLayer(folder)(tf.constant(PROMPTS))) == generate_text(
        model, tokenizer, PROMPTS, max_new_tokens=20)
    scores = HubLayer(folder, signature="log_probs", output_key="log_probs")(tf.constant(texts))
    np.testing.assert_allclose(scores, out["log_probs"], atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda m: m(tf.constant(["To be", ""])), "Every prompt needs at least one token"),
    (lambda m: m(tf.constant(["To be"]), max_new_tokens=36), "fit the context of the model, 40 tokens"),
    (lambda m: m(tf.constant(["To be"]), max_new_tokens=0), "max_new_tokens must be >= 1"),
    (lambda m: m(tf.constant(["To be"]), temperature=-1.0), "temperature must be a number >= 0"),
    (lambda m: m(tf.constant(["To be"]), top_k=5), "greedy decoding"),
    (lambda m: m(tf.constant(["To be"]), temperature=1.0, top_p=0.0), "top_p must be in"),
    (lambda m: m(tf.constant(["To be"]), temperature=1.0, top_k=-2), "top_k must be >= 0"),
    (lambda m: m.log_probs(tf.constant(["a" * 42])), "longer than the 41 tokens"),
])
def test_what_the_generator_cannot_do_is_refused_naming_the_problem(characters, call, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        call(characters[3])


def test_an_empty_batch_gives_no_text_and_a_gpt_export_needs_its_tokenizer(characters):
    model, _, _, loaded = characters
    assert loaded(tf.constant([], tf.string)).shape == (0,)
    # The default length: a recipe's [decoding] max_new_tokens, else half the context.
    assert default_max_new_tokens(model, {"decoding": {"max_new_tokens": 7}}) == 7
    assert default_max_new_tokens(model, {}) == 20
    with pytest.raises(ValueError, match="max_new_tokens must be an int from 1 to 39"):
        default_max_new_tokens(model, {"decoding": {"max_new_tokens": 40}})
    assert "generator" in export.parts_table()["gpt"]
    with pytest.raises(ValueError, match="needs its tokenizer"):
        export.export_model(model, "unused")
    with pytest.raises(ValueError, match="Did you mean: 'generator'"):
        export.export_model(model, "unused", parts=["generater"])


def test_a_word_piece_gpt_exports_with_its_vocabulary_in_the_graph(tmp_path):
    tokenizer = tokenizers.train([TEXT] * 4, vocabulary_size=120)
    model = _model(tokenizer)
    export.export_model(model, tmp_path, tokenizer=tokenizer)
    loaded = tf.saved_model.load(str(tmp_path / "generator"))
    prompts = ["first citizen", "speak"]
    assert _texts(loaded(tf.constant(prompts), max_new_tokens=6)) == generate_text(
        model, tokenizer, prompts, max_new_tokens=6)
    out = loaded.log_probs(tf.constant(prompts))
    np.testing.assert_allclose(out["log_probs"], model.log_probs(
        out["token_ids"].numpy(), out["padding_mask"].numpy()), atol=1e-5)


# --- A trained run, `zoo export`, plain TensorFlow Hub in a fresh process -------------------

PLAIN_LOADER = r"""
import json, sys
import numpy as np, tensorflow as tf, tensorflow_hub as hub
folders, prompts, options, out_file = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
out = {}
for name, folder in json.loads(folders).items():
    part = hub.load(folder)
    out[name] = {
        "greedy": [t.decode() for t in part(tf.constant(prompts), max_new_tokens=24).numpy()],
        "sampled": [t.decode() for t in part(tf.constant(prompts), max_new_tokens=24,
                                             **options).numpy()],
        "log_probs": {k: v.numpy().tolist() for k, v in part.log_probs(tf.constant(prompts)).items()},
    }
out["modules"] = sorted(m for m in sys.modules if m == "zoo" or m.startswith(("zoo.", "tensorflow_text")))
json.dump(out, open(out_file, "w"))
"""


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_trained_run_exported_by_zoo_export_loads_in_plain_tensorflow_hub(tmp_path,
                                                                            monkeypatch):
    """gpt_char_small.tinyshakespeare made tiny and trained 150 steps (enough to
    continue a prompt with more than its last character), published (float16
    weights), exported by `zoo export` (float32) and with `--weights stored`, each loaded by
    `tensorflow_hub.load` in a process without zoo (or tensorflow-text: a character model
    needs none): the entry's greedy and seeded text and its log-probabilities."""
    from zoo.cli import main
    from zoo.training import recipes

    if not (DATA / "tinyshakespeare").is_dir():
        pytest.skip("needs ../shared/data/tinyshakespeare")
    recipe = recipes.get("gpt_char_small.tinyshakespeare").replace(
        entry="gpt_char_tiny.tinyshakespeare",  # not the shipped entry's name
        steps=150, batch_size=16, learning_rate=0.01, warmup_steps=0, validation={},
        model_overrides={"num_layers": 1, "num_heads": 2, "hidden_dim": 32,
                         "intermediate_dim": 64})
    zoo.train(recipe, out=tmp_path / "run", data_dir=DATA, log=lambda *_: None)
    entry = zoo.entries.publish(tmp_path / "run", tmp_path / "entries")
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(tmp_path / "entries"))
    assert main(["export", entry.name, str(tmp_path / "float32")]) == 0
    export.export_entry(entry.name, tmp_path / "stored", weights="stored")
    card = json.loads((tmp_path / "stored" / "model_card.json").read_text())
    assert card["parts"] == ["generator"] and card["weights"] == "float16"

    options = {"temperature": 0.9, "top_k": 20, "top_p": 0.95, "seed": 11}
    folders = {name: str(tmp_path / name / "generator") for name in ("float32", "stored")}
    script = tmp_path / "load.py"
    script.write_text(PLAIN_LOADER)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ZOO_CPU_DEVICES")}
    subprocess.run([sys.executable, str(script), json.dumps(folders), json.dumps(PROMPTS),
                    json.dumps(options), str(tmp_path / "out.json")],
                   check=True, env=env, cwd=tmp_path, timeout=300)
    got = json.loads((tmp_path / "out.json").read_text())
    assert got["modules"] == []

    model = zoo.entries.load_folder(entry)
    tokenizer = zoo.entries.load_tokenizer(entry.name)
    greedy = generate_text(model, tokenizer, PROMPTS, max_new_tokens=24)
    sampled = generate_text(model, tokenizer, PROMPTS, max_new_tokens=24, **options)
    for name in folders:
        assert got[name]["greedy"] == greedy, name
        assert got[name]["sampled"] == sampled, name
        scores = got[name]["log_probs"]
        expected = model.log_probs(np.array(scores["token_ids"], "int32"),
                                   np.array(scores["padding_mask"]))
        np.testing.assert_allclose(scores["log_probs"], expected, atol=1e-5)


def test_a_stop_the_vocabulary_lacks_cuts_the_text_but_ends_no_row(tmp_path):
    """As `generate_text`: a stop that is not one token reading back as itself (here a
    character outside the vocabulary, which tokenizes as <unk>) must not end a row at the
    unknown token. A model that writes <unk> at every step made the export return "" where
    `generate_text` returns five U+FFFD."""
    tokenizer = tokenizers.train(["abc"], kind="characters")
    model = unknown_token_writer(tokenizer)  # greedy decoding writes <unk> at every step
    export.export_model(model, tmp_path, tokenizer=tokenizer, recipe={"max_length": 16})
    generator = tf.saved_model.load(str(tmp_path / "generator"))
    for stop in ("\U0001f600", "\ufffd"):
        expected = generate_text(model, tokenizer, ["ab"], max_new_tokens=5, stop=stop)
        got = _texts(generator(tf.constant(["ab"]), max_new_tokens=5, stop=stop))
        assert got == expected, stop
    assert _texts(generator(tf.constant(["ab"]), max_new_tokens=5,
                            stop="\U0001f600")) == ["\ufffd" * 5]
