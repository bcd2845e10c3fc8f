"""The hub family's export part (declared in `family.py`): `classifier`, raw strings ->
`{"logits"}`, with the TF Hub encoder, its preprocessor and the head in one SavedModel.

Compact weights (`--weights stored`) need the zoo BERT classifier the model equals (an
encoder loaded from a SavedModel reads its own float32 variables), so only classifiers on a
zoo entry's encoder export that way (`as_bert_classifier`).
"""

from __future__ import annotations

from zoo.entries import parse_zoo_handle
from zoo.hub.layer import HubLayer
from zoo.models.bert.bert_tasks import BertClassifier
from zoo.models.bert.export import classifier_part
from zoo.models.savedmodel import attach_variables, new_root, sequence_length_of


def classifier(model, context):
    """A `HubTextClassifier` as one SavedModel: strings -> `{"logits"}`."""
    import tensorflow as tf

    if context.weights != "float32":
        try:
            converted, tokenizer, length = as_bert_classifier(model, context.entry_source)
        except ValueError as error:
            raise ValueError(f"{error} Other encoders export with --weights float32.") from None
        return classifier_part(converted, tokenizer, length, context.weights)
    root = new_root()
    attach_variables(root, model, context.weights)
    # The loaded SavedModels carry the preprocessor's vocabulary table and assets.
    root.saved_models = [layer.saved_model for layer in model.layers
                         if isinstance(layer, HubLayer)]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def call(strings):
        return {"logits": model(strings, training=False)}

    root.__call__ = call
    return root, {"serving_default": call}


def as_bert_classifier(model, entry_source):
    """The zoo `BertClassifier` that a `HubTextClassifier` on a zoo entry's exported encoder
    is: the same weights in the zoo's own layers. Returns `(classifier, tokenizer,
    seq_length)`, the tokenizer and sequence length being those of the entry's preprocessor.

    `entry_source(entry)` gives a published entry's `(model, tokenizer, recipe dict)`
    (`zoo.hub.export.entry_source`). Compact exports need the conversion
    (`zoo export --weights stored`): a TF Hub encoder's functions read their own float32
    variables, while a zoo model can be run on weights kept as the entry stores them. Raises
    `ValueError` for encoders that are not a zoo entry's (`zoo:ENTRY/encoder` with
    `zoo:ENTRY/preprocessor`).
    """
    encoder = parse_zoo_handle(model.encoder_handle)
    if (encoder is None or encoder[1] != "encoder"
            or parse_zoo_handle(model.preprocessor_handle) != (encoder[0], "preprocessor")):
        raise ValueError(
            f"Only a classifier on a zoo entry's encoder and preprocessor (zoo:ENTRY/encoder, "
            f"zoo:ENTRY/preprocessor) converts to a zoo BERT classifier; this one uses "
            f"{model.encoder_handle} and {model.preprocessor_handle}.")
    if entry_source is None:
        raise ValueError(f"Converting a classifier on {model.encoder_handle} needs the entry "
                         f"{encoder[0]}: pass entry_source (zoo.hub.export.entry_source).")
    source, tokenizer, recipe = entry_source(encoder[0])
    backbone = getattr(source, "backbone", source)
    converted = BertClassifier(num_classes=model.num_classes,
                               classifier_dropout=model.classifier_dropout,
                               **backbone.backbone_config())
    # The encoder SavedModel lists its variables in the backbone's order (bert/export.py).
    saved = list(model.get_layer("encoder").saved_model.variables)
    targets = converted.backbone.variables
    if [tuple(v.shape) for v in saved] != [tuple(v.shape) for v in targets]:
        raise ValueError(f"{model.encoder_handle}'s variables do not match the backbone of "
                         f"{encoder[0]}; was the entry re-published since?")
    for target, value in zip(targets, saved):
        target.assign(value.numpy())
    converted.get_layer("classifier").set_weights(model.get_layer("classifier").get_weights())
    return converted, tokenizer, sequence_length_of(recipe)
