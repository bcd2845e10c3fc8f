"""Learning-rate schedules and optimizers from a recipe.

- `inverse_sqrt`: the Transformer's schedule, linear warm-up to the peak, then
  `peak * sqrt(warmup / step)` (Vaswani et al., 2017, with the peak given directly).
- `linear`: warm-up, then linear decay to zero at the last step (BERT).
- `cosine`: warm-up, then cosine decay to zero at the last step.
- `constant`: warm-up, then the peak.

`linear` and `cosine` decay to a recipe's `min_learning_rate` (`floor`) instead of zero when it
is set: `floor + (peak - floor) * decay` (nanoGPT's cosine schedule to `min_lr`).

>>> from zoo.training.schedules import WarmupSchedule
>>> s = WarmupSchedule(1.0, "linear", warmup_steps=10, total_steps=110)
>>> [round(float(s(t)), 3) for t in (0, 4, 9, 60, 110)]
[0.1, 0.5, 1.0, 0.5, 0.0]
>>> s = WarmupSchedule(1.0, "cosine", warmup_steps=10, total_steps=110, floor=0.1)
>>> [round(float(s(t)), 3) for t in (9, 59, 109, 500)]
[1.0, 0.55, 0.1, 0.1]
"""

from __future__ import annotations

import math

import keras
from keras import ops

from zoo.training import optimizers


@keras.saving.register_keras_serializable(package="zoo")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak, kind="constant", warmup_steps=0, total_steps=1, floor=0.0):
        self.peak, self.kind = float(peak), kind
        self.warmup_steps, self.total_steps = int(warmup_steps), int(total_steps)
        self.floor = float(floor)

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0  # the rate of the step about to be taken
        warmup = float(max(self.warmup_steps, 1))
        total = float(max(self.total_steps, 1))
        span = self.peak - self.floor  # what a decaying schedule decays by
        if self.kind == "inverse_sqrt":
            after = self.peak * ops.sqrt(warmup / ops.maximum(step, warmup))
        elif self.kind == "linear":
            after = span * ops.maximum(0.0, (total - step + 1.0) / max(total - warmup, 1.0))
            after = ops.minimum(after, span) + self.floor
        elif self.kind == "cosine":
            progress = ops.clip((step - warmup) / max(total - warmup, 1.0), 0.0, 1.0)
            after = span * 0.5 * (1.0 + ops.cos(math.pi * progress)) + self.floor
        else:
            after = ops.convert_to_tensor(self.peak, "float32")
        if self.warmup_steps <= 0:
            return after
        return ops.where(step < warmup, self.peak * step / warmup, after)

    def get_config(self):
        config = {"peak": self.peak, "kind": self.kind, "warmup_steps": self.warmup_steps,
                  "total_steps": self.total_steps}
        if self.floor:  # configs saved before it existed stay as they were
            config["floor"] = self.floor
        return config


def optimizer(recipe):
    """The recipe's optimizer with its schedule (create it inside `strategy.scope()`). Adam and
    AdamW are zoo's, with a fused update (`zoo/training/optimizers.py`)."""
    rate = WarmupSchedule(recipe.learning_rate, recipe.schedule, recipe.warmup_steps, recipe.steps,
                          floor=recipe.min_learning_rate)
    common = {"learning_rate": rate}
    if recipe.clipnorm:
        common["global_clipnorm"] = recipe.clipnorm
    if recipe.optimizer == "adamw":
        return optimizers.AdamW(weight_decay=recipe.weight_decay, beta_2=recipe.beta_2, **common)
    if recipe.optimizer == "adam":
        return optimizers.Adam(beta_2=recipe.beta_2, **common)
    return keras.optimizers.SGD(momentum=0.9, **common)
