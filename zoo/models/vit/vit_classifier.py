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
        x = patch_embedding(images)
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

    def get_config(self):
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
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
