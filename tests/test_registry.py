import dataclasses
import json
import subprocess
import sys

import pytest

import zoo
from zoo.models.catalog import MODELS, resolve_config
from zoo.registry import DuplicateNameError, Registry, UnknownNameError


def test_list_models_filters_with_wildcards_and_sorts_naturally():
    assert zoo.list_models("bert_*") == [
        "bert_base", "bert_medium", "bert_mini", "bert_small", "bert_tiny"
    ]
    assert zoo.list_models("vit_tiny_*") == [
        "vit_tiny_patch2_8", "vit_tiny_patch4_28", "vit_tiny_patch16_224"
    ]
    assert zoo.list_models("nothing*") == []
    assert set(zoo.list_models()) >= {
        "transformer_tiny", "transformer_small", "transformer_base", "transformer_big",
        "vae_tiny", "ae_tiny", "vit_base_patch16_224",
    }


def test_natural_sort_puts_2_before_10():
    reg = Registry("thing")
    for name in ("m10", "m2", "m1"):
        reg.register(name, None)
    assert reg.names() == ["m1", "m2", "m10"]


def test_registering_a_name_twice_raises():
    reg = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(DuplicateNameError, match="already registered"):
        reg.register("a", 2)
    assert "bert_tiny" in zoo.list_models()  # the catalog fills MODELS on its first lookup
    with pytest.raises(DuplicateNameError):
        MODELS.register("bert_tiny", None)


def test_unknown_name_lists_the_closest_names():
    with pytest.raises(UnknownNameError) as info:
        zoo.build("vit_tiny")
    message = str(info.value)
    assert "Did you mean" in message
    assert "'vit_tiny_patch4_28'" in message.split("Known")[0]
    with pytest.raises(UnknownNameError, match="bert_tiny"):
        zoo.describe("bert_tiyn")


def test_describe_gives_family_config_params_and_paper():
    info = zoo.describe("bert_base")
    assert info["family"] == "bert"
    assert info["params"] == 109_482_240
    assert info["config"]["num_layers"] == 12
    assert "Devlin" in info["paper"]
    assert set(info["tasks"]) == {"backbone", "masked_lm", "classifier"}
    json.dumps(info)


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_config_is_flat_json(name):
    config = zoo.describe(name)["config"]
    assert json.loads(json.dumps(config)) == config
    for value in config.values():
        assert not isinstance(value, dict), "configs are flat"


def test_overrides_replace_arguments_and_bad_names_are_refused():
    _, _, config = resolve_config("vit_tiny_patch4_28", num_classes=3, image_size=32)
    assert config["num_classes"] == 3 and config["image_size"] == 32
    with pytest.raises(ValueError, match="num_classes"):
        resolve_config("vit_tiny_patch4_28", num_clases=3)
    with pytest.raises(ValueError, match="has no task 'decoder'"):
        zoo.build("bert_tiny", task="decoder")


@pytest.mark.parametrize(
    "name, overrides, argument",
    [
        ("vit_tiny_patch4_28", {"image_size": 30}, "image_size"),
        ("vit_tiny_patch4_28", {"hidden_dim": 66}, "hidden_dim"),
        ("vit_tiny_patch4_28", {"num_layers": -1}, "num_layers"),
        ("vit_tiny_patch4_28", {"pooling": "max"}, "pooling"),
        ("bert_tiny", {"hidden_dim": 129}, "hidden_dim"),
        ("bert_tiny", {"vocabulary_size": 0}, "vocabulary_size"),
        ("bert_tiny", {"dropout": 1.5}, "dropout"),
        ("transformer_tiny", {"num_heads": 3}, "hidden_dim"),
        ("transformer_tiny", {"intermediate_dim": -4}, "intermediate_dim"),
        ("transformer_tiny", {"target_vocabulary_size": 99}, "share_embeddings"),
        ("transformer_tiny", {"position_embedding": "rotary"}, "position_embedding"),
        ("vae_tiny", {"image_size": 30}, "image_size"),
        ("vae_tiny", {"latent_dim": 0}, "latent_dim"),
        ("vae_tiny", {"likelihood": "poisson"}, "likelihood"),
    ],
)
def test_impossible_configs_fail_at_build_time_naming_the_argument(name, overrides, argument):
    with pytest.raises(ValueError, match=argument):
        zoo.build(name, **overrides)


def test_import_zoo_does_not_import_tensorflow():
    code = "import sys, zoo; zoo.list_models(); zoo.describe('bert_base'); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_readme_models_table_is_generated_from_the_registry():
    import pathlib

    script = pathlib.Path(__file__).resolve().parent.parent / "scripts" / "update_readme.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- Families: one folder each, found by the catalog ----------------------------------------


def test_every_family_folder_is_found_and_registers_its_presets():
    from pathlib import Path

    from zoo.models import catalog

    folders = sorted(p.parent.name for p in
                     Path(catalog.__file__).parent.glob("*/family.py"))
    assert list(catalog.families()) == folders
    assert {"bert", "hub", "transformer", "vae", "vit"} <= set(folders)
    for name, family in catalog.families().items():
        assert not family.problems(), name
        assert set(family.presets) <= set(zoo.list_models())
        for preset in family.presets:
            assert zoo.describe(preset)["family"] == name


