"""The "hub" family: a text classifier on any TF Hub BERT-style encoder and preprocessor,
by handle; raw strings in, its preprocessor tokenizes (see `zoo.models.family`). Its test
fixtures need an exported encoder, so its tests are in tests/test_hub.py."""

from zoo.models.family import Family, Head, Part
from zoo.models.hub import presets

FAMILY = Family(
    name="hub",
    paper=presets.PAPER,
    presets=presets.PRESETS,
    heads={"text_classifier": Head(
        "zoo.models.hub.classifier:HubTextClassifier",
        parts={"classifier": Part("zoo.models.hub.export:classifier",
                                  "raw strings -> logits (the TF Hub encoder, its "
                                  "preprocessor and the head in one SavedModel)")},
        export_kind="hub_classifier", raw_text=True)},
    default_head="text_classifier",
    serves={"text_classification": "text_classifier"},
)
