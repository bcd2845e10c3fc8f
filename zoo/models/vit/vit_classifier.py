"""Vision Transformer (Dosovitskiy et al., 2021, https://arxiv.org/abs/2010.11929)."""

import keras
from keras import ops

from zoo.layers import LayerNorm, PositionEmbedding, TransformerEncoderBlock
from zoo.models.dtype_policy import builds_in_policy, config_value
from zoo.models.validation import (
    check_choice,
    check_divisible,
    check_non_negative,
    check_positive,
    check_rate,
    pair,
)


@keras.saving.register_keras_serializable(package="zoo")
class ClassToken(keras.layers.Layer):
    """Prepends a learned `[CLS]` vector to a `[batch, length, dim]` sequence."""

    def build(self, input_shape):
        self.token = self.add_weight(
            name="token", shape=(1, 1, input_shape[-1]), initializer="zeros"
        )

    def call(self, x):
        token = ops.cast(self.token, x.dtype)
        token = ops.broadcast_to(token, (ops.shape(x)[0], 1, ops.shape(x)[2]))
        return ops.concatenate([token, x], axis=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], length, input_shape[2])


@keras.saving.register_keras_serializable(package="zoo")
class ImageStandardization(keras.layers.Layer):
    """`(images - mean) / std` per channel, with constants (no weights): the normalisation
    a converted checkpoint was trained with, inside the model, so that it takes images in
    [0, 1] like every zoo image model.

    Args:
        mean: list of floats, one per channel.
        std: list of floats, one per channel (positive).

    Example:

    >>> import numpy as np
    >>> layer = ImageStandardization(mean=[0.5], std=[0.25])
    >>> np.asarray(layer(np.ones((1, 1, 1, 1), "float32"))).ravel().tolist()
    [2.0]
    """

    def __init__(self, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]

    def call(self, images):
        mean = ops.convert_to_tensor(self.mean, dtype=images.dtype)
        std = ops.convert_to_tensor(self.std, dtype=images.dtype)
        return (images - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std}


