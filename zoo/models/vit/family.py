"""The Vision Transformer family: an image classifier (see `zoo.models.family`)."""

from zoo.models import fixtures
from zoo.models.family import Converter, Family, Fixtures, Head, Part
from zoo.models.vit import presets

FAMILY = Family(
    name="vit",
    paper=presets.PAPER,
    presets=presets.PRESETS,
    heads={"classifier": Head(
        "zoo.models.vit.vit_classifier:ViTClassifier",
        parts={
            "classifier": Part("zoo.models.savedmodel:image_classifier_part",
                               "float32 images in [0, 1] -> logits"),
            "feature_vector": Part("zoo.models.vit.export:feature_vector",
                                   "float32 images in [0, 1] -> feature vector"),
        })},
    default_head="classifier",
    serves={"image_classification": "classifier"},
    fixtures=Fixtures(
        tiny={"vit_tiny_patch4_28": {"num_layers": 2}, "vit_tiny_patch2_8": {"num_layers": 2}},
        cases=(("vit_tiny_patch4_28", None, {"num_layers": 2}),
               ("vit_tiny_patch4_28", None, {"num_layers": 1, "pooling": "gap",
                                             "num_classes": 0})),
        example_inputs=fixtures.image_batch,
        training_batch=fixtures.image_classifier_batch,
    ),
    converters=(
        Converter("transformers", ("ViTModel", "ViTForImageClassification"),
                  "zoo.models.vit.convert:load_transformers"),
        Converter("keras_hub", ("ViTBackbone", "ViTImageClassifier"),
                  "zoo.models.vit.convert:load_keras_hub"),
        Converter("timm", ("vit_*",), "zoo.models.vit.convert:load_timm"),
    ),
    hf_export="zoo.models.vit.convert:to_transformers",
)
