import numpy as np
import pytest

import zoo


@pytest.mark.parametrize(
    "image_size, patch_size, channels", [(28, 4, 1), (32, 8, 3), ([24, 16], 4, 2), (8, 2, 1)]
)
def test_any_divisible_image_size_and_channel_count(image_size, patch_size, channels):
    model = zoo.build(
        "vit_tiny_patch4_28", image_size=image_size, patch_size=patch_size,
        num_channels=channels, num_classes=5, num_layers=1,
    )
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    out = model(np.random.rand(2, h, w, channels).astype("float32"))
    assert tuple(out.shape) == (2, 5)


def test_global_average_pooling_drops_the_class_token():
    token = zoo.build("vit_tiny_patch4_28", num_layers=1)
    gap = zoo.build("vit_tiny_patch4_28", num_layers=1, pooling="gap")
    assert token.count_params() - gap.count_params() == 64 + 64  # class token + its position
    assert tuple(gap(np.zeros((1, 28, 28, 1), "float32")).shape) == (1, 10)


def test_num_classes_0_gives_the_feature_vector():
    model = zoo.build("vit_tiny_patch4_28", num_classes=0, num_layers=1)
    assert tuple(model(np.zeros((2, 28, 28, 1), "float32")).shape) == (2, 64)


def test_each_image_is_classified_independently_of_the_batch():
    model = zoo.build("vit_tiny_patch4_28", num_layers=2)
    x = np.random.rand(4, 28, 28, 1).astype("float32")
    np.testing.assert_allclose(model(x).numpy()[1:2], model(x[1:2]).numpy(), atol=1e-5)


def test_class_token_features_equal_the_last_blocks_whole_output_at_that_token():
    """The last block runs at the class token only; the features are those of the whole
    block's output, sliced."""
    model = zoo.build("vit_tiny_patch4_28", num_classes=0, num_layers=2)
    images = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    x = model.get_layer("patch_embedding")(images)
    x = model.get_layer("patches")(x)
    x = model.get_layer("position_embedding")(model.get_layer("class_token")(x))
    for i in range(2):
        x = model.get_layer(f"encoder_block_{i}")(x)
    expected = model.get_layer("final_norm")(x)[:, 0]
    np.testing.assert_allclose(model(images), expected, atol=1e-5)
