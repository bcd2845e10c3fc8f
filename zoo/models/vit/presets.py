"""ViT variants: constructor arguments, parameter counts, descriptions (data only)."""

PAPER = "Dosovitskiy et al., 2021. An Image is Worth 16x16 Words. https://arxiv.org/abs/2010.11929"

_IMAGENET = {"image_size": 224, "patch_size": 16, "num_channels": 3, "num_classes": 1000}

PRESETS = {
    "vit_tiny_patch16_224": {
        "config": {**_IMAGENET, "hidden_dim": 192, "num_layers": 12, "num_heads": 3,
                   "intermediate_dim": 768},
        "params": 5_717_416,
        "description": "ViT-Ti/16 (DeiT-Ti) at 224x224, 1,000 classes.",
    },
    "vit_small_patch16_224": {
        "config": {**_IMAGENET, "hidden_dim": 384, "num_layers": 12, "num_heads": 6,
                   "intermediate_dim": 1536},
        "params": 22_050_664,
        "description": "ViT-S/16 at 224x224, 1,000 classes.",
    },
    "vit_base_patch16_224": {
        "config": {**_IMAGENET, "hidden_dim": 768, "num_layers": 12, "num_heads": 12,
                   "intermediate_dim": 3072},
        "params": 86_567_656,
        "description": "ViT-B/16 at 224x224, 1,000 classes, as in the paper.",
    },
    "vit_tiny_patch4_28": {
        "config": {"image_size": 28, "patch_size": 4, "num_channels": 1, "num_classes": 10,
                   "hidden_dim": 64, "num_layers": 6, "num_heads": 4, "intermediate_dim": 128,
                   "dropout": 0.1},
        "params": 205_962,
        "description": "A small ViT for 28x28 grayscale images (MNIST, Fashion-MNIST): 49 patches.",
    },
    "vit_small_patch4_28": {
        "config": {"image_size": 28, "patch_size": 4, "num_channels": 1, "num_classes": 10,
                   "hidden_dim": 192, "num_layers": 8, "num_heads": 4, "intermediate_dim": 384,
                   "dropout": 0.1},
        "params": 2_391_562,
        "description": "A wider, deeper ViT for 28x28 grayscale images.",
    },
    "vit_tiny_patch2_8": {
        "config": {"image_size": 8, "patch_size": 2, "num_channels": 1, "num_classes": 10,
                   "hidden_dim": 64, "num_layers": 4, "num_heads": 4, "intermediate_dim": 128,
                   "dropout": 0.1},
        "params": 136_138,
        "description": "A ViT for scikit-learn's 8x8 digits: 16 patches of 2x2.",
    },
}
