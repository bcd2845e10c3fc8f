"""The LeNet family, added in one folder (zoo/models/lenet/), its recipes and this file: it
builds with LeNet-5's parameter count, saves and loads, trains with `zoo train`, is scored by
the harness and exports through zoo's export, with no stage naming it."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_outputs_equal

import zoo
from zoo import entries
from zoo.cli import main
from zoo.harness import runner
from zoo.hub import HubLayer, export
from zoo.models import catalog
from zoo.tasks import EvaluationError
from zoo.training import recipes
from zoo.training.errors import RecipeError


def _lenet5_params(side, padding, kernel, filters=(6, 16), dense=(120, 84), classes=10):
    """LeNet-5's parameters by hand: valid convolutions (with biases) each followed by 2x2
    pooling (no weights), then dense layers."""
    params, channels, size = 0, 1, side + 2 * padding
    for width in filters:
        params += kernel * kernel * channels * width + width
        channels, size = width, (size - kernel + 1) // 2
    units = size * size * channels
    for width in (*dense, classes):
        params += units * width + width
        units = width
    return params


def test_lenet5_has_the_papers_size_at_32x32_and_padded_28x28():
    # C1 156 + C3 2,416 (full connections) + C5 48,120 + F6 10,164 + output 850.
    assert _lenet5_params(32, 0, 5) == 61_706
    assert _lenet5_params(28, 2, 5) == 61_706
    assert _lenet5_params(8, 1, 3) == 13_994
    assert zoo.describe("lenet5")["params"] == 61_706
    assert zoo.describe("lenet5_8")["params"] == 13_994
    assert zoo.build("lenet5").count_params() == 61_706
    assert zoo.build("lenet5", image_size=32, input_padding=0).count_params() == 61_706
    assert zoo.build("lenet5_8").count_params() == 13_994
    info = zoo.describe("lenet5")
    assert info["family"] == "lenet" and "LeCun" in info["paper"]
    assert info["serves"] == ["image_classification"]


def test_lenet5_is_the_common_keras_form_with_same_padding_on_the_first_convolution():
    """Zero-padding 28x28 by 2 then valid convolutions computes what the usual Keras LeNet-5
    (padding "same" on the first convolution) computes, with the same weights."""
    model = zoo.build("lenet5")
    keras_form = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(6, 5, padding="same", activation="tanh"),
        keras.layers.AveragePooling2D(2),
        keras.layers.Conv2D(16, 5, activation="tanh"),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(120, activation="tanh"),
        keras.layers.Dense(84, activation="tanh"),
        keras.layers.Dense(10),
    ])
    assert keras_form.count_params() == model.count_params() == 61_706
    keras_form.set_weights(model.get_weights())
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(keras_form(images), model(images), atol=1e-5)


@pytest.mark.parametrize("name, shape", [("lenet5", (28, 28, 1)), ("lenet5_8", (8, 8, 1))])
def test_builds_and_saves_and_loads_with_identical_outputs(name, shape, tmp_path):
    model = zoo.build(name, num_classes=3, pooling="max", activation="relu", dropout=0.2)
    images = np.random.default_rng(1).random((2, *shape)).astype("float32")
    expected = model(images, training=False)
    assert tuple(expected.shape) == (2, 3)
    model.save(tmp_path / "m.keras")
    loaded = zoo.load_model(tmp_path / "m.keras")  # safe mode
    assert type(loaded).__name__ == "LeNet" and loaded.get_config() == model.get_config()
    assert_outputs_equal(loaded(images, training=False), expected)
    assert catalog.head_of(loaded)[0].name == "lenet"


@pytest.mark.parametrize("overrides, argument", [
    ({}, "image_size"),  # 5x5 kernels on 8x8 images padded by 2: nothing after conv 2
    ({"kernel_size": 3, "input_padding": 0}, "image_size"),
    ({"pooling": "min"}, "pooling"),
    ({"activation": "gelu"}, "activation"),
    ({"filters": []}, "filters"),
    ({"input_padding": -1}, "input_padding"),
])
def test_impossible_configs_fail_at_build_naming_the_argument(overrides, argument):
    with pytest.raises(ValueError, match=argument):
        zoo.build("lenet5", image_size=8, **overrides)


def test_a_recipe_may_unpad_the_input_but_not_use_negative_padding(tmp_path):
    """input_padding is 0 in LeNet's signature (2 in the preset), so 0 is a valid override."""
    base = recipes.get("lenet5.mnist").to_dict()
    recipe = recipes.Recipe.from_dict({**base, "model_overrides": {"input_padding": 0}})
    assert recipe.model_overrides == {"input_padding": 0}
    with pytest.raises(RecipeError, match="model_overrides.input_padding must be a "
                                          "non-negative integer, got -1"):
        recipes.Recipe.from_dict({**base, "model_overrides": {"input_padding": -1}})


