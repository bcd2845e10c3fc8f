"""The LeNet family: LeNet-style convolutional image classifiers, a small baseline beside
the ViTs (see `zoo.models.family`). Everything zoo knows about it is in this folder."""

from zoo.models import fixtures
from zoo.models.family import Family, Fixtures, Head, Part
from zoo.models.lenet import presets

FAMILY = Family(
    name="lenet",
    paper=presets.PAPER,
    presets=presets.PRESETS,
    heads={"classifier": Head(
        "zoo.models.lenet.lenet:LeNet",
        parts={"classifier": Part("zoo.models.savedmodel:image_classifier_part",
                                  "float32 images in [0, 1] -> logits")})},
    default_head="classifier",
    serves={"image_classification": "classifier"},
    fixtures=Fixtures(
        tiny={"lenet5": {}, "lenet5_8": {}},
        cases=(("lenet5", None, {}),
               ("lenet5_8", None, {"pooling": "max", "activation": "relu", "dropout": 0.1}),
               ("lenet5_8", None, {"num_classes": 0})),
        example_inputs=fixtures.image_batch,
        training_batch=fixtures.image_classifier_batch,
    ),
)
