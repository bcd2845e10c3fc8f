"""Benchmarking a model zoo did not train: plain Keras models (no zoo class) built and fit here,
saved as `.keras`, as a SavedModel and as a `.tar.gz` served from 127.0.0.1, scored on digits
and on a text TSV benchmark through each path, with predictions equal to calling the model
directly; the adapter is data, checked like every file a user writes, recorded and shown."""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import datasets, records
from zoo.harness import adapter as adapters
from zoo.harness import runner
from zoo.harness.adapter import AdapterError
from zoo.hub import HubError
from zoo.hub.export import make_tarball
from zoo.provenance import sha256_file
from zoo.safety import UnsafeCodeError
from zoo.tasks import EvaluationError

DIGITS = [str(d) for d in range(10)]


def _softmax(logits):
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _predictions(path):
    return records.read_predictions(path)


def _write_adapter(folder, file="adapter.toml", **fields):
    lines = [f"{key} = {json.dumps(value)}" for key, value in fields.items()]
    path = folder / file
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- Models, built and saved by the test ---------------------------------------------------------


@pytest.fixture(scope="module")
def digits_models(tmp_path_factory):
    """A plain Keras MLP that takes pixels in [0, 255] (zoo's are in [0, 1]), fit briefly on
    the digits training split; the same network with a softmax on top (probabilities). Saved
    as `.keras` files and SavedModels (`model.export`), and the first as a `.tar.gz`."""
    folder = tmp_path_factory.mktemp("digits-models")
    train = datasets.load("digits", "train")
    keras.utils.set_random_seed(0)
    images = keras.Input((8, 8, 1))
    x = keras.layers.Rescaling(1 / 255)(images)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    x = keras.layers.Dropout(0.1)(x)  # a seed-generator variable in the SavedModel: no weight
    logits = keras.layers.Dense(10)(x)
    model = keras.Model(images, logits)
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train.inputs * 255, train.targets, batch_size=64, epochs=8, verbose=0)
    probabilities = keras.Model(images, keras.layers.Softmax()(logits))
    model.save(folder / "mlp.keras")
    probabilities.save(folder / "mlp-probabilities.keras")
    model.export(folder / "mlp", verbose=False)
    probabilities.export(folder / "mlp-probabilities", verbose=False)
    make_tarball(folder / "mlp", folder / "mlp.tar.gz")
    return folder, model, probabilities


TEXT_WORDS = {"neg": ["awful", "boring", "dull", "bad", "poor"],
              "pos": ["great", "fine", "lovely", "good", "superb"]}


