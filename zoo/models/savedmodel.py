"""What every family's export parts share: TF Hub's reusable SavedModel attributes, weights
kept as an entry stores them, and the context an export passes to each part's builder.

A family's part builders (`zoo/models/<family>/export.py`, declared in its `family.py`) are
called by `zoo.hub.export` as `build(model, context)` and return `(root, signatures)`: a
trackable object that `tf.saved_model.save` writes, and its signatures. TensorFlow is
imported only inside the functions.

>>> sequence_length_of({"max_length": 64}), sequence_length_of({})
(64, 128)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

#: The sequence length a text export packs inputs to when its recipe does not say.
DEFAULT_SEQ_LENGTH = 128


def sequence_length_of(recipe: dict) -> int:
    """The sequence length a text export of an entry trained with `recipe` packs inputs to."""
    return int(recipe.get("max_length") or DEFAULT_SEQ_LENGTH)


@dataclasses.dataclass(frozen=True)
class ExportContext:
    """What a part builder gets beside the model.

    Args:
        tokenizer: the entry's tokenizer (`zoo.text.tokenizers`: WordPiece or characters), or None.
        recipe: the entry's recipe as a dict (`{}` when unknown).
        weights: "float32" (fine-tunable variables) or "float16" / "int8" (as an entry stores
            them; see `attach_variables`).
        entry_source: `entry name -> (model, tokenizer, recipe dict)`: a published entry,
            for parts built from the entry another model's handles name (a classifier on
            `zoo:ENTRY/encoder`); None where no entries can be read.
    """

    tokenizer: object = None
    recipe: dict = dataclasses.field(default_factory=dict)
    weights: str = "float32"
    entry_source: Callable | None = None

    @property
    def seq_length(self) -> int:
        """The length text parts pack inputs to (`sequence_length_of(recipe)`)."""
        return sequence_length_of(self.recipe)


def new_root():
    """An empty trackable object to hang a part's functions and variables on."""
    import tensorflow as tf

    return tf.__internal__.tracking.AutoTrackable()


def attach_variables(root, model, weights="float32"):
    """TF Hub's reusable SavedModel attributes: `variables`, `trainable_variables`,
    `regularization_losses`. Returns a context factory each signature reads the weights in.

    With `weights="float32"` the SavedModel holds the tf.Variables behind the Keras ones
    (fine-tunable). With "float16" or "int8" it holds them as a published entry stores them
    (`zoo.models.stored_weights`), widened to float32 inside the graph under a
    `keras.StatelessScope`: the export computes what the entry computes in half or a quarter
    of the bytes, and has no trainable variables (an inference-only download).
    """
    import contextlib

    root.regularization_losses = []
    if weights == "float32":
        root.variables = [v.value for v in model.variables]
        root.trainable_variables = [v.value for v in model.trainable_variables]
        return contextlib.nullcontext
    import keras
    import tensorflow as tf

    from zoo.models.stored_weights import dequantize, store_weight

    stored = [{key: tf.Variable(array, trainable=False)
               for key, array in store_weight(v.numpy(), weights).items()}
              for v in model.variables]
    root.variables = [array for parts in stored for array in parts.values()]
    root.trainable_variables = []

    def widened(parts, dtype):
        if ".scale" in parts:
            return tf.cast(dequantize(parts[""], parts[".scale"]), dtype)
        return tf.cast(parts[""], dtype)

    def reads():
        return keras.StatelessScope(state_mapping=[
            (v, widened(parts, v.dtype)) for v, parts in zip(model.variables, stored)])

    return reads


def attach_tokenizer(root, tokenizer):
    """Keeps on `root` the lookup table a tokenizer's in-graph ops read (a tracked resource the
    SavedModel must hold, with the vocabulary): a WordPiece tokenizer's tensorflow-text
    `BertTokenizer` as `root.bert_tokenizer` (as TF Hub's BERT preprocessors name it), a
    character tokenizer's code point table as `root.tokenizer_table`.

    Raises:
        ValueError: a tokenizer with neither (not a zoo tokenizer).
    """
    if hasattr(tokenizer, "bert_tokenizer"):
        root.bert_tokenizer = tokenizer.bert_tokenizer
    elif hasattr(tokenizer, "table"):
        root.tokenizer_table = tokenizer.table
    else:
        raise ValueError(f"{type(tokenizer).__name__} has no lookup table to export "
                         "(bert_tokenizer or table); export needs a zoo tokenizer.")


def image_part(model, graph, key, weights):
    """An image model part: `__call__(images)` -> `graph`'s output and a `serving_default`
    signature `{key: output}`, for float32 images of `model`'s input shape (any batch)."""
    import tensorflow as tf

    root = new_root()
    reads = attach_variables(root, graph, weights)
    shape = [None, *model.input.shape[1:]]

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="images")])
    def call(images):
        with reads():
            return graph(images, training=False)

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="images")])
    def serve(images):
        return {key: call(images)}

    root.__call__ = call
    return root, {"serving_default": serve}


def image_classifier_part(model, context):
    """`classifier`: float32 images in [0, 1] -> logits (any image classifier)."""
    return image_part(model, model, "logits", context.weights)