@keras.saving.register_keras_serializable(package="zoo")
class ViTClassifier(keras.Model):
    """An image classifier: patches -> transformer encoder -> class token (or mean) -> logits.

    Images are float tensors `[batch, height, width, channels]`, scaled to
    [0, 1] by the data pipeline. The layers match the reference code, so
    `vit_base_patch16_224` has the paper's 86,567,656 parameters.

    Args:
        image_size: int or (height, width). Input size; divisible by `patch_size`.
        patch_size: int or (height, width).
        num_channels: int. 1 for MNIST, 3 for RGB.
        num_classes: int. Output logits; 0 gives the pooled feature vector.
        hidden_dim: int. Width of the encoder; divisible by `num_heads`.
        num_layers: int. Encoder blocks.
        num_heads: int.
        intermediate_dim: int. Feed-forward width.
        dropout: float. Dropout in the encoder and before the head.
        layer_norm_epsilon: float.
        pooling: "token" (class token) or "gap" (global average of patches).
        image_mean, image_std: None (default: the images go to the patch embedding as
            they are), or one float per channel: the model first computes
            `(images - image_mean) / image_std` (`ImageStandardization`), the normalisation a
            converted checkpoint expects (e.g. 0.5 and 0.5 for Google's ViT), so that it
            still takes images in [0, 1].

    Example:

    >>> import numpy as np, zoo
    >>> model = zoo.build("vit_tiny_patch4_28", num_classes=10)
    >>> tuple(model(np.zeros((2, 28, 28, 1), "float32")).shape)
    (2, 10)
    """

    @builds_in_policy
    def __init__(
        self,
        image_size=224,
        patch_size=16,
        num_channels=3,
        num_classes=1000,
        hidden_dim=768,
        num_layers=12,
        num_heads=12,
        intermediate_dim=3072,
        dropout=0.0,
        layer_norm_epsilon=1e-6,
        pooling="token",
        image_mean=None,
        image_std=None,
        **kwargs,
    ):
        image_hw = pair("image_size", image_size)
        patch_hw = pair("patch_size", patch_size)
        check_positive(
            num_channels=num_channels,
            hidden_dim=hidden_dim,
            num_layers=num_layers,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
        )
        check_non_negative(num_classes=num_classes)
        check_rate(dropout=dropout)
        check_choice("pooling", pooling, {"token", "gap"})
        check_divisible("image_size", image_hw[0], "patch_size", patch_hw[0])
        check_divisible("image_size", image_hw[1], "patch_size", patch_hw[1])
        check_divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        num_patches = (image_hw[0] // patch_hw[0]) * (image_hw[1] // patch_hw[1])
        standardization = _standardization(image_mean, image_std, num_channels)

        # === Layers ===
        patch_embedding = keras.layers.Conv2D(
            hidden_dim, kernel_size=patch_hw, strides=patch_hw, name="patch_embedding"
        )
        class_token = ClassToken(name="class_token") if pooling == "token" else None
        position_embedding = PositionEmbedding(
            num_patches + (1 if class_token else 0),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="position_embedding",
        )
        blocks = [
            TransformerEncoderBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                activation="gelu",
                layer_norm_epsilon=layer_norm_epsilon,
                normalize_first=True,
                name=f"encoder_block_{i}",
            )
            for i in range(num_layers)
        ]
        final_norm = LayerNorm(epsilon=layer_norm_epsilon, name="final_norm")

        # === Functional model ===
        images = keras.Input(shape=(image_hw[0], image_hw[1], num_channels), name="images")
        x = images if standardization is None else standardization(images)
        x = patch_embedding(x)
        x = keras.layers.Reshape((num_patches, hidden_dim), name="patches")(x)
        if class_token is not None:
            x = class_token(x)
        x = position_embedding(x)
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
        for block in blocks[:-1]:
            x = block(x)
        # With the class token as the features, the last block runs at that token only (its
        # query over every patch): the same numbers as slicing its whole output.
        x = blocks[-1](x, query_tokens=1 if pooling == "token" else None)
        x = final_norm(x)
        if pooling == "token":
            features = x[:, 0]
        else:
            features = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        outputs = features
        if num_classes:
            outputs = keras.layers.Dropout(dropout, name="head_dropout")(features)
            outputs = keras.layers.Dense(num_classes, name="head", dtype="float32")(outputs)
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.image_size = list(image_size) if isinstance(image_size, (list, tuple)) else image_size
        self.patch_size = list(patch_size) if isinstance(patch_size, (list, tuple)) else patch_size
        self.num_channels = num_channels
        self.num_classes = num_classes
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.pooling = pooling
        self.image_mean = None if standardization is None else standardization.mean
        self.image_std = None if standardization is None else standardization.std

    def get_config(self):
        # The normalisation only when set: the configs of models without it stay as they were.
        standardization = ({"image_mean": self.image_mean, "image_std": self.image_std}
                           if self.image_mean is not None else {})
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": config_value(self),
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "num_channels": self.num_channels,
            "num_classes": self.num_classes,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "pooling": self.pooling,
            **standardization,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _standardization(mean, std, num_channels):
    """The `ImageStandardization` layer of `image_mean` / `image_std`, or None."""
    if mean is None and std is None:
        return None
    if mean is None or std is None:
        raise ValueError("image_mean and image_std come together (both None, or one float "
                         f"per channel each); got image_mean={mean}, image_std={std}.")
    mean, std = list(mean), list(std)
    for name, values in (("image_mean", mean), ("image_std", std)):
        if len(values) != num_channels:
            raise ValueError(f"{name} needs one value per channel ({num_channels}), got "
                             f"{values}.")
    if any(float(s) <= 0 for s in std):
        raise ValueError(f"image_std must be positive, got {std}.")
    return ImageStandardization(mean, std, name="image_standardization")
