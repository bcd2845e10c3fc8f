"""timm ViT reference cases: tiny randomly initialised `vision_transformer` models (every
weight moved off its initial value), saved with `timm.models.save_for_hf` (timm's hub layout:
`config.json` with `architecture`, `model_args` and `pretrained_cfg`, `model.safetensors`),
run on two fixed images.

timm needs torchvision, which on these machines means `torch==2.14.1 torchvision==0.29.1`,
not the `torch==2.13.0` of the `reference` extra, so these cases run in an environment of
their own and only when named (`SEPARATE`); their fixtures stay committed and CI does not
remake them. This module imports only timm, torch, safetensors and numpy (not zoo, not
TensorFlow), so that environment needs nothing else:

    python -m venv /tmp/timmvenv
    /tmp/timmvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 timm safetensors numpy
    /tmp/timmvenv/bin/python scripts/make_reference_fixtures.py --only timm

`tests/test_convert_vit.py` converts them with zoo and compares.

Inputs: `images` `[2, H, W, 3]` in [0, 1]; timm is fed `(images - mean) / std` (its
`pretrained_cfg` normalisation), NCHW.
"""

from __future__ import annotations

import numpy as np

from scripts.reference.common import case_folder, versions, write_case

#: Run only when named with --only (timm's environment is not the reference extra's).
SEPARATE = True


def _case(out, case, architecture, image_size, patch_size, mean, std, **model_args):
    import timm
    import torch
    from timm.models import save_for_hf

    torch.manual_seed(0)
    model = timm.create_model(architecture, pretrained=False, img_size=image_size,
                              patch_size=patch_size, embed_dim=32, depth=2, num_heads=4,
                              num_classes=5, **model_args).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    folder = case_folder(out, case)
    save_for_hf(model, str(folder), safe_serialization=True,
                model_config={"pretrained_cfg": {"mean": mean, "std": std}})
    height, width = image_size
    images = np.random.default_rng(0).uniform(size=(2, height, width, 3)).astype("float32")
    pixels = (images - np.float32(mean)) / np.float32(std)
    with torch.no_grad():
        x = torch.from_numpy(pixels.transpose(0, 3, 1, 2).copy())
        tokens = model.forward_features(x)
        features = model.forward_head(tokens, pre_logits=True)
        logits = model(x)
    expected = {"logits": logits.numpy(), "features": features.numpy()}
    write_case(out, case, {"images": images}, expected, {
        "library": versions(timm, torch), "format": "timm", "architecture": architecture,
        "outputs": sorted(expected),
        "preprocessing": "timm input = (images - pretrained_cfg mean) / std, NCHW"})


def token(out):
    _case(out, "vit_timm_token", "vit_tiny_patch16_224", (16, 16), 4, [0.5] * 3, [0.5] * 3)


def gap(out):
    _case(out, "vit_timm_gap", "vit_base_patch16_gap_224", (32, 16), 8,
          [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


CASES = {"vit_timm_token": token, "vit_timm_gap": gap}
