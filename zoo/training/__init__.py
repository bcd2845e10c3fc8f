"""Training through `tf.distribute`: strategies, recipes, one loop, resumable runs.

>>> from zoo import training
>>> "vit_tiny_patch2_8.digits" in training.list_recipes()
True
"""

from zoo.training.errors import RecipeError, StrategyError, TrainingError
from zoo.training.recipes import Recipe, list_recipes


def train(recipe, **kwargs):
    """See `zoo.training.train.train`."""
    from zoo.training.train import train as _train

    return _train(recipe, **kwargs)


__all__ = ["Recipe", "RecipeError", "StrategyError", "TrainingError", "list_recipes", "train"]