def _family_package(tmp_path, monkeypatch, body):
    """A package `fams_<n>` with one family folder `mine/` whose family.py is `body`."""
    package = f"fams_{next(_PACKAGES)}"
    folder = tmp_path / package / "mine"
    folder.mkdir(parents=True)
    (tmp_path / package / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    (folder / "family.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path / package, package


_PACKAGES = iter(range(10 ** 6))

_GOOD = """
from zoo.models.family import Family, Head
FAMILY = Family(name={name!r}, paper="p", default_head={default!r},
                heads={{"classifier": Head("x.y:Z")}}, serves={{"image_classification": {head!r}}},
                presets={{"mine_tiny": {{"config": {{}}, "params": 1, "description": "d"}}}})
"""


@pytest.mark.parametrize("body, message", [
    ("X = 1\n", "family.py must define FAMILY = zoo.models.family.Family"),
    (_GOOD.format(name="other", default="classifier", head="classifier"),
     "its name is 'other', not its folder's ('mine')"),
    (_GOOD.format(name="mine", default="clasifier", head="classifier"),
     "default_head 'clasifier' is not one of its heads (classifier)"),
    (_GOOD.format(name="mine", default="classifier", head="seq2seq"),
     "serves image_classification with head 'seq2seq', which it does not have"),
    (_GOOD.format(name="mine", default="classifier", head="classifier").replace(
        'paper="p",', 'paper="p", objectives={"translation": "x.y:loss"},'),
     "overrides the objective of translation, which it does not serve"),
    ("FAMILY = (\n", "family.py does not import: SyntaxError: '(' was never closed"),
    ("from zoo.models.mine import presetz\n", "family.py does not import: "
                                              "ModuleNotFoundError: No module named"),
])
def test_a_broken_family_folder_is_refused_naming_its_file(tmp_path, monkeypatch, body,
                                                            message):
    from zoo.models import catalog

    folder, package = _family_package(tmp_path, monkeypatch, body)
    with pytest.raises(catalog.FamilyError) as info:
        catalog._discover(folder, package)
    assert str(folder / "mine" / "family.py") in str(info.value)
    assert message in str(info.value)
    good = _GOOD.format(name="mine", default="classifier", head="classifier")
    folder, package = _family_package(tmp_path, monkeypatch, good)
    assert list(catalog._discover(folder, package)) == ["mine"]


def test_a_broken_family_is_one_line_from_the_zoo_command_not_a_traceback(
        tmp_path, monkeypatch, capsys):
    """Families are found on the first lookup, not at `import zoo`: a broken family.py is a
    FamilyError that `zoo` prints as one line (and commands that need no model still run)."""
    from zoo import cli
    from zoo.models import catalog

    folder, package = _family_package(tmp_path, monkeypatch, "def (\n")
    monkeypatch.setattr(catalog, "_families", lambda: catalog._discover(folder, package))
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"zoo list: error: {folder / 'mine' / 'family.py'} does not import: "
                          "SyntaxError: invalid syntax") and err.count("\n") == 1
    assert cli.main(["bench", "list"]) == 0


def test_two_families_with_a_preset_of_the_same_name_register_neither(tmp_path, monkeypatch):
    from zoo.models import catalog

    folder, package = _family_package(tmp_path, monkeypatch, _GOOD.format(
        name="mine", default="classifier", head="classifier"))
    mine = catalog._discover(folder, package)["mine"]
    other = dataclasses.replace(mine, name="other")
    before = len(MODELS)
    with pytest.raises(catalog.FamilyError, match="'mine_tiny' is a preset of both the mine "
                                                  "and the other family; rename one"):
        catalog._register_presets({"mine": mine, "other": other})
    assert len(MODELS) == before and "mine_tiny" not in MODELS


def test_stages_ask_the_catalog_which_family_serves_a_task_and_with_which_head():
    from zoo.models import catalog

    assert "vit" in catalog.families_serving("image_classification")
    assert catalog.families_serving("text_classification") == ["bert", "hub"]
    assert catalog.head_for("bert_tiny", "text_classification") == "classifier"
    assert catalog.head_for("bert_tiny", "masked_lm") == "masked_lm"
    assert catalog.head_for("ae_tiny", "image_generation") == "autoencoder"  # the variant's own
    assert catalog.head_for("vae_tiny", "image_generation") == "vae"
    assert catalog.head_for("vit_tiny_patch2_8", "translation") is None
    assert catalog.serving_hint("translation") == "a transformer model"
    assert catalog.takes_raw_text("hub_bert_classifier", "text_classification")
    assert not catalog.takes_raw_text("bert_tiny", "text_classification")
    assert catalog.objective_override("vae_tiny", "image_generation") is None


def test_build_for_task_sizes_the_model_from_the_data_and_the_overrides():
    """`defaults` yield to the overrides, `fixed` override them, and arguments the model does
    not take (a text length for an image model) are not passed."""
    from zoo.models import catalog

    model = catalog.build_for_task(
        "vit_tiny_patch2_8", "image_classification",
        ({"num_classes": 3, "image_size": 8, "max_sequence_length": 9}, {"num_channels": 2}),
        {"num_classes": 4, "num_channels": 1, "num_layers": 1})
    config = model.get_config()
    assert (config["num_classes"], config["num_channels"], config["num_layers"]) == (4, 2, 1)
    assert catalog.head_of(model)[0].name == "vit" and catalog.head_of(model)[1] == "classifier"
    with pytest.raises(ValueError, match="is a vit model, which does not serve translation; "
                                         "use a transformer model"):
        catalog.build_for_task("vit_tiny_patch2_8", "translation")
    with pytest.raises(ValueError, match="int is not a zoo model"):
        catalog.head_of(3)
