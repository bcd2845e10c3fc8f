"""Recipe files: every field's type and value checked by the schema benchmarks use too, one bad
file never hides the others, a byte-order mark is harmless."""

import pytest

from zoo.cli import main
from zoo.models import catalog
from zoo.training import recipes
from zoo.training.errors import RecipeError

ROOT_RECIPES = recipes.search_path()[-1]
GOOD = (ROOT_RECIPES / "vit_tiny_patch2_8.digits.toml").read_text(encoding="utf-8").replace(
    "vit_tiny_patch2_8.digits", "mine.digits")


def write(folder, name, text, bom=False):
    path = folder / f"{name}.toml"
    path.write_bytes(("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8"))
    return path


# (recipe file text, what the message says: the field and what it must be)
MALFORMED = {
    "steps a float": (GOOD.replace("steps = 1500", "steps = 1.5"),
                      "steps must be a positive integer, got the number 1.5"),
    "learning rate a string": (GOOD.replace("learning_rate = 0.002", 'learning_rate = "2e-3"'),
                               "learning_rate must be a positive number, got the string '2e-3'"),
    "misspelt field": (GOOD.replace("warmup_steps", "warmup_step"),
                       "unknown field 'warmup_step' (Did you mean: 'warmup_steps'"),
    "misspelt nested field": (GOOD + "tokenizer = { vocab_size = 300 }\n",
                              "unknown field 'tokenizer.vocab_size' (Did you mean: "
                              "'vocabulary_size'"),
    "nested wrong type": (GOOD + 'tokenizer = { lowercase = "yes" }\n',
                          "tokenizer.lowercase must be true or false, got the string 'yes'"),
    "nested table a string": (GOOD + 'model_overrides = "dropout=0"\n',
                              "model_overrides must be a table of the model's arguments, got "
                              "the string 'dropout=0'"),
    "pairs not pairs": (GOOD.replace('task = "image_classification"', 'task = "masked_lm"')
                        + 'extra_training_data = ["trec-6", "train"]\n',
                        "extra_training_data[0] must be an array of 2 items, each a non-empty "
                        "string, got the string 'trec-6'"),
    "validation examples zero": (GOOD + 'validation = { examples = 0 }\n',
                                 "validation.examples must be a positive integer, got 0"),
    "clipnorm zero": (GOOD + "clipnorm = 0\n", "clipnorm must be a positive number, got 0"),
    "beta_2 one": (GOOD + "beta_2 = 1.0\n", "beta_2 must be a number in [0, 1), got 1.0"),
    "jit a string": (GOOD + 'jit_compile = "true"\n',
                     "jit_compile must be true or false, got the string 'true'"),
    "unknown optimizer": (GOOD.replace('optimizer = "adamw"', 'optimizer = "adamww"'),
                          "optimizer must be one of adamw, adam, sgd, got 'adamww' (Did you mean: "
                          "'adamw'"),
    "nan learning rate": (GOOD.replace("learning_rate = 0.002", "learning_rate = nan"),
                          "learning_rate must be a positive number, got nan"),
    "validation outside translation": (GOOD + 'validation = { split = "test" }\n',
                                       "validation (held-out scores during training) is for "
                                       "language_modeling or translation recipes"),
    # Checked against the model registry (without TensorFlow): were a traceback in `zoo train`.
    "misspelt model argument": (GOOD + "model_overrides = { dropot = 0.1 }\n",
                                "unknown field 'model_overrides.dropot' (Did you mean: "
                                "'dropout'?); fields of model_overrides: "),
    "model arguments of the wrong type and value": (
        GOOD + 'model_overrides = { dropout = "x", num_layers = -1 }\n',
        "model_overrides.dropout must be a number in [0, 1), got the string 'x'; "
        "model_overrides.num_layers must be a positive integer, got -1"),
    "model argument a bool for an int": (GOOD + "model_overrides = { hidden_dim = true }\n",
                                         "model_overrides.hidden_dim must be a positive "
                                         "integer, got the boolean True"),
    "model argument absurdly large": (GOOD + "model_overrides = { hidden_dim = 99999999999 }\n",
                                      "model_overrides.hidden_dim must be at most 16777216"),
    "model of a family that does not serve the task": (
        GOOD.replace('"vit_tiny_patch2_8"', '"vae_tiny"').replace(
            '"image_classification"', '"translation"').replace('benchmark = "digits"\n', ""),
        "model 'vae_tiny' is a vae model, which cannot be trained for translation; use a "
        "transformer model"),
    "a translation model for images": (
        GOOD.replace('"vit_tiny_patch2_8"', '"transformer_tiny"'),
        "cannot be trained for image_classification; use "
        f"{catalog.serving_hint('image_classification')}"),
    "unknown model": (GOOD.replace('model = "vit_tiny_patch2_8"', 'model = "nosuch"'),
                      "model: Unknown model 'nosuch'. Known models: "),
    "misspelt model": (GOOD.replace('model = "vit_tiny_patch2_8"', 'model = "vit_tiny_patch2"'),
                       "model: Unknown model 'vit_tiny_patch2'. Did you mean: "
                       "'vit_tiny_patch2_8'"),
    "batch size beyond any machine": (GOOD.replace("batch_size = 64",
                                                   "batch_size = 9223372036854775807"),
                                      "batch_size must be at most 1048576, got "
                                      "9223372036854775807"),
    "steps beyond any run": (GOOD.replace("steps = 1500", "steps = 10000000000"),
                             "steps must be at most 1000000000"),
    "seed numpy cannot take": (GOOD.replace("seed = 0", "seed = 4294967296"),
                               "seed must be at most 4294967295"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_every_recipe_field_is_checked_with_file_field_and_expected_type(tmp_path, case):
    text, message = MALFORMED[case]
    path = write(tmp_path, "mine.digits", text)
    with pytest.raises(RecipeError) as info:
        recipes.parse(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_a_recipe_built_in_python_is_checked_by_the_same_schema():
    with pytest.raises(RecipeError, match=r"Recipe 'x.y': batch_size must be a positive integer, "
                                          r"got the string '64'"):
        recipes.Recipe(entry="x.y", model="vit_tiny_patch2_8", task="image_classification",
                       dataset="digits", steps=10, batch_size="64")
    recipe = recipes.get("vit_tiny_patch2_8.digits")
    with pytest.raises(RecipeError, match="steps must be a positive integer, got 0"):
        recipe.replace(steps=0)


def test_one_bad_recipe_never_hides_the_others_and_a_bom_is_harmless(tmp_path, monkeypatch,
                                                                        capsys):
    good = write(tmp_path, "mine.digits", GOOD, bom=True)  # saved by a Windows editor
    bad = write(tmp_path, "bad.digits", MALFORMED["steps a float"][0].replace(
        "mine.digits", "bad.digits"))
    monkeypatch.setenv("ZOO_RECIPES_PATH", str(tmp_path))
    assert recipes.parse(good).entry == "mine.digits"
    assert {"mine.digits", "bert_mini.sst2"} <= set(recipes.list_recipes())
    assert "bad.digits" not in recipes.list_recipes()
    with pytest.raises(RecipeError, match="steps must be a positive integer"):
        recipes.get("bad.digits")
    assert main(["recipes"]) == 0
    out, err = capsys.readouterr()
    assert {"mine.digits", "vit_tiny_patch2_8.digits"} <= {line.split()[0] for line in
                                                           out.splitlines()}
    assert f"warning: skipped {bad}: steps must be a positive integer" in err
    assert main(["train", "bad.digits", "--steps", "1", "--out", str(tmp_path / "run")]) == 2
    assert f"error: {bad}: steps must be a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_bad_models_and_overrides_are_refused_by_zoo_recipes_and_zoo_train(tmp_path, monkeypatch,
                                                                           capsys):
    """`zoo recipes` lists them as bad (fast: no TensorFlow import) and `zoo train` refuses
    them with one line and exit 2 (each was a traceback); a value only the constructor can judge
    (num_heads not dividing hidden_dim) is a RecipeError too."""
    import subprocess
    import sys

    cases = ["misspelt model argument", "model arguments of the wrong type and value",
             "model of a family that does not serve the task", "unknown model",
             "batch size beyond any machine"]
    for i, case in enumerate(cases):
        write(tmp_path, f"bad{i}.digits", MALFORMED[case][0].replace("mine.digits",
                                                                     f"bad{i}.digits"))
    write(tmp_path, "heads.digits", GOOD.replace("mine.digits", "heads.digits")
          + "model_overrides = { num_heads = 3 }\n")
    monkeypatch.setenv("ZOO_RECIPES_PATH", str(tmp_path))
    listed = subprocess.run(
        [sys.executable, "-c", "import sys; from zoo.cli import main; code = main(['recipes']); "
         "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; sys.exit(code)"],
        capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    for i, case in enumerate(cases):
        assert f"skipped {tmp_path / f'bad{i}.digits.toml'}: {MALFORMED[case][1]}" in listed.stderr
    assert "heads.digits" in listed.stdout
    for i, case in enumerate(cases):
        assert main(["train", f"bad{i}.digits", "--steps", "1", "--out", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err
        assert MALFORMED[case][1] in err and "Traceback" not in err
    assert main(["train", "heads.digits", "--steps", "1", "--out", str(tmp_path / "r")]) == 2
    assert ("error: Recipe 'heads.digits': model_overrides do not build vit_tiny_patch2_8: "
            "hidden_dim=64 must be divisible by num_heads=3") in capsys.readouterr().err


def test_the_recipe_check_knows_exactly_the_arguments_build_accepts():
    """The argument names read from the source (no TensorFlow) are the ones `zoo.build`
    accepts, for every model and every task of its family that a recipe builds."""
    import zoo

    for name in zoo.list_models():
        spec = catalog.get_spec(name)
        for task in catalog.family(spec.family).heads:
            read = set(catalog.constructor_defaults(name, task))
            cls = catalog.model_class(spec.family, task)
            assert read == catalog._accepted_arguments(cls, spec), (name, task)


def test_a_recipe_reusing_a_shipped_entry_is_refused_naming_both_files(tmp_path, monkeypatch,
                                                                        capsys):
    """One rule for recipes, benchmarks and entries (`zoo.schema.scan`): a user's file that
    reuses a shipped name is refused, naming both files and the fix (it silently replaced the
    shipped recipe before)."""
    shipped = ROOT_RECIPES / "vit_tiny_patch2_8.digits.toml"
    mine = write(tmp_path, "vit_tiny_patch2_8.digits", shipped.read_text(encoding="utf-8"))
    monkeypatch.setenv("ZOO_RECIPES_PATH", str(tmp_path))
    assert "vit_tiny_patch2_8.digits" not in recipes.list_recipes()
    with pytest.raises(RecipeError) as info:
        recipes.get("vit_tiny_patch2_8.digits")
    assert str(info.value) == (
        f"{mine}: the recipe 'vit_tiny_patch2_8.digits' is also shipped with zoo ({shipped}); a "
        "recipe name must be unique on the search path, so neither is used. Rename yours (the "
        "file and its `entry`).")
    assert main(["recipes"]) == 0
    assert f"warning: skipped {mine}: the recipe 'vit_tiny_patch2_8.digits'" in (
        capsys.readouterr().err)
    assert main(["train", "vit_tiny_patch2_8.digits", "--steps", "1",
                 "--out", str(tmp_path / "run")]) == 2
    assert "Rename yours" in capsys.readouterr().err and not (tmp_path / "run").exists()
    # Renamed as told, both are used; two user folders that clash are named alike.
    mine.unlink()
    write(tmp_path, "mine.digits", GOOD)
    assert {"mine.digits", "vit_tiny_patch2_8.digits"} <= set(recipes.list_recipes())
    other = tmp_path / "other"
    other.mkdir()
    write(other, "mine.digits", GOOD)
    monkeypatch.setenv("ZOO_RECIPES_PATH", f"{tmp_path}:{other}:{tmp_path}:{ROOT_RECIPES}")
    with pytest.raises(RecipeError, match=f"{other / 'mine.digits.toml'}: the recipe "
                                          "'mine.digits' is also defined in .* Rename one of"):
        recipes.get("mine.digits")
    assert recipes.get("vit_tiny_patch2_8.digits").entry == "vit_tiny_patch2_8.digits"  # read once
