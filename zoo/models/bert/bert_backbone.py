"""BERT encoder (Devlin et al., 2019, https://arxiv.org/abs/1810.04805)."""

import keras

from zoo.layers import (
    LayerNorm,
    PositionEmbedding,
    ReversibleEmbedding,
    TransformerEncoderBlock,
)
from zoo.models.dtype_policy import builds_in_policy, config_value
from zoo.models.validation import check_divisible, check_positive, check_rate

BACKBONE_ARGS = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "dropout",
    "max_sequence_length",
    "num_segments",
    "layer_norm_epsilon",
    "normalize_first",
    "activation",
)
#: The feed-forward activations a backbone takes: the exact GELU (BERT's, as Transformers
#: computes it) and its tanh form (what Google's original BERT code and KerasHub compute).
ACTIVATIONS = ("gelu", "gelu_approximate")


@keras.saving.register_keras_serializable(package="zoo")
class BertBackbone(keras.Model):
    """Token, segment and position embeddings, N encoder blocks and a pooler.

    Inputs are a dict of `token_ids`, `segment_ids` (ints, `[batch, length]`)
    and `padding_mask` (1 at real tokens); outputs are a dict of
    `sequence_output` `[batch, length, hidden_dim]` and `pooled_output`
    `[batch, hidden_dim]` (tanh of a dense layer over the first token).
    `bert_base` has the original BERT-base's 109,482,240 parameters.

    Args:
        vocabulary_size: int.
        num_layers: int.
        num_heads: int. Divides `hidden_dim`.
        hidden_dim: int.
        intermediate_dim: int. Feed-forward width.
        dropout: float.
        max_sequence_length: int. Number of position embeddings.
        num_segments: int. Number of segment (token type) embeddings.
        layer_norm_epsilon: float.
        normalize_first: bool. False (the original BERT): post-LN blocks. True: pre-LN
            blocks and a final layer norm, which leaves masked-LM's unigram plateau much
            sooner when pretraining from scratch on little text (see the bert_mini recipes).
        activation: str. The feed-forward (and masked-LM transform) activation: "gelu", the
            exact GELU (the default, as Transformers' BERT), or "gelu_approximate", its tanh
            form, which Google's original BERT code and KerasHub's BERT compute (converted
            checkpoints of those set it). Left out of the config when "gelu", so configs
            saved before it existed read the same.

    Example:

    >>> import numpy as np, zoo
    >>> bert = zoo.build("bert_tiny", vocabulary_size=100)
    >>> ids = np.array([[2, 5, 6, 3, 0]])
    >>> out = bert({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": ids > 0})
    >>> tuple(out["sequence_output"].shape), tuple(out["pooled_output"].shape)
    ((1, 5, 128), (1, 128))
    """

    @builds_in_policy
    def __init__(
        self,
        vocabulary_size=30522,
        num_layers=12,
        num_heads=12,
        hidden_dim=768,
        intermediate_dim=3072,
        dropout=0.1,
        max_sequence_length=512,
        num_segments=2,
        layer_norm_epsilon=1e-12,
        normalize_first=False,
        activation="gelu",
        **kwargs,
    ):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, "
                             f"got {activation!r}.")
        check_positive(
            vocabulary_size=vocabulary_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
        )
        check_rate(dropout=dropout)
        check_divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        init = keras.initializers.TruncatedNormal(stddev=0.02)

        # === Layers ===
        self.token_embedding = ReversibleEmbedding(
            vocabulary_size, hidden_dim, embeddings_initializer=init, name="token_embedding"
        )
        segment_embedding = keras.layers.Embedding(
            num_segments, hidden_dim, embeddings_initializer=init, name="segment_embedding"
        )
        position_embedding = PositionEmbedding(
            max_sequence_length, initializer=init, name="position_embedding"
        )
        embedding_norm = LayerNorm(
            epsilon=layer_norm_epsilon, name="embedding_norm"
        )
        blocks = [
            TransformerEncoderBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                normalize_first=bool(normalize_first),
                name=f"encoder_block_{i}",
            )
            for i in range(num_layers)
        ]
        pooler = keras.layers.Dense(hidden_dim, activation="tanh", name="pooler")

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = keras.layers.Add(name="token_and_segment")(
            [self.token_embedding(token_ids), segment_embedding(segment_ids)]
        )
        x = position_embedding(x)
        x = embedding_norm(x)
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
        for block in blocks[:-1]:
            x = block(x, padding_mask=padding_mask)
        # The pooled output reads the last block at the first token only: that token's
        # queries over every position, not the whole block. The same numbers as slicing the
        # sequence output; a model that reads only one of the two outputs runs only its
        # path inside a tf.function (a classifier skips the last block's other positions).
        first = blocks[-1](x, padding_mask=padding_mask, query_tokens=1)
        x = blocks[-1](x, padding_mask=padding_mask)
        if normalize_first:
            final_norm = LayerNorm(epsilon=layer_norm_epsilon, name="final_norm")
            first, x = final_norm(first), final_norm(x)
        pooled = pooler(first[:, 0])
        super().__init__(
            inputs={"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
            outputs={"sequence_output": x, "pooled_output": pooled},
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.layer_norm_epsilon = layer_norm_epsilon
        self.normalize_first = bool(normalize_first)
        self.activation = activation

    def backbone_config(self):
        config = {arg: getattr(self, arg) for arg in BACKBONE_ARGS}
        if config["activation"] == "gelu":  # the default: configs read as before it existed
            del config["activation"]
        return config

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "dtype": config_value(self), **self.backbone_config()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