def test_the_shipped_recipes_check_and_name_the_benchmarks_of_their_data():
    for entry, model, data in [("lenet5.mnist", "lenet5", "mnist"),
                               ("lenet5.fashion-mnist", "lenet5", "fashion-mnist"),
                               ("lenet5.digits", "lenet5_8", "digits")]:
        recipe = recipes.get(entry)
        assert (recipe.model, recipe.dataset, recipe.benchmark) == (model, data, data)
        assert recipe.task == "image_classification"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`zoo train lenet5.digits` cut to 100 steps, logging every 20 and without the warmup
    (the shipped recipe with those changed, from a file)."""
    root = tmp_path_factory.mktemp("lenet")
    recipe = {**recipes.get("lenet5.digits").to_dict(), "log_every": 20, "warmup_steps": 0}
    toml = root / "lenet5.digits.toml"
    toml.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in recipe.items()
                            if value not in (None, {}, [])), encoding="utf-8")
    assert main(["train", str(toml), "--steps", "100", "--out", str(root / "run")]) == 0
    return root / "run"


def test_zoo_train_lowers_the_loss_on_digits(trained):
    rows = [json.loads(line) for line in (trained / "history.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [20, 40, 60, 80, 100]
    assert rows[-1]["loss"] < 0.6 * rows[0]["loss"], rows  # 2.23 -> 1.06 here
    info = json.loads((trained / "run.json").read_text())
    assert info["status"] == "complete" and info["labels"] == [str(i) for i in range(10)]


def test_the_harness_scores_the_trained_run_and_an_untrained_lenet(trained, tmp_path):
    record, _ = runner.run("lenet5_8", "digits", weights=trained, progress=False,
                           results_dir=tmp_path)
    assert record["model"]["family"] == "lenet" and record["model"]["class"] == "LeNet"
    assert record["model"]["params"] == 13_994 and not record["flags"]["untrained"]
    assert record["main_metric"]["value"] > 0.5  # 100 steps: far above chance (0.1)
    untrained, _ = runner.run("lenet5_8", "digits", limit=40, progress=False,
                              results_dir=tmp_path)
    assert untrained["flags"]["untrained"] and untrained["benchmark"]["examples"]["evaluated"] == 40
    assert 0.0 <= untrained["main_metric"]["value"] <= 1.0


def test_the_harness_explains_a_lenet_that_cannot_read_the_benchmarks_images(tmp_path):
    with pytest.raises(EvaluationError, match="Cannot build lenet5 for benchmark 'digits': "
                                              "image_size=.* is too small"):
        runner.run("lenet5", "digits", limit=10, progress=False, results_dir=tmp_path)
    with pytest.raises(EvaluationError, match="is a lenet model: it cannot be evaluated on "
                                              "benchmark 'sst2'"):
        runner.run("lenet5", "sst2", limit=10, progress=False, results_dir=tmp_path)


def test_the_published_run_exports_its_classifier_that_computes_what_keras_does(trained,
                                                                                tmp_path):
    folder = entries.publish(trained, dest_root=tmp_path / "entries", precision="float32")
    written = export.export_entry(folder, tmp_path / "export")
    assert written == [tmp_path / "export" / "classifier"]
    model = entries.load_folder(folder)
    images = np.random.default_rng(2).random((5, 8, 8, 1)).astype("float32")
    loaded = tf.saved_model.load(str(written[0]))
    np.testing.assert_allclose(loaded(images), model(images, training=False), atol=1e-5)
    signature = loaded.signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(signature["logits"], model(images, training=False), atol=1e-5)
    # As a Keras layer again (TF Hub's reusable SavedModel API).
    layer = HubLayer(written[0])
    np.testing.assert_allclose(layer(images), model(images, training=False), atol=1e-5)
    card = json.loads((tmp_path / "export" / "model_card.json").read_text())
    assert card["kind"] == "lenet" and card["parts"] == ["classifier"]
    assert card["class"] == "LeNet" and card["entry"] == "lenet5.digits"
    text = (tmp_path / "export" / "MODEL_CARD.md").read_text()
    assert "- `classifier/`: float32 images in [0, 1] -> logits" in text


def test_compact_exports_hold_the_weights_as_the_entry_stores_them(trained, tmp_path):
    folder = entries.publish(trained, dest_root=tmp_path / "entries", precision="int8")
    export.export_entry(folder, tmp_path / "export", weights="stored")
    loaded = tf.saved_model.load(str(tmp_path / "export" / "classifier"))
    images = np.random.default_rng(3).random((5, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(loaded(images), entries.load_folder(folder)(images), atol=1e-4)
    assert tf.int8 in {v.dtype for v in loaded.variables} and not loaded.trainable_variables


def test_the_stages_find_lenet_through_the_catalog():
    assert "lenet" in catalog.families_serving("image_classification")
    assert catalog.head_for("lenet5", "image_classification") == "classifier"
    assert catalog.head_for("lenet5", "translation") is None
    assert "lenet" in export.parts_table()


def test_init_from_says_which_families_can_start_from_a_trained_model(trained, tmp_path,
                                                                     monkeypatch):
    """LeNet shares no part between heads (no `transfer` in its family.py): a recipe that
    starts it from a trained run is refused naming the families that can."""
    monkeypatch.setenv("ZOO_RUNS_DIR", str(trained.parent))
    recipe = recipes.get("lenet5.digits").replace(init_from=trained.name, steps=1)
    with pytest.raises(RecipeError, match="init_from 'run': lenet5_8 is a lenet model, which "
                                          "cannot start from a trained model; only bert "
                                          "models can"):
        zoo.train(recipe, out=tmp_path / "run", log=lambda *_: None)
