"""Errors from training, each with a message that says what to do."""


class RecipeError(ValueError):
    """A recipe file or override that does not describe a trainable run."""


class StrategyError(ValueError):
    """The requested strategy cannot run here; the message says why."""


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss, an unusable checkpoint); says what to do."""
