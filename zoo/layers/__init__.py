"""Building blocks shared by every zoo model family."""

from zoo.layers.attention import MultiHeadAttention
from zoo.layers.embeddings import (
    OutputBias,
    PositionEmbedding,
    ReversibleEmbedding,
    SinusoidalPositionEmbedding,
)
from zoo.layers.feed_forward import FeedForward
from zoo.layers.normalization import LayerNorm
from zoo.layers.transformer_blocks import (
    CausalSelfAttentionBlock,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
    causal_attention_mask,
)

__all__ = [
    "CausalSelfAttentionBlock",
    "FeedForward",
    "LayerNorm",
    "MultiHeadAttention",
    "OutputBias",
    "PositionEmbedding",
    "ReversibleEmbedding",
    "SinusoidalPositionEmbedding",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "causal_attention_mask",
]
