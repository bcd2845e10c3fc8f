"""Task kinds (`zoo.tasks`): one module per kind declares everything the stages need, and the
stages (recipes, benchmarks, the training input, the harness) find a kind by looking it up,
never by a list of kinds."""

import dataclasses
import json
import re
import textwrap

import numpy as np
import pytest

import zoo
from zoo import datasets, tasks
from zoo.harness import benchmarks
from zoo.registry import DuplicateNameError, UnknownNameError
from zoo.schema import Field
from zoo.tasks import EvaluationError
from zoo.training import inputs, recipes
from zoo.training.errors import RecipeError
from zoo.training.recipes import Recipe


def test_an_unknown_kind_is_answered_with_the_closest_names():
    with pytest.raises(UnknownNameError, match="Unknown task kind 'image_clasification'. Did "
                                               "you mean: 'image_classification'"):
        tasks.get("image_clasification")
    assert tasks.names() == ["image_classification", "image_generation", "language_modeling",
                             "masked_lm", "text_classification", "translation"]


@pytest.mark.parametrize("name", tasks.names())
def test_every_kind_declares_the_whole_contract_consistently(name):
    kind = tasks.get(name)
    assert kind.NAME == name and not [n for n in tasks.CONTRACT if not hasattr(kind, n)]
    assert set(kind.LOWER_IS_BETTER) <= set(kind.METRICS)
    assert set(kind.RECIPE_FIELDS) <= {f.name for f in dataclasses.fields(Recipe)}
    spec_fields = {f.name for f in dataclasses.fields(benchmarks.BenchmarkSpec)}
    assert set(kind.BENCHMARK_FIELDS) <= spec_fields
    assert all(isinstance(f, Field) for f in [*kind.BENCHMARK_FIELDS.values(),
                                              *kind.BENCHMARK_PREPROCESSING.values()])
    assert bool(kind.METRICS) == bool(kind.DATASET_KINDS)  # a benchmark needs both
    assert not kind.TOKENIZED or callable(kind.tokenizer_texts)


def test_kinds_import_without_tensorflow():
    from helpers import run_in_fresh_python

    out = run_in_fresh_python("""
        import sys
        from zoo import tasks
        for name in tasks.names():
            tasks.get(name)
        print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
    """)
    assert out.strip().splitlines()[-1] == "[]"


def test_a_module_missing_part_of_the_contract_is_named(tmp_path, monkeypatch):
    (tmp_path / "half_kind.py").write_text('NAME = "half"\nTOKENIZED = True\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(tasks.TaskError, match="half_kind \\(.*half_kind.py\\) does not declare "
                                              "CLASSIFYING, METRICS.*tokenizer_texts"):
        tasks.register("half_kind")
    assert "half" not in tasks.names()
    (tmp_path / "typo_kind.py").write_text('NAME = "typo"\nTOKENIZED = (\n')
    with pytest.raises(tasks.TaskError, match="typo_kind does not import: SyntaxError: "):
        tasks.register("typo_kind")


