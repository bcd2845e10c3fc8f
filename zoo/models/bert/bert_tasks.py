"""BERT task models: masked-LM pretraining and sequence classification.

Each takes the backbone's arguments flat, beside its own, so its config is one
flat dict; the encoder is `model.backbone`, so pretrained weights move with
`classifier.backbone.set_weights(masked_lm.backbone.get_weights())`.
"""

import keras
from keras import ops

from zoo.layers import LayerNorm
from zoo.layers.activations import gelu_approximate
from zoo.models.bert.bert_backbone import BACKBONE_ARGS, BertBackbone
from zoo.models.dtype_policy import builds_in_policy, config_value
from zoo.models.validation import check_positive, check_rate


def _split_backbone_args(kwargs):
    backbone = {k: kwargs.pop(k) for k in BACKBONE_ARGS if k in kwargs}
    return backbone, kwargs


@keras.saving.register_keras_serializable(package="zoo")
class Bias(keras.layers.Layer):
    """Adds a learned per-unit bias (the masked-LM output bias)."""

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(input_shape[-1],), initializer="zeros")

    def call(self, x):
        return x + ops.cast(self.bias, x.dtype)


@keras.saving.register_keras_serializable(package="zoo")
class BertMaskedLM(keras.Model):
    """BERT with the masked-LM head tied to the token embeddings.

    Inputs: the backbone's dict plus `mask_positions` `[batch, num_masked]`;
    output: logits over the vocabulary `[batch, num_masked, vocabulary_size]`.
    The head is dense (the backbone's GELU) -> layer norm -> tied projection + bias, as
    in the original. Use `zoo.text.masking.mask_tokens` to make the inputs.
    The pooler is frozen: masked-LM does not train it.

    Args:
        **backbone_args: the arguments of `BertBackbone`.

    Example:

    >>> import numpy as np, zoo
    >>> mlm = zoo.build("bert_tiny", task="masked_lm", vocabulary_size=100)
    >>> ids = np.array([[2, 4, 5, 3]])
    >>> x = {"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": ids > 0,
    ...      "mask_positions": np.array([[1, 2]])}
    >>> tuple(mlm(x).shape)
    (1, 2, 100)
    """

    @builds_in_policy
    def __init__(self, **kwargs):
        backbone_args, kwargs = _split_backbone_args(kwargs)
        backbone = BertBackbone(**backbone_args, name="backbone")
        hidden_dim = backbone.hidden_dim
        inputs = {
            "token_ids": keras.Input(shape=(None,), dtype="int32", name="token_ids"),
            "segment_ids": keras.Input(shape=(None,), dtype="int32", name="segment_ids"),
            "padding_mask": keras.Input(shape=(None,), dtype="int32", name="padding_mask"),
            "mask_positions": keras.Input(shape=(None,), dtype="int32", name="mask_positions"),
        }
        sequence = backbone(
            {k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")}
        )["sequence_output"]
        positions = ops.expand_dims(inputs["mask_positions"], -1)
        x = ops.take_along_axis(sequence, positions, axis=1)
        approximate = backbone.activation == "gelu_approximate"
        x = keras.layers.Dense(
            hidden_dim,
            activation=None if approximate else "gelu",
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="mlm_transform",
        )(x)
        if approximate:  # the transform uses the backbone's activation, as in the original
            x = keras.layers.Activation(gelu_approximate, name="mlm_activation")(x)
        x = LayerNorm(
            epsilon=backbone.layer_norm_epsilon, name="mlm_norm"
        )(x)
        x = backbone.token_embedding(x, reverse=True)
        logits = Bias(name="mlm_bias", dtype="float32")(ops.cast(x, "float32"))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = backbone
        # Masked-LM alone never reaches the pooler (BERT trained it with next-sentence
        # prediction): freeze it so the optimizer does not look for its gradients.
        backbone.get_layer("pooler").trainable = False

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "dtype": config_value(self), **self.backbone.backbone_config()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="zoo")
class BertClassifier(keras.Model):
    """BERT with a classification head on the pooled output.

    Inputs: the backbone's dict; output: logits `[batch, num_classes]`.

    Args:
        num_classes: int.
        classifier_dropout: float. Dropout before the head.
        **backbone_args: the arguments of `BertBackbone`.

    Example:

    >>> import numpy as np, zoo
    >>> clf = zoo.build("bert_tiny", task="classifier", num_classes=3, vocabulary_size=100)
    >>> ids = np.array([[2, 4, 5, 3]])
    >>> tuple(clf({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": ids > 0}).shape)
    (1, 3)
    """

    @builds_in_policy
    def __init__(self, num_classes=2, classifier_dropout=0.1, **kwargs):
        check_positive(num_classes=num_classes)
        check_rate(classifier_dropout=classifier_dropout)
        backbone_args, kwargs = _split_backbone_args(kwargs)
        backbone = BertBackbone(**backbone_args, name="backbone")
        inputs = {
            "token_ids": keras.Input(shape=(None,), dtype="int32", name="token_ids"),
            "segment_ids": keras.Input(shape=(None,), dtype="int32", name="segment_ids"),
            "padding_mask": keras.Input(shape=(None,), dtype="int32", name="padding_mask"),
        }
        pooled = backbone(inputs)["pooled_output"]
        x = keras.layers.Dropout(classifier_dropout, name="classifier_dropout")(pooled)
        logits = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="classifier",
            dtype="float32",
        )(x)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = backbone
        self.num_classes = num_classes
        self.classifier_dropout = classifier_dropout

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": config_value(self),
            "num_classes": self.num_classes,
            "classifier_dropout": self.classifier_dropout,
            **self.backbone.backbone_config(),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
