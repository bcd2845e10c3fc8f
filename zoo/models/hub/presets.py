"""Models built on TF Hub handles (data only). Their size depends on the handle: no count."""

PAPER = ("Devlin et al., 2019. BERT: Pre-training of Deep Bidirectional Transformers for "
         "Language Understanding. https://arxiv.org/abs/1810.04805 (encoders loaded via TF Hub)")

PRESETS = {
    "hub_bert_classifier": {
        "config": {
            "encoder_handle": "zoo:bert_mini.mlm-sst2-trec/encoder",
            "preprocessor_handle": "zoo:bert_mini.mlm-sst2-trec/preprocessor",
            "num_classes": 2,
            "classifier_dropout": 0.1,
            "trainable_encoder": True,
        },
        "params": None,
        "task": "text_classifier",
        "description": "Text classifier on any TF Hub BERT-style encoder and preprocessor "
                       "(handles); by default the zoo's MLM encoder exported in TF Hub's format.",
    },
}
