"""ViT reference cases: Transformers' `ViTForImageClassification` / `ViTModel` and KerasHub's
`ViTImageClassifier` / `ViTBackbone`, tiny and randomly initialised (every weight, layer-norm
scales and biases included, moved off its initial value so a swapped or missed tensor shows),
saved in their own layouts and run on two fixed images. timm's cases are in `timm.py`.

Each case also converts its checkpoint with zoo and checks the outputs here (so a broken
fixture fails when it is made), and the Transformers cases export the zoo model back
(`zoo.models.vit.convert.to_transformers`), load the folder with Transformers and check its
outputs against zoo's.

Inputs: `images` `[2, H, W, 3]` in [0, 1] (what zoo takes). The library is fed what its own
preprocessing makes of them: Transformers `(images - image_mean) / image_std` (its image
processor on pixels `255 * images`), KerasHub `255 * images * scale + offset` (its image
converter), both NCHW / NHWC as the library takes them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from scripts.reference.common import TOLERANCE, case_folder, versions, write_case

_TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 64, "num_channels": 3}
_IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def _images(height, width, seed=0):
    return np.random.default_rng(seed).uniform(size=(2, height, width, 3)).astype("float32")


def _perturb_torch(model, scale=0.1):
    import torch

    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(scale * torch.randn_like(parameter))


def _perturb_keras(model, scale=0.1):
    rng = np.random.default_rng(0)
    for weight in model.weights:
        value = np.asarray(weight.numpy())
        weight.assign(value + scale * rng.standard_normal(value.shape).astype(value.dtype))


def _source(folder, fmt, architecture):
    from zoo.checkpoints.converted import Source

    folder = Path(folder)
    return Source(folder=folder, format=fmt, architecture=architecture,
                  config=json.loads((folder / "config.json").read_text()),
                  location=str(folder))


def zoo_outputs(model, images) -> dict:
    """`{"logits": ..., "features": ...}` of a zoo ViT (logits only with classes)."""
    import keras

    if not model.num_classes:
        return {"features": np.asarray(model(images, training=False))}
    features = keras.Model(model.input, model.get_layer("head_dropout").input)
    return {"logits": np.asarray(model(images, training=False)),
            "features": np.asarray(features(images, training=False))}


def _check(case, converted, inputs, expected):
    ours = zoo_outputs(converted.model, inputs["images"])
    for name, value in expected.items():
        diff = float(np.max(np.abs(ours[name] - value)))
        print(f"  {case}: zoo {name} max abs diff {diff:.2e}")
        if diff > TOLERANCE:
            raise SystemExit(f"{case}: zoo's {name} differ by {diff} > {TOLERANCE}")
    return ours


# === Transformers ===

def _hf_case(out, case, architecture, image_size, patch_size, mean, std):
    import torch
    import transformers

    from zoo.models.vit import convert

    torch.manual_seed(0)
    config = transformers.ViTConfig(**_TINY, image_size=image_size, patch_size=patch_size,
                                    num_labels=5, hidden_act="gelu")
    model = getattr(transformers, architecture)(config).eval()
    _perturb_torch(model)
    folder = case_folder(out, case)
    model.save_pretrained(folder)
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    transformers.ViTImageProcessor(size={"height": height, "width": width}, image_mean=mean,
                                   image_std=std).save_pretrained(folder)
    images = _images(height, width)
    pixels = (images - np.float32(mean)) / np.float32(std)
    with torch.no_grad():
        result = model(torch.from_numpy(pixels.transpose(0, 3, 1, 2).copy()))
        vit = model.vit if architecture == "ViTForImageClassification" else model
        hidden = vit(torch.from_numpy(pixels.transpose(0, 3, 1, 2).copy())).last_hidden_state
    expected = {"features": hidden[:, 0].numpy()}
    if architecture == "ViTForImageClassification":
        expected["logits"] = result.logits.numpy()
    converted = convert.load_transformers(_source(folder, "transformers", architecture))
    ours = _check(case, converted, {"images": images}, expected)
    _check_export(case, converted.model, images, ours)
    write_case(out, case, {"images": images}, expected, {
        "library": versions(torch, transformers), "format": "transformers",
        "architecture": architecture, "outputs": sorted(expected),
        "preprocessing": "pixel_values = (images - image_mean) / image_std, NCHW"})


def _check_export(case, model, images, ours):
    """zoo -> Transformers' layout -> Transformers' outputs equal zoo's."""
    import safetensors.numpy
    import torch
    import transformers

    from zoo.models.vit import convert

    config, tensors, files = convert.to_transformers(model, None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "config.json").write_text(json.dumps(config))
        safetensors.numpy.save_file(tensors, str(folder / "model.safetensors"))
        for name, text in files.items():
            (folder / name).write_text(text)
        exported = getattr(transformers, config["architectures"][0]).from_pretrained(
            folder).eval()
        processor = json.loads(files["preprocessor_config.json"])
        pixels = ((images - np.float32(processor["image_mean"]))
                  / np.float32(processor["image_std"]))
        with torch.no_grad():
            out = exported(torch.from_numpy(pixels.transpose(0, 3, 1, 2).copy()))
    theirs = (out.logits.numpy() if model.num_classes
              else out.last_hidden_state[:, 0].numpy())
    diff = float(np.max(np.abs(theirs - ours["logits" if model.num_classes else "features"])))
    print(f"  {case}: exported to Transformers, max abs diff {diff:.2e}")
    if diff > TOLERANCE:
        raise SystemExit(f"{case}: the exported model differs from zoo's by {diff}")
    return diff


