"""zoo: a Keras 3 model zoo with an evaluation harness and a published leaderboard.

>>> import zoo
>>> "bert_base" in zoo.list_models()
True
"""

from zoo import entries, hub
from zoo.models import catalog
from zoo.models.catalog import describe, list_models, load_model
from zoo.registry import DuplicateNameError, UnknownNameError
from zoo.version import __version__


def build(name: str, task: str | None = None, weights=None, **overrides):
    """Builds the registered variant `name` (`zoo.list_models()`), with any constructor
    argument overridden, or converts another library's checkpoint into it.

    Args:
        name: str. A registered name; with `weights`, also a family name ("bert", "vit",
            "gpt", "transformer": any size the checkpoint has).
        task: str. For families with several heads: BERT's "backbone" (default),
            "masked_lm" or "classifier"; the VAE family's "vae" or "autoencoder". With
            `weights`: default the checkpoint's own head.
        weights: None (random initialisation), or a checkpoint of another library to convert
            (`zoo.convert`): a folder or `hf://ORG/NAME[@REVISION]`. A preset `name` must then
            have the checkpoint's architecture (else `zoo.convert.ConversionError` listing the
            fields that differ).
        **overrides: constructor arguments that replace the variant's (`zoo.models.catalog.build`);
            with `weights`, only dropout rates and `dtype` (others would change the
            checkpoint's architecture).

    Example:

    >>> import zoo
    >>> model = zoo.build("vit_tiny_patch4_28", num_classes=10)
    >>> model.count_params() == zoo.describe("vit_tiny_patch4_28")["params"]
    True
    """
    if weights is not None:
        from zoo.convert import loading

        return loading.build(name, task, weights, **overrides)
    return catalog.build(name, task, **overrides)


def load(entry: str):
    """A published leaderboard entry's trained model, by name (offline): `zoo.load("vae_base.mnist")`."""
    return entries.load(entry)


def train(recipe, **kwargs):
    """Trains a recipe into a run folder; see `zoo.training.train.train`."""
    from zoo.training.train import train as _train

    return _train(recipe, **kwargs)


__all__ = [
    "DuplicateNameError",
    "UnknownNameError",
    "__version__",
    "build",
    "describe",
    "entries",
    "hub",
    "load",
    "list_models",
    "load_model",
    "train",
]
