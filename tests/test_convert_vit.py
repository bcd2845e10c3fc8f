"""ViT checkpoint conversion against the committed reference fixtures (made by
`scripts/reference/vit.py` with Transformers and KerasHub and `scripts/reference/timm.py` with
timm): zoo's converted models give the libraries' outputs within the fixtures' tolerance; the
settings zoo's ViT cannot compute are refused by name; the Transformers export gives back the
checkpoint's tensors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.reference import case, max_difference
from zoo.checkpoints.converted import Source
from zoo.checkpoints.errors import ConversionError
from zoo.models.vit import convert

LOADERS = {"transformers": convert.load_transformers, "keras_hub": convert.load_keras_hub,
           "timm": convert.load_timm}
CASES = ["vit_hf_classifier", "vit_hf_model", "vit_keras_hub_classifier",
         "vit_keras_hub_backbone", "vit_keras_hub_gap", "vit_timm_token", "vit_timm_gap"]


def source_of(folder, fmt, architecture=None):
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    if architecture is None:
        architecture = {"transformers": lambda: config["architectures"][0],
                        "timm": lambda: config["architecture"],
                        "keras_hub": lambda: config["registered_name"].split(">")[-1]}[fmt]()
        if fmt == "keras_hub" and (folder / "task.json").is_file():
            task = json.loads((folder / "task.json").read_text())
            architecture = task["registered_name"].split(">")[-1]
    return Source(folder=folder, format=fmt, architecture=architecture, config=config,
                  location=str(folder))


def convert_case(name):
    folder, inputs, expected, meta = case(name)
    converted = LOADERS[meta["format"]](source_of(folder, meta["format"]))
    return converted, inputs, expected, meta


def outputs(model, images):
    import keras

    if not model.num_classes:
        return {"features": np.asarray(model(images, training=False))}
    features = keras.Model(model.input, model.get_layer("head_dropout").input)
    return {"logits": np.asarray(model(images, training=False)),
            "features": np.asarray(features(images, training=False))}


@pytest.mark.parametrize("name", CASES)
def test_converted_model_matches_the_reference(name):
    converted, inputs, expected, meta = convert_case(name)
    ours = outputs(converted.model, inputs["images"])
    assert sorted(expected) == meta["outputs"]
    for output, value in expected.items():
        assert max_difference(ours[output], value) <= meta["tolerance"], output
    assert converted.family == "vit" and converted.head == "classifier"


def test_normalisation_is_inside_the_model():
    converted, *_ = convert_case("vit_hf_model")
    assert converted.model.image_mean == pytest.approx([0.485, 0.456, 0.406])
    assert converted.model.image_std == pytest.approx([0.229, 0.224, 0.225])
    assert any("pooler" in note for note in converted.notes)
    keras_hub, *_ = convert_case("vit_keras_hub_classifier")
    assert keras_hub.model.image_mean == pytest.approx([0.485, 0.456, 0.406])
    backbone, *_ = convert_case("vit_keras_hub_backbone")
    assert backbone.model.image_mean is None


@pytest.mark.parametrize("name", ["vit_hf_classifier", "vit_hf_model"])
def test_export_gives_back_the_checkpoint(name):
    from zoo.checkpoints.readers import safetensors_folder

    converted, *_ = convert_case(name)
    folder = case(name)[0]
    config, tensors, files = convert.to_transformers(converted.model, None)
    original = safetensors_folder(folder)
    kept = {k: v for k, v in original.items() if not k.startswith("pooler.")}
    assert sorted(tensors) == sorted(kept)
    for key, value in kept.items():
        assert tensors[key].dtype == np.float32
        np.testing.assert_array_equal(tensors[key], value, err_msg=key)
    theirs = json.loads((folder / "config.json").read_text())
    for field in ("architectures", "hidden_size", "num_hidden_layers", "num_attention_heads",
                  "intermediate_size", "hidden_act", "layer_norm_eps", "image_size",
                  "patch_size", "num_channels", "qkv_bias"):
        assert config[field] == theirs[field], field
    processor = json.loads(files["preprocessor_config.json"])
    expected = json.loads((folder / "preprocessor_config.json").read_text())
    assert processor["image_mean"] == pytest.approx(expected["image_mean"])
    assert processor["image_std"] == pytest.approx(expected["image_std"])


def test_class_names_survive_convert_and_export(tmp_path):
    """A Transformers classifier whose id2label names its classes: `zoo convert` keeps the
    names (run.json `labels`) and `zoo export --format hf` writes them back as id2label and
    label2id, not LABEL_i."""
    import zoo.convert
    from zoo.convert.hf_export import export_entry

    names = ["cat", "dog", "bird", "fish", "frog"]

    def named(config):
        config["id2label"] = {str(i): name for i, name in enumerate(names)}
        config["label2id"] = {name: i for i, name in enumerate(names)}

    source = edited_copy("vit_hf_classifier", tmp_path, named)
    entry = zoo.convert.write_entry(zoo.convert.load(str(source)), tmp_path / "entry")
    assert json.loads((entry / "run.json").read_text())["labels"] == names
    export_entry(entry, tmp_path / "exported")
    config = json.loads((tmp_path / "exported" / "config.json").read_text())
    assert config["id2label"] == {str(i): name for i, name in enumerate(names)}
    assert config["label2id"] == {name: i for i, name in enumerate(names)}


def test_export_class_names_must_fit_the_classifier():
    converted, *_ = convert_case("vit_hf_classifier")
    with pytest.raises(ConversionError, match="2 class names .* classifier of 5 classes"):
        convert.to_transformers(converted.model, None, labels=["cat", "dog"])
    backbone, *_ = convert_case("vit_hf_model")
    with pytest.raises(ConversionError, match="without a classifier"):
        convert.to_transformers(backbone.model, None, labels=["cat"])
    config, _, _ = convert.to_transformers(converted.model, None)
    assert config["id2label"] == {str(i): f"LABEL_{i}" for i in range(5)}


def test_export_refuses_average_pooling():
    converted, *_ = convert_case("vit_timm_gap")
    with pytest.raises(ConversionError, match="pooling='gap'"):
        convert.to_transformers(converted.model, None)


# === Settings zoo's ViT cannot compute ===

def edited_copy(name, tmp_path, edit_config=None, edit_file=None):
    folder = tmp_path / name
    shutil.copytree(case(name)[0], folder)
    if edit_config:
        file = folder / edit_file if edit_file else folder / "config.json"
        config = json.loads(file.read_text())
        edit_config(config)
        file.write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("field,value,message", [
    ("hidden_act", "gelu_new", "hidden_act='gelu_new'"),
    ("hidden_act", "relu", "hidden_act='relu'"),
    ("qkv_bias", False, "qkv_bias=false"),
])
def test_transformers_settings_refused(tmp_path, field, value, message):
    folder = edited_copy("vit_hf_classifier", tmp_path, lambda c: c.update({field: value}))
    with pytest.raises(ConversionError, match=message):
        convert.load_transformers(source_of(folder, "transformers"))


def test_transformers_shape_mismatch_is_named(tmp_path):
    folder = edited_copy("vit_hf_classifier", tmp_path,
                         lambda c: c.update({"intermediate_size": 48}))
    with pytest.raises(ConversionError, match="intermediate/kernel has shape"):
        convert.load_transformers(source_of(folder, "transformers"))


def test_transformers_missing_tensor_is_named(tmp_path):
    import safetensors.numpy

    folder = edited_copy("vit_hf_classifier", tmp_path)
    tensors = safetensors.numpy.load_file(str(folder / "model.safetensors"))
    del tensors["vit.encoder.layer.1.layernorm_after.weight"]
    safetensors.numpy.save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(ConversionError, match="layer.1.layernorm_after.weight is missing"):
        convert.load_transformers(source_of(folder, "transformers"))


def test_unknown_head_refused():
    folder = case("vit_hf_classifier")[0]
    with pytest.raises(ConversionError, match="head='masked_lm'"):
        convert.load_transformers(source_of(folder, "transformers"), head="masked_lm")


def test_keras_hub_backbone_without_biases_refused(tmp_path):
    folder = edited_copy("vit_keras_hub_backbone", tmp_path,
                         lambda c: c["config"].update({"use_mlp_bias": False}))
    with pytest.raises(ConversionError, match="use_mlp_bias=false"):
        convert.load_keras_hub(source_of(folder, "keras_hub"))


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["config"].update({"intermediate_dim": 16}), "intermediate_dim=16"),
    (lambda c: c["config"].update({"activation": "softmax"}), "activation='softmax'"),
    (lambda c: c["config"].update({"pooling": "gap"}), "averages the class token"),
])
def test_keras_hub_settings_refused(tmp_path, edit, message):
    folder = edited_copy("vit_keras_hub_classifier", tmp_path, edit, "task.json")
    with pytest.raises(ConversionError, match=message):
        convert.load_keras_hub(source_of(folder, "keras_hub"))


def test_keras_hub_token_pooling_needs_a_class_token(tmp_path):
    folder = edited_copy("vit_keras_hub_gap", tmp_path,
                         lambda c: c["config"].update({"pooling": "token"}), "task.json")
    with pytest.raises(ConversionError, match="use_class_token=false reads the first patch"):
        convert.load_keras_hub(source_of(folder, "keras_hub"))


def timm_with(tmp_path, name="vit_timm_token", add=None, drop=(), config=None):
    """A copy of a timm fixture with tensors added or removed, or config fields changed."""
    import safetensors.numpy

    folder = edited_copy(name, tmp_path, config)
    tensors = safetensors.numpy.load_file(str(folder / "model.safetensors"))
    tensors.update(add or {})
    for key in drop:
        del tensors[key]
    safetensors.numpy.save_file(tensors, str(folder / "model.safetensors"))
    return source_of(folder, "timm")


ONES = np.ones(32, "float32")


@pytest.mark.parametrize("change,message", [
    ({"add": {"reg_token": np.zeros((1, 4, 32), "float32")}}, "reg_tokens=4"),
    ({"add": {"blocks.0.attn.q_norm.weight": np.ones(8, "float32")}}, "qk_norm=True"),
    ({"add": {"blocks.0.ls1.gamma": ONES}}, r"init_values \(layer scale"),
    ({"add": {"fc_norm.weight": ONES, "fc_norm.bias": ONES}}, "fc_norm=True"),
    ({"add": {"norm_pre.weight": ONES, "norm_pre.bias": ONES}}, "pre_norm=True"),
    ({"drop": ("cls_token",)}, "class_token=False with global_pool='token'"),
    ({"drop": ("blocks.0.attn.qkv.bias", "blocks.1.attn.qkv.bias")}, "qkv_bias=False"),
    ({"config": lambda c: c.update({"global_pool": "map"})}, "global_pool='map'"),
    ({"config": lambda c: c.update({"architecture": "vit_base_patch16_clip_224"})},
     "'vit_base_patch16_clip_224' is not one of the plain ViTs"),
    ({"config": lambda c: c["model_args"].update({"act_layer": "gelu_tanh"})},
     "model_args sets act_layer"),
])
def test_timm_settings_refused(tmp_path, change, message):
    with pytest.raises(ConversionError, match=message):
        convert.load_timm(timm_with(tmp_path, **change))


def test_timm_no_embed_class_refused(tmp_path):
    pos = case("vit_timm_token")[0] / "model.safetensors"
    from zoo.checkpoints.readers import safetensors_file

    embed = safetensors_file(pos)["pos_embed"][:, 1:]  # position embeddings of patches only
    with pytest.raises(ConversionError, match="no_embed_class"):
        convert.load_timm(timm_with(tmp_path, add={"pos_embed": embed}))


def test_timm_class_token_with_average_pooling_refused(tmp_path):
    with pytest.raises(ConversionError, match="class_token=True with global_pool='avg'"):
        convert.load_timm(timm_with(tmp_path, "vit_timm_gap",
                                    add={"cls_token": np.zeros((1, 1, 32), "float32")}))


def test_timm_settings_are_named_together(tmp_path):
    with pytest.raises(ConversionError, match="reg_tokens=1; qk_norm=True"):
        convert.load_timm(timm_with(tmp_path, add={
            "reg_token": np.zeros((1, 1, 32), "float32"),
            "blocks.1.attn.k_norm.weight": np.ones(8, "float32")}))


# === Configs of wrong types: an error naming the file and field, not a traceback or a ===
# === silently different model (int("32") is 32, bool("false") is True)                ===

def _set(field, value, within=None):
    """An edit setting `field` (inside the object `within`, a key path) to `value`."""
    def edit(config):
        for key in within or ():
            config = config[key]
        config[field] = value
    return edit


@pytest.mark.parametrize("file, field, value, message", [
    ("config.json", "num_hidden_layers", "two",
     r"num_hidden_layers is 'two' \(a string\); expected a whole number"),
    ("config.json", "hidden_size", 32.5, r"hidden_size is 32.5 \(a number\)"),
    ("config.json", "intermediate_size", True, r"intermediate_size is True \(a boolean\)"),
    ("config.json", "num_channels", [3], r"num_channels is \[3\] \(a list\)"),
    ("config.json", "layer_norm_eps", None, r"layer_norm_eps is None \(null\); expected a num"),
    ("config.json", "hidden_dropout_prob", "0.0", r"hidden_dropout_prob is '0.0' \(a string\)"),
    ("config.json", "qkv_bias", "false", r"qkv_bias is 'false' \(a string\); expected true or"),
    ("config.json", "image_size", "16", r"image_size is '16' \(a string\); expected a whole"),
    ("config.json", "patch_size", [4, "4"], r"patch_size is \[4, '4'\] \(a list\)"),
    ("config.json", "id2label", ["a", "b", "c", "d", "e"], r"id2label is \[.*\] \(a list\)"),
    ("config.json", "id2label", {"0": "a", "1": "b", "2": "c", "3": "d", "5": "e"},
     r"id2label's keys .* are not the class ids 0 to 4"),
    ("preprocessor_config.json", "do_normalize", "false",
     r"do_normalize is 'false' \(a string\); expected true or false"),
    ("preprocessor_config.json", "image_mean", "0.5", r"image_mean is '0.5' \(a string\)"),
    ("preprocessor_config.json", "image_std", [0.5, 0.5], r"image_std is \[0.5, 0.5\]; "
                                                          r"expected one value per channel"),
    ("preprocessor_config.json", "rescale_factor", None, r"rescale_factor is None \(null\)"),
])
def test_a_transformers_config_of_wrong_types_names_the_field(tmp_path, file, field, value,
                                                              message):
    folder = edited_copy("vit_hf_classifier", tmp_path, _set(field, value), file)
    with pytest.raises(ConversionError, match=message) as caught:
        convert.load_transformers(source_of(folder, "transformers"))
    assert f"{folder}/{file}" in str(caught.value)


_ARGUMENTS = ("config",)
_CONVERTER = ("config", "image_converter", "config")


@pytest.mark.parametrize("file, within, field, value, message", [
    ("config.json", _ARGUMENTS, "num_layers", "2", r"num_layers is '2' \(a string\)"),
    ("config.json", _ARGUMENTS, "hidden_dim", 32.5, r"hidden_dim is 32.5 \(a number\)"),
    ("config.json", _ARGUMENTS, "layer_norm_epsilon", None, r"layer_norm_epsilon is None"),
    ("config.json", _ARGUMENTS, "use_mlp_bias", "false", r"use_mlp_bias is 'false' \(a str"),
    ("config.json", _ARGUMENTS, "use_class_token", "false", r"use_class_token is 'false'"),
    ("config.json", _ARGUMENTS, "image_shape", [16, "16", 3], r"image_shape is \[16, '16', 3\]"),
    ("config.json", _ARGUMENTS, "image_shape", [None, None, 3], r"expected three positive"),
    ("config.json", _ARGUMENTS, "patch_size", [4.5, 4], r"patch_size is \[4.5, 4\]"),
    ("config.json", _ARGUMENTS, "dropout_rate", "0", r"dropout_rate is '0' \(a string\)"),
    ("task.json", _ARGUMENTS, "num_classes", "5", r"num_classes is '5' \(a string\)"),
    ("preprocessor.json", _CONVERTER, "scale", "x", r"scale is 'x' \(a string\)"),
    ("preprocessor.json", _CONVERTER, "offset", [0.0, True, 0.0], r"offset is \[0.0, True"),
])
def test_a_keras_hub_config_of_wrong_types_names_the_field(tmp_path, file, within, field,
                                                           value, message):
    folder = edited_copy("vit_keras_hub_classifier", tmp_path, _set(field, value, within), file)
    with pytest.raises(ConversionError, match=message) as caught:
        convert.load_keras_hub(source_of(folder, "keras_hub"))
    assert f"{folder}/{file}" in str(caught.value)


@pytest.mark.parametrize("within, field, value, message", [
    ((), "num_classes", "5", r"config.json: num_classes is '5' \(a string\)"),
    ((), "model_args", ["x"], r"config.json: model_args is \['x'\]; expected an object"),
    (("model_args",), "num_heads", 4.5, r"model_args: num_heads is 4.5 \(a number\)"),
    (("model_args",), "drop_rate", None, r"model_args: drop_rate is None \(null\)"),
    (("pretrained_cfg",), "input_size", [3, "16", 16],
     r"pretrained_cfg: input_size is \[3, '16', 16\]; expected \[channels, height, width\]"),
    (("pretrained_cfg",), "mean", "0.5", r"pretrained_cfg: mean is '0.5' \(a string\)"),
    (("pretrained_cfg",), "std", [0.5, 0.5], r"pretrained_cfg: std is \[0.5, 0.5\]; expected"),
])
def test_a_timm_config_of_wrong_types_names_the_field(tmp_path, within, field, value, message):
    source = timm_with(tmp_path, config=_set(field, value, within))
    with pytest.raises(ConversionError, match=message) as caught:
        convert.load_timm(source)
    assert f"{source.folder}/config.json" in str(caught.value)


# === Errors that say what to do ===

def test_a_missing_keras_hub_field_is_named_not_a_key_error(tmp_path):
    """A backbone config without `hidden_dim` was a bare KeyError."""
    folder = edited_copy("vit_keras_hub_backbone", tmp_path,
                         lambda c: c["config"].pop("hidden_dim"))
    with pytest.raises(ConversionError, match=r"config.json: the field 'hidden_dim' is "
                                              r"missing.*Use the file saved with the weights"):
        convert.load_keras_hub(source_of(folder, "keras_hub"))


def test_a_keras_hub_preset_without_its_weights_says_what_to_fetch(tmp_path):
    folder = edited_copy("vit_keras_hub_backbone", tmp_path)
    (folder / "model.weights.h5").unlink()
    with pytest.raises(ConversionError, match=r"model.weights.h5 is missing: a KerasHub "
                                              r"preset .*Download the whole preset"):
        convert.load_keras_hub(source_of(folder, "keras_hub"))


def test_sizes_that_do_not_fit_the_weights_point_at_the_config(tmp_path):
    folder = edited_copy("vit_hf_classifier", tmp_path,
                         lambda c: c.update({"intermediate_size": 48}))
    with pytest.raises(ConversionError, match=r"intermediate/kernel has shape \(32, 64\), but "
                                              r"the model built from the source's config has "
                                              r"\(32, 48\).*Convert the config saved with"):
        convert.load_transformers(source_of(folder, "transformers"))


def test_a_tensor_of_another_vit_variant_says_what_converts(tmp_path):
    import safetensors.numpy

    folder = edited_copy("vit_hf_classifier", tmp_path)
    tensors = safetensors.numpy.load_file(str(folder / "model.safetensors"))
    tensors["vit.encoder.layer.0.layer_scale.lambda1"] = np.ones(32, "float32")
    safetensors.numpy.save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(ConversionError, match=r"layer_scale.lambda1 has no place in zoo's ViT "
                                              r".*Convert a plain ViT checkpoint"):
        convert.load_transformers(source_of(folder, "transformers"))
