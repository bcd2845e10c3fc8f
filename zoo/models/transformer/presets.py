"""Transformer variants (data only)."""

PAPER = "Vaswani et al., 2017. Attention Is All You Need. https://arxiv.org/abs/1706.03762"

PRESETS = {
    "transformer_tiny": {
        "config": {"vocabulary_size": 8000, "num_encoder_layers": 2, "num_decoder_layers": 2,
                   "hidden_dim": 64, "num_heads": 4, "intermediate_dim": 256, "dropout": 0.1,
                   "max_sequence_length": 128, "normalize_first": True},
        "params": 745_728,
        "description": "2+2 layers, width 64, pre-LN: for tests and tiny data.",
    },
    "transformer_small": {
        "config": {"vocabulary_size": 8000, "num_encoder_layers": 3, "num_decoder_layers": 3,
                   "hidden_dim": 256, "num_heads": 4, "intermediate_dim": 1024, "dropout": 0.1,
                   "max_sequence_length": 128, "normalize_first": True},
        "params": 7_578_624,
        "description": "3+3 layers, width 256, pre-LN: for Multi30k-sized data.",
    },
    "transformer_base": {
        "config": {"vocabulary_size": 37000, "num_encoder_layers": 6, "num_decoder_layers": 6,
                   "hidden_dim": 512, "num_heads": 8, "intermediate_dim": 2048, "dropout": 0.1,
                   "max_sequence_length": 256},
        "params": 63_082_496,
        "description": "The paper's base model: 6+6 layers, 512, 2,048, 8 heads, shared 37k "
                       "vocabulary, tied embeddings, post-LN.",
    },
    "transformer_big": {
        "config": {"vocabulary_size": 37000, "num_encoder_layers": 6, "num_decoder_layers": 6,
                   "hidden_dim": 1024, "num_heads": 16, "intermediate_dim": 4096, "dropout": 0.3,
                   "max_sequence_length": 256},
        "params": 214_245_376,
        "description": "The paper's big model: 6+6 layers, 1,024, 4,096, 16 heads.",
    },
}
