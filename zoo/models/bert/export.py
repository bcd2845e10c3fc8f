"""BERT's export parts, in TF Hub's BERT formats (declared in `family.py`).

- `encoder`: `__call__({input_word_ids, input_mask, input_type_ids}, training=False)` ->
  `{pooled_output, sequence_output, encoder_outputs, default}` (TF Hub's BERT encoder API);
- `preprocessor`: `__call__(strings)` -> the encoder's three inputs; `tokenize(strings)` ->
  ragged `[batch, words, pieces]`; `bert_pack_inputs([segments], seq_length)`;
- `classifier` (a `BertClassifier`): `__call__(strings)` -> `{"logits"}`.
"""

from __future__ import annotations

from zoo.models.savedmodel import attach_variables, new_root


def encoder(model, context):
    """The encoder part of a BERT model (its backbone) or of a bare backbone."""
    return encoder_part(getattr(model, "backbone", model), context.weights)


def preprocessor(model, context):
    """The preprocessor part: the entry's tokenizer, packing to the recipe's length."""
    return preprocessor_part(context.tokenizer, context.seq_length)


def classifier(model, context):
    """The classifier part: raw strings -> logits."""
    return classifier_part(model, context.tokenizer, context.seq_length, context.weights)


def encoder_part(backbone, weights):
    import keras
    import tensorflow as tf

    blocks = [backbone.get_layer(f"encoder_block_{i}").output for i in range(backbone.num_layers)]
    outputs = backbone.output
    graph = keras.Model(backbone.input, {"sequence_output": outputs["sequence_output"],
                                         "pooled_output": outputs["pooled_output"],
                                         "encoder_outputs": blocks})
    root = new_root()
    reads = attach_variables(root, graph, weights)
    spec = {name: tf.TensorSpec([None, None], tf.int32, name=name)
            for name in ("input_word_ids", "input_mask", "input_type_ids")}

    @tf.function
    def call(inputs, training=False):
        with reads():
            out = graph({"token_ids": inputs["input_word_ids"],
                         "segment_ids": inputs["input_type_ids"],
                         "padding_mask": inputs["input_mask"]}, training=training)
        return {"pooled_output": out["pooled_output"], "sequence_output": out["sequence_output"],
                "encoder_outputs": list(out["encoder_outputs"]), "default": out["pooled_output"]}

    for training in (False, True):
        call.get_concrete_function(spec, training=training)
    root.__call__ = call

    @tf.function(input_signature=list(spec.values()))
    def serve(input_word_ids, input_mask, input_type_ids):
        out = call({"input_word_ids": input_word_ids, "input_mask": input_mask,
                    "input_type_ids": input_type_ids}, training=False)
        return {"pooled_output": out["pooled_output"], "sequence_output": out["sequence_output"]}

    return root, {"serving_default": serve}


class _Packer:
    """`[CLS] a [SEP] (b [SEP])`, truncated to `seq_length` and padded, with tensorflow-text."""

    def __init__(self, tokenizer):
        self.cls_id, self.sep_id, self.pad_id = tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id

    def __call__(self, segments, seq_length):
        import tensorflow as tf
        import tensorflow_text as tf_text

        segments = [tf.cast(s.merge_dims(-2, -1) if s.ragged_rank > 1 else s, tf.int32)
                    for s in segments]
        budget = tf.cast(seq_length, tf.int32) - len(segments) - 1
        trimmer = tf_text.RoundRobinTrimmer(max_seq_length=budget)
        segments = trimmer.trim(segments)
        ids, type_ids = tf_text.combine_segments(segments, self.cls_id, self.sep_id)
        word_ids, mask = tf_text.pad_model_inputs(ids, seq_length, pad_value=self.pad_id)
        type_ids, _ = tf_text.pad_model_inputs(type_ids, seq_length, pad_value=0)
        return {"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": type_ids}


def preprocessor_part(tokenizer, seq_length):
    import tensorflow as tf

    root = new_root()
    root.bert_tokenizer = tokenizer.bert_tokenizer  # tracks the vocabulary table
    packer = _Packer(tokenizer)
    text = tf.TensorSpec([None], tf.string, name="text")

    @tf.function(input_signature=[text])
    def tokenize(strings):
        return tf.cast(tokenizer.word_pieces(strings), tf.int32)

    @tf.function(input_signature=[text])
    def call(strings):
        return packer([tokenize(strings)], seq_length)

    @tf.function
    def bert_pack_inputs(segments, seq_length=seq_length):
        return packer(list(segments), seq_length)

    ragged = tf.RaggedTensorSpec([None, None, None], tf.int32, ragged_rank=2)
    for count in (1, 2):
        bert_pack_inputs.get_concrete_function([ragged] * count,
                                               tf.TensorSpec([], tf.int32, name="seq_length"))
    root.__call__ = call
    root.tokenize = tokenize
    root.bert_pack_inputs = bert_pack_inputs
    root.variables, root.trainable_variables, root.regularization_losses = [], [], []
    return root, {"serving_default": call}


def classifier_part(model, tokenizer, seq_length, weights):
    """A `BertClassifier` with its tokenizer in the graph: strings -> `{"logits"}`."""
    import tensorflow as tf

    from zoo.text import features

    root = new_root()
    reads = attach_variables(root, model, weights)
    root.bert_tokenizer = tokenizer.bert_tokenizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def call(strings):
        inputs = features.bert_inputs(tokenizer, strings, seq_length)
        with reads():
            return {"logits": model(inputs, training=False)}

    root.__call__ = call
    return root, {"serving_default": call}
