"""A zoo text classifier on any TF Hub BERT-style encoder and its preprocessor, by handle.

Raw strings in, logits out: `preprocessor` (strings -> `input_word_ids`, `input_mask`,
`input_type_ids`) -> `encoder` (fine-tuned, `pooled_output`) -> dropout -> dense. It trains
with `zoo train` and is benchmarked with `zoo bench run` like any zoo model (the harness feeds
it the benchmark's raw text; its preprocessor does the tokenizing).

>>> import zoo
>>> zoo.describe("hub_bert_classifier")["family"]
'hub'
"""

from __future__ import annotations

import keras

from zoo.hub.layer import HubLayer, refuse_in_safe_mode
from zoo.models.dtype_policy import builds_in_policy, config_value
from zoo.models.validation import check_positive, check_rate


@keras.saving.register_keras_serializable(package="zoo")
class HubTextClassifier(keras.Model):
    """Text classifier on a TF Hub encoder (see the module docstring).

    Args:
        encoder_handle: str. A BERT-style encoder handle (TF Hub's BERT encoder API).
        preprocessor_handle: str. Its preprocessor (raw strings in).
        num_classes: int.
        classifier_dropout: float. Dropout before the head.
        trainable_encoder: bool. Fine-tune the encoder (True) or train only the head.

    Example (with the zoo's own MLM encoder exported in TF Hub's format):

    >>> import zoo, numpy as np                                             # doctest: +SKIP
    >>> model = zoo.build("hub_bert_classifier", num_classes=2)             # doctest: +SKIP
    >>> model(np.array(["a fine film"])).shape                              # doctest: +SKIP
    TensorShape([1, 2])
    """

    takes_strings = True

    @builds_in_policy
    def __init__(self, encoder_handle, preprocessor_handle, num_classes=2,
                 classifier_dropout=0.1, trainable_encoder=True, **kwargs):
        check_positive(num_classes=num_classes)
        check_rate(classifier_dropout=classifier_dropout)
        text = keras.Input(shape=(), dtype="string", name="text")
        preprocessor = HubLayer(preprocessor_handle, name="preprocessor")
        encoder = HubLayer(encoder_handle, trainable=bool(trainable_encoder),
                           output_key="pooled_output", name="encoder")
        pooled = encoder(preprocessor(text))
        x = keras.layers.Dropout(classifier_dropout, name="classifier_dropout")(pooled)
        logits = keras.layers.Dense(
            num_classes, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="classifier", dtype="float32")(x)
        super().__init__(inputs=text, outputs=logits, **kwargs)
        self.encoder_handle = str(encoder_handle)
        self.preprocessor_handle = str(preprocessor_handle)
        self.num_classes = num_classes
        self.classifier_dropout = classifier_dropout
        self.trainable_encoder = bool(trainable_encoder)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": config_value(self),
                "encoder_handle": self.encoder_handle,
                "preprocessor_handle": self.preprocessor_handle,
                "num_classes": self.num_classes, "classifier_dropout": self.classifier_dropout,
                "trainable_encoder": self.trainable_encoder}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        for key in ("encoder_handle", "preprocessor_handle"):  # both run a SavedModel's graph
            refuse_in_safe_mode(config.get(key), safe_mode)
        return cls(**config)