def _sentences(n, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = ["neg", "pos"][i % 2]
        words = list(rng.choice(TEXT_WORDS[label], 2)) + list(rng.choice(
            ["the", "film", "a", "plot", "was", "very", "and"], 3))
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


@pytest.fixture(scope="module")
def text_models(tmp_path_factory):
    """A text benchmark over a TSV (neg/pos) and a plain Keras model that takes raw strings
    (a TextVectorization layer inside), fit briefly: saved as `.keras`, as a SavedModel and as
    a `.tar.gz`; and the same split in two SavedModels, a preprocessor (strings -> token ids)
    and a model of token ids."""
    folder = tmp_path_factory.mktemp("text-models")
    train, test = _sentences(200, 0), _sentences(40, 1)
    (folder / "reviews.tsv").write_text(
        "text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in test), encoding="utf-8")
    (folder / "reviews.toml").write_text('''
id = "reviews"
version = 1
task = "text_classification"
description = "made-up reviews"
dataset = "files"
split = "test"
labels = ["neg", "pos"]
metrics = ["accuracy"]
main_metric = "accuracy"

[files]
kind = "text_classification"
path = "reviews.tsv"
''', encoding="utf-8")
    keras.utils.set_random_seed(0)
    texts = tf.constant([t for t, _ in train])
    targets = np.array([["neg", "pos"].index(y) for _, y in train])
    vectorize = keras.layers.TextVectorization(max_tokens=40, output_sequence_length=8)
    vectorize.adapt(texts)
    core = keras.Sequential([keras.Input((8,), dtype="int64"), keras.layers.Embedding(40, 8),
                             keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)])
    strings = keras.Input((), dtype="string")
    model = keras.Model(strings, core(vectorize(strings)))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(tf.data.Dataset.from_tensor_slices((texts, targets)).batch(32), epochs=20,
              shuffle=False, verbose=0)
    model.save(folder / "reviews.keras")
    model.export(folder / "reviews-model", verbose=False)
    make_tarball(folder / "reviews-model", folder / "reviews-model.tar.gz")
    keras.Sequential([strings, vectorize]).export(folder / "tokens", verbose=False)
    core.export(folder / "on-tokens", verbose=False)
    return folder, model, [t for t, _ in test]


# --- Digits through each path ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["keras", "saved_model", "tar.gz over http"])
def test_digits_through_each_path_predicts_as_the_model_itself(path, digits_models, tmp_path,
                                                              server, monkeypatch):
    folder, model, _ = digits_models
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub"))
    root, url, hits = server
    location = {"keras": str(folder / "mlp.keras"), "saved_model": str(folder / "mlp"),
                "tar.gz over http": f"{url}mlp.tar.gz"}[path]
    shutil.copy(folder / "mlp.tar.gz", root / "mlp.tar.gz")
    adapter = _write_adapter(tmp_path, labels=DIGITS, input_range=[0, 255], name="my-mlp")
    record, record_path = runner.run(location, "digits", adapter=adapter, progress=False,
                                     results_dir=tmp_path / "r")

    test = datasets.load("digits", "test")
    direct = np.asarray(model(test.inputs * 255, training=False))
    rows = _predictions(record_path)
    assert [r["prediction"] for r in rows] == direct.argmax(axis=1).tolist()
    np.testing.assert_allclose([r["confidence"] for r in rows],
                               _softmax(direct).max(axis=1), atol=2e-6)
    assert record["main_metric"]["value"] > 0.7  # it learned something: a real comparison
    # A first-class record: where the model came from, its files' sha256, the adapter as run.
    model_info = record["model"]
    assert model_info["name"] == "my-mlp" and model_info["entry"] is None
    assert model_info["source"]["location"] == location
    assert model_info["params"] == model.count_params()  # the SavedModel's float variables
    assert record["flags"]["untrained"] is False
    assert record["flags"]["test_data_in_training"] is None  # unknown: not trained by zoo
    assert record["evaluation"]["adapter"]["file"] == str(adapter)
    assert record["evaluation"]["adapter"]["file_sha256"] == sha256_file(adapter)
    assert record["evaluation"]["adapter"]["input_range"] == [0, 255]
    assert record["evaluation"]["labels"]["source"] == f"labels in {adapter}"
    if path == "keras":
        assert model_info["source"]["kind"] == "keras"
        assert model_info["weights"]["sha256"] == sha256_file(folder / "mlp.keras")
    else:
        files = dict(map(tuple, model_info["source"]["files"]))
        assert files["saved_model.pb"] == sha256_file(folder / "mlp" / "saved_model.pb")
        assert model_info["source"]["kind"] == "saved_model"
        assert record["evaluation"]["adapter"]["signature"] == "serving_default"
    if path == "tar.gz over http":
        assert hits == {"/mlp.tar.gz": 1}
        again, _ = runner.run(location, "digits", adapter=adapter, progress=False,
                              results_dir=tmp_path / "r2")
        assert hits == {"/mlp.tar.gz": 1}  # the cache, not the network
        assert again["model"]["source"]["sha256"] == model_info["source"]["sha256"]


def test_a_model_of_probabilities_scores_as_the_same_model_of_logits(digits_models, tmp_path):
    folder, _, _ = digits_models
    common = {"labels": DIGITS, "input_range": [0, 255]}
    logits, logits_path = runner.run(str(folder / "mlp.keras"), "digits", adapter=common,
                                     progress=False, results_dir=tmp_path / "a")
    probabilities, probabilities_path = runner.run(
        str(folder / "mlp-probabilities"), "digits", adapter=common,
        adapt=["outputs=probabilities"], progress=False, results_dir=tmp_path / "b")
    assert probabilities["metrics"] == logits["metrics"]
    a, b = _predictions(logits_path), _predictions(probabilities_path)
    assert [r["prediction"] for r in a] == [r["prediction"] for r in b]
    np.testing.assert_allclose([r["confidence"] for r in a], [r["confidence"] for r in b],
                               atol=2e-6)
    assert probabilities["evaluation"]["adapter"]["options"] == ["outputs=probabilities"]
    # Logits declared as probabilities are refused, not scored as something they are not.
    with pytest.raises(AdapterError, match='outputs = "probabilities", but .* if they are '
                                           'logits, set outputs = "logits"'):
        runner.run(str(folder / "mlp.keras"), "digits", adapter=common,
                   adapt=["outputs=probabilities"], progress=False, results_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_label_names_are_matched_by_name_and_a_mismatch_is_refused_with_both_lists(
        digits_models, tmp_path, capsys):
    from zoo.cli import main

    folder, model, _ = digits_models
    # The same names in another order: scored by name (output k is the class named so).
    backwards = {"labels": DIGITS[::-1], "input_range": [0, 255]}
    record, path = runner.run(str(folder / "mlp.keras"), "digits", adapter=backwards,
                              progress=False, results_dir=tmp_path / "r")
    direct = np.asarray(model(datasets.load("digits", "test").inputs * 255, training=False))
    assert [r["prediction"] for r in _predictions(path)] == (9 - direct.argmax(axis=1)).tolist()
    assert record["evaluation"]["labels"]["matched"] == "by name"
    # Other names: refused, naming both lists, before any prediction.
    letters = _write_adapter(tmp_path, "letters.toml", labels=list("abcdefghij"),
                             input_range=[0, 255])
    with pytest.raises(EvaluationError, match=r"predicts the classes a, b, c, .*, j \(labels in "
                                              r".*letters.toml\) but benchmark 'digits' has the "
                                              r"labels 0, 1, 2, .*, 9"):
        runner.run(str(folder / "mlp.keras"), "digits", adapter=letters, progress=False,
                   results_dir=tmp_path / "x")
    args = ["bench", "run", "--model", str(folder / "mlp"), "--benchmark", "digits",
            "--adapter", str(letters), "--results", str(tmp_path / "x")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "a, b, c, d, e, f, g, h, i, j" in err and "0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in err
    assert not (tmp_path / "x").exists()
    # Unless the user says which is which.
    mapping = ",".join(f"{a}={d}" for a, d in zip("abcdefghij", DIGITS))
    assert main([*args, "--label-map", mapping]) == 0


# --- Text through each path -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["keras", "saved_model", "tar.gz over http", "preprocessor"])
def test_a_text_tsv_through_each_path_predicts_as_the_model_itself(path, text_models, tmp_path,
                                                                  server, monkeypatch):
    folder, model, texts = text_models
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(folder))
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub"))
    root, url, hits = server
    shutil.copy(folder / "reviews-model.tar.gz", root / "reviews-model.tar.gz")
    location = {"keras": str(folder / "reviews.keras"),
                "saved_model": str(folder / "reviews-model"),
                "tar.gz over http": f"{url}reviews-model.tar.gz",
                "preprocessor": str(folder / "on-tokens")}[path]
    adapter = {"labels": ["neg", "pos"]}
    if path == "preprocessor":
        adapter["preprocessor"] = str(folder / "tokens")
    record, record_path = runner.run(location, "reviews", adapter=adapter, progress=False,
                                     results_dir=tmp_path / "r")
    direct = np.asarray(model(tf.constant(texts), training=False))
    rows = _predictions(record_path)
    assert [r["text"] for r in rows] == texts
    assert [r["prediction"] for r in rows] == direct.argmax(axis=1).tolist()
    np.testing.assert_allclose([r["confidence"] for r in rows],
                               _softmax(direct).max(axis=1), atol=2e-6)
    assert record["main_metric"]["value"] > 0.8
    assert record["model"]["params"] == model.count_params() > 0
    if path == "preprocessor":
        assert record["model"]["source"]["preprocessor"]["location"] == str(folder / "tokens")
        # Token ids are not strings: without the preprocessor, said so before any batch.
        with pytest.raises(EvaluationError, match=r"takes int64 inputs .* not the strings .*"
                                                  r"\(preprocessor = HANDLE\)"):
            runner.run(location, "reviews", adapter={"labels": ["neg", "pos"]},
                       progress=False, results_dir=tmp_path / "x")


# --- The adapter is data, checked -----------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ('outputs = "logit"\n', 'adapter.toml: outputs must be one of logits, probabilities, got '
                            "'logit' (Did you mean: 'logits'?)."),
    ('lables = ["0"]\n', "adapter.toml: unknown field 'lables' (Did you mean: 'labels'"),
    ('input_range = [255, 0]\n', "adapter.toml: input_range must be [low, high] with low < high"),
    ('labels = ["a", "a"]\n', "adapter.toml: labels must hold different items, got 'a' twice"),
    ('labels = ["a"\n', "adapter.toml: not valid TOML"),
    ('std = 0\n', "adapter.toml: std must be a number in (0, 1000000.0] or an array"),
])
def test_a_bad_adapter_file_is_one_line_naming_the_file_and_field(text, message, tmp_path,
                                                                  capsys):
    from zoo.cli import main

    (tmp_path / "adapter.toml").write_text(text, encoding="utf-8")
    code = main(["bench", "run", "--model", str(tmp_path / "m.keras"), "--benchmark", "digits",
                 "--adapter", str(tmp_path / "adapter.toml"), "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(tmp_path / "adapter.toml") in err


def test_adapter_options_and_misfits_are_refused_before_any_data_or_model(tmp_path, capsys,
                                                                         monkeypatch):
    from zoo.cli import main

    monkeypatch.chdir(tmp_path)
    base = ["bench", "run", "--benchmark", "digits", "--results", str(tmp_path / "r")]
    assert main([*base, "--model", "m.keras", "--adapt", "outputs"]) == 2
    assert "--adapt takes KEY=VALUE" in capsys.readouterr().err
    assert main([*base, "--model", "m.keras", "--adapt", "layout=flatt"]) == 2
    assert "--adapt: layout must be one of channels_last, channels_first, flat, got 'flatt' " \
           "(Did you mean: 'flat'?)" in capsys.readouterr().err
    # A registered model takes no adapter; a model file takes no --weights.
    assert main([*base, "--model", "lenet5_8", "--adapt", "outputs=logits"]) == 2
    assert "'lenet5_8' is a registered model" in capsys.readouterr().err
    assert main([*base, "--model", "m.keras", "--weights", "w.keras"]) == 2
    assert "--weights goes with a registered model" in capsys.readouterr().err
    # A plain name that is not registered stays a name, with the closest ones.
    assert main([*base, "--model", "lenet5_9"]) == 2
    assert "Did you mean: 'lenet5_8'" in capsys.readouterr().err
    # Text fields on an image benchmark, and a benchmark no outside model can be scored on.
    assert main([*base, "--model", "m.keras", "--adapt", "preprocessor=x", "--adapt",
                 "labels=[0,1,2,3,4,5,6,7,8,9]"]) == 2
    assert "preprocessor applies to text models; benchmark 'digits' is image_classification" \
        in capsys.readouterr().err
    assert main(["bench", "run", "--benchmark", "digits-vae", "--model", "m.keras"]) == 2
    assert "a model zoo did not train (m.keras) is benchmarked on image_classification or " \
           "text_classification" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_labels_are_required_and_may_come_from_a_file(digits_models, tmp_path):
    folder, _, _ = digits_models
    with pytest.raises(AdapterError, match=r"labels is required: .* labels = \[\"0\", \"1\""):
        runner.run(str(folder / "mlp.keras"), "digits", progress=False,
                   results_dir=tmp_path / "r")
    (tmp_path / "classes.txt").write_text("\n".join(DIGITS) + "\n", encoding="utf-8")
    adapter = _write_adapter(tmp_path, labels_file="classes.txt", input_range=[0, 255])
    assert adapters.read(adapter).labels == tuple(DIGITS)  # relative to the adapter file
    record, _ = runner.run(str(folder / "mlp.keras"), "digits", adapter=adapter, limit=20,
                           progress=False, results_dir=tmp_path / "r")
    assert record["evaluation"]["labels"]["model"] == DIGITS


def test_an_adapter_that_does_not_fit_the_model_says_which_field_to_change(digits_models,
                                                                          tmp_path):
    folder, _, _ = digits_models
    common = {"labels": DIGITS}
    with pytest.raises(EvaluationError, match=r"takes float32 inputs of shape \(8, 8, 1\) .* fed "
                                              r"as \(64,\) .* set image_size, channels or layout"):
        runner.run(str(folder / "mlp"), "digits", adapter=dict(common, layout="flat"),
                   progress=False, results_dir=tmp_path / "r")
    (tmp_path / "run").mkdir()
    shutil.copy(folder / "mlp.keras", tmp_path / "run" / "model.keras")
    with pytest.raises(EvaluationError, match="is a zoo run folder: score it with --model NAME "
                                              "--weights"):
        runner.run(str(tmp_path / "run"), "digits", adapter=common, progress=False,
                   results_dir=tmp_path / "r")
    with pytest.raises(EvaluationError, match="signature applies to a SavedModel"):
        runner.run(str(folder / "mlp.keras"), "digits", adapter=dict(common, signature="serve"),
                   progress=False, results_dir=tmp_path / "r")
    with pytest.raises(HubError, match="has no signature 'nope'. It has: serve, "
                                        "serving_default"):
        runner.run(str(folder / "mlp"), "digits", adapter=dict(common, signature="nope"),
                   progress=False, results_dir=tmp_path / "r")
    with pytest.raises(EvaluationError, match=r"outputs have the shape \(4, 10\); .* 2, as many "
                                              "as the adapter names labels"):
        runner.run(str(folder / "mlp"), "digits", adapter={"labels": ["0", "1"]},
                   label_map="0=0,1=1", progress=False, results_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_a_saved_model_of_uint8_pixels_and_two_outputs_is_called_as_its_adapter_says(tmp_path):
    """A SavedModel written with tf.saved_model (no Keras): uint8 pixels in, a dict of two
    outputs out, an integer step counter among its variables. The adapter picks the output and
    scales the pixels, which are rounded (not truncated) to the integers it declares."""

    class Module(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.random.stateless_normal([64, 10], seed=[0, 1]))
            self.step = tf.Variable(0, dtype=tf.int64)

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.uint8)])
        def serve(self, pixels):
            logits = tf.matmul(tf.reshape(tf.cast(pixels, tf.float32) / 255, [-1, 64]), self.w)
            return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

    module = Module()
    tf.saved_model.save(module, str(tmp_path / "two"), signatures={"serving_default":
                                                                   module.serve})
    location = str(tmp_path / "two")
    with pytest.raises(EvaluationError, match="returns the outputs logits, probabilities: say "
                                              "which holds the class scores with output_key"):
        runner.run(location, "digits", adapter={"labels": DIGITS}, progress=False,
                   results_dir=tmp_path / "r")
    with pytest.raises(EvaluationError, match=r"two as the adapter says failed: .* has no "
                                              r"output 'probs'; its outputs: \['logits', "
                                              r"'probabilities'\]"):
        runner.run(location, "digits", adapter={"labels": DIGITS, "output_key": "probs"},
                   progress=False, results_dir=tmp_path / "r")
    record, path = runner.run(location, "digits", adapter={
        "labels": DIGITS, "output_key": "probabilities", "outputs": "probabilities",
        "input_range": [0, 255]}, progress=False, results_dir=tmp_path / "r")
    test = datasets.load("digits", "test")
    pixels = np.round(test.inputs * 255).astype("uint8")
    direct = module.serve(tf.constant(pixels))["probabilities"].numpy()
    rows = _predictions(path)
    assert [r["prediction"] for r in rows] == direct.argmax(axis=1).tolist()
    np.testing.assert_allclose([r["confidence"] for r in rows], direct.max(axis=1), atol=2e-6)
    assert record["model"]["params"] == 640  # the weights, not the int64 step counter
    assert record["model"]["class"] == "SavedModel"


