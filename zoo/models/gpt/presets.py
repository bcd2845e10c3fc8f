"""GPT variants (data only).

`gpt2_small` is GPT-2 small's layout (Radford et al., 2019): 12 blocks 768 wide, 12 heads,
1,024 positions, a 50,257-token vocabulary, embeddings tied: 124,439,808 parameters, as the
reference code and KerasHub's `gpt2_base_en`. The `gpt_char_*` sizes are nanoGPT's
character-level Shakespeare models (Karpathy, nanoGPT, `config/train_shakespeare_char.py` and
its CPU settings), here with biases and counting the position embeddings (nanoGPT's 10.65M
excludes them and has no biases); their vocabulary is Tiny Shakespeare's 65 characters plus
padding and unknown, and the `language_modeling` task sets it from the run's tokenizer.
"""

PAPER = ("Radford, Wu, Child, Luan, Amodei and Sutskever, 2019. Language Models are "
         "Unsupervised Multitask Learners. https://cdn.openai.com/better-language-models/"
         "language_models_are_unsupervised_multitask_learners.pdf")

_CHARACTERS = 67  # Tiny Shakespeare's 65 characters, padding and unknown

PRESETS = {
    "gpt_tiny": {
        "config": {"vocabulary_size": 256, "max_sequence_length": 128, "num_layers": 2,
                   "num_heads": 4, "hidden_dim": 128, "intermediate_dim": 512, "dropout": 0.0},
        "params": 445_952,
        "description": "2 blocks, 128 wide, 4 heads, 128 positions, 256 tokens: for tests.",
    },
    "gpt_char_small": {
        "config": {"vocabulary_size": _CHARACTERS, "max_sequence_length": 64, "num_layers": 4,
                   "num_heads": 4, "hidden_dim": 128, "intermediate_dim": 512, "dropout": 0.0},
        "params": 810_112,
        "description": "nanoGPT's CPU Shakespeare model: 4 blocks, 128 wide, 4 heads, context "
                       "64, characters.",
    },
    "gpt_char_medium": {
        "config": {"vocabulary_size": _CHARACTERS, "max_sequence_length": 128, "num_layers": 6,
                   "num_heads": 4, "hidden_dim": 256, "intermediate_dim": 1024, "dropout": 0.1},
        "params": 4_788_992,
        "description": "Between nanoGPT's two Shakespeare models, sized for 2 CPU cores: 6 "
                       "blocks, 256 wide, 4 heads, context 128, dropout 0.1, characters.",
    },
    "gpt_char_base": {
        "config": {"vocabulary_size": _CHARACTERS, "max_sequence_length": 256, "num_layers": 6,
                   "num_heads": 6, "hidden_dim": 384, "intermediate_dim": 1536, "dropout": 0.2},
        "params": 10_771_584,
        "description": "nanoGPT's shakespeare_char model: 6 blocks, 384 wide, 6 heads, context "
                       "256, dropout 0.2, characters.",
    },
    "gpt2_small": {
        "config": {"vocabulary_size": 50257, "max_sequence_length": 1024, "num_layers": 12,
                   "num_heads": 12, "hidden_dim": 768, "intermediate_dim": 3072, "dropout": 0.1},
        "params": 124_439_808,
        "description": "GPT-2 small: 12 blocks, 768 wide, 12 heads, 1,024 positions, 50,257 "
                       "tokens, tied embeddings.",
    },
}
