"""zoo: a Keras 3 model zoo with an evaluation harness and a published leaderboard.

>>> import zoo
>>> "bert_base" in zoo.list_models()
True
"""

from zoo import entries, hub
from zoo.models.catalog import build, describe, list_models, load_model
from zoo.registry import DuplicateNameError, UnknownNameError
from zoo.version import __version__


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