def test_a_keras_file_holding_code_is_refused_in_safe_mode(tmp_path):
    images = keras.Input((8, 8, 1))
    doubled = keras.layers.Lambda(lambda x: x * 2.0)(images)  # Python code in the file
    model = keras.Model(images, keras.layers.Dense(10)(keras.layers.Flatten()(doubled)))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(UnsafeCodeError, match="lambda.keras was refused by Keras' safe mode"):
        runner.run(str(tmp_path / "lambda.keras"), "digits", adapter={"labels": DIGITS},
                   progress=False, results_dir=tmp_path / "r")
    record, _ = runner.run(str(tmp_path / "lambda.keras"), "digits", adapter={"labels": DIGITS},
                           limit=10, safe_mode=False, progress=False, results_dir=tmp_path / "r")
    assert record["model"]["class"] == "Functional"


# --- The record and the leaderboard ---------------------------------------------------------------


def test_a_version_2_record_reads_as_version_3_with_no_source_and_no_adapter():
    record = records.example(schema_version=2)
    migrated = records.migrate(record)
    assert migrated is not record and record["schema_version"] == 2
    assert migrated["schema_version"] == records.SCHEMA_VERSION == 3
    assert migrated["model"]["source"] is None and migrated["evaluation"]["adapter"] is None
    records.validate(migrated)