def test_a_half_written_kind_is_one_line_from_the_zoo_command(tmp_path, monkeypatch, capsys):
    """A kind module in the making (in zoo/tasks/, so every kind lookup reads it) made every
    command, even `zoo recipes`, end in a traceback."""
    from zoo import cli

    (tmp_path / "half_kind.py").write_text('NAME = "half"\nTOKENIZED = False\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(tasks._registered, "half", "half_kind")  # as a shipped module is
    assert cli.main(["recipes"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo recipes: error: Task kind module half_kind (") and \
        "does not declare CLASSIFYING" in err and err.count("\n") == 1


# --- Data dimensions: what train and the harness used to compute, each in its own way -------


def test_model_dims_are_the_data_derived_constructor_arguments():
    from zoo.text import WordPieceTokenizer

    wide = datasets.Examples(np.zeros((4, 6, 10, 3), "float32"), np.arange(4) % 2,
                             label_names=("a", "b"))
    assert tasks.get("image_classification").model_dims(wide) == (
        {"image_size": [6, 10], "num_channels": 3, "num_classes": 2}, {})
    assert tasks.get("image_classification").model_dims(wide, label_names=("a", "b", "c"))[0][
        "num_classes"] == 3  # the harness: the benchmark's labels
    assert tasks.get("image_generation").model_dims(wide) == (
        {"image_size": [6, 10], "num_channels": 3}, {})
    pairs = datasets.load("tatoeba-en-es-sample", "train")
    tokenizer = WordPieceTokenizer.train(pairs.inputs[:200], vocabulary_size=120)
    defaults, fixed = tasks.get("translation").model_dims(pairs, tokenizer=tokenizer,
                                                           max_length=24)
    assert defaults == {"max_sequence_length": 24}
    assert fixed == {"vocabulary_size": tokenizer.vocabulary_size, "pad_id": tokenizer.pad_id,
                     "start_id": tokenizer.start_id, "end_id": tokenizer.end_id}
    assert tasks.get("masked_lm").model_dims(pairs, tokenizer=tokenizer, max_length=24) == (
        defaults, {"vocabulary_size": tokenizer.vocabulary_size})
    # No tokenizer (an untrained model, or one with its own preprocessor): nothing from it.
    texts = datasets.Examples(["a", "b"], np.array([0, 1]), label_names=("x", "y"))
    assert tasks.get("text_classification").model_dims(texts) == ({"num_classes": 2}, {})


# --- Fields only some kinds read: refused where nothing would read them ---------------------

RECIPE = dict(entry="x.y", model="vit_tiny_patch2_8", task="image_classification",
              dataset="digits", steps=10)


@pytest.mark.parametrize("change, message", [
    ({"label_smoothing": 0.1, "model": "vae_tiny", "task": "image_generation"},
     "label_smoothing is for image_classification or language_modeling or masked_lm or "
     "text_classification or translation recipes, not image_generation"),
    ({"binarize": "stochastic"}, "binarize (of training images) is for image_generation "
                                 "recipes, not image_classification"),
    ({"augment": "flip", "model": "transformer_tiny", "task": "translation",
      "dataset": "tatoeba-en-es-sample"}, "augment (flip or shift of training images) is for "
                                          "image_classification recipes, not translation"),
    ({"max_predictions": 5}, "max_predictions is for masked_lm recipes"),
    ({"tokenizer": {"vocabulary_size": 300}}, "tokenizer is for language_modeling or masked_lm "
                                              "or text_classification or translation recipes"),
])
def test_a_recipe_setting_a_field_its_kind_ignores_is_refused(change, message):
    """Each of these was silently ignored by the training run."""
    with pytest.raises(RecipeError, match=re.escape(message)):
        Recipe(**{**RECIPE, **change})
    Recipe(**RECIPE, label_smoothing=0.1, max_predictions=20)  # a default is not a setting


BENCHMARK = """
id = "mine"
version = 1
task = "image_classification"
description = "digits again"
dataset = "digits"
split = "test"
labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
metrics = ["accuracy"]
main_metric = "accuracy"
"""


@pytest.mark.parametrize("extra, message", [
    ('[preprocessing]\nbinarize = "stochastic"\n',
     "preprocessing.binarize is for image_generation benchmarks, not image_classification"),
    ("[bleu]\nlowercase = true\n", "bleu is for translation benchmarks, not "
                                   "image_classification"),
    ("[decoding]\nbeam_width = 2\n", "decoding is for translation benchmarks"),
])
def test_a_benchmark_setting_what_its_kind_does_not_read_is_refused(tmp_path, extra, message):
    path = tmp_path / "mine.toml"
    path.write_text(BENCHMARK + extra)
    with pytest.raises(benchmarks.BenchmarkError, match=message):
        benchmarks.parse(path)


def test_masked_lm_is_trained_but_never_benchmarked(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(BENCHMARK.replace('"image_classification"', '"masked_lm"'))
    with pytest.raises(benchmarks.BenchmarkError, match="task must be one of image_classification"
                                                        ", image_generation, language_modeling"
                                                        ", text_classification, translation, got "
                                                        "'masked_lm'"):
        benchmarks.parse(path)
    with pytest.raises(EvaluationError, match="masked-LM task, which zoo does not benchmark"):
        list(tasks.get("masked_lm").predict(None, None, None, benchmarks.get("digits"), 8))


# --- A new kind is one module: the stages find it -------------------------------------------

TOY = '''
"""A toy kind: the mean brightness of an image (a regression), to show a new kind is one
module."""
import numpy as np

from zoo import schema
from zoo.tasks import _dims, _streams

NAME = "brightness"
TOKENIZED = False
CLASSIFYING = False
METRICS = ("squared_error",)
LOWER_IS_BETTER = frozenset(METRICS)
DATASET_KINDS = ("image_classification",)
FILE_KINDS = ("npz",)
RECIPE_FIELDS = {"binarize": "binarize (of training images)"}
BENCHMARK_PREPROCESSING = {"brightness_scale": schema.Field(schema.Float(min=0))}
BENCHMARK_FIELDS = {}


def model_dims(examples, *, tokenizer=None, max_length=None, label_names=None):
    return _dims.image_dims(examples), {"num_classes": 1}


def training_pipeline(examples, batch_size, seed, start_step, *, per_worker_order=False,
                      **settings):
    import tensorflow as tf

    images = tf.constant(np.asarray(examples.inputs, "float32"))

    def transform(idx, positions, seed):
        x = tf.gather(images, idx)
        return x, tf.reduce_mean(x, axis=[1, 2, 3]), _streams.ones(idx)

    return _streams.batches(len(examples), batch_size, seed, start_step, transform,
                            per_worker_order=per_worker_order)


def objective(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    prediction = model(x, training=training)[:, 0]
    return (prediction - y) ** 2, {}


def validator(recipe, tokenizer, data_dir=None):
    return None


def predict(model, tokenizer, examples, spec, batch_size, start=0, **options):
    for i in range(start, len(examples)):
        yield {"index": i, "brightness": float(examples.inputs[i].mean())}


def score(spec, examples, rows, idx, **context):
    error = np.mean([r["brightness"] ** 2 for r in rows])
    return {"squared_error": {"value": float(error), "low": 0.0, "high": 1.0}}, {}, {}
'''


@pytest.fixture
def toy_kind(tmp_path, monkeypatch):
    (tmp_path / "toy_kinds").mkdir()
    (tmp_path / "toy_kinds" / "__init__.py").write_text("")
    (tmp_path / "toy_kinds" / "brightness.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path))
    name = tasks.register("toy_kinds.brightness")
    yield tasks.get(name)
    tasks.unregister(name)


def test_a_registered_kind_is_found_by_the_benchmark_checks(toy_kind, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(BENCHMARK.replace('"image_classification"', '"brightness"').replace(
        '"accuracy"', '"squared_error"') + "[preprocessing]\nbrightness_scale = 2.0\n")
    spec = benchmarks.parse(path)
    assert spec.task == "brightness" and spec.higher_is_better is False  # its LOWER_IS_BETTER
    path.write_text(BENCHMARK + "[preprocessing]\nbrightness_scale = 2.0\n")
    with pytest.raises(benchmarks.BenchmarkError, match="preprocessing.brightness_scale is for "
                                                        "brightness benchmarks"):
        benchmarks.parse(path)
    with pytest.raises(DuplicateNameError, match="'brightness' is already known"):
        tasks.register("toy_kinds.brightness")


def test_a_registered_kind_is_found_by_the_recipe_checks_and_the_training_input(toy_kind):
    with pytest.raises(RecipeError, match="binarize .*is for brightness or image_generation "
                                          "recipes, not image_classification"):
        Recipe(**RECIPE, binarize="stochastic")
    with pytest.raises(RecipeError, match="cannot be trained for brightness; use a model "
                                          "whose family serves it \\(none does yet: add the "
                                          "kind to a family's `serves`"):  # no family
        Recipe(**{**RECIPE, "task": "brightness"})  # serves it: the task itself is known
    examples = datasets.Examples(np.random.default_rng(0).random((8, 4, 4, 1), "float32"),
                                 np.zeros(8, "int32"))
    x, y, w = next(iter(inputs.pipeline("brightness", examples, 4, seed=0, start_step=0)))
    np.testing.assert_allclose(y.numpy(), x.numpy().mean(axis=(1, 2, 3)), rtol=1e-6)
    with pytest.raises(UnknownNameError, match="Did you mean: 'brightness'"):
        inputs.pipeline("brightnes", examples, 4, seed=0, start_step=0)


def test_a_kind_says_what_its_models_take_and_which_examples_a_result_page_shows(toy_kind):
    """`zoo entries` and the leaderboard's result pages ask the kind (they named the kinds);
    a kind without the optional hooks gets a plain sentence and no examples section."""
    assert tasks.expected_input(toy_kind, {}) == "inputs of a brightness model"
    assert tasks.examples(toy_kind, {}, [], {}) is None
    image = tasks.get("image_classification")
    assert tasks.expected_input(image, {"image_size": [8, 6], "num_channels": 3}) == \
        "images (N, 8, 6, 3) float32 in [0, 1]"
    rows = [{"index": 0, "target": 0, "prediction": 1, "confidence": 0.9},
            {"index": 1, "target": 1, "prediction": 1, "confidence": 0.8}]
    shown = tasks.examples(image, {"labels": ["a", "b"], "dataset": "digits"}, rows, {})
    assert shown["rows"] == [[0, "a", "b", 0.9]] and "the digits test split" in shown["note"]
    assert [c for c, _ in shown["columns"]] == ["test index", "true", "predicted", "confidence"]


def test_recipes_and_benchmarks_name_no_kind():
    """The stages' code holds no task kind's name (docstrings aside): they ask `zoo.tasks`."""
    import ast
    import inspect

    from zoo.harness import compare, labels, runner
    from zoo.training import train

    names = set(tasks.names())
    for module in (recipes, benchmarks, inputs, train, runner, compare, labels):
        tree = ast.parse(inspect.getsource(module))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        found = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                 and node.value in names and id(node) not in docstrings]
        assert not found, f"{module.__name__} names task kinds {found}"


# --- The negative ELBO: one implementation, the model's ------------------------------------


def test_the_objective_and_the_harness_take_the_elbo_from_the_model():
    vae, twin = zoo.build("vae_tiny", image_size=8), zoo.build("vae_tiny", image_size=8)
    twin.set_weights(vae.get_weights())  # the same weights, and the same noise to come
    images = (np.random.default_rng(0).random((4, 8, 8, 1)) < 0.5).astype("float32")
    kind = tasks.get("image_generation")
    loss, logs = kind.objective(vae, images, images, np.ones(4, "float32"), training=False)
    terms = vae.elbo_terms(images, sample=False)
    np.testing.assert_array_equal(loss, terms["reconstruction"] + terms["kl"])
    assert sorted(logs) == ["kl", "reconstruction"]
    spec = benchmarks.get("digits-vae")
    examples = datasets.Examples(images, np.arange(4), label_names=None)
    rows = list(kind.predict(vae, None, examples, spec, batch_size=4))
    # The twin's first draw of z is the one predict makes for batch 0: a fresh generator
    # starts where predict sets it for the first batch (digits-vae's noise seed is 0).
    elbo = np.asarray(twin.negative_elbo(kind.binarize(images, spec)))
    np.testing.assert_allclose([r["negative_elbo"] for r in rows], elbo, atol=1e-5)
    assert json.dumps(rows)  # plain numbers


def test_an_autoencoder_has_no_elbo_to_benchmark():
    ae = zoo.build("ae_tiny", image_size=8)
    images = np.zeros((2, 8, 8, 1), "float32")
    assert sorted(ae.elbo_terms(images)) == ["reconstruction"]
    with pytest.raises(EvaluationError, match="has no KL term"):
        list(tasks.get("image_generation").predict(
            ae, None, datasets.Examples(images, np.zeros(2)), benchmarks.get("digits-vae"), 2))
