"""Checkpoints from other libraries, converted into zoo models that compute the same outputs.

A SOURCE is a local folder or `hf://ORG/NAME[@REVISION]` (a Hugging Face model repository,
downloaded into zoo's cache with sha256 checks; `zoo.convert.sources`), in one of four layouts:
Transformers (`config.json` + `model.safetensors`), a KerasHub preset, Google's original BERT
TensorFlow checkpoint, or timm's safetensors. The family whose `converters`
(`zoo/models/<family>/family.py`) claim the source's format and architecture converts it; a
converted model can be written as an entry folder (`write_entry`, `zoo convert`) and exported
back to Transformers' layout (`zoo export ENTRY --format hf DIR`).

    zoo convert hf://google-bert/bert-base-uncased --to converted/bert-base-uncased
    zoo export converted/bert-base-uncased --format hf exported/bert-base-uncased

>>> import zoo.convert
>>> sorted(zoo.convert.FORMATS)
['bert_original', 'keras_hub', 'timm', 'transformers']
>>> try:
...     zoo.convert.load("no/such/folder")
... except zoo.convert.ConversionError as error:
...     print(str(error).split(".")[0])
no/such/folder is not a folder
"""

from zoo.checkpoints.converted import Converted, Source
from zoo.checkpoints.errors import ConversionError
from zoo.convert.sources import FORMATS, resolve


def load(source, head=None, *, progress=None) -> Converted:
    """The zoo model converted from checkpoint `source`.

    Args:
        source: a folder, or `hf://ORG/NAME[@REVISION]`.
        head: the zoo head to build (e.g. BERT's "backbone", "masked_lm", "classifier"); None:
            the one matching the checkpoint's own architecture.
        progress: show download progress on stderr (default True).

    Returns:
        A `Converted`: the float32 Keras model with every weight set, its family, head,
        tokenizer (or None), notes (tensors left out and why) and the `Source`.

    Raises:
        ConversionError: an unknown layout, only pickled weights, an architecture no family
            converts (listing those that are), a setting zoo cannot represent, a missing or
            misshapen tensor, or a failed or wrong download.
    """
    from zoo.convert import loading

    return loading.load(source, head, progress=progress)


def write_entry(converted: Converted, folder, force: bool = False, keras_file: bool = False):
    """Writes a converted model as a zoo entry folder (`zoo.convert.entry.write`)."""
    from zoo.convert import entry

    return entry.write(converted, folder, force=force, keras_file=keras_file)


__all__ = ["FORMATS", "ConversionError", "Converted", "Source", "load", "resolve", "write_entry"]
