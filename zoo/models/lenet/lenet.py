"""LeNet-style convolutional image classifier (LeCun et al., 1998, LeNet-5)."""

import keras

from zoo.models.dtype_policy import builds_in_policy, config_value
from zoo.models.validation import (
    check_choice,
    check_non_negative,
    check_positive,
    check_rate,
    pair,
)

ACTIVATIONS = ("tanh", "relu", "sigmoid")
POOLINGS = {"average": keras.layers.AveragePooling2D, "max": keras.layers.MaxPooling2D}


def feature_map_sizes(image_hw, input_padding, kernel_size, convolutions):
    """`(height, width)` after each convolution ("valid", stride 1) and its 2x2 pooling, for
    an image zero-padded by `input_padding` on every side.

    >>> feature_map_sizes((28, 28), 2, 5, 2)
    [(14, 14), (5, 5)]

    Raises ValueError when a map would be empty, naming the arguments to change.
    """
    h, w = image_hw[0] + 2 * input_padding, image_hw[1] + 2 * input_padding
    sizes = []
    for i in range(convolutions):
        h, w = (h - kernel_size + 1) // 2, (w - kernel_size + 1) // 2
        if h < 1 or w < 1:
            raise ValueError(
                f"image_size={list(image_hw)} with input_padding={input_padding} is too small "
                f"for {convolutions} convolutions of kernel_size={kernel_size}, each followed "
                f"by 2x2 pooling: convolution {i + 1} leaves no pixels. Use a larger "
                "input_padding, a smaller kernel_size or fewer filters.")
        sizes.append((h, w))
    return sizes


@keras.saving.register_keras_serializable(package="zoo")
class LeNet(keras.Model):
    """A LeNet-style classifier: [conv -> 2x2 pooling] per entry of `filters`, flatten, dense
    layers, logits.

    Images are float tensors `[batch, height, width, channels]` in [0, 1]. Every convolution
    is "valid" with stride 1; `input_padding` zero-pads the image first. The defaults are
    LeNet-5 on its 32x32 input field (61,706 parameters); it read the 28x28 MNIST digits in
    that field, which is `image_size=28, input_padding=2` (the `lenet5` preset).

    Args:
        image_size: int or (height, width).
        num_channels: int.
        num_classes: int. Output logits; 0 gives the last hidden layer's features.
        input_padding: int. Zero pixels added on every side before the first convolution.
        filters: list of int. Feature maps of each convolution (LeNet-5: 6, 16).
        kernel_size: int. Square kernels of every convolution (LeNet-5: 5).
        dense_units: list of int. Hidden dense layers after flattening (LeNet-5: 120, 84).
        activation: "tanh" (LeNet-5), "relu" or "sigmoid", after every convolution and
            hidden dense layer.
        pooling: "average" (LeNet-5's subsampling) or "max".
        dropout: float. Dropout after each hidden dense layer.

    Example:

    >>> import numpy as np, zoo
    >>> model = zoo.build("lenet5")
    >>> tuple(model(np.zeros((2, 28, 28, 1), "float32")).shape), model.count_params()
    ((2, 10), 61706)
    """

    @builds_in_policy
    def __init__(
        self,
        image_size=32,
        num_channels=1,
        num_classes=10,
        input_padding=0,
        filters=(6, 16),
        kernel_size=5,
        dense_units=(120, 84),
        activation="tanh",
        pooling="average",
        dropout=0.0,
        **kwargs,
    ):
        image_hw = pair("image_size", image_size)
        filters, dense_units = list(filters), list(dense_units)
        if not filters:
            raise ValueError("filters must list at least one convolution width, got [].")
        check_positive(num_channels=num_channels, kernel_size=kernel_size)
        check_positive(**{f"filters[{i}]": width for i, width in enumerate(filters)})
        check_positive(**{f"dense_units[{i}]": units for i, units in enumerate(dense_units)})
        check_non_negative(num_classes=num_classes, input_padding=input_padding)
        check_choice("activation", activation, set(ACTIVATIONS))
        check_choice("pooling", pooling, set(POOLINGS))
        check_rate(dropout=dropout)
        feature_map_sizes(image_hw, input_padding, kernel_size, len(filters))

        # === Functional model ===
        images = keras.Input(shape=(image_hw[0], image_hw[1], num_channels), name="images")
        x = images
        if input_padding:
            x = keras.layers.ZeroPadding2D(input_padding, name="input_padding")(x)
        for i, width in enumerate(filters):
            x = keras.layers.Conv2D(width, kernel_size, activation=activation,
                                    name=f"conv_{i}")(x)
            x = POOLINGS[pooling](2, name=f"pool_{i}")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        for i, units in enumerate(dense_units):
            x = keras.layers.Dense(units, activation=activation, name=f"dense_{i}")(x)
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
        outputs = x
        if num_classes:
            outputs = keras.layers.Dense(num_classes, name="head", dtype="float32")(x)
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.image_size = list(image_size) if isinstance(image_size, (list, tuple)) else image_size
        self.num_channels = num_channels
        self.num_classes = num_classes
        self.input_padding = input_padding
        self.filters = filters
        self.kernel_size = kernel_size
        self.dense_units = dense_units
        self.activation = activation
        self.pooling = pooling
        self.dropout = dropout

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": config_value(self),
            "image_size": self.image_size,
            "num_channels": self.num_channels,
            "num_classes": self.num_classes,
            "input_padding": self.input_padding,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dense_units": self.dense_units,
            "activation": self.activation,
            "pooling": self.pooling,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
