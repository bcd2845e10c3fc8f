"""One "did you mean" hint (`zoo.registry.did_you_mean`), the same shape at every kind of place
that names an unknown value: a registry name, a schema field, a schema choice, a strategy, a
model argument, a dtype policy, a training or storage precision."""

import pytest

import zoo
from zoo import entries, schema
from zoo.models import dtype_policy
from zoo.registry import Registry, UnknownNameError, did_you_mean
from zoo.training import precision, strategies
from zoo.training.errors import StrategyError


def test_the_hint_lists_the_closest_names_quoted_extensions_first():
    assert did_you_mean("vit_tiny", zoo.list_models()).startswith(
        "Did you mean: 'vit_tiny_patch2_8', 'vit_tiny_patch4_28'")
    assert did_you_mean("stpes", ["steps", "seed"]) == "Did you mean: 'steps'?"
    assert did_you_mean("zzz", ["steps"]) == ""
    assert did_you_mean(5, ["steps"]) == ""  # not a name: nothing to suggest


def _message(call) -> str:
    with pytest.raises((UnknownNameError, schema.SchemaError, StrategyError, ValueError)) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("kind, call, expected", [
    ("registry name", lambda: _colours().get("rde"),
     "Unknown colour 'rde'. Did you mean: 'red'? Known colours: red."),
    ("schema field", lambda: schema.validate(
        {"stpes": 1}, schema.Table({"steps": schema.Field(schema.Int())}), "my.toml"),
     "my.toml: unknown field 'stpes' (Did you mean: 'steps'?); fields: steps."),
    ("schema choice", lambda: schema.validate(
        {"optimizer": "adamww"}, schema.Table({"optimizer": schema.Field(
            schema.Str(choices=("adamw", "sgd")))}), "my.toml"),
     "my.toml: optimizer must be one of adamw, sgd, got 'adamww' (Did you mean: 'adamw'?)."),
    ("strategy", lambda: strategies.resolve("mirored"),
     "Unknown strategy 'mirored'. Did you mean: 'mirrored', 'multi_worker_mirrored'? Strategies: "),
    ("model argument", lambda: zoo.build("vit_tiny_patch2_8", num_layer=1),
     "'num_layer' is not an argument of vit_tiny_patch2_8 (ViTClassifier). Did you mean: "
     "'num_layers'"),
    ("dtype policy", lambda: dtype_policy.resolve("mixed_bfloat"),
     "got 'mixed_bfloat'. Did you mean: 'mixed_bfloat16'"),
    ("training precision", lambda: precision.resolve("mixed_bfloat", None),
     "got 'mixed_bfloat'. Did you mean: 'mixed_bfloat16'"),
    ("storage precision", lambda: entries.publish("no-run", precision="in8"),
     "Unknown weights precision 'in8'; use one of float16, float32, int8. Did you mean: 'int8'?"),
])
def test_every_kind_of_unknown_name_gets_the_same_hint(kind, call, expected):
    assert expected in _message(call), kind


def _colours():
    colours = Registry("colour")
    colours.register("red", None)
    return colours
