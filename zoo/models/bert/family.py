"""The BERT family: a backbone, its masked-LM pretraining head and a classifier, which
`init_from` fine-tunes from a pretrained backbone (see `zoo.models.family`)."""

from zoo.models import fixtures
from zoo.models.bert import presets
from zoo.models.family import Converter, Family, Fixtures, Head, Part

_ENCODER = Part("zoo.models.bert.export:encoder",
                "BERT encoder: input_word_ids, input_mask, input_type_ids -> pooled_output, "
                "sequence_output, encoder_outputs")
_PREPROCESSOR = Part("zoo.models.bert.export:preprocessor",
                     "raw strings -> the encoder's inputs; tokenize; bert_pack_inputs")
_TEXT_PARTS = {"encoder": _ENCODER, "preprocessor": _PREPROCESSOR}


def _example_inputs(model, batch=3, seed=0):
    """Token ids starting with `[CLS]` (id 4), one row padded; mask positions for the
    masked-LM head."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(7, model.get_config()["vocabulary_size"], size=(batch, 9)).astype("int32")
    ids[:, 0] = 4
    ids[0, 6:] = 0
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
         "padding_mask": (ids > 0).astype("int32")}
    if "mask_positions" in [i.name for i in model.inputs]:
        x["mask_positions"] = np.array([[1, 2]] * batch, "int32")
    return x


def _training_batch(model, batch=8, seed=0):
    """The masked tokens for the masked-LM head, class labels for the classifier; None for
    the backbone (no loss of its own)."""
    import keras
    import numpy as np

    x = _example_inputs(model, batch, seed)
    if "mask_positions" in x:
        y = np.take_along_axis(x["token_ids"], x["mask_positions"], axis=1)
        return x, y, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return fixtures.classification_batch(model, x, batch)


_TINY = {"vocabulary_size": 60, "max_sequence_length": 32}

FAMILY = Family(
    name="bert",
    paper=presets.PAPER,
    presets=presets.PRESETS,
    heads={
        "backbone": Head("zoo.models.bert.bert_backbone:BertBackbone", parts=_TEXT_PARTS,
                         export_kind="bert", needs_tokenizer=True),
        "masked_lm": Head("zoo.models.bert.bert_tasks:BertMaskedLM", parts=_TEXT_PARTS,
                          export_kind="bert", needs_tokenizer=True),
        "classifier": Head(
            "zoo.models.bert.bert_tasks:BertClassifier",
            parts={**_TEXT_PARTS,
                   "classifier": Part("zoo.models.bert.export:classifier",
                                      "raw strings -> logits")},
            export_kind="bert_classifier", needs_tokenizer=True),
    },
    default_head="backbone",
    serves={"text_classification": "classifier", "masked_lm": "masked_lm"},
    transfer="backbone",
    fixtures=Fixtures(
        tiny={"bert_tiny": _TINY},
        cases=(("bert_tiny", None, _TINY),
               ("bert_tiny", "masked_lm", _TINY),
               ("bert_tiny", "classifier", {**_TINY, "num_classes": 3})),
        example_inputs=_example_inputs,
        training_batch=_training_batch,
    ),
    converters=(
        Converter("transformers", ("BertModel", "BertForMaskedLM", "BertForPreTraining",
                                   "BertForSequenceClassification",
                                   "bert"),  # a config.json without `architectures`
                  "zoo.models.bert.convert:load_transformers"),
        Converter("bert_original", ("BertModel",), "zoo.models.bert.convert:load_bert_original"),
        Converter("keras_hub", ("BertBackbone", "BertTextClassifier"),
                  "zoo.models.bert.convert:load_keras_hub"),
    ),
    hf_export="zoo.models.bert.convert:to_transformers",
)
