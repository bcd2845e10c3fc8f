"""LeNet variants (data only).

LeNet-5 (LeCun et al., 1998) reads a 32x32 field (the 28x28 MNIST digits centred in it):
C1 6 maps 5x5, S2 2x2 subsampling, C3 16 maps 5x5, S4 2x2 subsampling, C5 120 units over the
5x5x16 maps, F6 84 units, 10 outputs; tanh squashing. As is usual today, C3 connects every
map (the paper's partial connections), subsampling is plain average pooling (no trainable
coefficient) and the output is a dense layer on logits (not Euclidean RBF units): 61,706
parameters (the paper's network had about 60,000). `lenet5` zero-pads 28x28 images by 2 to
that field, which is the common Keras form (padding "same" on the first convolution); built
for 32x32 images with `input_padding=0` it has the same 61,706.
"""

PAPER = ("LeCun, Bottou, Bengio and Haffner, 1998. Gradient-Based Learning Applied to Document "
         "Recognition. Proceedings of the IEEE 86(11): 2278-2324. "
         "https://doi.org/10.1109/5.726791")

_LENET5 = {"num_channels": 1, "num_classes": 10, "filters": [6, 16], "dense_units": [120, 84],
           "activation": "tanh", "pooling": "average", "dropout": 0.0}

PRESETS = {
    "lenet5": {
        "config": {**_LENET5, "image_size": 28, "input_padding": 2, "kernel_size": 5},
        "params": 61_706,
        "description": "LeNet-5 for 28x28 grayscale images (MNIST, Fashion-MNIST), zero-padded "
                       "to the paper's 32x32 field: conv 6@5x5, avg-pool, conv 16@5x5, "
                       "avg-pool, dense 120, 84, tanh.",
    },
    "lenet5_8": {
        "config": {**_LENET5, "image_size": 8, "input_padding": 1, "kernel_size": 3},
        "params": 13_994,
        "description": "LeNet-5's layers for scikit-learn's 8x8 digits: 3x3 kernels on the "
                       "image padded to 10x10 (maps of 8x8, 4x4, 2x2, then 1x1x16).",
    },
}
