"""BERT variants (data only). Sizes of Turc et al. (2019), "Well-Read Students Learn Better"."""

PAPER = "Devlin et al., 2019. BERT. https://arxiv.org/abs/1810.04805"


def _bert(layers, hidden, heads):
    return {
        "vocabulary_size": 30522,
        "num_layers": layers,
        "num_heads": heads,
        "hidden_dim": hidden,
        "intermediate_dim": 4 * hidden,
        "dropout": 0.1,
        "max_sequence_length": 512,
        "num_segments": 2,
    }


PRESETS = {
    "bert_tiny": {"config": _bert(2, 128, 2), "params": 4_385_920,
                  "description": "BERT-Tiny (L=2, H=128, A=2), 30,522-token vocabulary."},
    "bert_mini": {"config": _bert(4, 256, 4), "params": 11_170_560,
                  "description": "BERT-Mini (L=4, H=256, A=4)."},
    "bert_small": {"config": _bert(4, 512, 8), "params": 28_763_648,
                   "description": "BERT-Small (L=4, H=512, A=8)."},
    "bert_medium": {"config": _bert(8, 512, 8), "params": 41_373_184,
                    "description": "BERT-Medium (L=8, H=512, A=8)."},
    "bert_base": {"config": _bert(12, 768, 12), "params": 109_482_240,
                  "description": "BERT-Base (L=12, H=768, A=12), as the original."},
}
