"""The Transformer family: an encoder-decoder for translation (see `zoo.models.family`)."""

from zoo.models.family import Converter, Family, Fixtures, Head, Part
from zoo.models.transformer import presets


def _example_inputs(model, batch=3, seed=0):
    """Source and teacher-forced target ids, some rows padded."""
    import numpy as np

    rng = np.random.default_rng(seed)
    config = model.get_config()
    vocab = config["vocabulary_size"]
    src = rng.integers(3, vocab, size=(batch, 7)).astype("int32")
    src[0, 5:] = 0
    target_vocab = config["target_vocabulary_size"] or vocab
    tgt = rng.integers(3, target_vocab, size=(batch, 6)).astype("int32")
    tgt[:, 0] = config["start_id"]
    tgt[1, 4:] = 0
    return {"encoder_token_ids": src, "decoder_token_ids": tgt}


def _training_batch(model, batch=8, seed=0):
    """Targets are the decoder's inputs shifted by one, ending with `[END]`; padding ignored."""
    import keras
    import numpy as np

    x = _example_inputs(model, batch, seed)
    y = np.roll(x["decoder_token_ids"], -1, axis=1)
    y[:, -1] = model.end_id
    return x, y, keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)


FAMILY = Family(
    name="transformer",
    paper=presets.PAPER,
    presets=presets.PRESETS,
    heads={"seq2seq": Head(
        "zoo.models.transformer.transformer_seq2seq:TransformerSeq2Seq",
        parts={"translator": Part("zoo.models.transformer.export:translator",
                                  "source strings -> translated strings (beam search)")},
        needs_tokenizer=True)},
    default_head="seq2seq",
    serves={"translation": "seq2seq"},
    converters=(Converter("transformers", ("MarianMTModel",),
                          "zoo.models.transformer.convert:load_transformers"),),
    fixtures=Fixtures(
        tiny={"transformer_tiny": {"vocabulary_size": 40}},
        cases=(("transformer_tiny", None, {"vocabulary_size": 40}),
               ("transformer_tiny", None, {"vocabulary_size": 40,
                                           "position_embedding": "learned",
                                           "share_embeddings": False,
                                           "tie_output_embeddings": False,
                                           "target_vocabulary_size": 30,
                                           "normalize_first": False})),
        example_inputs=_example_inputs,
        training_batch=_training_batch,
    ),
)