def test_the_leaderboard_ranks_it_says_it_was_not_trained_by_zoo_and_shows_the_adapter(
        digits_models, tmp_path):
    from zoo.leaderboard import site

    folder, _, _ = digits_models
    adapter = _write_adapter(tmp_path, labels=DIGITS, input_range=[0, 255], name="my-mlp")
    _, path = runner.run(str(folder / "mlp"), "digits", adapter=adapter, progress=False,
                         results_dir=tmp_path / "results")
    record = json.loads(path.read_text(encoding="utf-8"))
    record["flags"]["dirty"] = False  # as from a clean checkout: a full run
    path.write_text(json.dumps(record), encoding="utf-8")
    site.build(tmp_path / "results", tmp_path / "site", warn=pytest.fail)
    board = json.loads((tmp_path / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    (ranked,) = [b for b in board["benchmarks"] if b["id"] == "digits"][0]["entries"]
    assert ranked["model"] == "my-mlp" and ranked["rank"] == 1
    page = (tmp_path / "site" / "entries" / f"{record['run_id']}.html").read_text("utf-8")
    assert "Not trained by zoo" in page and str(folder / "mlp") in page
    assert record["model"]["source"]["sha256"] in page
    assert "<h2 id=adapter>Adapter</h2>" in page and "input_range" in page
    assert "[0, 255]" in page and str(adapter) in page


def test_a_mistyped_model_path_names_the_closest_files(digits_models, tmp_path, capsys,
                                                       monkeypatch):
    """Was: with an adapter, a mistyped folder or `.keras` name (no `/`) was read as a
    registered model's name ("Unknown model", and the list of zoo's models); a corrupt
    archive's message ran over five lines."""
    from zoo.cli import main

    folder, _, _ = digits_models
    monkeypatch.chdir(folder)
    adapter = _write_adapter(tmp_path, labels=DIGITS, input_range=[0, 255])
    base = ["bench", "run", "--benchmark", "digits", "--adapter", str(adapter), "--results",
            str(tmp_path / "r")]
    for model, message in [
        ("mlp-probabilitis", "No SavedModel at mlp-probabilitis: the path does not exist. Did "
                             "you mean: 'mlp-probabilities'"),
        ("mlp.kears", "No SavedModel at mlp.kears: the path does not exist. Did you mean: "
                      "'mlp.keras'"),
        ("mlp-probabilities.keras.keras", "No model file at mlp-probabilities.keras.keras. Did "
                                          "you mean: 'mlp-probabilities.keras'"),
    ]:
        assert main([*base, "--model", model]) == 2, model
        err = capsys.readouterr().err
        assert message in err and "Known models" not in err, err
    (tmp_path / "broken.tar.gz").write_bytes(b"not an archive at all")
    assert main([*base, "--model", str(tmp_path / "broken.tar.gz")]) == 2
    err = capsys.readouterr().err
    assert "broken.tar.gz is not a readable .tar.gz of a SavedModel (not a tar archive, " \
           "compressed or not)" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_a_saved_model_with_nothing_to_call_says_so(tmp_path):
    """Was: "has no signature 'serving_default'. It has: none. Pass one of those as
    signature=": a SavedModel saved with no signature and no `__call__`."""
    module = tf.Module()
    module.scale = tf.Variable(2.0)
    tf.saved_model.save(module, str(tmp_path / "bare"), signatures={})
    with pytest.raises(HubError, match=r"bare has no signature and no __call__: nothing in it "
                                       r"can be called. Save the model with one \(Keras: "
                                       r"model.export\(path\)"):
        runner.run(str(tmp_path / "bare"), "digits", adapter={"labels": DIGITS},
                   progress=False, results_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_an_error_after_some_batches_starts_a_line_of_its_own(tmp_path, capsys):
    """Was: a model refused part-way (probabilities for the first images, not for a later
    one) printed its error at the end of the progress line ("...128/360 examples (1,283/s)zoo
    bench: error: ...")."""
    from zoo.cli import main

    class _DoubledWhenBright(keras.layers.Layer):
        def call(self, probabilities, pixels):
            bright = keras.ops.sum(pixels, axis=1, keepdims=True) > 25.0
            return probabilities * (1.0 + keras.ops.cast(bright, "float32"))

    test = datasets.load("digits", "test")
    assert (test.inputs[:64].reshape(64, -1).sum(1) <= 25).all()  # the first batch is fine
    images = keras.Input((8, 8, 1))
    pixels = keras.layers.Flatten()(images)
    probabilities = keras.layers.Dense(10, activation="softmax")(pixels)
    keras.Model(images, _DoubledWhenBright()(probabilities, pixels)).export(
        tmp_path / "bright", verbose=False)
    code = main(["bench", "run", "--model", str(tmp_path / "bright"), "--benchmark", "digits",
                 "--adapt", f"labels={json.dumps(DIGITS)}", "--adapt", "outputs=probabilities",
                 "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "[bench] digits: 64/360 examples" in err
    assert err.splitlines()[-1].startswith('zoo bench: error: --adapt: outputs = '
                                           '"probabilities", but the model\'s outputs')
    assert not list((tmp_path / "r").glob("*/*.json"))  # no record
