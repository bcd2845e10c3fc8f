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