def hf_classifier(out):
    _hf_case(out, "vit_hf_classifier", "ViTForImageClassification", 16, 4, [0.5] * 3,
             [0.5] * 3)


def hf_model(out):
    _hf_case(out, "vit_hf_model", "ViTModel", [32, 16], 8, *_IMAGENET)


# === KerasHub ===

def _keras_hub_case(out, case, task, image_size, patch_size, class_token=True,
                    pooling="token", converter=True):
    import keras
    import keras_hub

    from zoo.models.vit import convert

    keras.utils.set_random_seed(0)
    height, width = image_size
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(height, width, 3), patch_size=patch_size, num_layers=2, num_heads=4,
        hidden_dim=32, mlp_dim=64, use_class_token=class_token)
    scale = [1 / (255 * s) for s in _IMAGENET[1]]
    offset = [-m / s for m, s in zip(*_IMAGENET)]
    images = _images(height, width)
    inputs = (255 * images * np.float32(scale) + np.float32(offset)) if converter else images
    folder = case_folder(out, case)
    if task:
        preprocessor = keras_hub.models.ViTImageClassifierPreprocessor(
            image_converter=keras_hub.layers.ViTImageConverter(
                image_size=(height, width), scale=scale, offset=offset))
        model = keras_hub.models.ViTImageClassifier(backbone=backbone, num_classes=5,
                                                    pooling=pooling, preprocessor=preprocessor)
        _perturb_keras(model)
        model.save_to_preset(str(folder))
        architecture = "ViTImageClassifier"
    else:
        _perturb_keras(backbone)
        backbone.save_to_preset(str(folder))
        architecture = "ViTBackbone"
    sequence = np.asarray(backbone(inputs))
    expected = {"features": sequence[:, 0] if class_token else sequence.mean(axis=1)}
    if task:
        expected["logits"] = np.asarray(model(inputs))
    converted = convert.load_keras_hub(_source(folder, "keras_hub", architecture))
    _check(case, converted, {"images": images}, expected)
    write_case(out, case, {"images": images}, expected, {
        "library": versions(keras, keras_hub), "format": "keras_hub",
        "architecture": architecture, "outputs": sorted(expected),
        "preprocessing": ("images * 255 * scale + offset (the image converter)" if converter
                          else "none: the backbone takes the images as they are")})


def keras_hub_classifier(out):
    _keras_hub_case(out, "vit_keras_hub_classifier", True, (16, 16), 4)


def keras_hub_backbone(out):
    _keras_hub_case(out, "vit_keras_hub_backbone", False, (16, 32), 8, converter=False)


def keras_hub_gap(out):
    _keras_hub_case(out, "vit_keras_hub_gap", True, (32, 32), 8, class_token=False,
                    pooling="gap")


CASES = {
    "vit_hf_classifier": hf_classifier,
    "vit_hf_model": hf_model,
    "vit_keras_hub_classifier": keras_hub_classifier,
    "vit_keras_hub_backbone": keras_hub_backbone,
    "vit_keras_hub_gap": keras_hub_gap,
}


# === Canonical size ===

def canonical_vit_base() -> dict:
    """Transformers' ViT-B/16 at 224 x 224 with 1,000 labels (random, seed 0, every weight
    moved off its initial value by 0.02 N(0, 1)) against zoo's conversion of it: logits on two
    images, and the parameter counts."""
    import torch
    import transformers

    import zoo
    from zoo.models.vit import convert

    torch.manual_seed(0)
    model = transformers.ViTForImageClassification(
        transformers.ViTConfig(num_labels=1000)).eval()
    _perturb_torch(model, scale=0.02)
    images = _images(224, 224)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        transformers.ViTImageProcessor().save_pretrained(tmp)
        converted = convert.load_transformers(_source(tmp, "transformers",
                                                      "ViTForImageClassification"))
    pixels = (images - np.float32(0.5)) / np.float32(0.5)
    with torch.no_grad():
        theirs = model(torch.from_numpy(pixels.transpose(0, 3, 1, 2).copy())).logits.numpy()
    ours = np.asarray(converted.model(images, training=False))
    return {"max_abs_diff": float(np.max(np.abs(ours - theirs))),
            "max_abs_logit": float(np.max(np.abs(theirs))),
            "params_transformers": int(sum(p.numel() for p in model.parameters())),
            "params_zoo": int(converted.model.count_params()),
            "params_preset": int(zoo.describe("vit_base_patch16_224")["params"]),
            "batch": 2, "library": versions(torch, transformers)}


CANONICAL = {"vit_base_patch16_224": canonical_vit_base}
