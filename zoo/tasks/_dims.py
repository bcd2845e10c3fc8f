"""What the task kinds share about their data: the model constructor arguments that come from
it, and the benchmark fields that describe it."""

from __future__ import annotations

from zoo import schema


def image_dims(examples) -> dict:
    """`image_size` (an int for square images, else [height, width]) and `num_channels` of
    `examples.inputs` ([n, height, width, channels])."""
    height, width, channels = examples.inputs.shape[1:]
    return {"image_size": int(height) if height == width else [int(height), int(width)],
            "num_channels": int(channels)}


def image_input(config) -> str:
    """What an image model with Keras `config` takes, in words (`zoo.tasks.expected_input`).

    >>> image_input({"image_size": [8, 6], "num_channels": 3})
    'images (N, 8, 6, 3) float32 in [0, 1]'
    """
    size = config.get("image_size", "H")
    height, width = size if isinstance(size, list) else (size, size)
    return f"images (N, {height}, {width}, {config.get('num_channels', 'C')}) float32 in [0, 1]"


def num_classes(examples, label_names=None) -> dict:
    """`num_classes`: the count of `label_names` (default: the examples' class names)."""
    names = label_names if label_names is not None else examples.label_names
    return {} if names is None else {"num_classes": len(names)}


def token_dims(tokenizer, max_length) -> tuple[dict, dict]:
    """`(defaults, fixed)` of a tokenized model: the vocabulary is the tokenizer's (fixed),
    the longest sequence `max_length` unless the recipe sets it. Empty without a tokenizer
    (a model with its own preprocessor, or an untrained one)."""
    if tokenizer is None:
        return {}, {}
    defaults = {} if max_length is None else {"max_sequence_length": max_length}
    return defaults, {"vocabulary_size": tokenizer.vocabulary_size}


#: A benchmark's `[preprocessing]` keys several kinds read.
IMAGE_SCALE = schema.Field(schema.Str())  # how pixels map to [0, 1], in words
MAX_LENGTH = schema.Field(schema.Int(min=2, max=2 ** 16))  # the longest token sequence read
