"""The Transformer's export part (declared in `family.py`): `translator`, source strings ->
translated strings, with tokenizing, beam search and detokenizing in the graph."""

from __future__ import annotations

from zoo.models.savedmodel import attach_variables, new_root

#: Beam search settings of the exported translator; a recipe's `[decoding]` table overrides.
DECODING = {"beam_width": 4, "length_penalty": 0.6, "max_length": 64, "max_source_length": 64}


def translator(model, context):
    """The `translator` part of a `TransformerSeq2Seq` and its tokenizer."""
    import tensorflow as tf

    from zoo.text import features

    tokenizer = context.tokenizer
    decoding = {**DECODING, **context.recipe.get("decoding", {})}
    root = new_root()
    reads = attach_variables(root, model, context.weights)
    root.bert_tokenizer = tokenizer.bert_tokenizer
    max_source = min(int(decoding["max_source_length"]), model.max_sequence_length)
    max_target = min(int(decoding["max_length"]), model.max_sequence_length - 1)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def call(strings):
        ids = features.sequence_ids(tokenizer, strings, max_source)
        with reads():
            out = model.generate(ids, max_length=max_target,
                                 beam_width=int(decoding["beam_width"]),
                                 length_penalty=float(decoding["length_penalty"]),
                                 use_cache=True, jit_compile=False)
        return tokenizer.detokenize(out)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(strings):
        return {"translation": call(strings)}

    root.__call__ = call
    return root, {"serving_default": serve}
